"""`salesplay import KIND FILE` (engine/store/importer.py, records.py …) against the contract.

Every expected value below is worked out by hand from the file the test writes; every rejected
file is checked to leave each record table exactly as it was.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from salesplay.cli import cli
from salesplay.engine.errors import RecordError, SalesplayError
from salesplay.engine.store import db, fastload, importer
from salesplay.engine.store.convert import converter
from salesplay.engine.store.importer import import_file, import_rows, read_rows
from salesplay.engine.store.models import table_of
from salesplay.engine.store.partitions import bucket_of
from salesplay.engine.store.records import KINDS
from salesplay.engine.store.staging import ImportResult
from tests.conftest import load_playbook, rows, run

TABLES = [
    "org_units",
    "reps",
    "customers",
    "orders",
    "payments",
    "surveys",
    "deals",
    "activities",
    "targets",
    "owner_changes",
]
CUSTOMERS = "id,name,owner_id,org_unit_id,industry,strategic,status,created_on"


# ---- helpers --------------------------------------------------------------------------------


def write(path: Path, text: str, bom: bool = False) -> Path:
    """Write text exactly as given (newline="" keeps the physical lines the test counts)."""
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        handle.write(text)
    return path


def write_jsonl(path: Path, lines: list[Any], end: str = "\n") -> Path:
    """One line per item: a dict or list is dumped (Chinese unescaped), a str is written as is."""
    text = end.join(
        item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in lines
    )
    return write(path, text + end)


def write_xlsx(
    path: Path,
    sheet: list[list[Any]],
    title: str = "Sheet1",
    others: dict[str, list[list[Any]]] | None = None,
) -> Path:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = title
    for row in sheet:
        first.append(row)
    for name, content in (others or {}).items():
        extra = book.create_sheet(name)
        for row in content:
            extra.append(row)
    book.save(path)
    return path


def snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    return {table: rows(engine, f"select * from {table} order by id") for table in TABLES}


def rejected(engine: Engine, kind: str, path: Path, full: bool = False) -> list[str]:
    """Import a bad file: the RecordError's lines, after checking nothing changed."""
    before = snapshot(engine)
    with pytest.raises(RecordError) as caught:
        import_file(engine, kind, path, full=full)
    assert snapshot(engine) == before
    assert str(caught.value) == "\n".join(caught.value.problems)
    return str(caught.value).split("\n")


def counts(result: ImportResult) -> tuple[int, int, int, int]:
    return result.rows, result.inserted, result.updated, result.deleted


def day(value: Any) -> str | None:
    return None if value is None else str(value)[:10]


def moment(value: Any) -> str | None:
    return None if value is None else str(value)[:19]


def attrs(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def customers(engine: Engine) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in rows(engine, "select * from customers")}


def seed_customers(engine: Engine, path: Path) -> None:
    write(path, f"{CUSTOMERS}\nC1,甲公司,R1,SH,制造,false,active,2023-01-01\n")
    import_file(engine, "customers", path)


# ---- reading: CSV with a BOM, Chinese text, custom attributes -------------------------------


def test_excel_csv_with_bom_keeps_chinese_text_and_custom_columns_for_playbook_fields(
    org: Engine, tmp_path: Path
) -> None:
    # what Excel's "CSV UTF-8" writes: a BOM, CRLF line ends, 2024/1/5 for a date
    path = write(
        tmp_path / "customers.csv",
        (
            f"{CUSTOMERS},employees,客户来源\r\n"
            "C1,上海华新机械有限公司,R1,SH,制造,是,active,2023-01-05,150,展会\r\n"
            'C2,"杭州""云栖""科技",R2,SH,互联网,FALSE,潜在,2024/1/5,,\r\n'
            " C3 ,南京小店,,,零售,,,,8,\r\n"
        ),
        bom=True,
    )
    result = import_file(org, "customers", path)
    assert counts(result) == (3, 3, 0, 0)
    assert result.notes == []  # customers keep unknown columns: nothing is ignored

    got = customers(org)
    assert sorted(got) == ["C1", "C2", "C3"]  # the BOM is not part of the first header
    c1, c2, c3 = got["C1"], got["C2"], got["C3"]
    assert (c1["name"], c1["owner_id"], c1["org_unit_id"], c1["industry"], c1["status"]) == (
        "上海华新机械有限公司",
        "R1",
        "SH",
        "制造",
        "active",
    )
    assert bool(c1["strategic"]) is True  # 是
    assert day(c1["created_on"]) == "2023-01-05"
    assert attrs(c1["attrs"]) == {"employees": "150", "客户来源": "展会"}

    assert (c2["name"], c2["owner_id"], c2["industry"], c2["status"]) == (
        '杭州"云栖"科技',
        "R2",
        "互联网",
        "潜在",
    )
    assert bool(c2["strategic"]) is False  # FALSE
    assert day(c2["created_on"]) == "2024-01-05"  # Excel's 2024/1/5
    assert c2["attrs"] is None  # both custom cells blank: no attributes, SQL NULL

    # the id is trimmed; blank optional cells are NULL, a blank bool takes its default (false)
    assert (c3["name"], c3["owner_id"], c3["org_unit_id"], c3["status"], c3["created_on"]) == (
        "南京小店",
        None,
        None,
        None,
        None,
    )
    assert bool(c3["strategic"]) is False
    assert attrs(c3["attrs"]) == {"employees": "8"}

    # a playbook declaring the custom column grades on it: 150 >= 100 -> A, 8 >= 5 -> B,
    # no value -> neither condition holds -> C
    book = write(
        tmp_path / "employees.yaml",
        (
            "extends: default\n"
            "fields:\n  employees: number\n"
            "grading:\n  grades:\n"
            "    - grade: A\n      when: employees >= 100\n"
            "    - grade: B\n      when: employees >= 5\n"
            "    - grade: C\n"
        ),
    )
    run(org, "2024-08-31", load_playbook(str(book)))
    grades = {r["customer_id"]: r["grade"] for r in rows(org, "select * from grades")}
    assert grades == {"C1": "A", "C2": "C", "C3": "B"}


# ---- upsert by id, owner changes, --full ----------------------------------------------------


def test_reimport_updates_by_id_and_records_every_owner_change(org: Engine, tmp_path: Path) -> None:
    first = write(
        tmp_path / "customers_0601.csv",
        (
            f"{CUSTOMERS},employees\n"
            "C1,甲公司,R1,SH,制造,false,active,2023-01-01,120\n"
            "C2,乙公司,R1,SH,制造,false,active,2023-01-01,\n"
            "C3,丙公司,,SH,制造,false,active,2023-01-01,\n"
        ),
    )
    assert counts(import_file(org, "customers", first)) == (3, 3, 0, 0)
    assert rows(org, "select * from owner_changes") == []  # a new customer is not a change

    newer = write(
        tmp_path / "customers_0701.csv",
        (
            f"{CUSTOMERS}\n"
            "C1,甲公司（新名）,R2,SH,制造,true,active,2023-01-01\n"  # owner R1 -> R2
            "C2,乙公司,,SH,制造,false,paused,2023-01-01\n"  # R1 -> nobody
            "C3,丙公司,R1,SH,制造,false,active,2023-01-01\n"  # nobody -> R1
            "C4,丁公司,R2,SH,零售,false,active,2024-02-01\n"  # new
        ),
    )
    assert counts(import_file(org, "customers", newer)) == (4, 1, 3, 0)
    got = customers(org)
    assert sorted(got) == ["C1", "C2", "C3", "C4"]
    assert (got["C1"]["name"], got["C1"]["owner_id"], bool(got["C1"]["strategic"])) == (
        "甲公司（新名）",
        "R2",
        True,
    )
    assert (got["C2"]["owner_id"], got["C2"]["status"]) == (None, "paused")
    assert got["C3"]["owner_id"] == "R1"
    # the newer export has no custom columns: the stored attributes stay
    assert attrs(got["C1"]["attrs"]) == {"employees": "120"}

    changes = rows(org, "select * from owner_changes order by customer_id")
    assert [
        (c["customer_id"], c["old_owner_id"], c["new_owner_id"], c["source"]) for c in changes
    ] == [("C1", "R1", "R2", "import"), ("C2", "R1", None, "import"), ("C3", None, "R1", "import")]
    assert all(c["reason"] and c["changed_at"] is not None for c in changes)

    # the same export again changes nothing and records no owner change
    assert counts(import_file(org, "customers", newer)) == (4, 0, 4, 0)
    assert len(rows(org, "select * from owner_changes")) == 3


