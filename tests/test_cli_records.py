"""`salesplay records KIND`: the imported records in their canonical import columns, filtered
with the playbook's own conditions, and the round trip: what `records KIND --format csv` (or
xlsx) writes imports into a fresh database as the very same records, on SQLite and PostgreSQL.

The files below are what a CRM might export: Chinese text, thousands separators, 是/否, Excel's
dates, a line break inside a value, an offset on a time, a target written 90%, custom customer
columns, and texts a spreadsheet would run as formulas."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from salesplay.cli import cli
from salesplay.engine.store.models import table_of
from salesplay.engine.store.records import KINDS
from tests.conftest import _PG_REASON, PG_URL, new_sqlite, rows

FILES = {
    "org_units": (
        "id,name,parent_id,kind,manager_id\n"
        "HQ,总部,,company,M0\n"
        'EC,"华东, 大区",HQ,region,\n'
        "SH,上海,EC,city,M1\n"
    ),
    "reps": (
        "id,name,org_unit_id,manager_id,hired_on,exam_score,active,left_on,email,mobile,im_id\n"
        "M0,总经理,HQ,,2015-01-01,95,true,,boss@example.com,+86 138 0000 0000,\n"
        "M1,经理,EC,M0,2018/1/1,90.5,是,,,,\n"
        "R1,张伟,SH,M1,2022-03-01,85,yes,2024-12-31,,,@zhangwei\n"
        "R2,李娜,SH,,2023-03-01,,0,,,,\n"
    ),
    "customers": (
        "id,name,owner_id,org_unit_id,industry,strategic,status,created_on,employees,网址\n"
        'C1,"=HYPERLINK(""http://x"")",R1,SH,制造,是,active,2023-01-05,150,\n'
        'C2,"杭州""云栖""科技",,SH,,false,,,,@x\n'
        "C3,-,R2,,零售,,潜在,2024/1/5,8,http://y\n"
    ),
    "orders": (
        "id,customer_id,rep_id,amount,ordered_on,collected_amount,product\n"
        'O1,C1,R1,"1,296,000",2024-06-10,1200000.50,A\n'
        "O2,C1,,0.1,2024-06-11,-0.05,\n"
        "O3,C3,R2,12.34,2024-05-01,,=B\n"
    ),
    "payments": "id,order_id,amount,paid_on\nP1,O1,600000.25,2024-06-20\n",
    "surveys": (
        "id,customer_id,surveyed_on,nps,satisfaction,complaint\n"
        "S1,C1,2024-06-01,9,84.5,否\n"
        "S2,C3,2024-06-02,,100,true\n"
    ),
    "deals": (
        "id,customer_id,rep_id,stage,amount,expected_close,stage_changed_on,status\n"
        'D1,C1,R1,proposal,"300,000",2024-09-30,2024-05-01,open\n'
        "D2,C3,,lead,,,,won\n"
    ),
    "activities": (
        "id,customer_id,rep_id,occurred_at,channel,content,feedback,next_step,contact_role\n"
        'A1,C1,R1,2024-05-06 09:30:00,visit,"拜访张总，介绍新品\n第二行",有兴趣,=月底报价,'
        "decision_maker\n"
        "A2,C1,,2024-05-07T01:30:00Z,wechat,,,,\n"  # 09:30 in Shanghai
        "A3,C3,R2,2024-05-10 10:00:00.250000,email,,,,\n"
    ),
    "targets": (
        "id,owner_type,owner_id,metric,period_start,period_end,value\n"
        'T1,rep,R1,sales,2024-06-01,2024-06-30,"1,200,000"\n'
        "T2,org_unit,SH,collection_rate,2024-04-01,2024-06-30,90%\n"
        "T3,rep,R2,satisfaction,2024-01-01,2024-12-31,80.5\n"
    ),
    "progress_notes": (
        "owner_type,owner_id,metric,period,reason,plan,id\n"
        "rep,R1,sales,2024-06,客户预算冻结,+ 加大拜访,\n"
        "org_unit,SH,collection_rate,2024-Q2,回款慢,,N2\n"
    ),
    "plan_tasks": "id,owner_id,title,due_on\nPT1,R1,=SUM(A1),2024-07-15\n",
}


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def databases(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[list[str]]:
    """Three fresh databases of one kind, as URLs: the CRM's, and two to import back into."""
    if request.param == "sqlite":
        urls = []
        for name in ("crm", "back", "sheet"):
            new_sqlite(sqlite_template, tmp_path / f"{name}.db").dispose()
            urls.append(f"sqlite:///{tmp_path / name}.db")
        yield urls
        return
    if _PG_REASON:
        pytest.skip(_PG_REASON)
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(3)]
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield [f"{PG_URL}?options=-csearch_path%3D{schema}" for schema in schemas]
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def import_all(url: str, folder: Path, suffix: str = "csv") -> None:
    for kind in KINDS:
        result = invoke("import", kind, str(folder / f"{kind}.{suffix}"), "--db", url, "--quiet")
        assert result.exit_code == 0, (kind, result.output)


