"""Listings as files for spreadsheets, through click's runner: `--format xlsx --out FILE` read
back with openpyxl cell by cell, CSV with Excel's BOM (or without, for scripts), formula-like
text that no spreadsheet runs, and the payroll workbook whose totals are formulas.

Rows are written by hand (tests/test_cli_output.py's database: one task, one alert, one run,
one payout line, one delivery), plus a customer whose name is a formula."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result

from salesplay.cli import cli
from salesplay.engine.store import db
from salesplay.engine.store.importer import import_file
from tests.conftest import load, rows
from tests.test_cli_output import MESSAGE, TITLE
from tests.test_cli_output import db_url as db_url  # the shared rows

FORMULA = '=HYPERLINK("http://x")'
CNY = '"¥"#,##0.00'


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def url(db_url: str) -> str:
    """The shared rows, and customer C3 whose name a spreadsheet would run as a formula."""
    engine = db.connect(db_url)
    load(engine, "customers", [{"id": "C3", "name": FORMULA, "owner_id": "R1"}])
    engine.dispose()
    return db_url


def sheet(path: Path, index: int = 0) -> Any:
    book = openpyxl.load_workbook(path)
    return book.worksheets[index]


def cells(ws: Any) -> list[list[Any]]:
    """Every cell as (value, number format) for numbers, dates and formulas; text as it is."""
    return [
        [c.value if c.data_type in ("s", "n") and not _numeric(c) else (c.value, c.number_format)
         for c in row]
        for row in ws.iter_rows()
    ]  # fmt: skip


def _numeric(cell: Any) -> bool:
    return isinstance(cell.value, (int, float, Decimal, date, datetime))


# ---- xlsx --------------------------------------------------------------------------------


def test_a_tasks_workbook_is_the_table_with_typed_cells(url: str, tmp_path: Path) -> None:
    out = tmp_path / "tasks.xlsx"
    result = invoke("tasks", "--format", "xlsx", "--out", str(out), "--db", url)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", f"{out}: 1 条任务\n")
    ws = sheet(out)
    assert ws.title == "任务"
    assert ws.freeze_panes == "A2"  # the header row stays in view
    assert [c.font.b for c in ws[1]] == [True] * 7
    assert cells(ws) == [
        ["编号", "规则", "对象", "负责人", "截止日期", "任务", "状态"],
        [
            (1, "General"),
            "follow_up",
            "C1 华鑫机械",
            "R1 张三",
            (datetime(2024, 6, 20), "yyyy-mm-dd"),  # a date cell: openpyxl reads a datetime
            TITLE,
            "待办",
        ],
    ]
    widths = {k: d.width for k, d in ws.column_dimensions.items()}
    # as wide as the widest cell (a CJK character counts two) plus 2, within 6 and 60
    assert widths == {"A": 6, "B": 11, "C": 13, "D": 9, "E": 12, "F": 60, "G": 6}


def test_every_listing_writes_a_workbook(url: str, tmp_path: Path) -> None:
    for args, title, header in [
        (["grades"], "客户等级", ["客户", "等级", "起始日期"]),
        (["alerts"], "预警", ["编号", "规则", "对象", "接收人", "级别", "内容", "发出日期"]),
        (["customers"], "客户", ["编号", "客户名称", "负责人", "等级", "公海"]),
        (["runs"], "运行记录", ["编号", "作业", "计划时间", "状态", "开始时间", "结束时间"]),
        (["deliveries"], "投递", ["编号", "类型", "条目", "渠道", "接收人", "规则", "状态"]),
        (["goals", "--as-of", "2024-06-15"], "目标跟踪表", ["维度", "子目标", "负责人"]),
        (["scorecards", "--as-of", "2024-06-15"], "考核卡", ["考核卡", "周期", "团队"]),
        (["payouts", "--period", "2024-06"], "汇总", ["对象", "周期", "状态", "合计"]),
        (["records", "orders"], "orders", ["id", "customer_id", "rep_id", "amount"]),
    ]:
        out = tmp_path / f"{args[0]}.xlsx"
        result = invoke(*args, "--format", "xlsx", "--out", str(out), "--db", url)
        assert result.exit_code == 0, result.output
        ws = sheet(out)
        assert (ws.title, [c.value for c in ws[1]][: len(header)]) == (title, header)
        assert ws.freeze_panes == "A2"


def test_workbook_cells_for_alerts_runs_and_customers(url: str, tmp_path: Path) -> None:
    def written(*args: str) -> list[list[Any]]:
        out = tmp_path / f"{args[0]}.xlsx"
        assert invoke(*args, "--format", "xlsx", "--out", str(out), "--db", url).exit_code == 0
        return cells(sheet(out))

    alert = written("alerts")[1]
    assert alert[2:6] == ["C1 华鑫机械", "M1 李经理", "红", MESSAGE]
    assert alert[6] == (datetime(2024, 6, 15), "yyyy-mm-dd")
    run = written("runs", "--lang", "en")[1]
    # started 2024-06-14 23:30:05 UTC: 07:30:05 in Shanghai, as the table shows it
    assert run[:6] == [(1, "General"), "manual", None, "succeeded",
                       (datetime(2024, 6, 15, 7, 30, 5), "yyyy-mm-dd hh:mm:ss"),
                       (datetime(2024, 6, 15, 7, 31), "yyyy-mm-dd hh:mm:ss")]  # fmt: skip
    assert run[-1] == "tasks 1, alerts 1"
    customers = written("customers")
    assert customers[1:] == [
        ["C1", "华鑫机械", "R1 张三", None, "否"],
        ["C2", "瑞丰商贸", None, None, "是"],
        ["C3", FORMULA, "R1 张三", None, "否"],
    ]


def test_a_formula_like_name_is_a_text_cell_never_a_formula(url: str, tmp_path: Path) -> None:
    out = tmp_path / "customers.xlsx"
    assert invoke("customers", "--format", "xlsx", "--out", str(out), "--db", url).exit_code == 0
    name = sheet(out)["B4"]
    assert (name.value, name.data_type, name.quotePrefix) == (FORMULA, "s", True)
    records = tmp_path / "records.xlsx"
    assert (
        invoke(
            "records", "customers", "--format", "xlsx", "--out", str(records), "--db", url
        ).exit_code
        == 0
    )
    assert (sheet(records)["B4"].value, sheet(records)["B4"].data_type) == (FORMULA, "s")


def test_xlsx_without_out_is_refused_in_one_line(url: str) -> None:
    result = invoke("tasks", "--format", "xlsx", "--db", url)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: --format xlsx: a workbook is not for a terminal: name a file with --out FILE.xlsx\n"
    )


# ---- CSV: the BOM, the formula guard, --out ----------------------------------------------


def test_csv_starts_with_the_bom_unless_no_bom(url: str, tmp_path: Path) -> None:
    with_bom = invoke("tasks", "--format", "csv", "--db", url).stdout_bytes
    assert with_bom[:3] == b"\xef\xbb\xbf"
    assert with_bom[3:].startswith(b"id,rule,subject_type,")
    without = invoke("tasks", "--format", "csv", "--no-bom", "--db", url).stdout_bytes
    assert without == with_bom[3:]
    assert invoke("tasks", "--format", "json", "--db", url).stdout_bytes[:1] == b"["
    out = tmp_path / "tasks.csv"
    result = invoke("tasks", "--format", "csv", "--out", str(out), "--db", url)
    assert (result.exit_code, result.stdout) == (0, "")
    assert out.read_bytes() == with_bom  # --out writes what stdout would have shown


def test_a_formula_like_name_is_quoted_in_csv_and_imports_back_without_the_quote(
    url: str, tmp_path: Path, sqlite_template: Path
) -> None:
    listed = invoke("customers", "--format", "csv", "--no-bom", "--db", url).stdout
    assert listed.splitlines()[3] == 'C3,"\'=HYPERLINK(""http://x"")",R1,,False'
    out = tmp_path / "customers.csv"
    assert invoke("records", "customers", "--format", "csv", "--out", str(out), "--db", url)
    lines = out.read_text("utf-8-sig").splitlines()
    assert lines[3] == 'C3,"\'=HYPERLINK(""http://x"")",R1,,,False,,'
    fresh = db.connect(f"sqlite:///{tmp_path / 'fresh.db'}")
    load(fresh, "reps", [{"id": "R1", "name": "张三"}])
    import_file(fresh, "customers", out)
    assert rows(fresh, "select name from customers where id = 'C3'") == [{"name": FORMULA}]


def test_numbers_are_never_quoted(tmp_path: Path) -> None:
    from salesplay.engine.present.output import Money, render

    row = {"amount": Money("-5.50"), "count": -3, "share": -0.25, "text": "-3", "dash": "-"}
    assert render([row], "csv").splitlines()[1] == "-5.5,-3,-0.25,-3,'-"


def test_table_and_json_to_a_file(url: str, tmp_path: Path) -> None:
    table, out = invoke("tasks", "--db", url).stdout, tmp_path / "tasks.txt"
    assert invoke("tasks", "--out", str(out), "--db", url).stdout == ""
    assert out.read_text("utf-8") == table
    data = tmp_path / "tasks.json"
    assert invoke("tasks", "--format", "json", "--out", str(data), "--db", url).exit_code == 0
    assert json.loads(data.read_text("utf-8"))[0]["subject_id"] == "C1"
    gone = invoke("tasks", "--out", str(tmp_path / "no" / "such" / "dir.txt"), "--db", url)
    assert gone.exit_code == 2 and gone.stderr.startswith("error: --out: cannot write ")


# ---- the payroll workbook ----------------------------------------------------------------

PLAYBOOK = """\
extends: default
incentives:
  commission:
    sales_commission:
      period: month
      mode: marginal
      tiers: [{upto: 100%, rate: 3%}, {upto: 120%, rate: 5%}, {rate: 8%}]
  bonuses: null
  recognition: null
