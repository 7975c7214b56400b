"""Acknowledged and snoozed alerts: a snoozed alert stays quiet until its date, then is open
again if its condition still holds; either kind resolves, with the date, when it clears."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.present import queries
from salesplay.engine.run import alert_status
from tests.conftest import load, run


def overdue(engine: Engine) -> int:
    """C1, created 06-01 and never contacted: follow-up due 06-01, overdue alert from 06-05."""
    load(
        engine,
        "customers",
        [{"id": "C1", "name": "恒通商贸", "owner_id": "R1", "created_on": "2024-06-01"}],
    )
    run(engine, "2024-06-05")
    [alert] = queries.alerts(engine, rule="follow_up.overdue")
    return int(alert["id"])


def visit(engine: Engine, day: str) -> None:
    load(
        engine,
        "activities",
        [
            {
                "id": "A1",
                "customer_id": "C1",
                "rep_id": "R1",
                "occurred_at": f"{day} 10:00",
                "channel": "visit",
            }
        ],
    )


def test_snoozed_alert_is_quiet_until_its_date(org: Engine) -> None:
    alert_id = overdue(org)
    alert_status.snooze(org, alert_id, date(2024, 6, 10))
    assert queries.alerts(org, rule="follow_up.overdue") == []  # not listed by default
    assert [a["id"] for a in queries.alerts(org, status="snoozed")] == [alert_id]
    quiet = run(org, "2024-06-09")  # condition holds, but no new alert while snoozed
    assert quiet.emitted.get("alerts", 0) == 0
    assert queries.alerts(org, status="snoozed")[0]["id"] == alert_id
    run(org, "2024-06-10")  # its date: open again, the same alert
    [alert] = queries.alerts(org, rule="follow_up.overdue")
    assert (alert["id"], alert["status"]) == (alert_id, "open")


def test_snoozed_alert_whose_condition_clears_is_resolved(org: Engine) -> None:
    alert_id = overdue(org)
    alert_status.snooze(org, alert_id, date(2024, 6, 30))
    visit(org, "2024-06-07")
    run(org, "2024-06-07")
    [alert] = queries.alerts(org, status="resolved")
    assert (alert["id"], str(alert["resolved_on"])) == (alert_id, "2024-06-07")


def test_acknowledged_alert_stays_listed_and_resolves(org: Engine) -> None:
    alert_id = overdue(org)
    alert_status.acknowledge(org, alert_id, date(2024, 6, 5))
    assert [a["status"] for a in queries.alerts(org)] == ["acknowledged"]
    run(org, "2024-06-06")
    assert [a["status"] for a in queries.alerts(org)] == ["acknowledged"]
    visit(org, "2024-06-08")
    run(org, "2024-06-08")
    assert [(a["status"], str(a["resolved_on"])) for a in queries.alerts(org)] == [
        ("resolved", "2024-06-08")
    ]
    with pytest.raises(SalesplayError, match="already resolved"):
        alert_status.acknowledge(org, alert_id, date(2024, 6, 9))


def test_snooze_must_end_after_the_alert_was_raised(org: Engine) -> None:
    alert_id = overdue(org)
    with pytest.raises(SalesplayError, match=r"--until: 2024-06-05 is not after"):
        alert_status.snooze(org, alert_id, date(2024, 6, 5))
    with pytest.raises(SalesplayError, match="no alert with id 999"):
        alert_status.snooze(org, 999, date(2024, 6, 9))
