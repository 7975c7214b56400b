"""Incentives (DOMAIN.md §4) by hand: tiered commission, gates, caps, pro-rated targets, the
top seller, the team travel fund, instant recognition, closing and adjustments.

The default tiers: 3% on attainment up to and including 100%, 5% on the part above 100% up to
and including 120%, 8% above. A rep at 108% of a 1,200,000 June target sold 1,296,000:
  marginal     1,200,000 × 3% + 96,000 × 5% = 36,000 + 4,800 = 40,800
  retroactive  1,296,000 × 5% (108% falls in the 100–120% tier) = 64,800
"""

from __future__ import annotations

import textwrap
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.present import queries
from salesplay.engine.run.family import Playbook
from salesplay.rules.incentives import payouts
from salesplay.rules.incentives.statements import statements
from tests.conftest import load, load_playbook, run

JUNE = (date(2024, 6, 1), date(2024, 6, 30))


def book(tmp_path: Path, extra: str = "", mode: str = "marginal") -> Playbook:
    path = tmp_path / "company.yaml"
    path.write_text(
        "extends: default\nincentives:\n  commission:\n    sales_commission:\n"
        f"      period: month\n      mode: {mode}\n" + extra,
        "utf-8",
    )
    return load_playbook(str(path))


def setup(engine: Engine, sales: dict[str, str], hired: str = "2020-01-01") -> None:
    """上海 (SH, head M) holds R1 and R2, 杭州 (HZ) holds R3; each with a June target of
    1,200,000; `sales` are June orders by rep."""
    load(
        engine,
        "org_units",
        [
            {"id": "SH", "name": "上海", "manager_id": "M"},
            {"id": "HZ", "name": "杭州"},
        ],
    )
    load(
        engine,
        "reps",
        [
            {"id": "M", "name": "经理", "org_unit_id": "SH"},
            {"id": "R1", "name": "张伟", "org_unit_id": "SH", "hired_on": hired},
            {"id": "R2", "name": "李娜", "org_unit_id": "SH", "hired_on": "2020-01-01"},
            {"id": "R3", "name": "王芳", "org_unit_id": "HZ", "hired_on": "2020-01-01"},
        ],
    )
    load(engine, "customers", [{"id": f"C{r}", "name": f"客户{r}"} for r in ("R1", "R2", "R3")])
    load(
        engine,
        "orders",
        [
            {
                "id": f"O{r}",
                "customer_id": f"C{r}",
                "rep_id": r,
                "amount": a,
                "ordered_on": "2024-06-10",
            }
            for r, a in sales.items()
        ],
    )
    load(
        engine,
        "targets",
        [
            {"id": f"T{r}", "owner_type": "rep", "owner_id": r, "metric": "sales",
             "period_start": "2024-06-01", "period_end": "2024-06-30", "value": "1200000"}
            for r in ("R1", "R2", "R3")
        ],
    )  # fmt: skip


def lines(engine: Engine, rep: str, rule: str, span: tuple[date, date] = JUNE) -> list[Any]:
    found = statements(engine, span, rep)
    return [
        (line["base"], line["rate"], line["amount"])
        for statement in found
        if statement["period"] == "2024-06"
        for line in statement["lines"]
        if line["rule"] == rule
    ]


def commission(engine: Engine, rep: str = "R1") -> Decimal:
    return sum((amount for _, _, amount in lines(engine, rep, "sales_commission")), Decimal(0))


@pytest.mark.parametrize(
    ("sold", "mode", "expected"),
    [
        ("1296000", "marginal", [(1_200_000, 0.03, 36_000), (96_000, 0.05, 4_800)]),
        ("1296000", "retroactive", [(1_296_000, 0.05, 64_800)]),
        ("1200000", "marginal", [(1_200_000, 0.03, 36_000)]),  # exactly 100%
        ("1200000", "retroactive", [(1_200_000, 0.03, 36_000)]),  # 100% is in the 3% tier
        ("1440000", "marginal", [(1_200_000, 0.03, 36_000), (240_000, 0.05, 12_000)]),
        ("1440000", "retroactive", [(1_440_000, 0.05, 72_000)]),  # 120% is in the 5% tier
        # 150%: 36,000 + 240,000 × 5% + 360,000 × 8% = 36,000 + 12,000 + 28,800
        (
            "1800000",
            "marginal",
            [(1_200_000, 0.03, 36_000), (240_000, 0.05, 12_000), (360_000, 0.08, 28_800)],
        ),
        ("1800000", "retroactive", [(1_800_000, 0.08, 144_000)]),
    ],
)
def test_tiers(engine: Engine, tmp_path: Path, sold: str, mode: str, expected: list[Any]) -> None:
    setup(engine, {"R1": sold})
    run(engine, "2024-06-30", book(tmp_path, mode=mode))
    assert lines(engine, "R1", "sales_commission") == expected


