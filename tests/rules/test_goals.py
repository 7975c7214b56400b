"""Goal trees (DOMAIN.md §1): actuals rolled up the org tree, pace, lights and forecasts.

The documents' tracking table (表1), for the year 2024, read after the year has ended:
    华东 sales          15,000,000 / 16,500,000 = 110%
    上海 sales           6,000,000 /  5,800,000 = 96.7%   (2 large customers delayed signing)
    华东 new customers          20 /         22 = 110%
    上海 new customers           8 /          6 = 75%     (competitor price war)
上海's 6,000,000 is split over its 5 reps at 1,200,000 each.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from salesplay.cli import cli
from salesplay.engine.errors import ExpressionError, SalesplayError
from salesplay.engine.lang import periods
from salesplay.engine.present.output import Money, cell_text
from salesplay.engine.run.family import Playbook
from salesplay.rules.goals import facts
from salesplay.rules.goals import report as goal_report
from tests.conftest import load, load_playbook, run

YEAR = {"period_start": "2024-01-01", "period_end": "2024-12-31"}


def target(
    owner_type: str, owner_id: str, metric: str, value: str, **period: str
) -> dict[str, str]:
    span = period or YEAR
    return {
        "id": f"T-{owner_id}-{metric}-{span['period_start']}",
        "owner_type": owner_type,
        "owner_id": owner_id,
        "metric": metric,
        "value": value,
        **span,
    }


@pytest.fixture
def east_china(engine: Engine) -> Engine:
    """华东 (head M1) → 上海 (M2; reps S1-S5), 杭州 (H1), 南京 (N1)."""
    load(
        engine,
        "org_units",
        [
            {"id": "EC", "name": "华东", "parent_id": "", "kind": "region", "manager_id": "M1"},
            {"id": "SH", "name": "上海", "parent_id": "EC", "kind": "city", "manager_id": "M2"},
            {"id": "HZ", "name": "杭州", "parent_id": "EC", "kind": "city", "manager_id": ""},
            {"id": "NJ", "name": "南京", "parent_id": "EC", "kind": "city", "manager_id": ""},
        ],
    )
    reps = [("M1", "华东经理", "EC"), ("M2", "上海经理", "SH"), ("H1", "杭州销售", "HZ")]
    reps += [("N1", "南京销售", "NJ")] + [(f"S{i}", f"上海销售{i}", "SH") for i in range(1, 6)]
    load(engine, "reps", [{"id": i, "name": n, "org_unit_id": u} for i, n, u in reps])
    # Orders: (customer, rep, amount, day). Every customer's first order is its only one, but
    # for OLD, whose first order was in 2023: its 2024 order is sales, not a new customer.
    orders = [("SH1", "S1", 600_000), ("SH2", "S1", 600_000), ("SH3", "S2", 1_000_000)]
    orders += [("OLD", "S2", 200_000), ("SH4", "S3", 1_200_000), ("SH5", "S4", 1_200_000)]
    orders += [("SH6", "S5", 1_000_000)]  # 上海: 5,800,000 and 6 new customers
    orders += [(f"HZ{i}", "H1", 600_000) for i in range(10)]  # 杭州: 6,000,000, 10 new
    orders += [(f"NJ{i}", "N1", 800_000) for i in range(5)] + [("NJ5", "N1", 700_000)]  # 4.7M, 6
    customers = sorted({c for c, _, _ in orders})
    load(engine, "customers", [{"id": c, "name": f"客户{c}"} for c in customers])
    rows = [
        {"id": f"O{i}", "customer_id": c, "rep_id": r, "amount": a, "ordered_on": "2024-05-10"}
        for i, (c, r, a) in enumerate(orders)
    ]
    rows.append(
        {
            "id": "O-2023",
            "customer_id": "OLD",
            "rep_id": "S2",
            "amount": 50_000,
            "ordered_on": "2023-05-10",
        }
    )
    load(engine, "orders", rows)
    load(
        engine,
        "targets",
        [
            target("org_unit", "EC", "sales", "15000000"),
            target("org_unit", "SH", "sales", "6000000"),
            target("org_unit", "HZ", "sales", "5000000"),
            target("org_unit", "NJ", "sales", "4000000"),
            *[target("rep", f"S{i}", "sales", "1200000") for i in range(1, 6)],
            target("org_unit", "EC", "new_customers", "20"),
            target("org_unit", "SH", "new_customers", "8"),
            target("org_unit", "HZ", "new_customers", "7"),
            target("org_unit", "NJ", "new_customers", "5"),
        ],
    )
    load(
        engine,
        "progress_notes",
        [
            {
                "owner_type": "org_unit",
                "owner_id": "SH",
                "metric": "sales",
                "period": "2024",
                "reason": "2 家大客户延迟签约",
                "plan": "总监陪同拜访，12 月前完成签约",
            },
            {
                "owner_type": "org_unit",
                "owner_id": "SH",
                "metric": "new_customers",
                "period": "2024-01-01..2024-12-31",
                "reason": "竞争对手价格战",
                "plan": "推出老客户转介绍奖励",
            },
        ],
    )
    return engine


def report(engine: Engine, as_of: str, **kw: Any) -> goal_report.Report:
    return goal_report.report(engine, load_playbook("default"), date.fromisoformat(as_of), **kw)


def by_goal(found: goal_report.Report) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["owner_id"], r["metric"]): r for r in found.rows}


def test_the_documents_tracking_table(east_china: Engine) -> None:
    found = report(east_china, "2025-01-10", period="2024")
    rows = by_goal(found)
    assert (rows["EC", "sales"]["target"], rows["EC", "sales"]["current"]) == (
        15_000_000,
        16_500_000,
    )
    assert rows["EC", "sales"]["completion"] == pytest.approx(1.1)
    assert rows["SH", "sales"]["current"] == 5_800_000
    assert rows["SH", "sales"]["completion"] == pytest.approx(5.8 / 6)
    assert rows["EC", "new_customers"]["current"] == 22  # OLD's 2024 order is not a new customer
    assert rows["EC", "new_customers"]["completion"] == pytest.approx(1.1)
    assert rows["SH", "new_customers"]["current"] == 6
    assert rows["SH", "new_customers"]["completion"] == pytest.approx(0.75)
    # the year is over, so the whole period has elapsed: pace equals completion
    assert rows["SH", "new_customers"]["pace"] == pytest.approx(0.75)
    assert rows["SH", "new_customers"]["light"] == "yellow"  # 75%: below 80%, not below 60%
    assert rows["SH", "sales"]["light"] == "green"  # 96.7% ≥ 80%
    assert rows["SH", "sales"]["reason"] == "2 家大客户延迟签约"
    assert rows["SH", "new_customers"]["plan"] == "推出老客户转介绍奖励"
    assert rows["EC", "sales"]["reason"] is None
    shown = {(r["owner_id"], r["metric"]): r["completion"] for r in goal_report.table_rows(found)}
    assert [shown[k] for k in [("EC", "sales"), ("SH", "sales")]] == ["110%", "96.7%"]
    assert [shown[k] for k in [("EC", "new_customers"), ("SH", "new_customers")]] == ["110%", "75%"]
    # targets add up (15M = 6M + 5M + 4M; 6M = 5 × 1.2M; 20 = 8 + 7 + 5): nothing to note
    assert found.notes == []


def test_tree_order_and_owners(east_china: Engine) -> None:
    found = report(east_china, "2025-01-10", period="2024")
    sales = [r for r in found.rows if r["metric"] == "sales"]
    assert [r["owner_id"] for r in sales] == ["EC", "HZ", "NJ", "SH", "S1", "S2", "S3", "S4", "S5"]
    assert [r["sub_goal"] for r in sales[:5]] == [
        "华东",
        "  杭州",
        "  南京",
        "  上海",
        "    上海销售1",
    ]
    assert (sales[0]["owner"], sales[0]["dimension"]) == ("华东经理", "region")
    assert (sales[4]["owner"], sales[4]["dimension"]) == ("上海销售1", "rep")
    assert [r["metric"] for r in found.rows[len(sales) :]] == ["new_customers"] * 4


def test_a_parent_target_that_its_parts_do_not_add_up_to_is_noted(east_china: Engine) -> None:
    load(east_china, "targets", [target("rep", "S5", "sales", "1000000")])
    found = report(east_china, "2025-01-10", period="2024")
    assert found.notes == [
        "note: 上海 (SH) sales 2024: target 6,000,000 but its 5 parts' targets add up to 5,800,000"
    ]


def test_period_and_under_select_goals(east_china: Engine) -> None:
    june = target(
        "rep", "S1", "sales", "100000", period_start="2024-06-01", period_end="2024-06-30"
    )
    load(east_china, "targets", [june])
    assert {r["period_start"] for r in report(east_china, "2025-01-10", period="2024-06").rows} == {
        date(2024, 6, 1)
    }
    # within 2024-Q2: only June's target; within 2024: the year's and June's
    assert len(report(east_china, "2025-01-10", period="2024-Q2").rows) == 1
    assert len(report(east_china, "2025-01-10", period="2024").rows) == 14
    under = report(east_china, "2025-01-10", period="2024", under="SH").rows
    assert {r["owner_id"] for r in under} == {"SH", "S1", "S2", "S3", "S4", "S5"}
    # without --period: the goals running on the as-of date
    assert {r["owner_id"] for r in report(east_china, "2024-06-15").rows} >= {"S1", "EC"}
    with pytest.raises(SalesplayError, match="--under: no org unit with id 'XX'"):
        report(east_china, "2025-01-10", under="XX")
    with pytest.raises(SalesplayError, match="--period: unknown period '2024-13-01'"):
        report(east_china, "2025-01-10", period="2024-13-01")


def test_a_rate_rolls_up_from_its_parts_not_as_an_average(engine: Engine) -> None:
    """Rep A ordered 1,000,000 and collected 900,000 (90%); rep B 100,000 and 50,000 (50%).
    Their team collected 950,000 of 1,100,000 = 86.36%, not the average of 70%."""
    load(engine, "org_units", [{"id": "T", "name": "一组"}])
    load(engine, "reps", [{"id": r, "name": r, "org_unit_id": "T"} for r in ("A", "B")])
    load(engine, "customers", [{"id": "CA", "name": "甲"}, {"id": "CB", "name": "乙"}])
    load(
        engine,
        "orders",
        [
            {"id": "1", "customer_id": "CA", "rep_id": "A", "amount": 1_000_000,
             "collected_amount": 900_000, "ordered_on": "2024-06-03"},
            {"id": "2", "customer_id": "CB", "rep_id": "B", "amount": 100_000,
             "collected_amount": 50_000, "ordered_on": "2024-06-04"},
        ],
    )  # fmt: skip
    june = {"period_start": "2024-06-01", "period_end": "2024-06-30"}
    load(
        engine,
        "targets",
        [
            target("org_unit", "T", "collection_rate", "90%", **june),
            target("rep", "A", "collection_rate", "0.9", **june),
            target("rep", "B", "collection_rate", "0.9", **june),
        ],
    )
    rows = by_goal(report(engine, "2024-06-10"))
    assert rows["T", "collection_rate"]["target"] == Decimal("0.9")  # written 90%
    assert rows["T", "collection_rate"]["current"] == pytest.approx(950_000 / 1_100_000)
    assert rows["A", "collection_rate"]["current"] == pytest.approx(0.9)
    assert rows["B", "collection_rate"]["current"] == pytest.approx(0.5)
    # a rate is a level, not pro-rated: expected 90% all month; B at 50/90 = 55.6% → red
    assert rows["B", "collection_rate"]["pace"] == pytest.approx(0.5 / 0.9)
    assert rows["B", "collection_rate"]["light"] == "red"
    assert rows["T", "collection_rate"]["light"] == "green"  # 86.4 / 90 = 96%


def working_days_book(tmp_path: Path) -> Playbook:
    path = tmp_path / "company.yaml"
    path.write_text("extends: default\ngoals:\n  pace: working days\n  holidays: CN\n", "utf-8")
    return load_playbook(str(path))


def test_working_day_pace_across_the_national_day_holiday(engine: Engine, tmp_path: Path) -> None:
    """October 2024 has 19 working days in mainland China: 31 days − 8 weekend days − 5
    holiday weekdays (Oct 1–4, 7) + Saturday Oct 12 worked in lieu. By Thursday Oct 10 three
    have passed (8, 9, 10), so a 1,900,000 target expects 300,000: 240,000 is exactly 80% —
    green. By calendar days it would expect 10/31 × 1,900,000 = 612,903 and be red (39%)."""
    load(engine, "reps", [{"id": "R1", "name": "张伟"}])
    load(engine, "customers", [{"id": "C1", "name": "客户"}])
    load(
        engine,
        "orders",
        [
            {
                "id": "1",
                "customer_id": "C1",
                "rep_id": "R1",
                "amount": 240_000,
                "ordered_on": "2024-10-09",
            }
        ],
    )
    october = {"period_start": "2024-10-01", "period_end": "2024-10-31"}
    load(engine, "targets", [target("rep", "R1", "sales", "1900000", **october)])
    book = working_days_book(tmp_path)
    found = goal_report.report(engine, book, date(2024, 10, 10))
    (row,) = found.rows
    assert row["pace"] == pytest.approx(0.8)
    assert row["light"] == "green"
    assert row["expected"] == 300_000
    (calendar,) = report(engine, "2024-10-10").rows
    assert calendar["pace"] == pytest.approx(240_000 / (1_900_000 * 10 / 31))
    assert calendar["light"] == "red"
    # before the holiday ends no working day of October has passed: no pace, no light yet
    (early,) = goal_report.report(engine, book, date(2024, 10, 5)).rows
    assert (early["pace"], early["light"]) == (None, None)


def test_forecast_is_run_rate_plus_weighted_open_deals(engine: Engine) -> None:
    """June 2024, target 1,200,000, as of 06-10: 300,000 sold in 10 of 30 days runs at 900,000.
    Open deals closing after 06-10 and by 06-30: proposal 200,000 × 50% + lead 100,000 × 10%
    = 110,000 (a contract closing in July, a won deal, one closing on 06-10 itself and an
    unlisted stage add nothing). Forecast 1,010,000 < 90% × 1,200,000 = 1,080,000."""
    load(engine, "reps", [{"id": "R1", "name": "张伟"}])
    load(engine, "customers", [{"id": "C1", "name": "客户", "owner_id": "R1"}])
    load(
        engine,
        "orders",
        [
            {
                "id": "1",
                "customer_id": "C1",
                "rep_id": "R1",
                "amount": 300_000,
                "ordered_on": "2024-06-05",
            }
        ],
    )
    deals = [
        ("D1", "proposal", 200_000, "2024-06-20", "open"),
        ("D2", "lead", 100_000, "2024-06-25", "open"),
        ("D3", "contract", 500_000, "2024-07-05", "open"),
        ("D4", "contract", 400_000, "2024-06-20", "won"),
        ("D5", "proposal", 80_000, "2024-06-10", "open"),
        ("D6", "我们自己的阶段", 50_000, "2024-06-20", "open"),
    ]
    load(
        engine,
        "deals",
        [
            {"id": i, "customer_id": "C1", "rep_id": "R1", "stage": s, "amount": a,
             "expected_close": d, "status": st}
            for i, s, a, d, st in deals
        ],
    )  # fmt: skip
    june = {"period_start": "2024-06-01", "period_end": "2024-06-30"}
    load(engine, "targets", [target("rep", "R1", "sales", "1200000", **june)])
    (row,) = report(engine, "2024-06-10").rows
    assert row["forecast"] == 1_010_000
    run(engine, "2024-06-10")
    from salesplay.engine.present import queries

    (alert,) = queries.alerts(engine, rule="forecast_short")
    assert alert["message"] == "张伟 预计期末销售额 1010000，不足目标 1200000 的 90%"


def test_per_grade_conversion_is_a_goal_metric(engine: Engine) -> None:
    """Four A customers (each with 600,000 of orders in the last 6 months); one of them has a
    deal won in June: A conversion in June = 1 / 4 = 25% against a 50% target (a rate, not
    pro-rated: pace 50%, red)."""
    load(engine, "reps", [{"id": "R1", "name": "张伟"}])
    load(
        engine,
        "customers",
        [{"id": f"C{i}", "name": f"客户{i}", "owner_id": "R1"} for i in range(4)],
    )
    load(
        engine,
        "orders",
        [
            {"id": f"O{i}", "customer_id": f"C{i}", "rep_id": "R1", "amount": 600_000,
             "ordered_on": "2024-05-01"}
            for i in range(4)
        ],
    )  # fmt: skip
    load(
        engine,
        "deals",
        [
            {"id": "W", "customer_id": "C0", "rep_id": "R1", "amount": 10, "status": "won",
             "stage_changed_on": "2024-06-05"},
            {"id": "M", "customer_id": "C1", "rep_id": "R1", "amount": 10, "status": "won",
             "stage_changed_on": "2024-05-05"},  # won in May: not June's conversion
        ],
    )  # fmt: skip
    june = {"period_start": "2024-06-01", "period_end": "2024-06-30"}
    load(engine, "targets", [target("rep", "R1", "conversion_a", "50%", **june)])
    run(engine, "2024-06-10")  # grades the customers A
    (row,) = report(engine, "2024-06-10").rows
    assert row["current"] == pytest.approx(0.25)
    assert (row["pace"], row["light"]) == (pytest.approx(0.5), "red")


@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("2024", date(2024, 1, 1), date(2024, 12, 31)),
        ("2024-Q2", date(2024, 4, 1), date(2024, 6, 30)),
        ("2024-06", date(2024, 6, 1), date(2024, 6, 30)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("2024-W23", date(2024, 6, 3), date(2024, 6, 9)),  # ISO week 23 of 2024: Mon 3 June
        ("2020-W53", date(2020, 12, 28), date(2021, 1, 3)),
        ("2024-04-01..2024-06-30", date(2024, 4, 1), date(2024, 6, 30)),
    ],
)
def test_periods(text: str, first: date, last: date) -> None:
    assert periods.parse(text) == (first, last)
    assert periods.parse(periods.label(first, last)) == (first, last)


def test_period_labels_and_errors() -> None:
    assert periods.label(date(2024, 4, 1), date(2024, 6, 30)) == "2024-Q2"
    assert periods.label(date(2024, 6, 3), date(2024, 6, 9)) == "2024-W23"
    assert periods.label(date(2024, 6, 3), date(2024, 6, 10)) == "2024-06-03..2024-06-10"
    for bad, reason in [
        ("2024-Q5", "unknown period"),
        ("2024-13", "not a real period"),
        ("2024-W54", "not a real period"),
        ("2024-06-30..2024-06-01", "ends before it starts"),
        ("June", "unknown period"),
    ]:
        with pytest.raises(ExpressionError, match=reason):
            periods.parse(bad)


def test_the_documents_other_goal_metrics(engine: Engine) -> None:
    """June: CA (a customer since May) buys 100,000 of product A, new CB 50,000 of B, new CC
    150,000 of A. Sales 300,000 in 3 orders: average order 100,000; A's share 250,000 / 300,000
    = 83.3%; 1 of 3 buyers bought before: repurchase 33.3%. Five surveys (NPS 10, 10, 9, 7, 4;
    one complaint): NPS = (3 promoters − 1 detractor) / 5 = 40%; complaints 1 / 5 = 20%, which
    against a 25% ceiling (less is better) completes 25 / 20 = 125%."""
    load(engine, "reps", [{"id": "R1", "name": "张伟"}])
    load(engine, "customers", [{"id": c, "name": c, "owner_id": "R1"} for c in ("CA", "CB", "CC")])
    orders = [
        ("O0", "CA", 20_000, "A", "2024-05-10"),
        ("O1", "CA", 100_000, "A", "2024-06-03"),
        ("O2", "CB", 50_000, "B", "2024-06-04"),
        ("O3", "CC", 150_000, "A", "2024-06-05"),
    ]
    load(
        engine,
        "orders",
        [
            {"id": i, "customer_id": c, "rep_id": "R1", "amount": a, "product": p, "ordered_on": d}
            for i, c, a, p, d in orders
        ],
    )
    surveys = [(10, "false"), (10, "false"), (9, "false"), (7, "true"), (4, "false")]
    load(
        engine,
        "surveys",
        [
            {"id": f"S{i}", "customer_id": "CA", "surveyed_on": "2024-06-10", "nps": n,
             "complaint": c}
            for i, (n, c) in enumerate(surveys)
        ],
    )  # fmt: skip
    june = {"period_start": "2024-06-01", "period_end": "2024-06-30"}
    goals_ = {
        "avg_order_value": "80000",
        "product_a_share": "50%",
        "repurchase_rate": "50%",
        "nps": "70%",
        "complaint_rate": "25%",
    }
    load(engine, "targets", [target("rep", "R1", m, v, **june) for m, v in goals_.items()])
    rows = {r["metric"]: r for r in report(engine, "2024-06-30").rows}
    assert rows["avg_order_value"]["current"] == 100_000
    assert rows["product_a_share"]["current"] == pytest.approx(250_000 / 300_000)
    assert rows["repurchase_rate"]["current"] == pytest.approx(1 / 3)
    assert rows["nps"]["current"] == pytest.approx(0.4)
    assert rows["nps"]["light"] == "red"  # 40 / 70 = 57% of the level: below 60%
    assert rows["complaint_rate"]["current"] == pytest.approx(0.2)
    assert rows["complaint_rate"]["completion"] == pytest.approx(1.25)
    assert rows["complaint_rate"]["light"] == "green"


# ---- money read back exactly ----------------------------------------------------------------

MONEY_BOOK = """\
extends: default
metrics:
  avg_amount: {avg: orders.amount, window: target period}
