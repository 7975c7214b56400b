"""Scorecards (DOMAIN.md §4): weighted KPI scores per rep and period, ranked within the team.

The default playbook's quarterly card: until Q2 sales 50%, new customers 25%, collection 15%,
satisfaction 10%; from Q3 (2024-07-01) satisfaction weighs 15% and new customers 20%. Caps:
sales and new customers 120%, collection and satisfaction 100%.

The worked example, rep S1 of 上海 in Q2 2024 (targets: sales 1,200,000, new customers 4,
collection 90%, satisfaction 80): five new customers, each ordering 259,200 (80% collected),
two surveys scoring 90 and 80:
    sales          1,296,000 / 1,200,000 = 108%   (under the cap)  0.50 × 1.08 × 100 = 54.00
    new customers  5 / 4             = 125% → 120% (capped)       0.25 × 1.20 × 100 = 30.00
    collection     80% / 90%         = 88.89%                     0.15 × 8/9  × 100 = 13.333…
    satisfaction   85 / 80           = 106.25% → 100% (capped)    0.10 × 1.00 × 100 = 10.00
    score                                                                        107.333… → 107.33
The same figures in Q3 under the new weights: 54 + 0.20 × 1.2 × 100 (24) + 13.333… + 0.15 × 100
(15) = 106.333… → 106.33.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from salesplay.cli import cli
from salesplay.engine.errors import PlaybookError, PlaybookErrors, SalesplayError
from salesplay.engine.present.output import Money, cell_text
from salesplay.engine.run import explain
from salesplay.rules.scorecards import cards as card_rules
from salesplay.rules.scorecards import report as scorecards
from tests.conftest import load, load_playbook

Q2 = {"period_start": "2024-04-01", "period_end": "2024-06-30"}
Q3 = {"period_start": "2024-07-01", "period_end": "2024-09-30"}


def target(rep: str, metric: str, value: str, span: dict[str, str]) -> dict[str, str]:
    return {
        "id": f"T-{rep}-{metric}-{span['period_start']}",
        "owner_type": "rep",
        "owner_id": rep,
        "metric": metric,
        "value": value,
        **span,
    }


def quarter_of_s1(engine: Engine, span: dict[str, str], day: str) -> None:
    """S1's worked example (see the module docstring), dated `day`."""
    tag = span["period_start"]
    customers = [f"{tag}-C{i}" for i in range(5)]
    load(engine, "customers", [{"id": c, "name": f"客户{c}", "owner_id": "S1"} for c in customers])
    load(
        engine,
        "orders",
        [
            {"id": f"O-{c}", "customer_id": c, "rep_id": "S1", "amount": "259,200",
             "collected_amount": "207,360", "ordered_on": day}
            for c in customers
        ],
    )  # fmt: skip
    load(
        engine,
        "surveys",
        [
            {"id": f"V-{tag}-{i}", "customer_id": customers[i], "surveyed_on": day,
             "satisfaction": score}
            for i, score in ((0, 90), (1, 80))
        ],
    )  # fmt: skip
    load(
        engine,
        "targets",
        [
            target("S1", "sales", "1200000", span),
            target("S1", "new_customers", "4", span),
            target("S1", "collection_rate", "90%", span),
            target("S1", "satisfaction", "80", span),
        ],
    )


@pytest.fixture
def teams(engine: Engine) -> Engine:
    """上海 (SH): S1 (the worked example), S2 and S3 (sales only, 900,000 of 1,000,000 each: a
    tie), S4 (500,000 of 1,000,000), S5 (no target: not on the card). 北京 (BJ): B1."""
    load(
        engine,
        "org_units",
        [
            {"id": "SH", "name": "上海", "kind": "city"},
            {"id": "BJ", "name": "北京", "kind": "city"},
        ],
    )
    reps = [(f"S{i}", f"上海销售{i}", "SH") for i in range(1, 6)] + [("B1", "北京销售", "BJ")]
    load(engine, "reps", [{"id": i, "name": n, "org_unit_id": u} for i, n, u in reps])
    quarter_of_s1(engine, Q2, "2024-05-10")
    quarter_of_s1(engine, Q3, "2024-08-10")
    others = [("S2", 900_000), ("S3", 900_000), ("S4", 500_000), ("B1", 50_000)]
    load(
        engine,
        "customers",
        [{"id": f"K-{r}", "name": f"客户{r}", "owner_id": r} for r, _ in others],
    )
    load(
        engine,
        "orders",
        [
            {"id": f"O-{r}", "customer_id": f"K-{r}", "rep_id": r, "amount": a,
             "ordered_on": "2024-06-01"}
            for r, a in others
        ],
    )  # fmt: skip
    load(
        engine,
        "targets",
        [target(r, "sales", "100000" if r == "B1" else "1000000", Q2) for r, _ in others],
    )
    return engine