def test_a_gate_pays_nothing_below_it(engine: Engine, tmp_path: Path) -> None:
    """gate 50%: 599,999.99 of 1,200,000 (49.99…%) earns 0; 600,000 earns 600,000 × 3%."""
    setup(engine, {"R1": "599999.99", "R2": "600000"})
    run(engine, "2024-06-30", book(tmp_path, "      gate: 50%\n"))
    assert lines(engine, "R1", "sales_commission") == [(Decimal("599999.99"), 0.0, 0)]
    assert lines(engine, "R2", "sales_commission") == [(600_000, 0.03, 18_000)]
    (statement,) = [s for s in statements(engine, JUNE, "R1") if s["period"] == "2024-06"]
    assert statement["lines"][0]["detail"]["below_gate"] == "50%"


def test_a_cap_takes_the_excess_back_in_one_line(engine: Engine, tmp_path: Path) -> None:
    """cap 30,000 on 40,800: a line of −10,800, so the lines still add up to the total."""
    setup(engine, {"R1": "1296000"})
    run(engine, "2024-06-30", book(tmp_path, "      cap: 30000\n"))
    assert [a for _, _, a in lines(engine, "R1", "sales_commission")] == [36_000, 4_800, -10_800]
    assert commission(engine) == 30_000


@pytest.mark.parametrize(
    "tiers",
    [
        "[{upto: 100%, rate: 3%}, {upto: 1.2, rate: 5%}, {rate: 8%}]",
        "[{upto: 1, rate: 0.03}, {upto: 120%, rate: 5 %}, {rate: 8%}]",
    ],
)
def test_a_tier_bound_of_1_2_is_120_percent(engine: Engine, tmp_path: Path, tiers: str) -> None:
    """Attainment may pass 100%, so a plain 1.2 is 120%; 5 % is 5%. 1,296,000 of 1,200,000
    (108%), marginal: 1,200,000 × 3% + 96,000 × 5% = 36,000 + 4,800 = 40,800."""
    setup(engine, {"R1": "1296000"})
    run(engine, "2024-06-30", book(tmp_path, f"      tiers: {tiers}\n"))
    assert lines(engine, "R1", "sales_commission") == [
        (1_200_000, 0.03, 36_000),
        (96_000, 0.05, 4_800),
    ]
    assert commission(engine) == 40_800


def test_a_cap_written_in_wan(engine: Engine, tmp_path: Path) -> None:
    """cap 2万 = 20,000 on 40,800: a line of −20,800."""
    setup(engine, {"R1": "1296000"})
    run(engine, "2024-06-30", book(tmp_path, "      cap: 2万\n"))
    assert [a for _, _, a in lines(engine, "R1", "sales_commission")] == [36_000, 4_800, -20_800]
    assert commission(engine) == 20_000


@pytest.mark.parametrize(
    ("written", "expected_cents"),
    [
        ("20000", 2_000_000),
        ("2万", 2_000_000),
        ('"20,000"', 2_000_000),
        ("20,000", 2_000_000),  # plain YAML text, read as the amount it says
        ("1.5万", 1_500_000),
        ("20,000.50", 2_000_050),
    ],
)
def test_amounts_are_read_as_written(tmp_path: Path, written: str, expected_cents: int) -> None:
    """The commission cap, a bonus amount and a recognition reward are all amounts."""
    path = tmp_path / "company.yaml"
    path.write_text(
        "extends: default\nincentives:\n  commission:\n    sales_commission:\n"
        f"      cap: {written}\n  bonuses:\n    travel_fund:\n      amount: {written}\n"
        f"  recognition:\n    decision_maker:\n      reward: {written}\n",
        "utf-8",
    )
    found = payouts.settings(load_playbook(str(path)))
    ((_, plan),) = found.plans["sales_commission"]
    (travel_fund,) = [b for b in found.bonuses if b.name == "travel_fund"]
    (reward,) = found.rewards
    assert (plan.cap_cents, travel_fund.amount_cents, reward.amount_cents) == (expected_cents,) * 3