"""
# June orders per rep, in yuan. Worked by hand, to the cent, rounding half up:
#   R1  0.10 + 0.20 + 0.40 = 0.70 over 3 orders: average 0.2333… → 0.23
#   R2  0.10 + 0.15 = 0.25 over 2: average 0.125 → 0.13 (half up; half-even would say 0.12)
#   R3  1,234,567.89 + 1,234,567.89 + 1,234,567.90 = 3,703,703.68 over 3:
#       average 1,234,567.8933… → 1,234,567.89
MONEY_ORDERS = {
    "R1": ["0.10", "0.20", "0.40"],
    "R2": ["0.10", "0.15"],
    "R3": ["1,234,567.89", "1,234,567.89", "1,234,567.90"],
}
AVERAGE = {"R1": Decimal("0.23"), "R2": Decimal("0.13"), "R3": Decimal("1234567.89")}
TARGET = Decimal("1234567.89")  # every one of these June goals
SALES = {"R1": Decimal("0.70"), "R2": Decimal("0.25"), "R3": Decimal("3703703.68")}


def money_month(engine: Engine, tmp_path: Path) -> Path:
    """MONEY_ORDERS in June 2024, and June targets for each rep's sales and averages."""
    load(engine, "reps", [{"id": r, "name": f"销售{r}"} for r in MONEY_ORDERS])
    load(engine, "customers", [{"id": f"C{r}", "name": r, "owner_id": r} for r in MONEY_ORDERS])
    load(
        engine,
        "orders",
        [
            {"id": f"O{r}{i}", "customer_id": f"C{r}", "rep_id": r, "amount": amount,
             "ordered_on": "2024-06-10"}
            for r, amounts in MONEY_ORDERS.items()
            for i, amount in enumerate(amounts)
        ],
    )  # fmt: skip
    june = {"period_start": "2024-06-01", "period_end": "2024-06-30"}
    load(
        engine,
        "targets",
        [
            target("rep", r, metric, str(TARGET), **june)
            for r in MONEY_ORDERS
            for metric in ("sales", "avg_order_value", "avg_amount")
        ],
    )
    book = tmp_path / "money.yaml"
    book.write_text(MONEY_BOOK, "utf-8")
    return book