def test_full_import_marks_missing_records_deleted_and_evaluation_leaves_them_out(
    org: Engine, tmp_path: Path
) -> None:
    all_three = write(
        tmp_path / "customers.csv",
        (
            f"{CUSTOMERS}\n"
            "C1,甲公司,R1,SH,制造,false,active,2023-01-01\n"
            "C2,乙公司,R1,SH,制造,false,active,2023-01-01\n"
            "C3,丙公司,R1,SH,制造,false,active,2023-01-01\n"
        ),
    )
    import_file(org, "customers", all_three)
    orders = write(
        tmp_path / "orders.csv",
        (
            "id,customer_id,rep_id,amount,ordered_on,collected_amount\n"
            "O1,C1,R1,500000,2024-05-01,\n"
            "O2,C3,R1,600000,2024-05-01,\n"
        ),
    )
    import_file(org, "orders", orders)

    without_c2 = write(
        tmp_path / "customers_full.csv",
        (
            f"{CUSTOMERS}\n"
            "C1,甲公司,R1,SH,制造,false,active,2023-01-01\n"
            "C3,丙公司,R1,SH,制造,false,active,2023-01-01\n"
        ),
    )
    assert counts(import_file(org, "customers", without_c2, full=True)) == (2, 0, 2, 1)
    orders_full = write(
        tmp_path / "orders_full.csv",
        ("id,customer_id,rep_id,amount,ordered_on,collected_amount\nO1,C1,R1,500000,2024-05-01,\n"),
    )
    assert counts(import_file(org, "orders", orders_full, full=True)) == (1, 0, 1, 1)

    got = customers(org)
    assert {cid: bool(c["deleted"]) for cid, c in got.items()} == {
        "C1": False,
        "C2": True,
        "C3": False,
    }
    assert got["C2"]["name"] == "乙公司"  # kept, only marked
    assert {r["id"]: bool(r["deleted"]) for r in rows(org, "select * from orders")} == {
        "O1": False,
        "O2": True,
    }

    # C1: 500,000 in the last 6 months -> A; C3's only order is deleted -> C; C2 is not graded
    run(org, "2024-08-31")
    assert {r["customer_id"]: r["grade"] for r in rows(org, "select * from grades")} == {
        "C1": "A",
        "C3": "C",
    }

    # already deleted: not counted again; an ordinary import of C2 brings it back
    assert counts(import_file(org, "customers", without_c2, full=True)) == (2, 0, 2, 0)
    back = write(
        tmp_path / "c2.csv", f"{CUSTOMERS}\nC2,乙公司,R1,SH,制造,false,active,2023-01-01\n"
    )
    assert counts(import_file(org, "customers", back)) == (1, 0, 1, 0)
    assert not any(c["deleted"] for c in customers(org).values())


# ---- values: money in cents, target values in hundredths, dates and times --------------------


def test_money_and_target_values_are_exact_hundredths(org: Engine, tmp_path: Path) -> None:
    seed_customers(org, tmp_path / "customers.csv")
    orders = write(
        tmp_path / "orders.csv",
        (
            "id,customer_id,rep_id,amount,ordered_on,collected_amount,product\n"
            'O1,C1,R1,"1,200,000.50",2024-03-01,"1,000,000",A产品\n'
            "O2,C1,,0.1,2024-03-02,,\n"
            "O3,C1,R2,12.340,2024-03-03,0,\n"
            "O4,C1,R1,25，000,2024-03-04,,\n"  # a full-width comma as the thousands separator
        ),
    )
    assert counts(import_file(org, "orders", orders)) == (4, 4, 0, 0)
    got = {r["id"]: r for r in rows(org, "select * from orders")}
    assert {i: (r["amount_cents"], r["collected_cents"]) for i, r in got.items()} == {
        "O1": (120000050, 100000000),
        "O2": (10, None),
        "O3": (1234, 0),
        "O4": (2500000, None),
    }
    assert (got["O1"]["product"], got["O2"]["rep_id"], day(got["O3"]["ordered_on"])) == (
        "A产品",
        None,
        "2024-03-03",
    )

    payments = write(
        tmp_path / "payments.csv", 'id,order_id,amount,paid_on\nP1,O1,"600,000.25",2024-04-01\n'
    )
    import_file(org, "payments", payments)
    assert [
        (r["id"], r["order_id"], r["amount_cents"], day(r["paid_on"]))
        for r in rows(org, "select * from payments")
    ] == [("P1", "O1", 60000025, "2024-04-01")]

    targets = write(
        tmp_path / "targets.csv",
        (
            "id,owner_type,owner_id,metric,period_start,period_end,value\n"
            'T1,rep,R1,sales,2024-01-01,2024-12-31,"1,200,000"\n'
            "T2,org_unit,SH,sales,2024-01-01,2024-12-31,6000000\n"
            "T3,rep,R1,repurchase_rate,2024-01-01,2024-12-31,35.5\n"
        ),
    )
    assert counts(import_file(org, "targets", targets)) == (3, 3, 0, 0)
    assert {
        r["id"]: (r["owner_type"], r["owner_id"], r["value_x100"])
        for r in rows(org, "select * from targets")
    } == {
        "T1": ("rep", "R1", 120000000),
        "T2": ("org_unit", "SH", 600000000),
        "T3": ("rep", "R1", 3550),
    }


# ---- rejected files: every bad row, exact lines, the database untouched ----------------------


def test_every_bad_csv_row_is_reported_at_its_physical_line_and_nothing_changes(
    org: Engine, tmp_path: Path
) -> None:
    seed_customers(org, tmp_path / "customers.csv")
    bad = write(
        tmp_path / "bad.csv",
        (
            f"{CUSTOMERS},employees\n"  # 1
            "C1,甲公司,R2,SH,制造,false,active,2023-01-05,120\n"  # 2 good (would change the owner)
            "C2,,R1,SH,制造,false,active,2023-01-05,\n"  # 3 no name
            "C3,丙公司,R9,SH,零售,false,active,2023-02-30,\n"  # 4 unknown rep, no 30 February
            "\n"  # 5 blank: skipped, still counted
            "C4,丁公司,R1,XX,零售,maybe,active,2023-03-01,\n"  # 6 unknown org unit, bad bool
            "C2,重复公司,R1,SH,,false,,,\n"  # 7 C2 again
            'C5,"多行\n'  # 8 a quoted name over two lines
            '名称",R1,SH,,是,,2023/13/01,\n'  # 9 ... month 13
            "C6,戊公司,R1,SH\n"  # 10 four values of nine
            "C7,己公司,R1,SH,,,,,,extra\n"  # 11 ten values of nine
            "C2,又重复,R1,SH,,,,,\n"  # 12 C2 a third time
        ),
    )
    f = str(bad)
    assert rejected(org, "customers", bad, full=True) == [
        f"{f}:3: name: a value is required",
        f"{f}:4: owner_id: unknown rep 'R9'",
        f"{f}:4: created_on: '2023-02-30' is no such day",
        f"{f}:6: org_unit_id: unknown org unit 'XX'",
        f"{f}:6: strategic: 'maybe' is not true or false: write 是/否, Y/N, true/false or 1/0",
        f"{f}:7: id: 'C2' appears twice (first on line 3)",
        f"{f}:8: created_on: '2023/13/01' is no such day",
        f"{f}:10: industry: missing column (the row has 4 values, the header 9)",
        f"{f}:11: row has 10 values but the header has 9 columns",
        f"{f}:12: id: 'C2' appears twice (first on line 3)",
    ]

    # a quote left open would swallow every later row into one value: the row is bad instead
    broken = write(
        tmp_path / "broken.csv",
        (
            f"{CUSTOMERS}\n"
            "C7,庚公司,R1,SH,制造,false,active,2023-01-32\n"
            'C8,"辛公司,R1,SH,制造,false,active,2023-01-01\n'
            "C9,壬公司,R1,SH,制造,false,active,2023-01-01\n"
        ),
    )
    assert rejected(org, "customers", broken) == [
        f"{broken}:2: created_on: '2023-01-32' is no such day",
        f"{broken}:3: not valid CSV: unexpected end of data",
    ]

    no_name = write(
        tmp_path / "no_name.csv",
        "id,owner_id,org_unit_id,industry,strategic,status\nC9,R1,SH,制造,false,active\n",
    )
    assert rejected(org, "customers", no_name) == [
        f"{no_name}:1: name: missing column: name a header name, 名称, 客户名称, 客户名 or "
        "公司名称, or map yours to name with columns: in the import mapping (--map FILE.yaml)",
        f"{no_name}:1: created_on: missing column: name a header created_on, 创建日期, 创建时间 "
        "or 建档日期, or map yours to created_on with columns: in the import mapping "
        "(--map FILE.yaml)",
        f"{no_name}:1: the header has id, owner_id, org_unit_id, industry, strategic, status; "
        "customers takes id, name, owner_id, org_unit_id, industry, strategic, status, "
        "created_on",
    ]