AMOUNT_TIERS = (
    "      by: amount\n"
    "      tiers: [{upto: 300000, rate: 3%}, {upto: 50万, rate: 5%}, {rate: 7%}]\n"
)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # 300,000 × 3% + 200,000 × 5% + 100,000 × 7% = 9,000 + 10,000 + 7,000 = 26,000
        ("marginal", [(300_000, 0.03, 9_000), (200_000, 0.05, 10_000), (100_000, 0.07, 7_000)]),
        ("retroactive", [(600_000, 0.07, 42_000)]),  # all of 600,000 at the top tier's 7%
    ],
)
@pytest.mark.parametrize("upto", ["300000", "30万", "'300,000'"])
def test_tiers_by_amount(
    engine: Engine, tmp_path: Path, mode: str, expected: list[Any], upto: str
) -> None:
    """Tiers at amounts of the base need no target: R2 has none and is paid all the same. An
    amount is written as people write it: 300000, 30万, 300,000."""
    setup(engine, {"R1": "600000", "R2": "600000"})
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE targets SET deleted = true WHERE owner_id = 'R2'")
    tiers = AMOUNT_TIERS.replace("upto: 300000", f"upto: {upto}")
    run(engine, "2024-06-30", book(tmp_path, tiers, mode=mode))
    assert lines(engine, "R1", "sales_commission") == expected
    assert lines(engine, "R2", "sales_commission") == expected
    total = sum(amount for _, _, amount in expected)
    assert commission(engine) == total == (26_000 if mode == "marginal" else 42_000)
    (statement,) = [s for s in statements(engine, JUNE, "R1") if s["period"] == "2024-06"]
    ranges = [
        line["detail"]["tier_range"]
        for line in statement["lines"]
        if line["rule"] == "sales_commission"
    ]
    assert ranges == (
        ["0–300,000", "300,000–500,000", "> 500,000"] if mode == "marginal" else ["> 500,000"]
    )


@pytest.mark.parametrize(
    ("sold", "mode", "expected"),
    [
        ("300000", "retroactive", [(300_000, 0.03, 9_000)]),  # a tier includes its upper bound
        ("300000.01", "retroactive", [(Decimal("300000.01"), 0.05, Decimal("15000"))]),
        ("500000", "marginal", [(300_000, 0.03, 9_000), (200_000, 0.05, 10_000)]),
    ],
)
def test_amount_bounds_are_exact(
    engine: Engine, tmp_path: Path, sold: str, mode: str, expected: list[Any]
) -> None:
    setup(engine, {"R1": sold})
    run(engine, "2024-06-30", book(tmp_path, AMOUNT_TIERS, mode=mode))
    assert lines(engine, "R1", "sales_commission") == expected


def test_gate_cap_and_versions_by_amount(engine: Engine, tmp_path: Path) -> None:
    """A gate of 10万 in amount: 99,999.99 earns 0 and says so; a cap of 2万 takes 6,000 back
    from 26,000; from July the plan is measured by attainment again, against July's target."""
    setup(engine, {"R1": "99999.99", "R2": "600000"})
    load(
        engine,
        "orders",
        [{"id": "JULY", "customer_id": "CR2", "rep_id": "R2", "amount": "1200000",
          "ordered_on": "2024-07-05"}],
    )  # fmt: skip
    load(
        engine,
        "targets",
        [{"id": "TJ", "owner_type": "rep", "owner_id": "R2", "metric": "sales",
          "period_start": "2024-07-01", "period_end": "2024-07-31", "value": "1200000"}],
    )  # fmt: skip
    extra = AMOUNT_TIERS + (
        "      gate: 10万\n"
        "      cap: 2万\n"
        "      versions:\n"
        "        - from: 2024-07-01\n"
        "          by: attainment\n"
        "          gate: 50%\n"
        "          tiers: [{upto: 100%, rate: 4%}, {rate: 8%}]\n"
    )
    run(engine, "2024-07-31", book(tmp_path, extra))
    assert lines(engine, "R1", "sales_commission") == [(Decimal("99999.99"), 0.0, 0)]
    (june,) = [s for s in statements(engine, JUNE, "R1") if s["period"] == "2024-06"]
    assert june["lines"][0]["detail"]["below_gate"] == "100,000"
    assert [a for _, _, a in lines(engine, "R2", "sales_commission")] == [
        9_000,
        10_000,
        7_000,
        -6_000,
    ]
    july = statements(engine, (date(2024, 7, 1), date(2024, 7, 31)), "R2")
    commission_lines = [line for line in july[0]["lines"] if line["rule"] == "sales_commission"]
    # 1,200,000 × 4% = 48,000, capped at 20,000
    assert [line["amount"] for line in commission_lines] == [48_000, -28_000]