def test_money_is_read_back_exactly(engine: Engine, tmp_path: Path) -> None:
    book = money_month(engine, tmp_path)
    found = goal_report.report(engine, load_playbook(str(book)), date(2024, 6, 30))
    got = {(r["owner_id"], r["metric"]): r for r in found.rows}
    for rep in MONEY_ORDERS:
        # the average as a formula (sales ÷ order count) and as an aggregate (avg)
        for metric in ("avg_order_value", "avg_amount"):
            row = got[rep, metric]
            values = [row[k] for k in ("target", "current", "forecast", "expected")]
            # a level: expected at the target all period, forecast at the current value
            assert values == [TARGET, AVERAGE[rep], AVERAGE[rep], TARGET]
            assert all(type(v) is Money for v in values)  # exact, and shown as an amount
        sales = got[rep, "sales"]
        assert (sales["current"], sales["forecast"]) == (SALES[rep], SALES[rep])  # the 30th
        assert type(sales["current"]) is Money
    # on the 12th (12 of 30 days), sales are forecast at actual × 30 / 12 and expected at
    # target × 12 / 30: R2's 25 cents × 2.5 = 62.5 cents → 0.63 (half up; round() says 0.62),
    # and 123,456,789 cents × 0.4 = 49,382,715.6 cents → 493,827.16
    early = goal_report.report(engine, load_playbook(str(book)), date(2024, 6, 12))
    sales_ = {r["owner_id"]: r for r in early.rows if r["metric"] == "sales"}
    assert {r: (row["forecast"], row["expected"]) for r, row in sales_.items()} == {
        "R1": (Decimal("1.75"), Decimal("493827.16")),
        "R2": (Decimal("0.63"), Decimal("493827.16")),
        "R3": (Decimal("9259259.20"), Decimal("493827.16")),
    }
    shown = {(r["owner_id"], r["metric"]): r for r in goal_report.table_rows(found)}
    assert [cell_text(shown[r, "avg_order_value"]["current"]) for r in MONEY_ORDERS] == [
        "0.23",
        "0.13",
        "1,234,567.89",
    ]
    assert cell_text(shown["R3", "sales"]["current"]) == "3,703,703.68"