"""


def test_the_payouts_workbook_totals_each_statement_with_a_formula(tmp_path: Path) -> None:
    # a June target of 1,200,000 and 1,296,000 sold (108%), marginal tiers:
    # 1,200,000 × 3% = 36,000 and 96,000 × 5% = 4,800; total 40,800
    url = f"sqlite:///{tmp_path / 'pay.db'}"
    engine = db.connect(url)
    load(engine, "org_units", [{"id": "SH", "name": "上海"}])
    load(engine, "reps", [{"id": "R1", "name": "张伟", "org_unit_id": "SH"}])
    load(engine, "customers", [{"id": "C1", "name": "华鑫机械", "owner_id": "R1"}])
    load(engine, "orders", [{"id": "O1", "customer_id": "C1", "rep_id": "R1",
                             "amount": "1,296,000", "ordered_on": "2024-06-10"}])  # fmt: skip
    load(engine, "targets", [{"id": "T1", "owner_type": "rep", "owner_id": "R1", "metric": "sales",
                              "period_start": "2024-06-01", "period_end": "2024-06-30",
                              "value": "1200000"}])  # fmt: skip
    engine.dispose()
    book = tmp_path / "company.yaml"
    book.write_text(textwrap.dedent(PLAYBOOK), "utf-8")
    common = ["--db", url, "--playbook", str(book)]
    assert invoke("evaluate", "--as-of", "2024-07-01", "--quiet", *common).exit_code == 0
    out = tmp_path / "payouts.xlsx"
    result = invoke(
        "payouts", "--period", "2024-06", "--format", "xlsx", "--out", str(out), *common
    )
    assert result.exit_code == 0, result.output
    workbook = openpyxl.load_workbook(out)
    assert workbook.sheetnames == ["汇总", "R1 张伟 2024-06"]
    summary, statement = workbook.worksheets
    assert cells(summary) == [
        ["对象", "周期", "状态", "合计"],
        ["R1 张伟", "2024-06", "暂估", ("='R1 张伟 2024-06'!$D$4", CNY)],
    ]
    got = cells(statement)
    assert [row[:4] for row in got] == [
        ["规则", "基数", "比例", "金额"],
        ["sales_commission", (1200000, CNY), (0.03, "0.00%"), (36000, CNY)],
        ["sales_commission", (96000, CNY), (0.05, "0.00%"), (4800, CNY)],
        ["合计", None, None, ("=SUM(D2:D3)", CNY)],
    ]
    assert statement.freeze_panes == "A2" and statement["D4"].font.b
    # the formulas, computed by hand: D4 adds D2:D3; the summary shows D4
    assert _sum(statement, statement["D4"].value) == Decimal("40800")
    assert summary["D2"].value.endswith("!$D$4")
    (json_statement,) = json.loads(
        invoke("payouts", "--period", "2024-06", "--format", "json", *common).stdout
    )
    assert json_statement["total"] == 40800


def _sum(ws: Any, formula: str) -> Decimal:
    """The value of =SUM(X2:X3) over ws's cells."""
    found = re.fullmatch(r"=SUM\(([A-Z]+)(\d+):([A-Z]+)(\d+)\)", formula)
    assert found is not None, formula
    column, first, _, last = found.groups()
    return sum(
        (Decimal(str(ws[f"{column}{r}"].value)) for r in range(int(first), int(last) + 1)),
        Decimal(0),
    )