@pytest.mark.parametrize(
    ("body", "line", "where", "reason"),
    [
        (
            "      by: amount\n      tiers: [{upto: 30万元, rate: 3%}, {rate: 5%}]\n",
            8,
            "incentives.commission.sales_commission.tiers[0].upto",
            "'30万元' is not an amount: write e.g. 20000, 2万 or 20,000.50",
        ),
        (
            "      by: amount\n      tiers: [{upto: 500000, rate: 3%}, {upto: 30万, rate: 5%},"
            " {rate: 7%}]\n",
            8,
            "incentives.commission.sales_commission.tiers",
            "tiers must rise: upto 300000, 500000 …",
        ),
        (
            "      by: amount\n      tiers: [{upto: 30万, rate: 3%}, {rate: 5%}]\n"
            "      gate: 50%\n",
            9,
            "incentives.commission.sales_commission.gate",
            "'50%' is not an amount: write e.g. 20000, 2万 or 20,000.50",
        ),
        (
            "      by: amount\n",
            7,
            "incentives.commission.sales_commission.by",
            "the tiers this plan inherits (playbooks/default.yaml:217) are not measured by "
            "amount: give it its own tiers",
        ),
        (
            "      gate: 10万\n",
            7,
            "incentives.commission.sales_commission.gate",
            "'10万' is not a share: write e.g. 80% or 0.8",
        ),
        (
            "      versions:\n        - {from: 2024-07-01, by: amount}\n",
            8,
            "incentives.commission.sales_commission.versions[0].by",
            "a version measuring by amount gives its own tiers: the plan's are measured otherwise",
        ),
    ],
)
def test_a_bad_amount_tier_is_an_error_at_its_line(
    tmp_path: Path, body: str, line: int, where: str, reason: str
) -> None:
    with pytest.raises(SalesplayError) as caught:
        book(tmp_path, body)
    assert str(caught.value) == f"{tmp_path / 'company.yaml'}:{line}: {where}: {reason}"


def test_a_mid_period_hire_has_a_prorated_target(engine: Engine, tmp_path: Path) -> None:
    """Hired 06-16: active 15 of June's 30 days, so the target is 600,000. 660,000 is 110%:
    600,000 × 3% + 60,000 × 5% = 18,000 + 3,000 = 21,000."""
    setup(engine, {"R1": "660000"}, hired="2024-06-16")
    run(engine, "2024-06-30", book(tmp_path))
    assert lines(engine, "R1", "sales_commission") == [
        (600_000, 0.03, 18_000),
        (60_000, 0.05, 3_000),
    ]


def test_the_top_seller_of_each_team_ties_share(engine: Engine, tmp_path: Path) -> None:
    """上海: R1 and R2 both sold 500,000 — 5% of 500,000 = 25,000 shared: 12,500 each.
    杭州: R3 alone sold 100,000 — 5,000."""
    setup(engine, {"R1": "500000", "R2": "500000", "R3": "100000"})
    run(engine, "2024-06-30", book(tmp_path))
    assert lines(engine, "R1", "top_seller") == [(500_000, 0.025, 12_500)]
    assert lines(engine, "R2", "top_seller") == [(500_000, 0.025, 12_500)]
    assert lines(engine, "R3", "top_seller") == [(100_000, 0.05, 5_000)]
    assert lines(engine, "M", "top_seller") == []  # sold nothing: no bonus