def test_every_bad_json_line_is_reported_and_nothing_changes(org: Engine, tmp_path: Path) -> None:
    seed_customers(org, tmp_path / "customers.csv")
    bad = write_jsonl(
        tmp_path / "orders.jsonl",
        [
            {
                "id": "O1",
                "customer_id": "C1",
                "rep_id": "R1",
                "amount": "1,200,000.50",  # 1 good
                "ordered_on": "2024-03-01",
                "collected_amount": 1000,
                "product": "甲\u2028乙",
            },
            {
                "id": "O2",
                "customer_id": "C9",
                "rep_id": "R1",
                "amount": 19.999,  # 2
                "ordered_on": "2024-03-02",
            },
            "",  # 3
            {"id": "O3", "customer_id": "C1", "amount": "12块", "ordered_on": "2024-03-03"},  # 4
            "not json",  # 5
            {
                "id": "O4",
                "customer_id": "C1",
                "rep_id": "R1",
                "amount": "100",  # 6
                "ordered_on": None,
            },
            ["O5"],  # 7
            {
                "id": "O6",
                "customer_id": "C1",
                "rep_id": "RX",
                "amount": "-0.005",  # 8
                "ordered_on": "2024-03-05",
            },
            {"id": "O7", "customer_id": "C1", "amount": True, "ordered_on": "2024-03-05"},  # 9
            {"id": 8, "customer_id": "C1", "amount": 5, "ordered_on": "2024-3-5"},  # 10 good
        ],
    )
    f = str(bad)
    assert rejected(org, "orders", bad) == [
        f"{f}:2: customer_id: unknown customer 'C9'",
        f"{f}:2: amount: '19.999' has more than 2 decimal places",
        f"{f}:4: amount: '12块' is not an amount: write e.g. 1200.50, ¥1,200.50, 1,200元 or 12.5万",
        f"{f}:5: not valid JSON: Expecting value",
        f"{f}:6: ordered_on: a value is required",
        f"{f}:7: each line must be a JSON object",
        f"{f}:8: rep_id: unknown rep 'RX'",
        f"{f}:8: amount: '-0.005' has more than 2 decimal places",
        f"{f}:9: amount: 'True' is not an amount: write e.g. 1200.50, ¥1,200.50, 1,200元 or 12.5万",
    ]

    # the good lines alone import (CRLF line ends too); ids are strings, even JSON numbers
    good = write_jsonl(
        tmp_path / "good.jsonl",
        [
            {
                "id": "O1",
                "customer_id": "C1",
                "rep_id": "R1",
                "amount": "1,200,000.50",
                "ordered_on": "2024-03-01",
                "collected_amount": 1000,
                "product": "甲\u2028乙",
            },
            "",
            {"id": 8, "customer_id": "C1", "amount": 5, "ordered_on": "2024-3-5"},
        ],
        end="\r\n",
    )
    assert counts(import_file(org, "orders", good)) == (2, 2, 0, 0)
    got = {r["id"]: r for r in rows(org, "select * from orders")}
    assert sorted(got) == ["8", "O1"]
    assert (got["O1"]["amount_cents"], got["O1"]["collected_cents"], got["O1"]["product"]) == (
        120000050,
        100000,
        "甲\u2028乙",
    )
    assert (got["8"]["amount_cents"], got["8"]["rep_id"], day(got["8"]["ordered_on"])) == (
        500,
        None,
        "2024-03-05",
    )


def test_choices_ranges_references_and_periods_of_every_other_kind(
    org: Engine, tmp_path: Path
) -> None:
    seed_customers(org, tmp_path / "customers.csv")
    reps = write(
        tmp_path / "reps.csv",
        (
            "id,name,org_unit_id,manager_id,hired_on,exam_score,active\n"
            "R3,王芳,SH,R4,2024-01-15,101,true\n"  # R4 comes later in the same file: fine
            "R4,赵强,SH,,2024-01-15,79.5,yes\n"
            "R5,钱多,SZ,R9,2024-01-15,-1,maybe\n"
        ),
    )
    assert rejected(org, "reps", reps) == [
        f"{reps}:2: exam_score: '101' is outside 0–100",
        f"{reps}:4: org_unit_id: unknown org unit 'SZ'",
        f"{reps}:4: manager_id: unknown rep 'R9'",
        f"{reps}:4: exam_score: '-1' is outside 0–100",
        f"{reps}:4: active: 'maybe' is not true or false: write 是/否, Y/N, true/false or 1/0",
    ]

    surveys = write(
        tmp_path / "surveys.csv",
        (
            "id,customer_id,surveyed_on,nps,satisfaction,complaint\n"
            "S1,C1,2024-05-01,11,100.5,否\n"
            "S2,C1,2024-05-01,7.5,,\n"
            "S3,C1,,10,100,true\n"
        ),
    )
    assert rejected(org, "surveys", surveys) == [
        f"{surveys}:2: nps: '11' is outside 0–10",
        f"{surveys}:2: satisfaction: '100.5' is outside 0–100",
        f"{surveys}:3: nps: '7.5' is not a whole number",
        f"{surveys}:4: surveyed_on: a value is required",
    ]

    deals = write(
        tmp_path / "deals.csv",
        (
            "id,customer_id,rep_id,stage,amount,expected_close,stage_changed_on,status\n"
            'D1,C1,R1,proposal,"300,000",2024-09-30,2024-05-01,closed\n'
            "D2,C1,R1,lead,300000.001,,,open\n"
            "D3,C1,R1,lead,,,,\n"
        ),
    )
    assert rejected(org, "deals", deals) == [
        f"{deals}:2: status: 'closed' is not one of open, won, lost (map other words to them "
        "with values: in the import mapping)",
        f"{deals}:3: amount: '300000.001' has more than 2 decimal places",
        f"{deals}:4: status: a value is required",
    ]

    targets = write(
        tmp_path / "targets.csv",
        (
            "id,owner_type,owner_id,metric,period_start,period_end,value\n"
            "T1,rep,R9,sales,2024-01-01,2024-12-31,100\n"
            "T2,org_unit,XX,sales,2024-01-01,2024-12-31,100\n"
            "T3,team,SH,sales,2024-01-01,2024-12-31,100\n"
            "T4,org_unit,SH,sales,2024-12-31,2024-01-01,1.005\n"
            "T5,rep,SH,sales,2024-01-01,2024-12-31,1\n"  # SH is an org unit, not a rep
            "T6,rep,R1,sales,2024-01-01,2024-12-31,100000000000000000\n"  # 1e19 > 2**63 - 1
        ),
    )
    assert rejected(org, "targets", targets) == [
        f"{targets}:2: owner_id: unknown rep 'R9'",
        f"{targets}:3: owner_id: unknown org unit 'XX'",
        f"{targets}:4: owner_type: 'team' is not one of org_unit, rep (map other words to them "
        "with values: in the import mapping)",
        f"{targets}:5: period_end: 2024-01-01 is before period_start 2024-12-31",
        f"{targets}:5: value: '1.005' has more than 2 decimal places",
        f"{targets}:6: owner_id: unknown rep 'SH'",
        f"{targets}:7: value: '100000000000000000' is too large",
    ]

    # the valid survey shapes import: 否 and true, a blank score stays NULL
    fine = write(
        tmp_path / "surveys_ok.csv",
        (
            "id,customer_id,surveyed_on,nps,satisfaction,complaint\n"
            "S1,C1,2024-05-01,0,100,否\n"
            "S2,C1,2024-05-02,10,,true\n"
        ),
    )
    import_file(org, "surveys", fine)
    assert [
        (r["id"], r["nps"], r["satisfaction"], bool(r["complaint"]))
        for r in rows(org, "select * from surveys order by id")
    ] == [("S1", 0, 100.0, False), ("S2", 10, None, True)]