def cards(engine: Engine, period: str | None = "2024-Q2", **kw: Any) -> dict[tuple[str, str], Any]:
    found = scorecards.report(
        engine, load_playbook("default"), date(2024, 10, 15), period=period, **kw
    )
    return {(c["rep_id"], c["period"]): c for c in found}


def kpis(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k["metric"]: k for k in card["kpis"]}


def test_the_worked_example(teams: Engine) -> None:
    card = cards(teams)["S1", "2024-Q2"]
    assert str(card["score"]) == "107.33"  # 54 + 30 + 13.333… + 10
    lines = kpis(card)
    assert list(lines) == ["sales", "new_customers", "collection_rate", "satisfaction"]
    assert lines["sales"]["attainment"] == pytest.approx(1.08)
    assert (lines["sales"]["capped"], lines["sales"]["detail"]) == (pytest.approx(1.08), "")
    assert lines["sales"]["points"] == pytest.approx(54)
    assert (lines["sales"]["target"], lines["sales"]["actual"]) == (1_200_000, 1_296_000)
    assert lines["new_customers"]["attainment"] == pytest.approx(1.25)
    assert lines["new_customers"]["capped"] == 1.2  # exactly the cap
    assert lines["new_customers"]["points"] == pytest.approx(30)
    assert lines["new_customers"]["detail"] == "capped"
    assert lines["collection_rate"]["actual"] == pytest.approx(0.8)
    assert lines["collection_rate"]["attainment"] == pytest.approx(8 / 9)
    assert lines["collection_rate"]["points"] == pytest.approx(40 / 3)
    assert lines["satisfaction"]["actual"] == pytest.approx(85)
    assert (lines["satisfaction"]["capped"], lines["satisfaction"]["points"]) == (1.0, 10)
    assert [k["weight"] for k in card["kpis"]] == [0.5, 0.25, 0.15, 0.1]
    assert card["provisional"] is False  # the quarter ended before 2024-10-15


def test_weights_change_on_their_effective_date(teams: Engine) -> None:
    """Same figures, Q3: new customers 20% and satisfaction 15% → 106.33 (see the docstring)."""
    found = cards(teams, period="2024")
    q3 = found["S1", "2024-Q3"]
    assert str(q3["score"]) == "106.33"
    assert [k["weight"] for k in q3["kpis"]] == [0.5, 0.2, 0.15, 0.15]
    assert kpis(q3)["new_customers"]["points"] == pytest.approx(24)
    assert kpis(q3)["satisfaction"]["points"] == pytest.approx(15)
    assert str(found["S1", "2024-Q2"]["score"]) == "107.33"  # Q2 keeps the old weights
    # within 2024 the card scores every quarter that has targets: Q2 and Q3 for S1
    assert sorted(p for r, p in found if r == "S1") == ["2024-Q2", "2024-Q3"]


def test_ranks_within_the_team_with_a_tie(teams: Engine) -> None:
    """上海 Q2: S1 107.33; S2 and S3 0.5 × 90% × 100 = 45.00 each; S4 0.5 × 50% × 100 = 25.00.
    Competition ranking: 1, 2, 2, 4. 北京's B1 also scores 25.00 but ranks in its own team."""
    found = cards(teams)
    ranks = {r: (str(c["score"]), c["rank"], c["team_size"]) for (r, _), c in found.items()}
    assert ranks == {
        "S1": ("107.33", 1, 4),
        "S2": ("45", 2, 4),
        "S3": ("45", 2, 4),
        "S4": ("25", 4, 4),
        "B1": ("25", 1, 1),
    }  # S5 holds no target of the card: not scored


def test_a_missing_target_scores_zero_and_says_so(teams: Engine) -> None:
    lines = kpis(cards(teams)["S2", "2024-Q2"])
    assert lines["sales"]["points"] == pytest.approx(45)
    for metric in ("new_customers", "collection_rate", "satisfaction"):
        assert (lines[metric]["target"], lines[metric]["points"]) == (None, 0)
        assert lines[metric]["detail"] == "no target for this period: 0 points"


def test_rep_and_under_filter_after_ranking(teams: Engine) -> None:
    only = cards(teams, rep="S3")
    assert list(only) == [("S3", "2024-Q2")]
    assert only["S3", "2024-Q2"]["rank"] == 2  # still ranked among the whole of 上海
    assert {r for r, _ in cards(teams, under="BJ")} == {"B1"}
    with pytest.raises(SalesplayError, match="--rep: no rep with id 'XX'"):
        cards(teams, rep="XX")
    with pytest.raises(SalesplayError, match="--under: no org unit with id 'XX'"):
        cards(teams, under="XX")