def test_amounts_are_exact_and_totals_add_up_to_the_cent(engine: Engine, tmp_path: Path) -> None:
    """1,234,567.89 of 1,200,000 (102.88%): 1,200,000 × 3% = 36,000 and 34,567.89 × 5% =
    1,728.3945 → 1,728.39 (half up); top seller 5% × 1,234,567.89 = 61,728.3945 → 61,728.39."""
    setup(engine, {"R1": "1234567.89"})
    run(engine, "2024-06-30", book(tmp_path))
    (statement,) = [s for s in statements(engine, JUNE, "R1") if s["period"] == "2024-06"]
    amounts = [line["amount"] for line in statement["lines"]]
    assert sorted(amounts) == [Decimal("1728.39"), 36_000, Decimal("61728.39")]
    assert statement["total"] == Decimal("99456.78") == sum(amounts)
    assert statement["status"] == "provisional"


def test_a_late_order_for_a_closed_period_is_an_adjustment(engine: Engine, tmp_path: Path) -> None:
    """June closes on 07-10 (its end plus 10 days). A June order of 100,000 imported on 07-15
    lifts June to 1,396,000 (116.3%): 36,000 + 196,000 × 5% = 45,800, i.e. 5,000 more, and the
    top-seller bonus by 5% × 100,000 = 5,000. Both go on July's open statement, once; June's
    closed statement is not rewritten."""
    setup(engine, {"R1": "1296000"})
    company = book(tmp_path)
    run(engine, "2024-06-25", company)
    assert commission(engine) == 40_800
    run(engine, "2024-07-09", company)  # not closed yet: still provisional
    assert statements(engine, JUNE, "R1")[0]["status"] == "provisional"
    run(engine, "2024-07-10", company)
    assert statements(engine, JUNE, "R1")[0]["status"] == "closed"
    load(
        engine,
        "orders",
        [
            {
                "id": "LATE",
                "customer_id": "CR1",
                "rep_id": "R1",
                "amount": "100000",
                "ordered_on": "2024-06-20",
            }
        ],
    )
    run(engine, "2024-07-15", company)
    run(engine, "2024-07-16", company)  # nothing new: the adjustment is recorded once
    assert commission(engine) == 40_800  # June as it was reported
    july = statements(engine, (date(2024, 7, 1), date(2024, 7, 31)), "R1")
    adjustments = [
        (line["rule"], line["amount"], line["detail"]["adjusts"]) for line in july[0]["lines"]
    ]
    assert sorted(adjustments) == [
        ("sales_commission", 5_000, "2024-06"),
        ("top_seller", 5_000, "2024-06"),
    ]
    assert july[0]["status"] == "provisional" and july[0]["total"] == 10_000


def test_an_open_period_is_recomputed_in_place(engine: Engine, tmp_path: Path) -> None:
    setup(engine, {"R1": "1296000"})
    company = book(tmp_path)
    run(engine, "2024-06-20", company)
    load(
        engine,
        "orders",
        [
            {
                "id": "MORE",
                "customer_id": "CR1",
                "rep_id": "R1",
                "amount": "100000",
                "ordered_on": "2024-06-21",
            }
        ],
    )
    run(engine, "2024-06-25", company)
    assert commission(engine) == 45_800  # no adjustment: June was still open
    (statement,) = [s for s in statements(engine, JUNE, "R1") if s["period"] == "2024-06"]
    assert all("adjusts" not in line["detail"] for line in statement["lines"])


def test_a_plan_changed_mid_year_applies_from_its_date(engine: Engine, tmp_path: Path) -> None:
    """From July the first tier pays 4%: June keeps 3%, July's 1,200,000 earns 48,000."""
    setup(engine, {"R1": "1200000"})
    load(
        engine,
        "orders",
        [
            {
                "id": "JULY",
                "customer_id": "CR1",
                "rep_id": "R1",
                "amount": "1200000",
                "ordered_on": "2024-07-05",
            }
        ],
    )
    load(
        engine,
        "targets",
        [{"id": "TJ", "owner_type": "rep", "owner_id": "R1", "metric": "sales",
          "period_start": "2024-07-01", "period_end": "2024-07-31", "value": "1200000"}],
    )  # fmt: skip
    change = """\
          versions:
            - from: 2024-07-01
              tiers: [{upto: 100%, rate: 4%}, {upto: 120%, rate: 5%}, {rate: 8%}]
    """
    run(engine, "2024-07-31", book(tmp_path, textwrap.indent(textwrap.dedent(change), "      ")))
    assert lines(engine, "R1", "sales_commission") == [(1_200_000, 0.03, 36_000)]
    july = statements(engine, (date(2024, 7, 1), date(2024, 7, 31)), "R1")
    commission_lines = [line for line in july[0]["lines"] if line["rule"] == "sales_commission"]
    assert [(line["rate"], line["amount"]) for line in commission_lines] == [(0.04, 48_000)]


