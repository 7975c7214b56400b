"""Workbooks from rows written by hand, read back with openpyxl cell by cell: numbers as
numbers in their formats, dates as dates, texts as texts (never formulas), totals as formulas,
sheet names Excel accepts."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from salesplay.engine.present import labels
from salesplay.engine.present.output import Money, Share, View
from salesplay.engine.present.sheets import money_format, workbook
from salesplay.engine.run.family import Sheet, TotalOf

ZH = View(labels.words("zh", "tasks"), None, ZoneInfo("Asia/Shanghai"), "CNY")


def read(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


@pytest.mark.parametrize(
    ("currency", "expected"),
    [("CNY", '"¥"#,##0.00'), ("usd", '"$"#,##0.00'), ("HKD", '"HKD "#,##0.00'), (None, "#,##0.00")],
)
def test_money_formats(currency: str | None, expected: str) -> None:
    assert money_format(currency) == expected


def test_values_for_people_and_for_import() -> None:
    row = {
        "amount": Money("-5.50"),
        "share": Share("1.08"),
        "count": 3,
        "ratio": 0.25,
        "day": date(2024, 6, 30),
        "at": datetime(2024, 6, 14, 23, 30, 5),  # UTC: 07:30:05 the next day in Shanghai
        "yes": True,
        "status": "open",
        "text": "=1+1",
        "bell": "a\x07b",  # a control character no workbook may hold
    }
    sheet = Sheet("tasks", list(row), [row])
    people = read(workbook([sheet], ZH)).worksheets[0]
    assert people.title == "任务"
    assert [c.value for c in people[1]][-3:] == ["状态", "text", "bell"]
    got = [(c.value, c.number_format, c.data_type) for c in people[2]]
    assert got == [
        (-5.5, '"¥"#,##0.00', "n"),
        (1.08, "0.00%", "n"),
        (3, "General", "n"),
        (0.25, "General", "n"),
        (datetime(2024, 6, 30), "yyyy-mm-dd", "d"),
        (datetime(2024, 6, 15, 7, 30, 5), "yyyy-mm-dd hh:mm:ss", "d"),
        ("是", "General", "s"),
        ("待办", "General", "s"),
        ("=1+1", "General", "s"),
        ("ab", "General", "s"),
    ]
    assert people["I2"].quotePrefix
    stored = read(workbook([sheet], None)).worksheets[0]
    assert stored.title == "tasks"
    assert [c.value for c in stored[1]] == list(row)  # the columns' own names
    got = [(c.value, c.number_format) for c in stored[2]]
    assert got[0] == (-5.5, "#,##0.00")
    assert got[5] == (datetime(2024, 6, 14, 23, 30, 5), "yyyy-mm-dd hh:mm:ss")  # as stored
    assert got[6:8] == [(True, "General"), ("open", "General")]


def test_totals_and_references_between_sheets() -> None:
    lines = [{"rule": "a", "amount": Money("36000")}, {"rule": "b", "amount": Money("4800")}]
    long = "R1 张伟 [华东]: 一个非常非常非常长的名字 2024-06"
    sheets = [
        Sheet("summary", ["owner", "total"], [{"owner": "R1", "total": TotalOf(long, "amount")}]),
        Sheet(long, ["rule", "amount"], lines, totals=("amount",)),
        Sheet("R1", ["rule", "amount"], [], totals=("amount",)),
        Sheet("r1", ["rule"], []),
    ]
    book = read(workbook(sheets, View(labels.words("en"), currency="CNY")))
    title = "R1 张伟  华东   一个非常非常非常长的名字 2024-0"
    assert book.sheetnames == ["summary", title, "R1", "r1 (2)"]
    assert len(title) == 31
    assert book["summary"]["B2"].value == f"='{title}'!$B$4"
    statement = book[title]
    assert [c.value for c in statement["A"]] == ["rule", "a", "b", "total"]
    assert statement["B4"].value == "=SUM(B2:B3)"
    assert statement["B4"].number_format == '"¥"#,##0.00'
    assert book["R1"]["B2"].value == "=0"  # nothing to add up
    assert Decimal(str(statement["B2"].value)) + Decimal(str(statement["B3"].value)) == 40800
