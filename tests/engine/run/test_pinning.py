"""The playbook in force is pinned, time only moves forward, and a replay changes nothing
(engine/run/pinning.py, evaluate.replay). Grades and items computed by hand from the fixture.

The fixture: customers of R1 in 上海, none ever contacted, created 2024-06-01 (so each has a
follow-up task due 2024-06-01 in every run below):

    C1  医疗, no orders              medical: A (industry)   default: C
    C2  医疗, 600,000 on 2024-05-01  medical: A              default: A (revenue_6m >= 500,000)
    C3  制造, no orders              medical: C              default: C
    C4  医疗, 150,000 on 2024-05-01  medical: A (industry)   default: B (revenue_6m >= 100,000)

so switching from medical to default moves two grades: C1 A → C and C4 A → B.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.run.evaluate import evaluate, replay
from salesplay.engine.run.family import Playbook
from salesplay.engine.schedule.scheduler import Scheduler
from salesplay.engine.store.models import Run, table_of
from tests.conftest import load, load_playbook, rows

MEDICAL = """\
playbook: medical
extends: default
grading:
  grades:
    - grade: A
      when: revenue_6m >= 500000 or pipeline >= 1000000 or strategic or industry = '医疗'
    - grade: B
      when: revenue_6m >= {b}
    - grade: C
"""


def medical(tmp_path: Path, b: int = 100000) -> Path:
    path = tmp_path / "medical.yaml"
    path.write_text(MEDICAL.format(b=b), "utf-8")
    return path


def seed(engine: Engine) -> None:
    def customer(cid: str, industry: str) -> dict[str, str]:
        return {
            "id": cid,
            "name": f"客户{cid}",
            "owner_id": "R1",
            "org_unit_id": "SH",
            "industry": industry,
            "created_on": "2024-06-01",
        }

    load(
        engine,
        "customers",
        [
            customer("C1", "医疗"),
            customer("C2", "医疗"),
            customer("C3", "制造"),
            customer("C4", "医疗"),
        ],
    )
    load(
        engine,
        "orders",
        [
            {"id": "O2", "customer_id": "C2", "amount": "600000", "ordered_on": "2024-05-01"},
            {"id": "O4", "customer_id": "C4", "amount": "150000", "ordered_on": "2024-05-01"},
        ],
    )


def grades(engine: Engine) -> dict[str, str]:
    return {r["customer_id"]: r["grade"] for r in rows(engine, "select * from grades")}


def everything(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: what 'nothing written' is compared on."""
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {
            name: sorted(
                (tuple(map(repr, row)) for row in conn.execute(sa.text(f"select * from {name}"))),
            )
            for name in names
        }


def day(text: str) -> date:
    return date.fromisoformat(text)


# ---- the playbook in force is pinned ---------------------------------------------------------


def test_another_playbook_not_named_is_refused_and_nothing_is_written(
    org: Engine, tmp_path: Path
) -> None:
    seed(org)
    book = load_playbook(str(medical(tmp_path)))
    evaluate(org, book, day("2024-07-01"), playbook_named=True)
    assert grades(org) == {"C1": "A", "C2": "A", "C3": "C", "C4": "A"}
    before = everything(org)
    with pytest.raises(SalesplayError) as caught:
        evaluate(org, load_playbook(), day("2024-07-02"), playbook_named=False)
    assert str(caught.value) == (
        f"the last evaluation (run 1, as of 2024-07-01) used playbook medical "
        f"({tmp_path.resolve() / 'medical.yaml'}); this one would use default (bundled): "
        "name it with --playbook to switch"
    )
    assert everything(org) == before


