"""Files as ops staff have them: Excel's encodings, Chinese headers and values, the ways people
write dates, amounts and yes/no, import mappings, and dry runs (store/textfile.py, names.py,
mapping.py, convert.py; importer.py and fastload.py read through them).

Every file is written by the test; every expected value is worked out by hand. A file that
the bulk path can take is imported on both paths (`_on_both_paths`), which must agree.
"""

from __future__ import annotations

import codecs
import random
import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from salesplay.cli import cli
from salesplay.engine.errors import PlaybookErrors, RecordError, SalesplayError
from salesplay.engine.lang.document import Document
from salesplay.engine.store import fastload, importer, textfile
from salesplay.engine.store.convert import converter
from salesplay.engine.store.importer import import_file
from salesplay.engine.store.mapping import ImportMap, check_entry, read_file
from salesplay.engine.store.names import HEADERS, WORDS
from salesplay.engine.store.records import KINDS, Column
from tests.conftest import load_playbook, rows, run
from tests.engine.store.test_importer import (
    CUSTOMERS,
    _on_both_paths,
    attrs,
    counts,
    customers,
    day,
    moment,
    rejected,
    seed_customers,
    snapshot,
    write,
)

ACTIVITIES = "id,customer_id,rep_id,occurred_at,channel,content,feedback,next_step"
ZONE = ZoneInfo("Asia/Shanghai")


def write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---- encodings: UTF-8, GB18030 (GBK, GB2312), UTF-16 -----------------------------------------