def test_without_a_period_the_running_quarter_is_scored_so_far(teams: Engine) -> None:
    found = scorecards.report(teams, load_playbook("default"), date(2024, 8, 20))
    (card,) = found  # only S1 has Q3 targets
    assert (card["period"], card["provisional"]) == ("2024-Q3", True)
    # a quarterly card has no period within June: nothing to score
    assert cards(teams, period="2024-06") == {}


def test_table_and_explain_show_the_arithmetic(teams: Engine) -> None:
    found = scorecards.report(teams, load_playbook("default"), date(2024, 10, 15), "2024-Q2")
    rows = scorecards.table_rows(found)
    assert [r.get("rep") for r in rows][::4] == ["B1", "S1", "S2", "S3", "S4"]  # team, then rank
    rows = rows[4:]  # 上海 (SH) after 北京 (BJ)
    first = rows[0]
    assert (first["rep"], first["score"], first["rank"]) == ("S1", "107.33", "1/4")
    # amounts stay Money, which a table shows with two decimals (and the playbook's currency)
    assert (cell_text(first["target"]), cell_text(first["actual"]), first["attainment"]) == (
        "1,200,000.00",
        "1,296,000.00",
        "108%",
    )
    assert rows[2]["metric"] == "collection_rate" and rows[2]["target"] == "90%"
    assert "rep" not in rows[1]  # the rep's columns only on their first line
    report = explain.explain(
        teams,
        load_playbook("default"),
        "rep",
        "S1",
        date(2024, 10, 15),
        (date(2024, 4, 1), date(2024, 6, 30)),
    )
    (finding,) = [f for f in report["findings"] if f["rule"] == "scorecards.quarterly"]
    assert finding["summary"] == "quarterly 2024-Q2: score 107.33, rank 1 of 4 in 上海 (SH)"
    assert finding["values"]["new_customers"] == (
        "actual 5 ÷ target 4 = 125%, capped at 120%; 120% × weight 25% × 100 = 30.00 points"
    )
    team = explain.explain(
        teams,
        load_playbook("default"),
        "org_unit",
        "SH",
        date(2024, 10, 15),
        (date(2024, 4, 1), date(2024, 6, 30)),
    )
    (ranking,) = [f for f in team["findings"] if f["rule"] == "scorecards.quarterly"]
    assert list(ranking["values"].items())[:2] == [
        ("1. 上海销售1 (S1)", "107.33"),
        ("2. 上海销售2 (S2)", "45.00"),
    ]


LOWER_BETTER = """\
extends: default
metrics:
  complaints: {count: surveys, where: complaint, window: target period}
  surveyed: {count: surveys, window: target period}
  complaint_rate: {formula: complaints / surveyed, better: lower}
scorecards:
  quarterly: null
  monthly:
    period: month
    versions:
      - from: 2024-01-01
        kpis:
          - {metric: sales, weight: 60%, cap: 150%}
          - {metric: complaint_rate, weight: 40%, cap: 120%}
"""


