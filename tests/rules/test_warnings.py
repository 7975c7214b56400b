"""The goal-lag warning (DOMAIN.md §1): a rep more than 20% behind the pro-rated target gets a
coaching task for their manager. June 2024 has 30 days; a 1,200,000 target expects 600,000 by
06-15 (15 of 30 days, the as-of day counted), so the line is 80% × 600,000 = 480,000."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.present import queries
from tests.conftest import load, load_playbook, run


def setup_june(engine: Engine, r1: str, r2: str) -> None:
    load(
        engine,
        "customers",
        [
            {"id": "C1", "name": "客户一", "owner_id": "R1"},
            {"id": "C2", "name": "客户二", "owner_id": "R2"},
        ],
    )
    load(
        engine,
        "targets",
        [
            {
                "id": f"T{r}",
                "owner_type": "rep",
                "owner_id": r,
                "metric": "sales",
                "period_start": "2024-06-01",
                "period_end": "2024-06-30",
                "value": "1200000",
            }
            for r in ("R1", "R2")
        ],
    )
    load(
        engine,
        "orders",
        [
            {
                "id": "O1",
                "customer_id": "C1",
                "rep_id": "R1",
                "amount": r1,
                "ordered_on": "2024-06-03",
            },
            {
                "id": "O2",
                "customer_id": "C2",
                "rep_id": "R2",
                "amount": r2,
                "ordered_on": "2024-06-03",
            },
            # May's sales are outside June's target period and do not count
            {
                "id": "O3",
                "customer_id": "C1",
                "rep_id": "R1",
                "amount": "900000",
                "ordered_on": "2024-05-31",
            },
        ],
    )


def lag_tasks(engine: Engine) -> list[dict[str, object]]:
    return queries.tasks(engine, rule="goal_lag")


def test_75_percent_of_pace_gets_coaching_and_exactly_80_does_not(org: Engine) -> None:
    setup_june(org, r1="450000", r2="480000")
    run(org, "2024-06-15")
    tasks = lag_tasks(org)
    assert [(t["subject_id"], t["assignee_id"], t["status"]) for t in tasks] == [
        ("R1", "M1", "open")
    ]
    assert tasks[0]["title"] == "与 张伟 一对一辅导：销售额完成 37.5%，落后进度"
    alerts = queries.alerts(org, rule="goal_lag")
    # the level is the light: 75% of pace is below 80% (not green) but not below 60% (red)
    assert [(a["subject_id"], a["level"]) for a in alerts] == [("R1", "yellow")]
    assert (
        alerts[0]["message"] == "张伟 销售额 450000 / 目标 1200000，完成 37.5%，按进度应达 600000"
    )


def test_manager_falls_back_to_the_nearest_unit_head(org: Engine) -> None:
    setup_june(
        org, r1="480000", r2="479999.99"
    )  # R2 has no manager; 上海 has no head; 华东's is M1
    run(org, "2024-06-15")
    assert [(t["subject_id"], t["assignee_id"]) for t in lag_tasks(org)] == [("R2", "M1")]


def test_last_day_measures_the_whole_target(org: Engine) -> None:
    setup_june(org, r1="960000", r2="959999.99")  # 80% of 1,200,000 = 960,000
    run(org, "2024-06-30")
    assert [t["subject_id"] for t in lag_tasks(org)] == ["R2"]


def test_recovery_resolves_and_a_new_lag_is_a_new_episode(org: Engine) -> None:
    setup_june(org, r1="450000", r2="1000000")
    run(org, "2024-06-15")
    load(
        org,
        "orders",
        [
            {
                "id": "O4",
                "customer_id": "C1",
                "rep_id": "R1",
                "amount": "350000",
                "ordered_on": "2024-06-16",
            }
        ],
    )
    run(org, "2024-06-20")  # 800,000 >= 80% × 1,200,000 × 20/30 = 640,000: recovered
    assert [t["status"] for t in lag_tasks(org)] == ["closed"]
    assert [(a["status"], str(a["resolved_on"])) for a in queries.alerts(org, rule="goal_lag")] == [
        ("resolved", "2024-06-20")
    ]
    run(org, "2024-06-28")  # line is 80% × 1,200,000 × 28/30 = 896,000 > 800,000: lags again
    tasks = lag_tasks(org)
    assert [t["status"] for t in tasks] == ["closed", "open"]
    run(org, "2024-06-29")  # still lagging: the same episode, nothing new
    assert len(lag_tasks(org)) == 2


def test_the_alert_takes_the_light_red_below_60_percent_of_pace(org: Engine) -> None:
    setup_june(org, r1="359999.99", r2="360000")  # 60% of the 600,000 expected = 360,000
    run(org, "2024-06-15")
    levels = {a["subject_id"]: a["level"] for a in queries.alerts(org, rule="goal_lag")}
    assert levels == {"R1": "red", "R2": "yellow"}


def test_an_org_units_goal_alerts_its_head(org: Engine) -> None:
    """华东 (head M1) has a June target of 2,000,000; its reps R1 and R2 (in 上海, below it)
    sold 450,000 + 480,000 = 930,000 by 06-15, against 1,000,000 expected: 93% → green. Raised
    to 2,500,000, on 06-16 it expects 2,500,000 × 16/30 = 1,333,333.33: 69.75% → yellow, and
    M1 is alerted (an org unit's goal raises no coaching task in the default playbook)."""
    setup_june(org, r1="450000", r2="480000")
    june = {"period_start": "2024-06-01", "period_end": "2024-06-30", "metric": "sales"}
    load(
        org,
        "targets",
        [{"id": "TEC", "owner_type": "org_unit", "owner_id": "EC", "value": "2000000", **june}],
    )
    run(org, "2024-06-15")
    assert queries.alerts(org, rule="team_goal_lag") == []
    load(
        org,
        "targets",
        [{"id": "TEC", "owner_type": "org_unit", "owner_id": "EC", "value": "2500000", **june}],
    )
    run(org, "2024-06-16")  # 930,000 of 2,500,000 × 16/30 = 1,333,333: 69.75% → yellow
    (alert,) = queries.alerts(org, rule="team_goal_lag")
    assert (alert["subject_type"], alert["subject_id"], alert["level"]) == (
        "org_unit",
        "EC",
        "yellow",
    )
    assert alert["message"].startswith("华东大区 销售额 930000 / 目标 2500000，完成 37.2%")
    assert queries.alerts(org, rule="team_goal_lag", recipient="M1") == [alert]
    assert [t for t in queries.tasks(org) if t["subject_type"] == "org_unit"] == []


def test_a_light_turning_red_raises_the_alerts_level_not_a_second_alert(org: Engine) -> None:
    """06-15: 450,000 of the 600,000 expected is 75% → yellow. 06-20, no new sales: 450,000 of
    1,200,000 × 20/30 = 800,000 is 56.25% → red. Still one alert (and one task), now red."""
    setup_june(org, r1="450000", r2="1000000")
    run(org, "2024-06-15")
    run(org, "2024-06-20")
    alerts = queries.alerts(org, rule="goal_lag")
    assert [(a["subject_id"], a["level"], a["status"]) for a in alerts] == [("R1", "red", "open")]
    assert len(lag_tasks(org)) == 1


# ---- a share beside a plain number: by the type of what is compared, not its name ------------


def warning(tmp_path: Path, when: str, subject: str = "targets") -> Path:
    path = tmp_path / "company.yaml"
    path.write_text(
        "extends: default\nwarnings:\n  check:\n"
        f"    for: {subject}\n    level: yellow\n    message: look\n    when: {when}\n",
        "utf-8",
    )
    return path


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("completion >= 80", "completion is a share, so 80 would be 8000%; write 80%"),
        ("collection_rate < 90", "collection_rate is a share, so 90 would be 9000%; write 90%"),
        ("80 <= pace", "pace is a share, so 80 would be 8000%; write 80%"),
        ("pace between 80 and 120", "pace is a share, so 80 would be 8000%; write 80%"),
        # NPS is kept as a share (an NPS of 70 is 70%), so it is written 70% like any share
        ("nps >= 70", "nps is a share, so 70 would be 7000%; write 70%"),
        ("actual / target < 80", "the value compared is a share, so 80 would be 8000%; "
         "write 80%"),
    ],
)  # fmt: skip
def test_a_share_compared_with_a_plain_number_is_refused_at_its_line(
    tmp_path: Path, when: str, reason: str
) -> None:
    path = warning(tmp_path, when)
    with pytest.raises(SalesplayError) as caught:
        load_playbook(str(path))
    assert str(caught.value) == f"{path}:7: warnings.check.when: {reason}"


@pytest.mark.parametrize(
    ("when", "subject"),
    [
        ("completion >= 80%", "targets"),
        ("completion >= 0.8", "targets"),
        ("pace between 80% and 120%", "targets"),
        ("nps >= 70%", "targets"),
        ("satisfaction >= 80", "targets"),  # an average score of 0–100, not a share
        ("actual < 80% * expected_by_now", "targets"),
        ("revenue_6m >= 500000", "customers"),  # an amount: a plain number is yuan
        ("revenue_6m >= 50万", "customers"),
    ],
)
def test_a_percentage_beside_a_share_and_a_number_beside_an_amount(
    tmp_path: Path, when: str, subject: str
) -> None:
    load_playbook(str(warning(tmp_path, when, subject)))
