"""Tenure tiers and the training gate (DOMAIN.md §5): a rep under 6 months whose product exam
is below 80 may not own A-grade customers."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from salesplay.engine.present import queries
from tests.conftest import load, load_playbook, rows, run


def rep(rid: str, hired: str, score: str) -> dict[str, str]:
    return {
        "id": rid,
        "name": f"新人{rid}",
        "org_unit_id": "SH",
        "manager_id": "M1",
        "hired_on": hired,
        "exam_score": score,
        "active": "true",
    }


def test_the_training_gate(org: Engine) -> None:
    load(
        org,
        "reps",
        [
            rep("N79", "2024-01-05", "79"),  # 5 months on 2024-07-04: new, below 80
            rep("N80", "2024-01-05", "80"),  # new, exactly 80: passes
            rep("NNS", "2024-01-05", ""),  # new, never sat the exam
            rep("E70", "2024-01-04", "70"),  # exactly 6 months on 2024-07-04: experienced
        ],
    )
    load(
        org,
        "customers",
        [  # strategic: grade A; created 06-01 so the shared pool leaves them alone
            {
                "id": f"C{r}",
                "name": f"客户{r}",
                "owner_id": r,
                "strategic": "true",
                "created_on": "2024-06-01",
            }
            for r in ("N79", "N80", "NNS", "E70")
        ]
        + [
            {
                "id": "CB",
                "name": "普通客户",
                "owner_id": "N79",
                "strategic": "false",
                "created_on": "2024-06-01",
            }
        ],
    )
    run(org, "2024-07-04")
    alerts = queries.alerts(org, rule="training_gate")
    assert sorted(a["subject_id"] for a in alerts) == ["CN79", "CNNS"]
    first = next(a for a in alerts if a["subject_id"] == "CN79")
    assert first["level"] == "red"
    assert first["message"] == (
        "客户N79 为 A 级客户，负责人 新人N79 入职 5 个月、产品考试 79 分，未达独立接单要求（80 分）"
    )
    tasks = queries.tasks(org, rule="training_gate")
    assert sorted((t["subject_id"], t["assignee_id"]) for t in tasks) == [
        ("CN79", "M1"),
        ("CNNS", "M1"),
    ]
    assert tasks[0]["title"].startswith("为 A 级客户 客户N")
    recipients = {
        r["recipient_id"]
        for r in rows(org, "select recipient_id from alerts where rule = 'training_gate'")
    }
    assert recipients == {"M1"}
    # the next day N79 is still new; on 2024-07-05 N79 (hired 01-05) reaches 6 months
    run(org, "2024-07-05")
    assert {a["subject_id"]: a["status"] for a in queries.alerts(org, rule="training_gate")} == {
        "CN79": "resolved",
        "CNNS": "resolved",
    }


def test_tenure_tiers_and_months(org: Engine, tmp_path: Path) -> None:
    path = tmp_path / "tenure.yaml"
    path.write_text(
        "extends: default\nwarnings:\n  tier:\n    for: reps\n    when: tenure_months >= 0\n"
        "    level: green\n    message: '{tenure} {tenure_months}'\n",
        "utf-8",
    )
    load(
        org,
        "reps",
        [
            rep("S36", "2021-02-28", "90"),  # + 36 months = 2024-02-28
            rep("E35", "2021-03-01", "90"),  # 35 months on 2024-02-29
            rep("E6", "2023-08-31", "90"),  # + 6 months = 2024-02-29 (month end): 6
            rep("N5", "2023-09-01", "90"),  # 5 months
        ],
    )
    run(org, "2024-02-29", load_playbook(str(path)))
    found = {a["subject_id"]: a["message"] for a in queries.alerts(org, rule="tier")}
    assert {k: found[k] for k in ("S36", "E35", "E6", "N5")} == {
        "S36": "senior 36",
        "E35": "experienced 35",
        "E6": "experienced 6",
        "N5": "new 5",
    }