def test_a_lower_is_better_kpi(engine: Engine, tmp_path: Path) -> None:
    """June, complaint-rate target 2%. X: 1 complaint in 40 surveys = 2.5% → 2 / 2.5 = 80% →
    0.4 × 0.8 × 100 = 32; sales 160,000 of 100,000 = 160% → cap 150% → 0.6 × 1.5 × 100 = 90;
    score 122. Y: no complaint in 10 surveys → without limit, so the cap: 0.4 × 1.2 × 100 = 48;
    sales 100,000 of 100,000 → 60; score 108."""
    path = tmp_path / "company.yaml"
    path.write_text(LOWER_BETTER, "utf-8")
    book = load_playbook(str(path))
    load(engine, "org_units", [{"id": "T", "name": "一组"}])
    load(engine, "reps", [{"id": r, "name": r, "org_unit_id": "T"} for r in ("X", "Y")])
    load(engine, "customers", [{"id": f"C{r}", "name": r, "owner_id": r} for r in ("X", "Y")])
    load(
        engine,
        "orders",
        [
            {"id": f"O{r}", "customer_id": f"C{r}", "rep_id": r, "amount": a,
             "ordered_on": "2024-06-05"}
            for r, a in (("X", 160_000), ("Y", 100_000))
        ],
    )  # fmt: skip
    surveys = [("X", i, i == 0) for i in range(40)] + [("Y", i, False) for i in range(10)]
    load(
        engine,
        "surveys",
        [
            {"id": f"V{r}{i}", "customer_id": f"C{r}", "surveyed_on": "2024-06-10",
             "satisfaction": 80, "complaint": "true" if bad else "false"}
            for r, i, bad in surveys
        ],
    )  # fmt: skip
    june = {"period_start": "2024-06-01", "period_end": "2024-06-30"}
    load(
        engine,
        "targets",
        [
            target(r, m, v, june)
            for r in ("X", "Y")
            for m, v in (("sales", "100000"), ("complaint_rate", "2%"))
        ],
    )
    found = {c["rep_id"]: c for c in scorecards.report(engine, book, date(2024, 7, 5), "2024-06")}
    assert (str(found["X"]["score"]), str(found["Y"]["score"])) == ("122", "108")
    x = kpis(found["X"])["complaint_rate"]
    assert (x["actual"], x["attainment"], x["points"]) == (
        pytest.approx(0.025),
        pytest.approx(0.8),
        pytest.approx(32),
    )
    y = kpis(found["Y"])["complaint_rate"]
    assert (y["capped"], y["points"], y["detail"]) == (1.2, pytest.approx(48), "capped")
    assert (found["X"]["rank"], found["Y"]["rank"]) == (1, 2)


# ---- shares as written; bad cards: one located line each ------------------------------------


def card_text(kpi_lines: str, start: str = "2024-01-01") -> str:
    return f"""\
extends: default
scorecards:
  quarterly:
    period: quarter
    versions:
      - from: {start}
        kpis:
{kpi_lines}"""


def test_a_cap_of_1_2_is_120_percent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Attainment may pass 100%, so a KPI's plain cap 1.2 is 120%; a weight of 0.5 is 50%."""
    monkeypatch.chdir(tmp_path)
    Path("company.yaml").write_text(
        card_text(
            "          - {metric: sales, weight: 0.5, cap: 1.2}\n"
            "          - {metric: new_customers, weight: 50 %, cap: 120%}\n"
        ),
        "utf-8",
    )
    card = next(c for c in card_rules.cards(load_playbook("company.yaml")) if c.name == "quarterly")
    assert [(k.weight, k.cap) for k in card.versions[0].kpis] == [
        (Fraction(1, 2), Fraction(6, 5)),
        (Fraction(1, 2), Fraction(6, 5)),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            card_text(
                "          - {metric: sales, weight: 50%}\n"
                "          - {metric: new_customers, weight: 45%}\n"
            ),
            "company.yaml:7: scorecards.quarterly.versions[0].kpis: the weights add up to 95%, "
            "not 100%",
        ),
        (
            card_text("          - {metric: sale, weight: 100%}\n"),
            "company.yaml:8: scorecards.quarterly.versions[0].kpis[0].metric: unknown metric "
            "'sale' (did you mean 'sales'?)",
        ),
        (
            card_text("          - {metric: last_contact, weight: 100%}\n").replace(
                "scorecards:",
                "metrics:\n  last_contact: {latest: activities.occurred_on}\nscorecards:",
            ),
            "company.yaml:10: scorecards.quarterly.versions[0].kpis[0].metric: 'last_contact' is "
            "not a number a target can be measured by",
        ),
        (
            card_text(
                "          - {metric: sales, weight: 50%}\n"
                "          - {metric: sales, weight: 50%}\n"
            ),
            "company.yaml:9: scorecards.quarterly.versions[0].kpis[1].metric: 'sales' is listed "
            "twice",
        ),
        (
            card_text("          - {metric: sales, weight: 100%}\n", start="2024-08-15"),
            "company.yaml:6: scorecards.quarterly.versions[0].from: a quarterly card changes on a "
            "quarter's first day: 2024-08-15 falls inside the quarter starting 2024-07-01",
        ),
        (
            card_text("          - {metric: sales, weight: 100%, cap: lots}\n"),
            "company.yaml:8: scorecards.quarterly.versions[0].kpis[0].cap: 'lots' is not a share: "
            "write e.g. 80% or 0.8",
        ),
        (
            card_text(
                "          - {metric: sales, weight: 50%}\n"
                "          - {metric: new_customers, weight: 50}\n"
            ),
            "company.yaml:9: scorecards.quarterly.versions[0].kpis[1].weight: 50 would be 5000%; "
            "write 50% (or 0.5)",
        ),
        (
            card_text("          - {metric: sales, weight: 100%, cap: 120}\n"),
            "company.yaml:8: scorecards.quarterly.versions[0].kpis[0].cap: 120 would be 12000%; "
            "write 120% (or 1.2)",
        ),
    ],
)
def test_bad_cards_are_rejected_at_their_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("company.yaml").write_text(text, "utf-8")
    with pytest.raises((PlaybookError, PlaybookErrors)) as caught:
        load_playbook("company.yaml")
    assert str(caught.value) == expected