def test_a_gb18030_file_with_chinese_headers_and_values_imports_by_the_built_in_names(
    org: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what a Chinese Excel's plain "CSV" is: GBK (GB18030 contains it), CRLF, Chinese headers
    text = (
        "编号,名称,负责人,部门,行业,战略客户,状态,创建日期,床位数\r\n"
        'C1,华鑫医院,R1,SH,医疗,是,active,2024年7月5日,"1,200"\r\n'
        "C2,康宁诊所,R2,SH,医疗,否,active,2024/7/5,80\r\n"
    )
    path = write_bytes(tmp_path / "客户.csv", text.encode("gb18030"))
    assert textfile.sniff(path) == textfile.TextFormat("gb18030", ",", sure=False)
    assert counts(_on_both_paths(org, "customers", path, monkeypatch)) == (2, 2, 0, 0)
    got = customers(org)
    assert [
        (i, r["name"], r["owner_id"], bool(r["strategic"]), day(r["created_on"]))
        for i, r in sorted(got.items())
    ] == [
        ("C1", "华鑫医院", "R1", True, "2024-07-05"),
        ("C2", "康宁诊所", "R2", False, "2024-07-05"),
    ]
    # 床位数 is no declared custom column here: kept as written
    assert attrs(got["C1"]["attrs"]) == {"床位数": "1,200"}

    deals = (
        "编号,客户编号,销售,阶段,金额,预计成交日期,阶段变更日期,状态\r\n"
        "D1,C1,R1,商机,¥1234,2024.9.30,,进行中\r\n"
        "D2,C1,R1,合同,12.5万,,,赢单\r\n"
        "D3,C2,R2,lead,1,200.50元,,,WON\r\n"
    ).replace("1,200.50元", '"1,200.50元"')
    path = write_bytes(tmp_path / "商机.csv", deals.encode("gb18030"))
    _on_both_paths(org, "deals", path, monkeypatch)
    got_deals = rows(org, "select id, stage, amount_cents, expected_close, status from deals")
    assert sorted(
        (r["id"], r["stage"], r["amount_cents"], day(r["expected_close"]), r["status"])
        for r in got_deals
    ) == [
        ("D1", "opportunity", 123400, "2024-09-30", "open"),
        ("D2", "contract", 12500000, None, "won"),
        ("D3", "lead", 120050, None, "won"),
    ]


def test_excel_unicode_text_is_utf16_separated_by_tabs(
    org: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_customers(org, tmp_path / "customers.csv")
    text = (
        "编号\t客户编号\t销售\t跟进时间\t跟进方式\t跟进内容\t反馈\t下一步\r\n"
        "A1\tC1\tR1\t2024/7/5 9:30\t拜访\t介绍新品\t有兴趣\t报价\r\n"
        'A2\tC1\tR2\t2024年7月6日 10:00:05\tVisit\t"带\t制表符"\t\t\r\n'
        "A3\tC1\tR2\t2024-07-07 10:00\t电话\t\t\t\r\n"
        "A4\tC1\tR1\t2024-07-08 11:00:00\t微信\t\t\t\r\n"
    )
    path = write_bytes(tmp_path / "跟进.txt", codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert textfile.sniff(path) == textfile.TextFormat("utf-16", "\t")
    assert counts(_on_both_paths(org, "activities", path, monkeypatch)) == (4, 4, 0, 0)
    got = rows(org, "select id, occurred_at, occurred_on, channel, content from activities")
    assert sorted(
        (r["id"], moment(r["occurred_at"]), day(r["occurred_on"]), r["channel"], r["content"])
        for r in got
    ) == [
        ("A1", "2024-07-05 09:30:00", "2024-07-05", "visit", "介绍新品"),
        ("A2", "2024-07-06 10:00:05", "2024-07-06", "visit", "带\t制表符"),
        ("A3", "2024-07-07 10:00:00", "2024-07-07", "call", None),
        ("A4", "2024-07-08 11:00:00", "2024-07-08", "wechat", None),
    ]


def test_utf16_without_a_byte_order_mark_is_found_by_its_nul_bytes(tmp_path: Path) -> None:
    text = "id\tname\r\nHQ\t总部\r\n"
    little = write_bytes(tmp_path / "le.txt", text.encode("utf-16-le"))
    big = write_bytes(tmp_path / "be.txt", text.encode("utf-16-be"))
    assert textfile.sniff(little) == textfile.TextFormat("utf-16-le", "\t")
    assert textfile.sniff(big) == textfile.TextFormat("utf-16-be", "\t")


def test_gb18030_text_after_a_first_block_of_ascii_is_read_again_as_gb18030(
    org: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the first block guesses UTF-8; the Chinese further on proves it wrong on either path
    monkeypatch.setattr(textfile, "SNIFF", 64)
    text = f"{CUSTOMERS}\n" + "".join(f"C{i},Shop {i},R1,SH,,false,,\n" for i in range(5))
    path = write_bytes(tmp_path / "c.csv", (text + "C9,上海小店,R1,SH,,是,,\n").encode("gb18030"))
    assert textfile.sniff(path).sure is False
    result = import_file(org, "customers", path)
    assert (counts(result), result.notes) == ((6, 6, 0, 0), [])
    assert customers(org)["C9"]["name"] == "上海小店"

    monkeypatch.setattr(importer, "load_csv", lambda *a, **k: fastload.Declined("test"))
    path2 = write_bytes(tmp_path / "c2.csv", path.read_bytes().replace(b"C9", b"C8"))
    assert counts(import_file(org, "customers", path2))[:2] == (6, 1)
    assert customers(org)["C8"]["name"] == "上海小店"


def test_encoding_named_overrides_and_unreadable_files_name_the_line_and_the_option(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    units = "id,name,parent_id,kind\nHQ,总部,,company\nSH,上海,HQ,city\n"
    gbk = write_bytes(tmp_path / "units.csv", units.encode("gbk"))
    before = snapshot(sqlite_engine)
    with pytest.raises(SalesplayError) as caught:
        import_file(sqlite_engine, "org_units", gbk, encoding="utf-8")
    assert str(caught.value) == (
        f"{gbk}:2: not utf-8 text (a byte on this line is not): check --encoding utf-8, or "
        "leave it out to have the encoding found"
    )
    with pytest.raises(SalesplayError) as caught:
        import_file(sqlite_engine, "org_units", gbk, encoding="latin-9x")
    assert str(caught.value) == (
        "--encoding latin-9x: no such text encoding: use utf-8, gb18030 (for GBK and GB2312 "
        "too) or utf-16"
    )
    assert snapshot(sqlite_engine) == before
    # GBK names GB18030, which reads every GBK file the same
    assert counts(import_file(sqlite_engine, "org_units", gbk, encoding="GBK")) == (2, 2, 0, 0)

    # a byte-order mark says UTF-8; a bad byte further on is damage, located
    damaged = write_bytes(
        tmp_path / "damaged.csv", codecs.BOM_UTF8 + b"id,name,parent_id,kind\nBJ,\xb1\xb1,,city\n"
    )
    with pytest.raises(SalesplayError) as located:
        import_file(sqlite_engine, "org_units", damaged)
    assert str(located.value) == (
        f"{damaged}:2: not UTF-8 text (a byte on this line is not): the file starts as such "
        "text but is damaged further on: save it again"
    )
    book = write_bytes(tmp_path / "u.xlsx", b"")
    with pytest.raises(SalesplayError) as caught:
        import_file(sqlite_engine, "org_units", book, encoding="gbk")
    assert str(caught.value) == (
        "--encoding gbk: u.xlsx is a workbook, which has no encoding: leave the option out"
    )


# ---- values as people write them ------------------------------------------------------------


def _column(kind: str, name: str) -> Column:
    return next(c for c in KINDS[kind].columns if c.name == name)


@pytest.mark.parametrize(
    ("kind", "column", "written", "expected"),
    [
        ("orders", "ordered_on", "2024-07-05", date(2024, 7, 5)),
        ("orders", "ordered_on", "2024/7/5", date(2024, 7, 5)),
        ("orders", "ordered_on", "2024.7.5", date(2024, 7, 5)),
        ("orders", "ordered_on", "2024年7月5日", date(2024, 7, 5)),
        ("orders", "ordered_on", "２０２４年７月５日", date(2024, 7, 5)),
        ("orders", "ordered_on", "2024/7/5 9:30", date(2024, 7, 5)),
        ("orders", "ordered_on", 45478, date(2024, 7, 5)),  # a workbook's date number
        ("orders", "ordered_on", 20240705, date(2024, 7, 5)),  # no such number: as text
        ("activities", "occurred_at", "2024-07-05 09:30", datetime(2024, 7, 5, 9, 30)),
        ("activities", "occurred_at", "2024/7/5 9:30:15", datetime(2024, 7, 5, 9, 30, 15)),
        ("activities", "occurred_at", "2024.7.5 09:30:15", datetime(2024, 7, 5, 9, 30, 15)),
        ("activities", "occurred_at", "2024年7月5日 9:30", datetime(2024, 7, 5, 9, 30)),
        ("activities", "occurred_at", "2024年7月5日 9时30分", datetime(2024, 7, 5, 9, 30)),
        ("activities", "occurred_at", "2024-07-05", datetime(2024, 7, 5)),
        ("activities", "occurred_at", 45478.4375, datetime(2024, 7, 5, 10, 30)),
        ("activities", "occurred_at", "2024-07-05T01:30:00Z", datetime(2024, 7, 5, 9, 30)),
        ("orders", "amount", "1234", 123400),
        ("orders", "amount", "¥1234", 123400),
        ("orders", "amount", "￥1,234.50", 123450),
        ("orders", "amount", "¥ 1,234.50", 123450),
        ("orders", "amount", "1,200.50元", 120050),
        ("orders", "amount", "１２３４．５", 123450),
        ("orders", "amount", "１，２３４", 123400),
        ("orders", "amount", "12.5万", 12500000),
        ("orders", "amount", "12.5万元", 12500000),
        ("orders", "amount", "¥1.2亿", 12000000000),
        ("orders", "collected_amount", "-¥5", -500),
        ("orders", "amount", 1234.5, 123450),  # a workbook's money cell
        ("targets", "value", "1.2万", 1200000),
        ("targets", "value", "９０％", 90),
        ("surveys", "satisfaction", "８４．５", 84.5),
        ("surveys", "nps", "１０", 10),
        ("customers", "strategic", "是", True),
        ("customers", "strategic", "否", False),
        ("customers", "strategic", "Y", True),
        ("customers", "strategic", "n", False),
        ("customers", "strategic", "TRUE", True),
        ("customers", "strategic", "false", False),
        ("customers", "strategic", "1", True),
        ("customers", "strategic", "0", False),
        ("activities", "channel", "Visit", "visit"),
        ("activities", "channel", "拜访", "visit"),
        ("activities", "channel", "上门", "visit"),
        ("activities", "channel", "电话", "call"),
        ("activities", "channel", "微信", "wechat"),
        ("deals", "status", "赢单", "won"),
        ("deals", "status", "LOST", "lost"),
        ("deals", "stage", "方案报价", "proposal"),
        ("deals", "stage", "谈判", "谈判"),  # a stage of one's own stays as written
        ("org_units", "kind", "大区", "region"),
        ("targets", "owner_type", "销售", "rep"),
    ],
)
def test_each_form_is_read_to_the_exact_value(
    kind: str, column: str, written: Any, expected: Any
) -> None:
    words = ImportMap.build(kind).words
    assert converter(_column(kind, column), ZONE, words.get(column))(written) == expected


@pytest.mark.parametrize(
    ("kind", "column", "written", "message"),
    [
        (
            "orders",
            "ordered_on",
            "5/7/2024",
            "'5/7/2024' is not a date: write 2024-07-05, 2024/7/5 or 2024年7月5日",
        ),
        ("orders", "ordered_on", "2024年2月30日", "'2024年2月30日' is no such day"),
        (
            "orders",
            "amount",
            "500张",
            "'500张' is not an amount: write e.g. 1200.50, ¥1,200.50, 1,200元 or 12.5万",
        ),
        (
            "orders",
            "amount",
            "$5",
            "'$5' is not an amount: write e.g. 1200.50, ¥1,200.50, 1,200元 or 12.5万",
        ),
        (
            "surveys",
            "satisfaction",
            "¥50",
            "'¥50' is not a number: write e.g. 1200, 1,200.5 or 12.5万",
        ),
        (
            "customers",
            "strategic",
            "也许",
            "'也许' is not true or false: write 是/否, Y/N, true/false or 1/0",
        ),
    ],
)
def test_a_form_not_read_says_how_to_write_it(
    kind: str, column: str, written: Any, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        converter(_column(kind, column), ZONE)(written)
    assert str(caught.value) == message


HOSPITALS = (
    "extends: default\n"
    "fields:\n  beds: number\n  teaching: bool\n  note: text\n"
    "grading:\n  grades:\n"
    "    - grade: A\n      when: beds >= 1000\n"
    "    - grade: B\n      when: beds >= 100\n"
    "    - grade: C\n"
)


def _hospitals(tmp_path: Path) -> tuple[Any, ImportMap]:
    """The playbook (evaluated) and the import mapping, with a date column besides (imported
    and checked here; PostgreSQL's evaluation does not read a custom date yet)."""
    book = load_playbook(str(write(tmp_path / "hospitals.yaml", HOSPITALS)))
    fields = {**book.section("fields"), "opened": "date"}
    return book, ImportMap.build("customers", (), fields)


def test_custom_columns_are_checked_against_their_type_and_kept_as_the_rules_read_them(
    org: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book, recipe = _hospitals(tmp_path)
    path = write(
        tmp_path / "hospitals.csv",
        f"{CUSTOMERS},beds,opened,teaching,note\n"
        'C1,华鑫医院,R1,SH,医疗,false,active,2020-01-01,"1,200",2001年3月1日,是,三甲\n'
        "C2,康宁医院,R1,SH,医疗,false,active,2020-01-01,１２０,2001/3/1,N,\n"
        "C3,仁爱医院,R2,SH,医疗,false,active,2020-01-01,0.12万,,, \n"
        "C4,小诊所,R2,SH,医疗,false,active,2020-01-01,80,2001-03-01,true,\n"
        "C5,新院区,R2,SH,医疗,false,active,2020-01-01,,,,\n",
    )
    _on_both_paths(org, "customers", path, monkeypatch, mapping=recipe)
    assert {i: attrs(r["attrs"]) for i, r in customers(org).items()} == {
        "C1": {"beds": "1200", "opened": "2001-03-01", "teaching": True, "note": "三甲"},
        "C2": {"beds": "120", "opened": "2001-03-01", "teaching": False},
        "C3": {"beds": "1200"},
        "C4": {"beds": "80", "opened": "2001-03-01", "teaching": True},
        "C5": None,
    }
    run(org, "2024-08-31", book)
    grades = {r["customer_id"]: r["grade"] for r in rows(org, "select * from grades")}
    assert grades == {"C1": "A", "C2": "B", "C3": "A", "C4": "C", "C5": "C"}


def test_a_custom_number_that_does_not_parse_rejects_the_file_at_its_line(
    org: Engine, tmp_path: Path
) -> None:
    _, recipe = _hospitals(tmp_path)
    seed = write(
        tmp_path / "seed.csv", f"{CUSTOMERS},beds\nC1,华鑫医院,R1,SH,医疗,否,active,,900\n"
    )
    import_file(org, "customers", seed, mapping=recipe)
    bad = write(
        tmp_path / "bad.csv",
        f"{CUSTOMERS},beds,opened,teaching\n"
        'C1,华鑫医院,R1,SH,医疗,否,active,,"1,200",,\n'
        "C2,康宁医院,R1,SH,医疗,否,active,,500张,2001-02-30,也许\n",
    )
    before = snapshot(org)
    with pytest.raises(RecordError) as caught:
        import_file(org, "customers", bad, mapping=recipe)
    assert snapshot(org) == before  # C1 still has 900 beds
    assert caught.value.problems == [
        f"{bad}:3: beds: '500张' is not a number: write e.g. 1200, 1,200.5 or 12.5万",
        f"{bad}:3: teaching: '也许' is not true or false: write 是/否, Y/N, true/false or 1/0",
        f"{bad}:3: opened: '2001-02-30' is no such day",
    ]


def test_custom_numbers_the_sql_keeps_are_those_python_writes_so(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # random texts: whichever path converts a cell, the stored text is plain_number()'s
    rng = random.Random(12)
    pieces = ["0", "1", "2", "9", ".", ",", "万", "0", "5", "-", " ", "１"]
    texts = ["0", "0.0", "00", "1.50", "10", "100.", ".5", "1,000", "007", "12345678901234567890"]
    texts += ["".join(rng.choices(pieces, k=rng.randint(1, 7))) for _ in range(300)]
    number = Column("beds", "number", header=False, custom=True)
    good = []
    for text in texts:
        try:
            converter(number, ZONE)(text)
        except ValueError:
            continue
        good.append(text)
    assert len(good) > 80
    recipe = ImportMap.build("customers", (), {"beds": "number"})
    body = "".join(f'C{i},名{i},,,,,,,"{t}"\n' for i, t in enumerate(good))
    path = write(tmp_path / "c.csv", f"{CUSTOMERS},beds\n{body}")
    _on_both_paths(engine, "customers", path, monkeypatch, mapping=recipe)


def test_an_xlsx_with_date_numbers_and_money_cells(org: Engine, tmp_path: Path) -> None:
    seed_customers(org, tmp_path / "customers.csv")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["编号", "客户编号", "销售", "金额", "下单日期", "已回款"])
    sheet.append(["O1", "C1", "R1", 1234.5, 45478, "¥1,000"])  # a date as its number
    sheet.append(["O2", "C1", "R1", 99, datetime(2024, 7, 6), 0])  # a date cell
    sheet.append(["O3", "C1", "R1", "12.5万", "2024年7月7日", None])
    sheet["D2"].number_format = '"¥"#,##0.00'  # money-formatted: still a number
    sheet["E3"].number_format = "yyyy/m/d"
    path = tmp_path / "订单.xlsx"
    book.save(path)
    assert counts(import_file(org, "orders", path)) == (3, 3, 0, 0)
    got = rows(org, "select id, amount_cents, ordered_on, collected_cents from orders")
    assert sorted(
        (r["id"], r["amount_cents"], day(r["ordered_on"]), r["collected_cents"]) for r in got
    ) == [
        ("O1", 123450, "2024-07-05", 100000),
        ("O2", 9900, "2024-07-06", 0),
        ("O3", 12500000, "2024-07-07", None),
    ]


def test_every_form_gives_the_same_rows_on_the_bulk_path_and_the_exact_path(
    org: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [
        (
            "customers",
            "编号,客户名称,销售,所属部门,行业,重点客户,客户状态,建档日期\n"
            "C1,甲,R1,SH,,是,active,2024年7月5日\n"
            "C2,乙,R2,SH,,Y,,2024.7.5\n"
            "C3,丙,R1,SH,,n,,２０２４/７/５\n",
        ),
        (
            "orders",
            "订单号,客户编号,业务员,订单金额,下单时间,已回款,产品\n"
            'O1,C1,R1,¥1234,2024/7/5 9:30,"1,200.50元",甲\n'
            "O2,C1,R1,12.5万,2024年7月5日,￥0.5,\n"
            "O3,C2,R2,１２３４,2024.7.5,-¥5,\n"
            "O4,C3,R2,1200.50,2024-07-05,,\n",
        ),
        (
            "activities",
            f"{ACTIVITIES}\n"
            "A1,C1,R1,2024年7月5日 9:30,拜访,,,\n"
            "A2,C1,R1,2024/7/5 9:30:15,Visit,,,\n"
            "A3,C2,R2,2024-07-05 09:30,电话,,,\n"
            "A4,C2,R2,2024.7.5 10:00:00,WECHAT,,,\n"
            "A5,C3,R1,2024-07-05 10:00:00,email,,,\n",
        ),
        (
            "deals",
            "id,customer_id,rep_id,stage,amount,expected_close,stage_changed_on,status\n"
            "D1,C1,R1,商机,1.5万,2024年9月30日,,进行中\n"
            "D2,C2,R1,Lead,¥800,,,Won\n"
            "D3,C3,R2,谈判,,,,输单\n",
        ),
        (
            "targets",
            "id,owner_type,owner_id,metric,period_start,period_end,value\n"
            "T1,销售,R1,sales,2024年1月1日,2024/12/31,120万\n"
            "T2,Org_Unit,SH,repurchase_rate,2024.1.1,2024-12-31,９０％\n",
        ),
    ]
    for number, (kind, text) in enumerate(files):
        path = write(tmp_path / f"{number}_{kind}.csv", text)
        _on_both_paths(org, kind, path, monkeypatch)
    got = rows(org, "select id, stage, amount_cents, status from deals order by id")
    assert [(r["stage"], r["amount_cents"], r["status"]) for r in got] == [
        ("opportunity", 1500000, "open"),
        ("Lead", 80000, "won"),  # a stage is text: its case is kept
        ("谈判", None, "lost"),
    ]
    got = rows(org, "select id, owner_type, value_x100 from targets order by id")
    assert [(r["owner_type"], r["value_x100"]) for r in got] == [
        ("rep", 120000000),
        ("org_unit", 90),
    ]


# ---- import mappings: columns, values, constants, date_format -------------------------------


def test_a_map_file_names_columns_values_constants_and_the_date_format(
    org: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_customers(org, tmp_path / "customers.csv")
    mapping = write(
        tmp_path / "map.yaml",
        "columns:\n"
        "  记录号: id\n"
        "  客户代码: customer_id\n"
        "  发生于: occurred_at\n"
        "  沟通方式: channel\n"
        "values:\n"
        "  channel: {电联: call, 面谈: visit, 线上: video}\n"
        "constants:\n"
        "  rep_id: R1\n"
        "  content: 来自旧系统\n"
        "  feedback: ''\n"
        "  next_step: ''\n"
        "date_format: '%d/%m/%Y'\n",
    )
    recipe = ImportMap.build("activities", [read_file(mapping, "activities", {})])
    path = write(
        tmp_path / "old.csv",
        "记录号,客户代码,发生于,沟通方式\n"
        "A1,C1,05/07/2024 09:30,电联\n"
        "A2,C1,6/7/2024,面谈\n"
        "A3,C1,2024-07-07 08:00,线上\n",  # the usual forms still read
    )
    result = import_file(org, "activities", path, mapping=recipe)
    assert result.notes == [
        f"{path}: imported row by row, not in bulk: dates are read with date_format %d/%m/%Y"
    ]
    got = rows(org, "select id, rep_id, occurred_at, channel, content from activities")
    assert sorted(
        (r["id"], r["rep_id"], moment(r["occurred_at"]), r["channel"], r["content"]) for r in got
    ) == [
        ("A1", "R1", "2024-07-05 09:30:00", "call", "来自旧系统"),
        ("A2", "R1", "2024-07-06 00:00:00", "visit", "来自旧系统"),
        ("A3", "R1", "2024-07-07 08:00:00", "video", "来自旧系统"),
    ]

    # without the date format, the bulk path takes constants and words too
    no_dates = write(tmp_path / "no_dates.yaml", mapping.read_text().rsplit("date_format", 1)[0])
    recipe = ImportMap.build("activities", [read_file(no_dates, "activities", {})])
    again = write(
        tmp_path / "again.csv", "记录号,客户代码,发生于,沟通方式\nA4,C1,2024-07-08 08:00,电联\n"
    )
    _on_both_paths(org, "activities", again, monkeypatch, mapping=recipe)
    (a4,) = rows(org, "select rep_id, channel, content from activities where id = 'A4'")
    assert (a4["rep_id"], a4["channel"], a4["content"]) == ("R1", "call", "来自旧系统")


def test_a_map_file_of_several_kinds_and_its_mistakes_at_their_lines(tmp_path: Path) -> None:
    several = write(
        tmp_path / "all.yaml",
        "customers:\n  columns: {客户代码: id}\nactivities:\n  values: {channel: {电联: call}}\n",
    )
    assert read_file(several, "customers", {}) == {"columns": {"客户代码": "id"}}
    with pytest.raises(SalesplayError) as caught:
        read_file(several, "orders", {})
    assert (
        str(caught.value)
        == f"{several}:1: no entry for orders (the file has customers, activities)"
    )

    bad = write(
        tmp_path / "bad.yaml",
        "columns:\n"
        "  客户名: nmae\n"  # 2
        "  代码: idd_x\n"  # 3
        "values:\n"
        "  status: {合作中: active}\n"  # 5
        "  strategic: {重点: 也许}\n"  # 6
        "  colour: {红: red}\n"  # 7
        "constants:\n"
        "  created_on: 2024-13-01\n"  # 9
        "date_format: '%m/%Y'\n"  # 10
        "colums: {}\n",  # 11
    )
    with pytest.raises(PlaybookErrors) as many:
        read_file(bad, "customers", {"outlets": "number"})
    assert str(many.value).split("\n") == [
        f"{bad}:11: colums: unknown key 'colums' (did you mean 'columns'?)",
    ]
    bad.write_text(bad.read_text("utf-8").replace("colums: {}\n", ""), "utf-8")
    with pytest.raises(PlaybookErrors) as many:
        read_file(bad, "customers", {"outlets": "number"})
    f = str(bad)
    assert str(many.value).split("\n") == [
        f"{f}:2: columns.客户名: 'nmae' is not a column of customers (did you mean 'name'?)",
        f"{f}:3: columns.代码: 'idd_x' is not a column of customers: its columns are id, name, "
        "owner_id, org_unit_id, industry, strategic, status, created_on, outlets (a custom column "
        "is declared in the playbook's fields: first)",
        f"{f}:6: values.strategic.重点: '也许' is not true or false: write 是/否, Y/N, "
        "true/false or 1/0",
        f"{f}:7: values.colour: 'colour' is not a column of customers: its columns are id, name, "
        "owner_id, org_unit_id, industry, strategic, status, created_on, outlets (a custom column "
        "is declared in the playbook's fields: first)",
        f"{f}:9: constants.created_on: '2024-13-01' is no such day",
        f"{f}:10: date_format: '%m/%Y' is not a date format that reads a whole day: write e.g. "
        "%d/%m/%Y",
    ]


def test_the_playbook_imports_section_is_checked_at_its_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "book.yaml",
        "extends: default\n"
        "imports:\n"
        "  activities:\n"
        "    columns: {方式: chanel}\n"  # 4
        "    constants: {channel: 飞鸽传书}\n"  # 5
        "  customer:\n"  # 6
        "    columns: {}\n",
    )
    with pytest.raises(PlaybookErrors) as caught:
        load_playbook(str(path))
    assert str(caught.value).split("\n") == [
        f"{path}:6: imports.customer: unknown key 'customer' (did you mean 'customers'?)"
    ]
    path.write_text(path.read_text("utf-8").replace("  customer:\n    columns: {}\n", ""), "utf-8")
    with pytest.raises(PlaybookErrors) as caught:
        load_playbook(str(path))
    assert str(caught.value).split("\n") == [
        f"{path}:4: imports.activities.columns.方式: 'chanel' is not a column of activities "
        "(did you mean 'channel'?)",
        f"{path}:5: imports.activities.constants.channel: '飞鸽传书' is not one of visit, video, "
        "call, wechat, email, message",
    ]


def test_map_file_then_playbook_then_salesplay_toml_then_the_built_in_names(
    tmp_path: Path,
) -> None:
    # one word given a meaning at every level: the most specific wins, key by key
    project = write(
        tmp_path / "salesplay.toml",
        'database = "s.db"\n\n'
        "[imports.activities.values.channel]\n"
        '"电话" = "wechat"\n'  # 4: over the built-in call
        '"电联" = "email"\n'
        '"留言" = "message"\n',
    )
    book = write(
        tmp_path / "book.yaml",
        "extends: default\nimports:\n  activities:\n    values:\n      channel: {电联: video}\n",
    )
    mapping = write(tmp_path / "map.yaml", "values:\n  channel: {留言: call}\n")
    from salesplay.engine.project.settings import resolve

    where = resolve(str(tmp_path), None, str(book), env={}, cwd=tmp_path)
    document = where.document()
    assert document is not None
    from salesplay.engine.store.mapping import in_force

    words = in_force("activities", load_playbook(str(book)), document, mapping).words["channel"]
    assert (words["电话"], words["电联"], words["留言"], words["拜访"]) == (
        "wechat",
        "video",
        "call",
        "visit",
    )
    project.write_text(project.read_text().replace('"wechat"', '"weixin"'))
    where = resolve(str(tmp_path), None, str(book), env={}, cwd=tmp_path)
    with pytest.raises(PlaybookErrors) as caught:
        in_force("activities", load_playbook(str(book)), where.document(), None)
    assert str(caught.value) == (
        f"{project}:4: imports.activities.values.channel.电话: 'weixin' is not one of visit, "
        "video, call, wechat, email, message"
    )


def test_headers_two_names_for_one_column_and_headers_not_recognised(
    org: Engine, tmp_path: Path
) -> None:
    # the canonical name beats a built-in one, which is then left as it is
    both = write(tmp_path / "both.csv", "id,编号,name,parent_id,kind\nBJ,x,北京,SH,city\n")
    result = import_file(org, "org_units", both)
    assert result.notes == [f"{both}:1: 编号: not a column of org_units; ignored"]
    # two built-in names for one column: which one is meant is not for us to guess
    two = write(tmp_path / "two.csv", f"{CUSTOMERS.replace('owner_id', '负责人')},销售\n")
    assert rejected(org, "customers", two) == [
        f"{two}:1: 负责人, 销售: all would be the column owner_id: keep one, or map the others "
        "to other columns with columns: in the import mapping"
    ]
    # a header nobody knows: the headers found and the columns expected
    unknown = write(tmp_path / "unknown.csv", "客户代码,客户名称,负责人\nC1,甲,R1\n")
    lines = rejected(org, "customers", unknown)
    assert lines[0] == (
        f"{unknown}:1: id: missing column: name a header id, 编号, 客户编号, 客户ID or 客户编码, "
        "or map yours to id with columns: in the import mapping (--map FILE.yaml)"
    )
    assert lines[-1] == (
        f"{unknown}:1: the header has 客户代码, 客户名称, 负责人; customers takes id, name, "
        "owner_id, org_unit_id, industry, strategic, status, created_on"
    )
    assert len(lines) == 7  # id and the five other columns not there, then the summary


def test_the_built_in_names_name_columns_and_values_of_their_kind() -> None:
    for kind, columns in HEADERS.items():
        known = {c.name for c in KINDS[kind].columns}
        assert set(columns) <= known, kind
    for kind, table in WORDS.items():
        for name, values in table.items():
            column = _column(kind, name)
            for value in values:
                converter(column, ZONE)(value)  # each word means a value its column takes
    # no word means two values; no header name two columns of one kind
    for kind, table in WORDS.items():
        for values in table.values():
            words = [w for names in values.values() for w in names]
            assert len(words) == len(set(words)), kind
    for kind, columns in HEADERS.items():
        names = [n.lower() for aliases in columns.values() for n in aliases]
        assert len(names) == len(set(names)), kind


def test_a_mapping_checks_entries_for_customers_custom_columns(tmp_path: Path) -> None:
    doc = Document("m.yaml", {"e": {"columns": {"门店数": "outlets"}}}, {}, "")
    assert check_entry(doc, ("e",), "customers", {"outlets": "number"}) == []
    assert [p.message for p in check_entry(doc, ("e",), "customers", {})] == [
        "'outlets' is not a column of customers: its columns are id, name, owner_id, "
        "org_unit_id, industry, strategic, status, created_on (a custom column is declared in "
        "the playbook's fields: first)"
    ]


# ---- dry runs -------------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    return CliRunner().invoke(cli, ["import", *args])


def test_a_dry_run_counts_what_the_import_would_do_and_changes_no_byte(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    units = write(
        tmp_path / "units.csv",
        "id,name,parent_id,kind\nHQ,总部,,company\nEC,华东,HQ,region\nSH,上海,EC,city\n"
        "BJ,北京,HQ,city\n",
    )
    assert _cli("org_units", str(units), "--db", url).exit_code == 0
    file = tmp_path / "x.db"
    with sqlite3.connect(file) as conn:  # everything in the file itself, nothing in the WAL
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = file.read_bytes()

    changed = write(
        tmp_path / "changed.csv",
        "编号,名称,上级,类型\nHQ,总部,,公司\nEC,华东大区,HQ,大区\nGZ,广州,HQ,城市\n",
    )
    result = _cli("org_units", str(changed), "--db", url, "--dry-run")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "org_units: 3 rows: 1 new, 1 updated, 1 unchanged, 0 deleted (2 with --full) "
        "(dry run: nothing written)\n"
    )
    result = _cli("org_units", str(changed), "--db", url, "--dry-run", "--full")
    assert result.stdout == (
        "org_units: 3 rows: 1 new, 1 updated, 1 unchanged, 2 deleted (dry run: nothing written)\n"
    )
    bad = write(tmp_path / "bad.csv", "id,name,parent_id,kind\nGZ,广州,XX,城市\nSZ,,HQ,village\n")
    result = _cli("org_units", str(bad), "--db", url, "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{bad}:2: parent_id: unknown org unit 'XX'",
        f"{bad}:3: name: a value is required",
        f"{bad}:3: kind: 'village' is not one of company, region, city, team (map other words "
        "to them with values: in the import mapping)",
    ]
    assert file.read_bytes() == before


def test_a_dry_run_creates_no_database_and_checks_as_against_an_empty_one(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    units = write(
        tmp_path / "units.csv", "id,name,parent_id,kind\nHQ,总部,,company\nSH,上海,HQ,城市\n"
    )
    result = _cli("org_units", str(units), "--db", url, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        f"note: no database at {tmp_path / 'none.db'} yet: checked as an import into an empty "
        "one would be (a dry run creates none)\n"
    )
    assert result.stdout.startswith("org_units: 2 rows: 2 new, 0 updated, 0 unchanged, 0 deleted")
    reps = write(
        tmp_path / "reps.csv",
        "id,name,org_unit_id,manager_id,hired_on,exam_score,active\nR1,张伟,SH,,2022-03-01,85,是\n",
    )
    result = _cli("reps", str(reps), "--db", url, "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1:] == [f"{reps}:2: org_unit_id: unknown org unit 'SH'"]
    assert list(tmp_path.glob("none.db*")) == []


def test_a_dry_run_on_either_database_leaves_every_row(org: Engine, tmp_path: Path) -> None:
    seed_customers(org, tmp_path / "customers.csv")
    before = snapshot(org)
    path = write(
        tmp_path / "c.csv",
        f"{CUSTOMERS}\nC1,甲公司,R1,SH,制造,false,active,2023-01-01\nC2,乙,R2,SH,,是,,\n",
    )
    result = import_file(org, "customers", path, dry_run=True, full=True)
    assert (result.inserted, result.updated, result.unchanged, result.missing) == (1, 0, 1, 0)
    assert snapshot(org) == before
    moved = write(tmp_path / "d.csv", f"{CUSTOMERS}\nC1,甲公司,R2,SH,制造,否,active,2023/1/1\n")
    result = import_file(org, "customers", moved, dry_run=True)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 0)
    assert snapshot(org) == before
    # on the exact path (JSON Lines) alike
    lines = write(tmp_path / "c.jsonl", '{"id": "C1", "name": "甲公司", "owner_id": "R1", '
                  '"org_unit_id": "SH", "industry": "制造", "strategic": false, '
                  '"status": "active", "created_on": "2023-01-01"}\n')  # fmt: skip
    result = import_file(org, "customers", lines, dry_run=True)
    assert (result.inserted, result.updated, result.unchanged) == (0, 0, 1)
    assert snapshot(org) == before


def test_cli_import_takes_encoding_and_map(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    units = write_bytes(
        tmp_path / "units.csv", "代码,名称,上级,类型\nHQ,总部,,公司\n".encode("gb18030")
    )
    mapping = write(tmp_path / "m.yaml", "columns: {代码: id}\n")
    result = _cli("org_units", str(units), "--db", url, "--encoding", "gbk", "--map", str(mapping))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("org_units: 1 rows (1 new, 0 updated) in ")
    check = sqlite3.connect(tmp_path / "x.db")
    assert check.execute("select id, name, kind from org_units").fetchall() == [
        ("HQ", "总部", "company")
    ]
    check.close()
    result = _cli("org_units", str(units), "--db", url, "--map", str(tmp_path / "none.yaml"))
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: --map {tmp_path / 'none.yaml'}: no such file\n",
    )


def test_amounts_read_exactly_whatever_their_size() -> None:
    money = _column("orders", "amount")
    assert converter(money, ZONE)("92,233,720,368,547,758.07") == 9223372036854775807
    assert converter(money, ZONE)("0.01万") == 10000
    with pytest.raises(ValueError, match="more than 2 decimal places"):
        converter(money, ZONE)("0.0000001万")


def test_sql_leaves_every_word_of_the_file_to_python(engine: Engine) -> None:
    # a text column with words: the SQL may keep a cell as it is only when Python would too
    words = {**ImportMap.build("deals").words["stage"], "closing": "contract", "1": "lead"}
    spec = _column("deals", "stage")
    convert = converter(spec, ZONE, words)
    sqlite = engine.dialect.name == "sqlite"
    spell = fastload._Spelling() if sqlite else fastload._PostgresSpelling()
    plan = fastload._Plan(KINDS["deals"], ["stage"], spell, ["c0"], False, {"stage": words})
    test = plan.check(spec, "c0")
    assert test is not None
    sql = f"SELECT CASE WHEN {test} THEN 1 ELSE 0 END FROM (SELECT %(v)s AS c0) s"
    if sqlite:
        sql = sql.replace("%(v)s", "?")
    samples = ["商机", "合同", "线索", "lead", "Lead", "CLOSING", "Closing", "closing", "1", "11"]
    samples += ["商机 ", "~商机", "谈判", "", "ｃｌｏｓｉｎｇ", "ClosinG", "报价", "方案报价"]
    with engine.connect() as conn:
        for text in samples:
            (taken,) = conn.exec_driver_sql(sql, (text,) if sqlite else {"v": text}).one()
            if text and text == text.strip():  # SQL keeps exactly the cells Python keeps
                assert bool(taken) == (convert(text) == text), text