def test_the_team_travel_fund_at_120_percent(engine: Engine, tmp_path: Path) -> None:
    """上海's Q2 target 1,000,000: at 1,200,000 (exactly 120%) the team earns 20,000 on its
    own statement; 杭州 at 1,199,999.99 of 1,000,000 does not."""
    setup(engine, {"R1": "1200000", "R3": "1199999.99"})
    quarter = {"period_start": "2024-04-01", "period_end": "2024-06-30", "metric": "sales"}
    load(
        engine,
        "targets",
        [
            {
                "id": "TSH",
                "owner_type": "org_unit",
                "owner_id": "SH",
                "value": "1000000",
                **quarter,
            },
            {
                "id": "THZ",
                "owner_type": "org_unit",
                "owner_id": "HZ",
                "value": "1000000",
                **quarter,
            },
        ],
    )
    run(engine, "2024-06-30", book(tmp_path))
    q2 = (date(2024, 4, 1), date(2024, 6, 30))
    teams = [s for s in statements(engine, q2) if "org_unit_id" in s]
    assert [(s["org_unit_id"], s["period"], s["total"]) for s in teams] == [
        ("SH", "2024-Q2", 20_000)
    ]
    assert [line["rule"] for line in teams[0]["lines"]] == ["travel_fund"]


def test_first_contact_with_a_decision_maker_is_recognised_at_once(
    engine: Engine, tmp_path: Path
) -> None:
    setup(engine, {"R1": "100"})
    visit = {"customer_id": "CR1", "rep_id": "R1", "channel": "visit"}
    load(
        engine,
        "activities",
        [
            {"id": "A1", "occurred_at": "2024-06-03 10:00", "contact_role": "buyer", **visit},
            {
                "id": "A2",
                "occurred_at": "2024-06-12 10:00",
                "contact_role": "decision_maker",
                **visit,
            },
            {
                "id": "A3",
                "occurred_at": "2024-06-14 10:00",
                "contact_role": "decision_maker",
                **visit,
            },
        ],
    )
    run(engine, "2024-06-14", book(tmp_path))  # the next evaluation, not the month's end
    run(engine, "2024-06-15", book(tmp_path))
    (alert,) = queries.alerts(engine, rule="recognition.decision_maker")
    assert (alert["subject_id"], alert["level"]) == ("CR1", "green")
    assert alert["message"] == "张伟 首次接触 客户R1 的决策人，奖励 200 元"
    assert lines(engine, "R1", "recognition.decision_maker") == [(None, None, 200)]  # once


def test_a_playbook_bonus_on_a_reps_goal(engine: Engine, tmp_path: Path) -> None:
    """big_month: 5,000 for a June at 150% or more: R1 at 1,800,000 (150%) yes, R2 at
    1,799,999.99 no."""
    setup(engine, {"R1": "1800000", "R2": "1799999.99"})
    big = "{type: rep, period: month, goal: sales, when: attainment >= 150%, amount: 5000}"
    path = tmp_path / "bonus.yaml"
    path.write_text(f"extends: default\nincentives:\n  bonuses:\n    big_month: {big}\n", "utf-8")
    run(engine, "2024-06-30", load_playbook(str(path)))
    assert lines(engine, "R1", "big_month") == [(None, None, 5_000)]
    assert lines(engine, "R2", "big_month") == []


def test_a_rep_who_leaves_mid_period_has_a_prorated_target(engine: Engine, tmp_path: Path) -> None:
    """Left on 06-10: active 10 of 30 days, target 400,000. 400,000 sold is exactly 100%:
    400,000 × 3% = 12,000 and nothing at 5%."""
    setup(engine, {"R1": "400000"})
    load(
        engine, "reps", [{"id": "R1", "name": "张伟", "org_unit_id": "SH", "left_on": "2024-06-10"}]
    )
    run(engine, "2024-06-30", book(tmp_path))
    assert lines(engine, "R1", "sales_commission") == [(400_000, 0.03, 12_000)]