def test_same_file_references_optional_columns_and_ignored_columns(
    engine: Engine, tmp_path: Path
) -> None:
    units = write(
        tmp_path / "org_units.csv",
        (
            "id,name,parent_id,kind,manager_id\n"
            "SH,上海,EC,city,\n"  # its parent comes later in the file
            "EC,华东大区,HQ,region,M1\n"  # manager_id is not checked: reps may come later
            "HQ,总部,,company,\n"
        ),
    )
    assert counts(import_file(engine, "org_units", units)) == (3, 3, 0, 0)
    assert {
        r["id"]: (r["name"], r["parent_id"], r["kind"], r["manager_id"])
        for r in rows(engine, "select * from org_units")
    } == {
        "SH": ("上海", "EC", "city", None),
        "EC": ("华东大区", "HQ", "region", "M1"),
        "HQ": ("总部", None, "company", None),
    }

    with_contacts = write(
        tmp_path / "reps.csv",
        (
            "id,name,org_unit_id,manager_id,hired_on,exam_score,active,email,mobile\n"
            "R1,张伟,SH,,2022-03-01,85,true,zhangwei@example.com,13800000000\n"
        ),
    )
    import_file(engine, "reps", with_contacts)
    # an HR export without the optional contact columns, with two columns reps do not have
    hr = write(
        tmp_path / "reps_hr.csv",
        (
            "id,name,org_unit_id,manager_id,hired_on,exam_score,active,工号,emial\n"
            "R1,张伟,SH,,2022-03-01,88,false,A001,x@example.com\n"
        ),
    )
    result = import_file(engine, "reps", hr)
    assert counts(result) == (1, 0, 1, 0)
    assert result.notes == [
        f"{hr}:1: 工号: not a column of reps; ignored",
        f"{hr}:1: emial: not a column of reps (did you mean 'email'?); ignored",
    ]
    rep = rows(engine, "select * from reps")[0]
    assert (rep["exam_score"], bool(rep["active"]), day(rep["hired_on"])) == (
        88.0,
        False,
        "2022-03-01",
    )
    assert (rep["email"], rep["mobile"]) == ("zhangwei@example.com", "13800000000")

    missing = write(
        tmp_path / "reps_bad.csv",
        "id,org_unit_id,manager_id,hired_on,exam_score\nR2,SH,,2023-01-01,80\n",
    )
    assert rejected(engine, "reps", missing) == [
        f"{missing}:1: name: missing column: name a header name, 姓名, 名称, 员工姓名 or 销售姓名, "
        "or map yours to name with columns: in the import mapping (--map FILE.yaml)",
        f"{missing}:1: active: missing column: name a header active, 在职 or 是否在职, or map "
        "yours to active with columns: in the import mapping (--map FILE.yaml)",
        f"{missing}:1: the header has id, org_unit_id, manager_id, hired_on, exam_score; reps "
        "takes id, name, org_unit_id, manager_id, hired_on, exam_score, active (and optionally "
        "left_on, email, mobile, im_id)",
    ]


def _forget_dimension(path: Path) -> None:
    """Rewrite the sheet's stored used range as A1, as some spreadsheet writers leave it."""
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', parts[sheet])
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


def test_xlsx_first_sheet_with_typed_cells_and_times_in_the_playbook_zone(
    org: Engine, tmp_path: Path
) -> None:
    seed_customers(org, tmp_path / "customers.csv")
    header = [
        "id",
        "customer_id",
        "rep_id",
        "occurred_at",
        "channel",
        "content",
        "feedback",
        "next_step",
    ]
    good = write_xlsx(
        tmp_path / "activities.xlsx",
        [
            header,
            [
                1001,
                "C1",
                "R1",
                datetime(2024, 5, 6, 9, 30),
                "visit",
                "拜访张总，介绍新品",
                "有兴趣",
                "月底报价",
            ],
            [],  # row 3 empty
            ["A2", "C1", None, "2024-05-07T01:30:00Z", "wechat"],  # UTC -> 09:30 in Shanghai
            ["A3", "C1", "R2", "2024-05-07 20:00:00-04:00", "call"],  # = 2024-05-08 00:00 UTC
            ["A4", "C1", "R1", "2024/5/9 8:05", "video"],  # Excel's way, local time
        ],
        title="跟进记录",
        others={"说明": [["不是", "数据"], ["x", "y"]]},
    )
    _forget_dimension(good)
    assert counts(import_file(org, "activities", good)) == (4, 4, 0, 0)
    got = sorted(
        (
            r["id"],
            r["rep_id"],
            moment(r["occurred_at"]),
            day(r["occurred_on"]),
            r["channel"],
            r["content"],
        )
        for r in rows(org, "select * from activities")
    )
    assert got == [
        ("1001", "R1", "2024-05-06 09:30:00", "2024-05-06", "visit", "拜访张总，介绍新品"),
        ("A2", None, "2024-05-07 09:30:00", "2024-05-07", "wechat", None),
        ("A3", "R2", "2024-05-08 08:00:00", "2024-05-08", "call", None),
        ("A4", "R1", "2024-05-09 08:05:00", "2024-05-09", "video", None),
    ]

    bad = write_xlsx(
        tmp_path / "activities_bad.xlsx",
        [
            header,
            ["B1", "C1", "R1", "2024-05-06 09:30", "visit"],
            ["B2", "C1", "R1", "2024-05-06 09:30", "phone"],
            [None, None, None, "  "],  # row 4: nothing in it
            ["B3", "C404", "R1", "yesterday", "visit"],
            ["B4", "C1", "R1", None, None],
        ],
    )
    f = str(bad)
    assert rejected(org, "activities", bad) == [
        f"{f}:3: channel: 'phone' is not one of visit, video, call, wechat, email, message (map "
        "other words to them with values: in the import mapping)",
        f"{f}:5: customer_id: unknown customer 'C404'",
        f"{f}:5: occurred_at: 'yesterday' is not a date and time: write 2024-07-05 09:30, "
        "2024/7/5 9:30:15 or 2024年7月5日 9:30",
        f"{f}:6: occurred_at: a value is required",
        f"{f}:6: channel: a value is required",
    ]


# ---- files that cannot be read at all -------------------------------------------------------