def test_a_named_switch_runs_and_says_how_many_grades_moved(org: Engine, tmp_path: Path) -> None:
    seed(org)
    path = medical(tmp_path)
    evaluate(org, load_playbook(str(path)), day("2024-07-01"))
    result = evaluate(org, load_playbook("default"), day("2024-07-02"), playbook_named=True)
    assert grades(org) == {"C1": "C", "C2": "A", "C3": "C", "C4": "B"}
    assert result.emitted["grade_changes"] == 2
    assert result.notes == [
        f"playbook changed to default (bundled) from medical ({path.resolve()}) (run 1): "
        "2 grades moved"
    ]
    ledger = rows(org, "select playbook_path from runs order by id")
    assert [r["playbook_path"] for r in ledger] == [str(path.resolve()), "default"]
    # from now on default is the playbook in force: the same again says nothing
    again = evaluate(org, load_playbook("default"), day("2024-07-02"), playbook_named=False)
    assert again.notes == []


def test_an_edited_playbook_at_the_same_path_runs_and_says_it_changed(
    org: Engine, tmp_path: Path
) -> None:
    seed(org)
    first = load_playbook(str(medical(tmp_path)))
    evaluate(org, first, day("2024-07-01"))
    # B from 200,000: C4 (150,000, but 医疗) stays A, nothing moves
    edited = load_playbook(str(medical(tmp_path, b=200000)))
    assert edited.content_hash != first.content_hash
    result = evaluate(org, edited, day("2024-07-02"), playbook_named=False)
    assert result.notes == [
        f"playbook medical ({tmp_path.resolve() / 'medical.yaml'}) changed since run 1 "
        f"(hash {first.content_hash} → {edited.content_hash})"
    ]
    assert grades(org) == {"C1": "A", "C2": "A", "C3": "C", "C4": "A"}


@pytest.mark.parametrize(
    "recorded",
    [
        "playbooks/default.yaml",  # what releases before pinning recorded for the bundled one
        "/opt/sales/.venv/lib/python3.11/site-packages/salesplay/playbooks/default.yaml",
        str(Path(__file__).resolve().parents[3] / "playbooks" / "default.yaml"),  # a checkout
    ],
)
def test_an_old_run_naming_the_bundled_file_counts_as_the_bundled_playbook(
    org: Engine, tmp_path: Path, recorded: str
) -> None:
    seed(org)
    default = load_playbook("default")
    with org.begin() as conn:
        conn.execute(
            sa.insert(table_of(Run)).values(
                job="manual",
                started_at=datetime(2024, 7, 1, 1),
                finished_at=datetime(2024, 7, 1, 1),
                as_of=day("2024-07-01"),
                playbook_path=recorded,
                playbook_hash=default.content_hash,
                status="succeeded",
                emitted={},
            )
        )
    result = evaluate(org, default, day("2024-07-02"), playbook_named=False)
    assert result.notes == []  # the same playbook, the same content
    with pytest.raises(SalesplayError, match=r"used playbook default \(bundled\); this one would"):
        evaluate(
            org, load_playbook(str(medical(tmp_path))), day("2024-07-02"), playbook_named=False
        )


# ---- scheduled runs ---------------------------------------------------------------------------

DAILY = """\
extends: default
jobs:
  weekly_goals: null
  daily: {cron: "0 8 * * *", rules: [grading, follow_up]}
"""


def scheduled(tmp_path: Path) -> Playbook:
    path = tmp_path / "scheduled.yaml"
    path.write_text(DAILY, "utf-8")
    return load_playbook(str(path))


def test_a_tick_with_another_playbook_is_refused_before_it_claims_anything(
    org: Engine, tmp_path: Path
) -> None:
    seed(org)
    evaluate(org, load_playbook(str(medical(tmp_path))), day("2024-07-01"))
    before = everything(org)
    scheduler = Scheduler(org, scheduled(tmp_path), playbook_named=False)
    with pytest.raises(SalesplayError, match=r"^the last evaluation .* name it with --playbook"):
        scheduler.tick(datetime(2024, 7, 2, 1, tzinfo=UTC))  # the 07-02 08:00 slot is due
    assert everything(org) == before  # no runs row: no claim, no missed slot
    # named, the slot runs and its outcome says the playbook changed (C1 A → C, C4 A → B)
    scheduler.playbook_named = True
    [outcome] = scheduler.tick(datetime(2024, 7, 2, 1, tzinfo=UTC))
    assert outcome.status == "succeeded"
    assert outcome.notes == [
        f"playbook changed to scheduled ({tmp_path.resolve() / 'scheduled.yaml'}) from medical "
        f"({tmp_path.resolve() / 'medical.yaml'}) (run 1): 2 grades moved"
    ]


