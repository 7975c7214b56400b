"""Listings as people read them and as scripts read them, through click's runner, on rows
written by hand: one task, one alert, one run, one payout line, one delivery.

Tables follow the bundled playbook (language zh, Asia/Shanghai, CNY) unless --lang says; JSON
keeps its keys and values: ids only, times in ISO 8601 UTC, amounts as plain numbers."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from salesplay.cli import cli
from salesplay.engine.present.output import width
from salesplay.engine.store import db
from salesplay.engine.store.models import Alert, Delivery, Run, Task, table_of
from salesplay.rules.incentives.tables import PayoutLine
from tests.conftest import load

TITLE = "跟进 华鑫机械（A 级客户，应于 2024-06-20 前）并确认下季度的采购计划与付款安排"
MESSAGE = "华鑫机械 已 45 天没有跟进记录，请负责人 张三 尽快安排拜访并在系统中登记跟进结果"


def invoke(*args: str, columns: str | None = None) -> Result:
    """The command as on a terminal COLUMNS wide; with None, as into a pipe (nothing cut)."""
    return CliRunner(env={"COLUMNS": columns}).invoke(cli, list(args))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = db.connect(url)
    load(engine, "org_units", [{"id": "T1", "name": "一组"}])
    load(
        engine,
        "reps",
        [
            {"id": "R1", "name": "张三", "org_unit_id": "T1", "manager_id": "M1"},
            {"id": "M1", "name": "李经理", "org_unit_id": "T1"},
        ],
    )
    load(
        engine,
        "customers",
        [{"id": "C1", "name": "华鑫机械", "owner_id": "R1"}, {"id": "C2", "name": "瑞丰商贸"}],
    )
    key = {"subject_type": "customer", "subject_id": "C1", "episode": "2024-05-01", "seq": 0}
    with engine.begin() as conn:
        conn.execute(
            table_of(Task)
            .insert()
            .values(
                id=1,
                rule="follow_up",
                **key,
                assignee_id="R1",
                due=date(2024, 6, 20),
                title=TITLE,
                status="open",
                created_on=date(2024, 6, 15),
            )
        )
        conn.execute(
            table_of(Alert)
            .insert()
            .values(
                id=1,
                rule="follow_up.overdue",
                **key,
                recipient_id="M1",
                level="red",
                message=MESSAGE,
                raised_on=date(2024, 6, 15),
                status="open",
            )
        )
        conn.execute(
            table_of(Run)
            .insert()
            .values(
                id=1,
                job="manual",
                started_at=datetime(2024, 6, 14, 23, 30, 5),  # UTC: 07:30:05 in Shanghai
                finished_at=datetime(2024, 6, 14, 23, 31, 0),
                as_of=date(2024, 6, 15),
                playbook_path="default",
                playbook_hash="abc123",
                status="succeeded",
                emitted={"tasks": 1, "alerts": 1},
            )
        )
        conn.execute(
            table_of(PayoutLine)
            .insert()
            .values(
                owner_type="rep",
                owner_id="R1",
                period_start=date(2024, 6, 1),
                period_end=date(2024, 6, 30),
                rule="sales_commission",
                base_cents=4_320_000_000,
                rate=0.03,
                amount_cents=129_600_000,  # 43,200,000.00 × 3% = 1,296,000.00
            )
        )
        conn.execute(
            table_of(Delivery)
            .insert()
            .values(
                id=1,
                item_kind="task",
                item_id=1,
                channel="wecom",
                recipient_id="R1",
                rule="follow_up",
                status="pending",
                attempts=1,
                next_attempt_at=datetime(2024, 6, 15, 0, 5, 0),  # 08:05:00 in Shanghai
            )
        )
    engine.dispose()
    return url


def test_a_tasks_table_fits_80_columns_and_wide_prints_it_whole(db_url: str) -> None:
    result = invoke("tasks", "--db", db_url, columns="80")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(width(line) for line in lines) <= 80
    assert lines[0].split() == ["编号", "规则", "对象", "负责人", "截止日期", "任务", "状态"]
    # 编号 4, 规则 9, 对象 11, 负责人 7, 截止日期 10, 状态 4 and 12 columns of gaps leave
    # the title 23 columns: 21 of text and the …
    assert lines[2] == (
        "1     follow_up  C1 华鑫机械  R1 张三  2024-06-20  跟进 华鑫机械（A 级客…   待办"
    )
    assert lines[3] == "1 条任务"
    wide = invoke("tasks", "--wide", "--db", db_url, columns="80")
    assert wide.output.splitlines()[2] == (
        f"1     follow_up  C1 华鑫机械  R1 张三  2024-06-20  {TITLE}  待办"
    )
    piped = invoke("tasks", "--db", db_url)  # not a terminal, no COLUMNS: nothing is cut
    assert piped.output == wide.output


def test_lang_chooses_the_words_of_the_table(db_url: str) -> None:
    english = invoke("tasks", "--lang", "en", "--db", db_url).output.splitlines()
    assert english[0].split() == ["id", "rule", "subject", "assignee", "due", "title", "status"]
    assert english[2].endswith("  open") and english[3] == "1 task"
    done = invoke("tasks", "--status", "done", "--db", db_url)
    assert done.output == "（无）\n"
    assert invoke("tasks", "--status", "done", "--lang", "en", "--db", db_url).output == (
        "(none)\n"
    )


def test_the_alerts_table_shows_each_recipient(db_url: str) -> None:
    result = invoke("alerts", "--db", db_url, columns="100")
    lines = result.output.splitlines()
    assert max(width(line) for line in lines) <= 100
    assert lines[0].split()[:5] == ["编号", "规则", "对象", "接收人", "级别"]
    assert lines[2].split()[:6] == ["1", "follow_up.overdue", "C1", "华鑫机械", "M1", "李经理"]
    assert " 红 " in lines[2] and lines[2].endswith("未处理")
    assert "…" in lines[2] and MESSAGE not in result.output
    assert lines[3] == "1 条预警"


def test_runs_show_times_in_the_playbooks_zone_and_json_keeps_utc(db_url: str) -> None:
    table = invoke("runs", "--db", db_url).output.splitlines()
    assert table[2].split()[:8] == [
        "1",
        "手动",
        "成功",
        "2024-06-15",
        "07:30:05",
        "2024-06-15",
        "07:31:00",
        "2024-06-15",
    ]
    assert table[2].endswith("tasks 1, alerts 1") and table[3] == "1 次运行"
    (run,) = json.loads(invoke("runs", "--format", "json", "--db", db_url).output)
    assert (run["started_at"], run["finished_at"]) == (
        "2024-06-14T23:30:05+00:00",
        "2024-06-14T23:31:00+00:00",
    )
    assert run["emitted"] == {"tasks": 1, "alerts": 1}


def test_payouts_show_amounts_with_separators_and_the_currency(db_url: str) -> None:
    table = invoke("payouts", "--period", "2024-06", "--db", db_url).output.splitlines()
    assert table[0].split() == ["对象", "周期", "状态", "规则", "基数", "比例", "金额", "合计"]
    assert table[2].split() == [
        "R1",
        "张三",
        "2024-06",
        "暂估",
        "sales_commission",
        "¥43,200,000.00",
        "3%",
        "¥1,296,000.00",
        "¥1,296,000.00",
    ]
    assert table[3] == "1 条明细"
    (statement,) = json.loads(
        invoke("payouts", "--period", "2024-06", "--format", "json", "--db", db_url).output
    )
    assert (statement["rep_id"], statement["total"]) == ("R1", 1296000)
    assert statement["lines"][0]["base"] == 43200000
    csv_out = invoke("payouts", "--period", "2024-06", "--format", "csv", "--db", db_url).output
    assert (
        csv_out.splitlines()[1]
        == "R1,2024-06,provisional,sales_commission,43200000,3%,1296000,1296000"
    )


def test_deliveries_and_customers_name_reps_and_say_yes_or_no(db_url: str) -> None:
    deliveries = invoke("deliveries", "--lang", "en", "--db", db_url).output.splitlines()
    assert deliveries[2].split() == [
        "1", "task", "1", "wecom", "R1", "张三", "follow_up", "pending", "1", "2024-06-15",
        "08:05:00",
    ]  # fmt: skip
    customers = invoke("customers", "--db", db_url).output.splitlines()
    assert [line.split() for line in customers[2:]] == [
        ["C1", "华鑫机械", "R1", "张三", "否"],
        ["C2", "瑞丰商贸", "是"],
        ["2", "个客户"],
    ]


def test_json_listings_keep_their_keys_and_values(db_url: str) -> None:
    """The scripting contract, row for row: ids without names, no recipient in alerts, times
    as stored in UTC, whatever the terminal and --lang."""
    tasks = invoke("tasks", "--format", "json", "--lang", "zh", "--db", db_url, columns="40")
    assert json.loads(tasks.output) == [
        {
            "id": 1,
            "rule": "follow_up",
            "subject_type": "customer",
            "subject_id": "C1",
            "assignee_id": "R1",
            "due": "2024-06-20",
            "title": TITLE,
            "status": "open",
        }
    ]
    alerts = invoke("alerts", "--format", "json", "--db", db_url, columns="40")
    assert json.loads(alerts.output) == [
        {
            "id": 1,
            "rule": "follow_up.overdue",
            "subject_type": "customer",
            "subject_id": "C1",
            "level": "red",
            "message": MESSAGE,
            "raised_on": "2024-06-15",
            "status": "open",
            "resolved_on": None,
        }
    ]
    customers = json.loads(invoke("customers", "--format", "json", "--db", db_url).output)
    assert customers[0] == {
        "id": "C1",
        "name": "华鑫机械",
        "owner_id": "R1",
        "grade": None,
        "pooled": False,
    }
    (delivery,) = json.loads(invoke("deliveries", "--format", "json", "--db", db_url).output)
    assert (delivery["recipient_id"], delivery["next_attempt_at"]) == ("R1", "2024-06-15T00:05:00")
    csv_out = invoke("tasks", "--format", "csv", "--db", db_url).output.splitlines()
    assert csv_out[0] == "id,rule,subject_type,subject_id,assignee_id,due,title,status"
    assert csv_out[1] == f"1,follow_up,customer,C1,R1,2024-06-20,{TITLE},open"