def test_money_in_json_is_printed_exactly(engine: Engine, tmp_path: Path) -> None:
    book = money_month(engine, tmp_path)
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        cli,
        [
            "goals",
            "--as-of",
            "2024-06-30",
            "--format",
            "json",
            "--db",
            url,
            "--playbook",
            str(book),
        ],
    )
    assert result.exit_code == 0, result.stderr
    rows = {(r["owner_id"], r["metric"]): r for r in json.loads(result.stdout)}
    assert [rows[r, "avg_amount"]["current"] for r in MONEY_ORDERS] == [0.23, 0.13, 1234567.89]
    assert rows["R3", "sales"]["current"] == 3703703.68
    # as the text reads: every amount in whole cents, no binary-float tail
    amounts = re.findall(r'"(?:target|current|forecast)": ([^,\n]*)', result.stdout)
    assert len(amounts) == 3 * 3 * 3  # 3 reps, 3 goals each
    assert [a for a in amounts if not re.fullmatch(r"\d+(\.\d\d?)?", a)] == []
    assert '"current": 1234567.89,' in result.stdout


# ---- shares as written: the lights and the stages' probabilities are at most 100% -----------


def test_lights_and_probabilities_written_as_fractions_of_1(tmp_path: Path) -> None:
    path = tmp_path / "company.yaml"
    path.write_text(
        "extends: default\ngoals:\n  lights: {green: 0.9, red: 70 %}\n"
        "  forecast:\n    stages: {lead: 0.1, contract: 1}\n",
        "utf-8",
    )
    found = facts.settings(load_playbook(str(path)))
    assert (found.green, found.red) == (Fraction(9, 10), Fraction(7, 10))
    assert dict(found.stages)["lead"] == Fraction(1, 10)
    assert dict(found.stages)["contract"] == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "  lights:\n    green: 80\n    red: 60%\n",
            "company.yaml:4: goals.lights.green: 80 would be 8000%; write 80% (or 0.8)",
        ),
        (
            "  forecast:\n    stages:\n      lead: 10\n",
            "company.yaml:5: goals.forecast.stages.lead: 10 would be 1000%; write 10% (or 0.1)",
        ),
        (
            "  forecast:\n    stages:\n      lead: 120%\n",
            "company.yaml:5: goals.forecast.stages.lead: 120% is more than 100%, the most it can "
            "be here",
        ),
    ],
)
def test_a_plain_percentage_is_refused_at_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("company.yaml").write_text("extends: default\ngoals:\n" + body, "utf-8")
    with pytest.raises(SalesplayError) as caught:
        load_playbook("company.yaml")
    assert str(caught.value) == expected