# ---- time only moves forward ----------------------------------------------------------------


def test_a_manual_evaluation_before_the_latest_is_refused(org: Engine) -> None:
    seed(org)
    book = load_playbook()
    evaluate(org, book, day("2024-07-05"), forward_only=True)
    before = everything(org)
    with pytest.raises(SalesplayError) as caught:
        evaluate(org, book, day("2024-07-01"), forward_only=True)
    assert str(caught.value) == (
        "run 1 already evaluated as of 2024-07-05; 2024-07-01 is earlier: use --replay to see "
        "what it would have emitted without changing anything"
    )
    assert everything(org) == before
    # the same day again is allowed (and emits nothing new), a later one too
    assert evaluate(org, book, day("2024-07-05"), forward_only=True).emitted.get("tasks", 0) == 0
    evaluate(org, book, day("2024-07-06"), forward_only=True)


def test_scheduled_slots_keep_their_own_dates_after_a_later_manual_run(
    org: Engine, tmp_path: Path
) -> None:
    seed(org)
    book = scheduled(tmp_path)
    evaluate(org, book, day("2024-07-05"), forward_only=True)
    # the daily job's first slot at 07-03 08:00 runs as of 07-03, before the manual run's date
    [outcome] = Scheduler(org, book, playbook_named=False).tick(datetime(2024, 7, 3, 1, tzinfo=UTC))
    assert outcome.status == "succeeded"
    assert [str(r["as_of"]) for r in rows(org, "select as_of from runs order by id")] == [
        "2024-07-05",
        "2024-07-03",
    ]


# ---- replay -----------------------------------------------------------------------------------


def test_a_replay_of_an_earlier_day_lists_what_it_would_emit_and_writes_nothing(
    org: Engine,
) -> None:
    load(
        org,
        "customers",
        [{"id": "C1", "name": "客户一", "owner_id": "R1", "created_on": "2024-07-01"}],
    )
    evaluate(org, load_playbook(), day("2024-07-01"))
    # C2 of R2 (no manager of their own: SH has no head, so 华东's M1 is theirs), created 06-20
    load(
        org,
        "customers",
        [{"id": "C2", "name": "客户二", "owner_id": "R2", "created_on": "2024-06-20"}],
    )
    before = everything(org)
    found = replay(org, load_playbook(), day("2024-06-25"), playbook_named=False)
    assert everything(org) == before
    # As of 06-25: C1 (created 07-01) is not there yet. C2 is graded C for the first time; never
    # contacted, its follow-up was due the day it was created (06-20); 5 days late is past the
    # 3 days' grace (an overdue alert to R2) and past escalation's 3 days (a help task for M1).
    # C1's follow-up task of 07-01 would be closed: on 06-25 its customer did not exist yet,
    # which is why a stored evaluation may not go back in time.
    assert found.emitted == {
        "alerts": 1,
        "alerts_resolved": 0,
        "grade_changes": 1,
        "tasks": 2,
        "tasks_closed": 1,
    }
    assert [(t["rule"], t["subject_id"], t["assignee_id"], t["title"]) for t in found.tasks] == [
        ("follow_up", "C2", "R2", "跟进 客户二（C 级客户，应于 2024-06-20 前）"),
        (
            "escalation",
            "follow_up/C2",  # about the late task
            "M1",
            "协助 李娜：跟进 客户二（C 级客户，应于 2024-06-20 前）（已逾期 5 天）",
        ),
    ]
    assert [(a["rule"], a["recipient_id"], a["level"], a["message"]) for a in found.alerts] == [
        (
            "follow_up.overdue",
            "R2",
            "yellow",
            "客户二（C 级）已逾期 5 天未跟进，应于 2024-06-20 跟进",
        )
    ]
    assert found.notes == []