def stored(url: str, kind: str) -> list[dict[str, Any]]:
    """Every stored column of a kind's rows; a customer's attrs decoded (key order aside)."""
    from salesplay.engine.store import db

    engine = db.connect(url)
    table = table_of(KINDS[kind].model).name
    found = rows(engine, f"SELECT * FROM {table} ORDER BY id")
    engine.dispose()
    for row in found:
        if isinstance(row.get("attrs"), str):
            row["attrs"] = json.loads(row["attrs"])
    return found


def test_every_kind_imports_back_unchanged_from_csv_and_xlsx(
    databases: list[str], tmp_path: Path
) -> None:
    crm, back, sheet = databases
    source, csv_out, xlsx_out = (tmp_path / d for d in ("source", "csv", "xlsx"))
    for folder in (source, csv_out, xlsx_out):
        folder.mkdir()
    for kind, text in FILES.items():
        (source / f"{kind}.csv").write_text(text, "utf-8")
    import_all(crm, source)
    for kind in KINDS:
        for fmt, folder in (("csv", csv_out), ("xlsx", xlsx_out)):
            out = folder / f"{kind}.{fmt}"
            result = invoke("records", kind, "--format", fmt, "--out", str(out), "--db", crm)
            assert result.exit_code == 0, result.output
    import_all(back, csv_out)
    import_all(sheet, xlsx_out, "xlsx")
    for kind in KINDS:
        assert stored(back, kind) == stored(crm, kind), kind
        assert stored(sheet, kind) == stored(crm, kind), kind
        listed = invoke("records", kind, "--format", "json", "--db", crm).stdout
        assert invoke("records", kind, "--format", "json", "--db", back).stdout == listed
    # the CSV holds exactly the canonical columns (customers: then their custom ones, by name)
    for kind in KINDS:
        header = (csv_out / f"{kind}.csv").read_text("utf-8-sig").splitlines()[0].split(",")
        custom = ["employees", "网址"] if kind == "customers" else []
        assert header == [c.name for c in KINDS[kind].columns] + custom


def test_records_show_the_import_columns_with_amounts_in_units(
    databases: list[str], tmp_path: Path
) -> None:
    crm = databases[0]
    for kind, text in FILES.items():
        (tmp_path / f"{kind}.csv").write_text(text, "utf-8")
    import_all(crm, tmp_path)

    def listed(kind: str, *args: str) -> list[dict[str, Any]]:
        result = invoke("records", kind, *args, "--format", "json", "--db", crm)
        assert result.exit_code == 0, result.output
        found: list[dict[str, Any]] = json.loads(result.stdout)
        return found

    for kind in KINDS:
        custom = ["employees", "网址"] if kind == "customers" else []
        assert list(listed(kind)[0]) == [c.name for c in KINDS[kind].columns] + custom
    assert listed("orders") == [
        {"id": "O1", "customer_id": "C1", "rep_id": "R1", "amount": 1296000,
         "ordered_on": "2024-06-10", "collected_amount": 1200000.5, "product": "A"},
        {"id": "O2", "customer_id": "C1", "rep_id": None, "amount": 0.1,
         "ordered_on": "2024-06-11", "collected_amount": -0.05, "product": None},
        {"id": "O3", "customer_id": "C3", "rep_id": "R2", "amount": 12.34,
         "ordered_on": "2024-05-01", "collected_amount": None, "product": "=B"},
    ]  # fmt: skip
    assert [t["value"] for t in listed("targets")] == [1200000, 0.9, 80.5]
    assert [a["occurred_at"] for a in listed("activities")] == [
        "2024-05-06 09:30:00",
        "2024-05-07 09:30:00",
        "2024-05-10 10:00:00.250000",
    ]
    assert listed("customers")[1] == {
        "id": "C2", "name": '杭州"云栖"科技', "owner_id": None, "org_unit_id": "SH",
        "industry": None, "strategic": False, "status": None, "created_on": None,
        "employees": None, "网址": "@x",
    }  # fmt: skip
    assert [n["id"] for n in listed("progress_notes")] == ["N2", "rep:R1:sales:2024-06"]


def ids(*args: str, url: str) -> list[str]:
    result = invoke("records", *args, "--format", "json", "--db", url)
    assert result.exit_code == 0, result.output
    return [r["id"] for r in json.loads(result.stdout)]


@pytest.fixture
def crm(tmp_path: Path, sqlite_template: Path) -> str:
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    new_sqlite(sqlite_template, tmp_path / "crm.db").dispose()
    for kind, text in FILES.items():
        (tmp_path / f"{kind}.csv").write_text(text, "utf-8")
    import_all(url, tmp_path)
    return url