def test_commission_on_money_collected_in_the_period(engine: Engine, tmp_path: Path) -> None:
    """base: paid — payments by pay date. Of a 1,296,000 June order, 900,000 is paid in June
    and the rest in July: June's base is 900,000 (75%), 900,000 × 3% = 27,000."""
    setup(engine, {"R1": "1296000"})
    load(
        engine,
        "payments",
        [
            {"id": "P1", "order_id": "OR1", "amount": "900000", "paid_on": "2024-06-20"},
            {"id": "P2", "order_id": "OR1", "amount": "396000", "paid_on": "2024-07-02"},
        ],
    )
    run(engine, "2024-06-30", book(tmp_path, "      base: paid\n"))
    assert lines(engine, "R1", "sales_commission") == [(900_000, 0.03, 27_000)]


@pytest.mark.parametrize(
    ("body", "line", "where", "reason"),
    [
        (
            "  commission:\n    sales_commission:\n      cap: 1.234\n",
            5,
            "incentives.commission.sales_commission.cap",
            "'1.234' has more than 2 decimal places",
        ),
        (
            "  commission:\n    sales_commission:\n      tiers:\n"
            "        - {upto: 100%, rate: lots}\n",
            6,
            "incentives.commission.sales_commission.tiers[0].rate",
            "'lots' is not a share: write e.g. 80% or 0.8",
        ),
        (
            "  commission:\n    sales_commission:\n      versions:\n        - {from: 2024-13-01}\n",
            6,
            "incentives.commission.sales_commission.versions[0].from",
            "'2024-13-01' is not a date like 2024-07-01 (month must be in 1..12)",
        ),
        (
            "  bonuses:\n    travel_fund: {amount: abc}\n",
            4,
            "incentives.bonuses.travel_fund.amount",
            "'abc' is not an amount: write e.g. 20000, 2万 or 20,000.50",
        ),
        (
            "  commission:\n    sales_commission:\n      tiers:\n        - {upto: 100%, rate: 3}\n",
            6,
            "incentives.commission.sales_commission.tiers[0].rate",
            "3 would be 300%; write 3% (or 0.03)",
        ),
        (
            "  commission:\n    sales_commission:\n      tiers:\n"
            "        - {upto: 100%, rate: 3%}\n        - {upto: 120, rate: 5%}\n",
            7,
            "incentives.commission.sales_commission.tiers[1].upto",
            "120 would be 12000%; write 120% (or 1.2)",
        ),
        (
            "  commission:\n    sales_commission:\n      tiers:\n        - {rate: 300%}\n",
            6,
            "incentives.commission.sales_commission.tiers[0].rate",
            "300% is more than 100%, the most it can be here",
        ),
        (
            "  commission:\n    sales_commission:\n      gate: 50\n",
            5,
            "incentives.commission.sales_commission.gate",
            "50 would be 5000%; write 50% (or 0.5)",
        ),
        (
            "  bonuses:\n    top_seller:\n      rate: 5\n",
            5,
            "incentives.bonuses.top_seller.rate",
            "5 would be 500%; write 5% (or 0.05)",
        ),
        (
            "  recognition:\n    decision_maker:\n      reward: 200元\n",
            5,
            "incentives.recognition.decision_maker.reward",
            "'200元' is not an amount: write e.g. 20000, 2万 or 20,000.50",
        ),
        (
            "  bonuses:\n    travel_fund:\n      when: attainment >= 120\n",
            5,
            "incentives.bonuses.travel_fund.when",
            "attainment is a share, so 120 would be 12000%; write 120%",
        ),
    ],
)
def test_a_bad_value_is_an_error_at_its_line(
    tmp_path: Path, body: str, line: int, where: str, reason: str
) -> None:
    path = tmp_path / "company.yaml"
    path.write_text("extends: default\nincentives:\n" + body, "utf-8")
    with pytest.raises(SalesplayError) as caught:
        load_playbook(str(path))
    assert str(caught.value) == f"{path}:{line}: {where}: {reason}"


def test_a_settlement_lag_in_months_is_calendar_months(tmp_path: Path) -> None:
    """June's statement with a 1-month lag closes on 06-30 + 1 month = 07-30, not 07-31."""
    path = tmp_path / "company.yaml"
    path.write_text("extends: default\nincentives:\n  settlement_lag: 1 month\n", "utf-8")
    found = payouts.settings(load_playbook(str(path)))
    assert payouts.closes_on(JUNE, found) == date(2024, 7, 30)
    assert payouts.closes_on(JUNE, payouts.settings(load_playbook("default"))) == date(2024, 7, 10)
