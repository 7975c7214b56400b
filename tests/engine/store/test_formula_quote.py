"""A `'` before a formula-like text (`'=HYPERLINK(…)`) is how salesplay writes that text to
CSV so that no spreadsheet runs it; importing reads it back as the text without the quote, on
the exact path and on the bulk path alike, in canonical and custom columns."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine.store import fastload
from salesplay.engine.store.convert import guard_formula, unguard_formula
from salesplay.engine.store.importer import import_file
from salesplay.engine.store.partitions import bucket_of
from tests.conftest import rows
from tests.engine.store.test_importer import CUSTOMERS, _on_both_paths, attrs, day, write

TEXTS = [
    '=HYPERLINK("http://x")',
    "+86 138 0000 0000",
    "-",
    "@SUM(A1)",
    "\tTAB",
    "\rCR",
    "'=already quoted",  # quoted in the CRM itself: written ''=…, read back as it was
    "''-1",
    "'s-Hertogenbosch",  # a quote before anything else is the text's own
    "plain",
    "-0.50",  # a number written as text is no formula
]


@pytest.mark.parametrize("text", TEXTS)
def test_unguard_gives_back_what_guard_wrote(text: str) -> None:
    assert unguard_formula(guard_formula(text)) == text


def test_guard_quotes_formula_like_text_only() -> None:
    assert [guard_formula(t) for t in TEXTS] == [
        '\'=HYPERLINK("http://x")',
        "'+86 138 0000 0000",
        "'-",
        "'@SUM(A1)",
        "'\tTAB",
        "'\rCR",
        "''=already quoted",
        "'''-1",
        "'s-Hertogenbosch",
        "plain",
        "-0.50",
    ]


def test_a_quote_before_a_formula_is_read_as_the_text_on_both_paths(
    org: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        f"{CUSTOMERS},网址\n"
        "'=C1,'=HYPERLINK(\"http://x\"),R1,SH,'@制造,,,,'=HYPERLINK(\"http://y\")\n"
        "C2,'s-Hertogenbosch,R1,SH,'+x,,,,'+86 21 5555\n"
        'C3,"\'-1",R2,SH,-,,,,plain\n'
    )
    path = write(tmp_path / "customers.csv", text)
    assert not fastload.edges_clean(path)  # a quote first: every text cell is looked at
    _on_both_paths(org, "customers", path, monkeypatch)
    got = {
        r["id"]: (r["name"], r["industry"], attrs(r["attrs"]), r["bucket"])
        for r in rows(org, "select * from customers")
    }
    assert got == {
        "=C1": (
            '=HYPERLINK("http://x")',
            "@制造",
            {"网址": '=HYPERLINK("http://y")'},
            bucket_of("=C1"),
        ),
        "C2": ("'s-Hertogenbosch", "+x", {"网址": "+86 21 5555"}, bucket_of("C2")),
        "C3": ("-1", "-", {"网址": "plain"}, bucket_of("C3")),
    }


def test_a_text_that_itself_starts_with_a_quote_before_a_formula(
    org: Engine, tmp_path: Path
) -> None:
    # written ''=x by salesplay; on PostgreSQL the bulk path hands such a file to the exact
    # path (its check cannot tell ''=x from =x once converted), with the same result
    path = write(tmp_path / "c.csv", f"{CUSTOMERS},备注\nC1,''=x,R1,SH,,,,,'''-1\n")
    import_file(org, "customers", path)
    found = rows(org, "select name, attrs from customers")
    assert [(r["name"], attrs(r["attrs"])) for r in found] == [("'=x", {"备注": "''-1"})]


def test_an_activity_with_a_quoted_id_keeps_its_day_on_the_bulk_path(
    org: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "c.csv", f"{CUSTOMERS}\nC1,甲,R1,SH,,,,\n")
    _on_both_paths(org, "customers", tmp_path / "c.csv", monkeypatch)
    path = write(
        tmp_path / "a.csv",
        "id,customer_id,rep_id,occurred_at,channel,content,feedback,next_step\n"
        "'-A1,C1,R1,2024/5/6 9:30,visit,'=1+1,,\n",  # 2024/5/6: converted in Python
    )
    _on_both_paths(org, "activities", path, monkeypatch)
    found = rows(org, "select id, content, occurred_on from activities")
    assert [(r["id"], r["content"], day(r["occurred_on"])) for r in found] == [
        ("-A1", "=1+1", "2024-05-06")
    ]