def test_unreadable_files_and_unknown_kinds_are_one_line_errors(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    before = snapshot(sqlite_engine)
    ok = write(tmp_path / "c.csv", f"{CUSTOMERS}\n")
    garbled = tmp_path / "garbled.csv"  # neither UTF-8 nor GB18030 from line 3 on
    garbled.write_bytes(f"{CUSTOMERS}\nC1,上海客户,,,,,,\nC2,".encode() + b"\x80\xff,,,,,,\n")
    cases = [
        (
            "customer",
            ok,
            "KIND: unknown record kind 'customer' (did you mean 'customers'?); one "
            "of org_units, reps, customers, orders, payments, surveys, deals, activities, targets, "
            "progress_notes, plan_tasks",
        ),
        ("customers", tmp_path / "none.csv", f"{tmp_path / 'none.csv'}: no such file"),
        (
            "customers",
            write(tmp_path / "c.xls", ""),
            f"{tmp_path / 'c.xls'}: unknown file type '.xls': use .csv, .jsonl or .xlsx",
        ),
        (
            "customers",
            garbled,
            f"{garbled}:3: not UTF-8, GB18030 or UTF-16 text (the first byte that none of them "
            "reads is on this line): save the file as 'CSV UTF-8', or name its encoding with "
            "--encoding NAME",
        ),
    ]
    for kind, path, message in cases:
        with pytest.raises(SalesplayError) as caught:
            import_file(sqlite_engine, kind, path)
        assert str(caught.value) == message
    assert snapshot(sqlite_engine) == before


# ---- the command line -----------------------------------------------------------------------


def test_cli_import_prints_every_bad_row_on_stderr_or_a_summary(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    setup = db.connect(url)
    import_file(
        setup, "org_units", write(tmp_path / "units.csv", "id,name,parent_id,kind\nSH,上海,,city\n")
    )
    import_file(
        setup,
        "reps",
        write(
            tmp_path / "reps.csv",
            (
                "id,name,org_unit_id,manager_id,hired_on,exam_score,active\n"
                "R1,张伟,SH,,2022-03-01,85,true\n"
            ),
        ),
    )
    setup.dispose()
    runner = CliRunner()

    bad = write(
        tmp_path / "bad.csv",
        (
            f"{CUSTOMERS}\n"
            "C1,甲公司,R1,SH,制造,false,active,2023-01-01\n"
            "C2,乙公司,R7,SH,制造,perhaps,active,2023-01-01\n"
            "C3,,R1,SH,制造,false,active,2023-01-01\n"
        ),
    )
    result = runner.invoke(cli, ["import", "customers", str(bad), "--db", url])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{bad}:3: owner_id: unknown rep 'R7'",
        f"{bad}:3: strategic: 'perhaps' is not true or false: write 是/否, Y/N, true/false or 1/0",
        f"{bad}:4: name: a value is required",
    ]
    assert result.stdout == ""

    good = write(
        tmp_path / "good.csv",
        (
            f"{CUSTOMERS}\n"
            "C1,甲公司,R1,SH,制造,false,active,2023-01-01\n"
            "C2,乙公司,R1,SH,制造,false,active,2023-01-01\n"
        ),
        bom=True,
    )
    result = runner.invoke(cli, ["import", "customers", str(good), "--db", url])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("customers: 2 rows (2 new, 0 updated) in ")
    assert result.stderr == ""
    result = runner.invoke(cli, ["import", "customers", str(good), "--db", url, "--full"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("customers: 2 rows (0 new, 2 updated, 0 marked deleted) in ")
    check = db.connect(url)
    names = sorted(r["name"] for r in rows(check, "select name from customers"))
    assert names == ["乙公司", "甲公司"]
    check.dispose()


# ---- the bulk path (engine/store/fastload.py): what the exact path stores, sooner ----------
#
# A CSV file is imported on the bulk path (SQL conversion, executemany on SQLite, COPY on
# PostgreSQL); whatever it cannot vouch for goes to the exact path. These tests hold the two to
# the same result: each file is imported on the exact path in a transaction that is rolled
# back, then for real on the bulk path (which must not hand the file over), and every record
# table must come out the same.


def _table_rows(conn: Any, table: str) -> list[dict[str, Any]]:
    got = [dict(r) for r in conn.execute(sa.text(f"select * from {table} order by 1")).mappings()]
    for row in got:
        if "attrs" in row:  # the same JSON, whichever way it was written
            row["attrs"] = attrs(row["attrs"])
        if table == "owner_changes":  # when it happened differs, what happened does not
            del row["id"], row["changed_at"]
    return sorted(got, key=repr) if table == "owner_changes" else got


def _on_both_paths(
    engine: Engine,
    kind: str,
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    full: bool = False,
    mapping: Any = None,
) -> ImportResult:
    """Import on the exact path (rolled back), then on the bulk path; both must agree."""
    with engine.connect() as conn:
        transaction = conn.begin()
        header, read = read_rows(path)
        zone = ZoneInfo("Asia/Shanghai")
        exact = import_rows(conn, KINDS[kind], header, read, str(path), full, zone, None, mapping)
        expected = {table: _table_rows(conn, table) for table in TABLES}
        transaction.rollback()

    def not_here(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"{path.name}: the bulk path handed the file to the exact path")

    with monkeypatch.context() as patch:
        patch.setattr(importer, "import_rows", not_here)
        bulk = import_file(engine, kind, path, full=full, mapping=mapping)
    with engine.connect() as conn:
        assert {table: _table_rows(conn, table) for table in TABLES} == expected
    assert counts(bulk) == counts(exact)
    return bulk


def test_bulk_path_stores_exactly_what_the_exact_path_stores(
    org: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # canonical text (converted in SQL) mixed with what only Python converts: Excel's dates,
    # thousands separators, 是/否, padded ids, offsets, amounts that floats get wrong
    files = [
        (
            "customers",
            f"{CUSTOMERS},employees,客户来源\r\n"
            "C1,甲公司,R1,SH,制造,false,active,2023-01-05,150,展会\r\n"
            "C2,乙公司,R2,SH,,是,,2024/1/5,  ,\r\n"
            " C3 ,丙公司 ,,,零售,TRUE,潜在,,8,\u3000网络\r\n"
            "C4,丁公司,R1,EC,,1,,2023-1-5,,\r\n"
            ",,,,,,,,,\r\n",  # a row of empty values: skipped
        ),
        (
            "customers",  # into a table with rows: an upsert; owners change; attrs kept
            f"{CUSTOMERS}\nC1,甲公司（新）,R2,SH,制造,否,active,2023-01-05\n"
            "C2,乙公司,,SH,,0,paused,2024-01-05\nC9,壬公司,R1,SH,,,,\n",
        ),
        (
            "orders",
            "id,customer_id,rep_id,amount,ordered_on,collected_amount,product\n"
            'O1,C1,R1,"1,200,000.50",2024-03-01,"1,000,000",A产品\n'
            "O2,C1,,0.1,2024-3-2,,\n"
            "O3,C2,R2,12.340,2024/03/03,0,\n"
            "O4,C2,R1,25，000,2024-03-04,-0.50,\n"
            "O5,C4,R1,92233720368547758,2024-03-05,.5,\n"
            "O6,C4,R1,12345678901234.57,2024-03-06,12.,\n"
            "O7,C9,R1,007,2024-03-07,-12.05,\n"
            "O8,C9,R1,1200.50,2024-03-08,-0,\n",
        ),
        (
            "orders",
            "id,customer_id,rep_id,amount,ordered_on\n"
            "O1,C1,R2,99.99,2024-04-01\nO9,C1,R1,1,2024-04-02\n",
        ),
        (
            "activities",
            "id,customer_id,rep_id,occurred_at,channel,content,feedback,next_step\n"
            "A1,C1,R1,2024-05-06 09:30:00,visit,拜访张总，介绍新品,有兴趣,月底报价\n"
            "A2,C1,,2024-05-07T01:30:00Z,wechat,,,\n"  # UTC: 09:30 in Shanghai
            "A3,C2,R2,2024-05-07 20:00:00-04:00,call,,,\n"  # the next day in Shanghai
            "A4,C2,R1,2024/5/9 8:05,video,,,\n"
            "A5,C4,R1,2024-05-10 10:00:00.250000,email,,,\n"
            "A6,C4,R1,2024-05-11 10:00,message,,,\n"
            'A7,C9,R2,2024-12-31 23:59:59,visit,"多行\n内容",,\n',
        ),
        (
            "activities",  # an upsert, with an offset again
            "id,customer_id,rep_id,occurred_at,channel,content,feedback,next_step\n"
            "A1,C1,R1,2024-05-06T23:30:00+00:00,visit,改期,,\n"
            "A8,C1,R1,2024-06-01 08:00:00,call,,,\n",
        ),
        (
            "surveys",
            "id,customer_id,surveyed_on,nps,satisfaction,complaint\n"
            "S1,C1,2024-05-01,0,84.5,否\nS2,C1,2024-05-02,10,,true\nS3,C2,2024-05-03,007,0.1,\n"
            "S4,C2,2024-05-04,,1e1,FALSE\nS5,C4,2024-05-05,5,.5,1\nS6,C4,2024-05-06,5,100,\n",
        ),
        (
            "reps",  # org's reps are there already: an upsert, managers later in the file
            "id,name,org_unit_id,manager_id,hired_on,exam_score,active\n"
            "R1,张伟,SH,M1,2022-03-01,85.5,yes\nR3,王芳,SH,R4,2024/1/15,79,\nR4,赵强,EC,,2024-01-15,100,0\n",
        ),
        (
            "targets",
            "id,owner_type,owner_id,metric,period_start,period_end,value\n"
            'T1,rep,R1,sales,2024-01-01,2024-12-31,"1,200,000"\n'
            "T2,org_unit,SH,sales,2024-01-01,2024-12-31,6000000\n"
            "T3,rep,R3,repurchase_rate,2024/1/1,2024-01-01,35.5\n",
        ),
        (
            "deals",
            "id,customer_id,rep_id,stage,amount,expected_close,stage_changed_on,status\n"
            'D1,C1,R1,proposal,"300,000",2024-09-30,2024-05-01,open\n'
            "D2,C2,,lead,,,,won\nD3,C4,R2,lead,0.01,2024/10/1,,lost\n",
        ),
        (
            "payments",
            'id,order_id,amount,paid_on\nP1,O1,"600,000.25",2024-04-01\nP2,O9,1,2024-4-2\n',
        ),
        (
            "org_units",  # a unit whose parent comes later in the file
            "id,name,parent_id,kind\nBJ,北京,NC,city\nNC,华北大区,HQ,region\n",
        ),
    ]
    for number, (kind, text) in enumerate(files):
        _on_both_paths(org, kind, write(tmp_path / f"{number}_{kind}.csv", text), monkeypatch)

    # spot checks against values worked out by hand
    got = {r["id"]: r for r in rows(org, "select * from orders")}
    assert {i: (r["amount_cents"], r["collected_cents"]) for i, r in got.items()} == {
        "O1": (9999, 100000000),  # the second file updated the amount, kept the collected
        "O2": (10, None),
        "O3": (1234, 0),
        "O4": (2500000, -50),
        "O5": (9223372036854775800, 50),
        "O6": (1234567890123457, 1200),
        "O7": (700, -1205),
        "O8": (120050, 0),
        "O9": (100, None),
    }
    got = {r["id"]: r for r in rows(org, "select * from activities")}
    assert {i: (moment(r["occurred_at"]), day(r["occurred_on"])) for i, r in got.items()} == {
        "A1": ("2024-05-07 07:30:00", "2024-05-07"),
        "A2": ("2024-05-07 09:30:00", "2024-05-07"),
        "A3": ("2024-05-08 08:00:00", "2024-05-08"),
        "A4": ("2024-05-09 08:05:00", "2024-05-09"),
        "A5": ("2024-05-10 10:00:00", "2024-05-10"),
        "A6": ("2024-05-11 10:00:00", "2024-05-11"),
        "A7": ("2024-12-31 23:59:59", "2024-12-31"),
        "A8": ("2024-06-01 08:00:00", "2024-06-01"),
    }
    c3 = customers(org)["C3"]
    assert (c3["name"], attrs(c3["attrs"])) == ("丙公司", {"employees": "8", "客户来源": "网络"})
    assert {r["id"]: r["bucket"] for r in rows(org, "select id, bucket from customers")} == {
        i: bucket_of(i) for i in ("C1", "C2", "C3", "C4", "C9")
    }


def test_bulk_path_leaves_bad_files_to_the_exact_path(
    org: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # files whose one problem the bulk path meets only late: a repeated id, an unknown
    # reference, a date that looks right; into an empty table (indexes dropped for the load)
    # and into one with rows. Each is reported as ever, and nothing is left changed.
    seed_customers(org, tmp_path / "customers.csv")
    indexes = _index_names(org)
    activities = "id,customer_id,rep_id,occurred_at,channel,content,feedback,next_step\n"
    good = "A1,C1,R1,2024-05-06 09:30:00,visit,,,\n"
    cases = [
        (
            "activities",
            activities + good + "A1,C1,R2,2024-05-07 09:30:00,call,,,\n",
            [
                "3: id: 'A1' appears twice (first on line 2)",
            ],
        ),
        (
            "activities",
            activities + good + "A2,C404,R1,2024-05-07 09:30:00,call,,,\n",
            [
                "3: customer_id: unknown customer 'C404'",
            ],
        ),
        (
            "activities",
            activities + good + "A2,C1,R1,2023-02-29 09:30:00,call,,,\n",
            [
                "3: occurred_at: '2023-02-29 09:30:00' is no such date and time",
            ],
        ),
        (
            "customers",
            f"{CUSTOMERS}\nC2,乙,R1,SH,,false,,2024-01-01\nC2,乙,R1,SH,,false,,\n",
            [
                "3: id: 'C2' appears twice (first on line 2)",
            ],
        ),
        (
            "customers",
            f"{CUSTOMERS}\nC1,甲,R1,SH,,false,,2024-01-01\nC1,甲,R2,SH,,false,,\n",
            [
                "3: id: 'C1' appears twice (first on line 2)",
            ],
        ),
        (
            "customers",
            f"{CUSTOMERS}\nC2,乙,R1,ZZ,,false,,2024-01-01\n",
            [
                "2: org_unit_id: unknown org unit 'ZZ'",
            ],
        ),
        (
            "customers",
            f"{CUSTOMERS}\nC2,乙,R1,SH,,false,,2024-02-30\n",
            [
                "2: created_on: '2024-02-30' is no such day",
            ],
        ),
        (
            "targets",
            "id,owner_type,owner_id,metric,period_start,period_end,value\n"
            "T1,rep,R1,sales,2024-12-31,2024-01-01,1\n",
            [
                "2: period_end: 2024-01-01 is before period_start 2024-12-31",
            ],
        ),
        (
            "orders",
            "id,customer_id,rep_id,amount,ordered_on\nO1,C1,R1,92233720368547759,2024-01-01\n",
            [
                "2: amount: '92233720368547759' is too large",
            ],
        ),
    ]
    for number, (kind, text, expected) in enumerate(cases):
        path = write(tmp_path / f"bad_{number}.csv", text)
        assert rejected(org, kind, path) == [f"{path}:{line}" for line in expected]
        assert _index_names(org) == indexes

    # a row of spaces is skipped (on SQLite it sends the file to the exact path)
    spaced = write(tmp_path / "spaced.csv", activities + good + "  , ,,,,,,\n")
    assert counts(import_file(org, "activities", spaced)) == (1, 1, 0, 0)


def _index_names(engine: Engine) -> list[str]:
    if engine.dialect.name == "sqlite":
        sql = "select name from sqlite_master where type = 'index' order by name"
    else:
        sql = (
            "select indexname as name from pg_indexes "
            "where schemaname = current_schema() order by 1"
        )
    return [r["name"] for r in rows(engine, sql)]


def test_bulk_path_in_chunks_with_blank_lines_and_progress(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fastload, "CHUNK", 2)
    text = "id,name,parent_id,kind\n" + "".join(
        f"U{i},单位{i},{'' if i == 0 else f'U{i - 1}'},team\n" + ("\n" if i % 3 == 0 else "")
        for i in range(7)
    )
    seen: list[int] = []
    with monkeypatch.context() as patch:
        patch.setattr(importer, "import_rows", None)  # the bulk path must do it all
        result = import_file(
            engine, "org_units", write(tmp_path / "u.csv", text), progress=seen.append
        )
    assert counts(result) == (7, 7, 0, 0)
    assert seen and seen == sorted(seen) and max(seen) <= 7
    assert len(rows(engine, "select * from org_units")) == 7


@pytest.mark.postgres
def test_postgresql_imports_with_copy(
    pg_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements: list[str] = []
    original = fastload._copy

    def spy(conn: Any, stage: Any, *args: Any) -> None:
        statements.append(stage.name)
        original(conn, stage, *args)

    monkeypatch.setattr(fastload, "_copy", spy)
    path = write(
        tmp_path / "u.csv", "id,name,parent_id,kind\nHQ,总部,,company\nEC,华东,HQ,region\n"
    )
    assert counts(import_file(pg_engine, "org_units", path)) == (2, 2, 0, 0)
    assert statements == ["staging_raw_org_units"]
    assert rows(pg_engine, "select id, parent_id from org_units order by id") == [
        {"id": "EC", "parent_id": "HQ"},
        {"id": "HQ", "parent_id": None},
    ]


def test_whitespace_is_what_str_strip_removes() -> None:
    assert "".join(chr(i) for i in range(0x110000) if chr(i).isspace()) == fastload.WHITESPACE


def test_edges_clean_says_yes_only_when_no_value_starts_or_ends_with_whitespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # random files, read in blocks of a few characters so that every pattern straddles one
    import random

    monkeypatch.setattr(fastload, "SCAN_BLOCK", 5)
    pieces = ["a", "中", ",", '"', "\n", "b c", "x", "y", "z", " ", "\u3000", "\t", "\u00a0"]
    weights = [5, 5, 2, 2, 1, 2, 5, 5, 5, 1, 1, 1, 1]
    rng = random.Random(7)
    saw = {True: 0, False: 0}
    for n in range(600):
        values = [
            [
                "".join(rng.choices(pieces, weights, k=rng.randint(0, 4)))
                for _ in range(rng.randint(1, 4))
            ]
            for _ in range(rng.randint(1, 4))
        ]
        path = tmp_path / f"{n}.csv"
        with open(path, "w", encoding="utf-8", newline="") as handle:
            quoting = csv.QUOTE_ALL if n % 3 == 0 else csv.QUOTE_MINIMAL
            ending = "\r\n" if n % 2 else "\n"
            csv.writer(handle, quoting=quoting, lineterminator=ending).writerows(values)
            if n % 5 == 0:  # no line break at the end
                handle.seek(handle.tell() - len(ending))
                handle.truncate()
        with open(path, encoding="utf-8", newline="") as handle:
            parsed = list(csv.reader(handle, strict=True))
        padded = any(v != v.strip() for row in parsed for v in row)
        clean = fastload.edges_clean(path)
        assert not (clean and padded), path.read_text()
        saw[clean] += 1
    assert saw[True] > 100 and saw[False] > 100  # both answers were exercised


def _samples(spec: Any, rng: Any) -> list[str]:
    """Text a user may write in a cell of this type: canonical, loose, wrong."""
    kind = spec.type

    def digits(low: int, high: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(rng.randint(low, high)))

    def canonical() -> str:
        if kind in ("date", "datetime"):
            moment = (
                datetime(2000, 1, 1) + (datetime(2030, 1, 1) - datetime(2000, 1, 1)) * rng.random()
            )
            if kind == "date":
                return moment.date().isoformat()
            return moment.isoformat(sep=" ", timespec=rng.choice(["seconds", "microseconds"]))
        if kind == "int":
            return str(rng.randint(-2, 12))
        if spec.choices:
            return rng.choice(spec.choices)
        return one()

    def one() -> str:
        sign = rng.choice(["", "", "", "-", "+", " "])
        if kind in ("money", "number", "int"):
            whole = rng.choice([digits(0, 3), digits(1, 18), "0", "00" + digits(1, 2)])
            point = rng.choice(["", "", ".", "." + digits(1, 3), "." + digits(1, 16)])
            extra = rng.choice(["", "", "", ",", "e2", " ", "，", "元"])
            return sign + whole + point + extra
        if kind in ("date", "datetime"):
            year = rng.choice(["2024", "0001", "0000", "9999", "24", str(rng.randint(1, 9999))])
            month = rng.choice(["01", "1", "12", "13", "00", "02"])
            day = rng.choice(["01", "5", "28", "29", "30", "31", "00", "32"])
            sep = rng.choice(["-", "-", "-", "/"])
            text = f"{year}{sep}{month}{sep}{day}"
            if kind == "datetime":
                time = rng.choice(["09:30:00", "9:30", "23:59:59", "24:00:00", "10:00:60"])
                tail = rng.choice(["", "", ".250000", ".5", "Z", "+08:00", "-04:00", " "])
                text += rng.choice([" ", " ", "T"]) + time + tail
            return rng.choice(["", " "]) + text
        if kind == "bool":
            return rng.choice(
                ["true", "TRUE", "True", "1", "0", "false", "是", "否", "yes", "x", ""]
            )
        pieces = ["a", "中", " ", "\u3000", "\t", "\u00a0", "visit", "call", "😀", "\u2028"]
        return "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))

    fixed = {
        "money": [
            "0.1",
            "-0.05",
            ".5",
            "-.5",
            "12.",
            "1,200.50",
            "92233720368547758",
            "92233720368547758.07",
            "92233720368547759",
            "12345678901234.57",
            "-0",
            "1e3",
        ],
        "number": [
            "84.5",
            "0.1",
            "100",
            "100.0",
            "100.5",
            "1e1",
            ".5",
            "5.",
            "0.30000000000000004",
        ],
        "int": ["0", "10", "11", "-0", "007", "7.0", "7.5", "9223372036854775807"],
    }.get(kind, [])
    return fixed + [rng.choice([one, one, canonical])() for _ in range(400)] + [""]


@pytest.mark.parametrize(
    "kind,column",
    [
        ("orders", "amount"),
        ("orders", "collected_amount"),
        ("surveys", "satisfaction"),
        ("surveys", "nps"),
        ("customers", "created_on"),
        ("activities", "occurred_at"),
        ("customers", "strategic"),
        ("activities", "channel"),
        ("customers", "industry"),
        ("customers", "name"),
    ],
)
def test_sql_takes_only_text_it_reads_as_python_does(
    engine: Engine, kind: str, column: str
) -> None:
    # every sample the SQL converts itself must come out as the exact path's converter has it;
    # the rest goes to that converter (SQLite) or the database refuses it (PostgreSQL)
    import random

    spec = next(c for c in KINDS[kind].columns if c.name == column)
    convert = converter(spec, ZoneInfo("Asia/Shanghai"))
    target = table_of(KINDS[kind].model).c[spec.column]
    sqlite = engine.dialect.name == "sqlite"
    spell = fastload._Spelling() if sqlite else fastload._PostgresSpelling()
    cells = ["?1", "?2"] if sqlite else ["c0", "c1"]
    plan = fastload._Plan(KINDS[kind], [column], spell, cells, clean=False)
    if sqlite:
        sql = "SELECT " + dict((c.name, s) for c, s in plan.columns(fix=True))[spec.column]
    else:
        check = plan.check(spec, "c0") or "1 = 1"
        value = plan.value(spec, "c0")
        sql = f"SELECT CASE WHEN {check} THEN {value} END FROM (SELECT %(v)s::text AS c0) s"
    process = target.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
    accepted = 0
    with engine.connect() as conn:
        if sqlite:
            driver = conn.connection.driver_connection

            def refuse(*args: Any) -> None:
                raise ValueError("not canonical")

            driver.create_function(fastload.FIX, -1, refuse)
        for text in _samples(spec, random.Random(column)):
            try:
                with conn.begin_nested():
                    got = conn.exec_driver_sql(sql, (text,) if sqlite else {"v": text}).scalar()
            except (sa.exc.OperationalError, sa.exc.DataError) as exc:
                # SQLite: handed to Python; PostgreSQL: a CAST refused it (2023-02-30)
                assert "user-defined function raised" in str(exc) or not sqlite, exc
                continue
            if not sqlite and got is None and text.strip():
                continue  # not canonical: converted in Python before the INSERT
            if text.strip() == "":
                expected: Any = spec.default
                assert not spec.value or got is None, (text, got)
            else:
                expected = convert(text)  # raises if SQL took text that Python refuses
            if sqlite and expected is not None and process is not None:
                expected = process(expected)
            assert got == expected, (text, got, expected)
            assert type(got) is type(expected), (text, got, expected)
            accepted += 1
    assert accepted > 20


# ---- the bulk path says why it hands a good file to the exact path ----------------------------
#
# A good file the bulk path declines is imported row by row, with one note on stderr saying
# why; a clean file says nothing, and a bad file only its errors (they name every bad row).


def cli_import(engine: Engine, kind: str, path: Path) -> Any:
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["import", kind, str(path), "--db", url, "--quiet"])


def slow(path: Path, reason: str) -> str:
    return f"note: {path}: imported row by row, not in bulk: {reason}\n"


UNITS = "id,name,parent_id,kind\n"
UNIT_ROWS = [
    {"id": "EC", "parent_id": "HQ", "kind": "region"},
    {"id": "HQ", "parent_id": None, "kind": "company"},
    {"id": "SH", "parent_id": "EC", "kind": "city"},
]


def units(engine: Engine) -> list[dict[str, Any]]:
    return rows(engine, "select id, parent_id, kind from org_units order by id")


def test_a_row_wider_than_the_header_is_a_note(engine: Engine, tmp_path: Path) -> None:
    # two empty values too many on line 3: the exact path takes the row, the INSERT or COPY
    # of the bulk path cannot
    path = write(
        tmp_path / "units.csv",
        UNITS + "HQ,总部,,company\nEC,华东大区,HQ,region,,\nSH,上海,EC,city\n",
    )
    result = cli_import(engine, "org_units", path)
    assert (result.exit_code, result.stderr) == (
        0,
        slow(path, "line 3: the row has 6 values, the header 4"),
    )
    assert units(engine) == UNIT_ROWS


def test_too_many_custom_columns_is_a_note(engine: Engine, tmp_path: Path) -> None:
    extra = [f"x{i}" for i in range(1, 42)]  # 41 custom columns, one more than json_object takes
    path = write(
        tmp_path / "customers.csv",
        f"{CUSTOMERS},{','.join(extra)}\n"
        f"C1,甲公司,,,,false,,,{','.join(str(i) for i in range(1, 42))}\n",
    )
    result = cli_import(engine, "customers", path)
    assert (result.exit_code, result.stderr) == (
        0,
        slow(path, "41 custom columns (the bulk path takes at most 40)"),
    )
    (stored,) = rows(engine, "select id, attrs from customers")
    assert attrs(stored["attrs"]) == {f"x{i}": str(i) for i in range(1, 42)}


def test_a_row_of_blank_values(engine: Engine, tmp_path: Path) -> None:
    # skipped on both paths; on SQLite the bulk path's conversion function refuses its blank id,
    # on PostgreSQL the bulk path skips it itself
    path = write(
        tmp_path / "units.csv", UNITS + "HQ,总部,,company\n  ,\u3000,,\nEC,华东,HQ,region\n"
    )
    result = cli_import(engine, "org_units", path)
    sqlite = engine.dialect.name == "sqlite"
    assert (result.exit_code, result.stderr) == (
        0,
        slow(path, "line 3: a row of blank values") if sqlite else "",
    )
    assert units(engine) == UNIT_ROWS[:2]


def test_too_many_values_to_convert_one_by_one(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL converts the rows not in canonical form in Python, up to FIX_LIMIT of them;
    # SQLite converts each such cell as it is inserted, without a limit
    monkeypatch.setattr(fastload, "FIX_LIMIT", 1)
    path = write(
        tmp_path / "customers.csv",
        f"{CUSTOMERS}\nC1,甲,,,,false,,2024/1/5\nC2,乙,,,,false,,2024/1/6\n",
    )
    result = cli_import(engine, "customers", path)
    reason = (
        "more than 1 rows hold values written otherwise than 2024-01-05, 1200.50 or true "
        "(such as 2024/1/5, 1,200.50 or 是), converted one by one"
    )
    sqlite = engine.dialect.name == "sqlite"
    assert (result.exit_code, result.stderr) == (0, "" if sqlite else slow(path, reason))
    got = rows(engine, "select id, created_on from customers order by id")
    assert [(r["id"], day(r["created_on"])) for r in got] == [
        ("C1", "2024-01-05"),
        ("C2", "2024-01-06"),
    ]


def test_anything_unforeseen_is_a_note_with_its_own_words(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise RuntimeError("the disk is on fire\nsecond line")

    monkeypatch.setattr(fastload, "_check_references", broken)
    path = write(tmp_path / "units.csv", UNITS + "HQ,总部,,company\nEC,华东,HQ,region\n")
    result = cli_import(engine, "org_units", path)
    assert (result.exit_code, result.stderr) == (
        0,
        slow(path, "RuntimeError: the disk is on fire"),
    )
    assert units(engine) == UNIT_ROWS[:2]


def test_a_clean_file_and_a_bad_one_print_no_note(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(importer, "import_rows", None)  # the bulk path must do it all
        path = write(tmp_path / "units.csv", UNITS + "HQ,总部,,company\nEC,华东,HQ,region\n")
        for _ in range(2):  # into an empty table, then an upsert
            result = cli_import(engine, "org_units", path)
            assert (result.exit_code, result.stderr) == (0, "")
        targets = write(
            tmp_path / "targets.csv",
            "id,owner_type,owner_id,metric,period_start,period_end,value\n"
            "T1,org_unit,EC,sales,2024-01-01,2024-12-31,1200000\n",
        )
        result = cli_import(engine, "targets", targets)  # targets go in bulk too
        assert (result.exit_code, result.stderr) == (0, "")
    # a repeated id: the bulk path declines, the exact path rejects the file and says why
    bad = write(tmp_path / "bad.csv", UNITS + "SH,上海,EC,city\nSH,上海,EC,city\n")
    result = cli_import(engine, "org_units", bad)
    assert (result.exit_code, result.stderr) == (
        2,
        f"{bad}:3: id: 'SH' appears twice (first on line 2)\n",
    )


def test_progress_notes_are_always_row_by_row_and_say_nothing_of_it(
    engine: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "notes.csv",
        "owner_type,owner_id,metric,period,reason,plan\nrep,R1,sales,2024-Q2,大客户延迟签约,陪访\n",
    )
    result = cli_import(engine, "progress_notes", path)
    assert (result.exit_code, result.stderr) == (0, "")
    got = rows(engine, "select owner_id, period_start, period_end from progress_notes")
    assert [(r["owner_id"], day(r["period_start"]), day(r["period_end"])) for r in got] == [
        ("R1", "2024-04-01", "2024-06-30")
    ]