def test_versions_go_in_date_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = card_text("          - {metric: sales, weight: 100%}\n", start="2024-07-01")
    text += "      - from: 2024-04-01\n        kpis:\n          - {metric: sales, weight: 100%}\n"
    Path("company.yaml").write_text(text, "utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbook("company.yaml")
    assert str(caught.value) == (
        "company.yaml:9: scorecards.quarterly.versions[1].from: versions go in date order: "
        "2024-04-01 is not after 2024-07-01"
    )


def test_a_lower_is_better_kpi_needs_a_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = LOWER_BETTER.replace(
        "{metric: complaint_rate, weight: 40%, cap: 120%}", "{metric: complaint_rate, weight: 40%}"
    )
    Path("company.yaml").write_text(text, "utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbook("company.yaml")
    assert str(caught.value) == (
        "company.yaml:14: scorecards.monthly.versions[0].kpis[1].cap: 'complaint_rate' is better "
        "lower, so a rep at 0 would attain without limit: give it a cap, e.g. cap: 120%"
    )


# ---- money read back exactly ----------------------------------------------------------------

MONEY_CARD = """\
extends: default
metrics:
  avg_amount: {avg: orders.amount, window: target period}
scorecards:
  quarterly: null
  monthly:
    period: month
    versions:
      - from: 2024-01-01
        kpis:
          - {metric: sales, weight: 50%}
          - {metric: avg_amount, weight: 50%}
"""
# June orders per rep, in yuan; averages worked by hand to the cent, rounding half up:
#   R1  0.10, 0.20, 0.40: sales 0.70, average 0.2333… → 0.23
#   R2  0.10, 0.15: sales 0.25, average 0.125 → 0.13 (half-even would say 0.12)
#   R3  1,234,567.89, 1,234,567.89, 1,234,567.90: sales 3,703,703.68, average 1,234,567.8933…
MONEY_ORDERS = {
    "R1": ["0.10", "0.20", "0.40"],
    "R2": ["0.10", "0.15"],
    "R3": ["1,234,567.89", "1,234,567.89", "1,234,567.90"],
}
JUNE = {"period_start": "2024-06-01", "period_end": "2024-06-30"}


def test_money_is_read_back_exactly(engine: Engine, tmp_path: Path) -> None:
    load(engine, "org_units", [{"id": "SH", "name": "上海", "kind": "city"}])
    load(engine, "reps", [{"id": r, "name": r, "org_unit_id": "SH"} for r in MONEY_ORDERS])
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
    load(
        engine,
        "targets",
        [target(r, m, "1234567.89", JUNE) for r in MONEY_ORDERS for m in ("sales", "avg_amount")],
    )
    path = tmp_path / "money.yaml"
    path.write_text(MONEY_CARD, "utf-8")
    found = scorecards.report(engine, load_playbook(str(path)), date(2024, 7, 15), "2024-06")
    got = {c["rep_id"]: kpis(c) for c in found}
    expected = {
        "R1": (Decimal("0.70"), Decimal("0.23")),
        "R2": (Decimal("0.25"), Decimal("0.13")),
        "R3": (Decimal("3703703.68"), Decimal("1234567.89")),
    }
    for rep, (sales, average) in expected.items():
        values = [got[rep][m][k] for m in ("sales", "avg_amount") for k in ("target", "actual")]
        assert values == [Decimal("1234567.89"), sales, Decimal("1234567.89"), average]
        assert all(type(v) is Money for v in values)  # exact, and shown as an amount
    table = [r for r in scorecards.table_rows(found) if r["metric"] == "avg_amount"]
    shown = [cell_text(r["actual"]) for r in table]
    assert shown == ["1,234,567.89", "0.23", "0.13"]  # R3 ranks first
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        cli,
        ["scorecards", "--period", "2024-06", "--as-of", "2024-07-15", "--format", "json",
         "--db", url, "--playbook", str(path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    printed = {c["rep_id"]: kpis(c) for c in json.loads(result.stdout)}
    assert [printed[r]["avg_amount"]["actual"] for r in MONEY_ORDERS] == [0.23, 0.13, 1234567.89]
    assert '"actual": 1234567.89,' in result.stdout
    assert '"actual": 3703703.68,' in result.stdout