def test_where_compiles_the_playbooks_conditions(crm: str, tmp_path: Path) -> None:
    where = "customer_id = 'C1' and ordered_on >= date('2024-06-01')"
    assert ids("orders", "--where", where, url=crm) == ["O1", "O2"]
    assert ids("orders", "--where", "ordered_on >= date('2024-06-11')", url=crm) == ["O2"]
    assert ids("orders", "--where", "ordered_on < '2024-06-10'", url=crm) == ["O3"]
    # amounts in units, exact: 0.1 is 10 cents
    assert ids("orders", "--where", "amount >= 12.34 and amount < 1万", url=crm) == ["O3"]
    assert ids("orders", "--where", "amount = 0.1", url=crm) == ["O2"]
    assert ids("orders", "--where", "collected_amount is null", url=crm) == ["O3"]
    # an activity's time compares by its day (A2 was 01:30 UTC: 09:30 on 05-07 in Shanghai)
    assert ids("activities", "--where", "occurred_at = date('2024-05-07')", url=crm) == ["A2"]
    assert ids("activities", "--where", "channel in ('visit', 'email')", url=crm) == ["A1", "A3"]
    assert ids("customers", "--where", "strategic and status = 'active'", url=crm) == ["C1"]
    assert ids("targets", "--where", "value = 90%", url=crm) == ["T2"]
    assert ids("reps", "--where", "hired_on < today - 5 years", url=crm) == ["M0", "M1"]
    assert ids("orders", "--limit", "2", url=crm) == ["O1", "O2"]
    # a custom field the playbook declares is a name too
    book = tmp_path / "company.yaml"
    book.write_text("extends: default\nfields:\n  employees: number\n", "utf-8")
    declared = ids("customers", "--where", "employees >= 100", "--playbook", str(book), url=crm)
    assert declared == ["C1"]


@pytest.mark.parametrize(
    ("kind", "where", "error"),
    [
        ("orders", "custmer_id = 'C1'", "unknown name 'custmer_id' (did you mean 'customer_id'?)"),
        ("orders", "amount >=", "incomplete: something is missing after '>=' at the end"),
        ("orders", "ordered_on >= '2024-13-01'", "'2024-13-01' is not a date: write it as "
         "YYYY-MM-DD, e.g. '2024-06-30'"),
        ("customers", "employees > 1", "unknown name 'employees' (use one of: id, name, "
         "owner_id, org_unit_id, industry, strategic, status, created_on); a custom column is "
         "a name once the playbook declares it under fields:"),
    ],
)  # fmt: skip
def test_a_bad_where_is_one_line(crm: str, kind: str, where: str, error: str) -> None:
    result = invoke("records", kind, "--where", where, "--db", crm)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: --where: {error}\n")


def test_deleted_records_are_left_out_unless_asked_for(crm: str, tmp_path: Path) -> None:
    only = tmp_path / "only_o1.csv"
    only.write_text(FILES["orders"].split("O2")[0], "utf-8")
    assert invoke("import", "orders", str(only), "--full", "--db", crm).exit_code == 0
    assert ids("orders", url=crm) == ["O1"]
    assert ids("orders", "--deleted", url=crm) == ["O2", "O3"]


def test_an_unknown_kind_and_the_records_table(crm: str, tmp_path: Path) -> None:
    bad = invoke("records", "order", "--db", crm)
    assert (bad.exit_code, bad.stderr) == (
        2,
        "error: KIND: unknown record kind 'order' (did you mean 'orders'?); one of "
        + ", ".join(KINDS)
        + "\n",
    )
    table = invoke("records", "orders", "--db", crm).stdout.splitlines()
    # the import columns as headers, amounts in the currency, the count in the language
    assert table[0].split() == [
        "id", "customer_id", "rep_id", "amount", "ordered_on", "collected_amount", "product",
    ]  # fmt: skip
    assert table[2].split() == [
        "O1", "C1", "R1", "¥1,296,000.00", "2024-06-10", "¥1,200,000.50", "A",
    ]  # fmt: skip
    assert table[-1] == "3 条记录"


def test_a_records_workbook_keeps_types_for_import(crm: str, tmp_path: Path) -> None:
    out = tmp_path / "orders.xlsx"
    assert invoke("records", "orders", "--format", "xlsx", "--out", str(out), "--db", crm)
    ws = openpyxl.load_workbook(out).worksheets[0]
    assert (ws.title, ws.freeze_panes) == ("orders", "A2")
    o2 = [(c.value, c.number_format) for c in ws[3]]
    assert o2[3:6] == [(0.1, "#,##0.00"), (o2[4][0], "yyyy-mm-dd"), (-0.05, "#,##0.00")]
    assert str(o2[4][0]) == "2024-06-11 00:00:00"
    o3 = ws[4]
    assert (o3[6].value, o3[6].data_type) == ("=B", "s")  # a text, never a formula
    activities = tmp_path / "activities.xlsx"
    invoke("records", "activities", "--format", "xlsx", "--out", str(activities), "--db", crm)
    a1 = openpyxl.load_workbook(activities).worksheets[0]["D2"]
    assert (str(a1.value), a1.number_format) == ("2024-05-06 09:30:00", "yyyy-mm-dd hh:mm:ss")
