"""Tables for people and JSON/CSV for scripts, from rows written by hand: words in the chosen
language, times in the playbook's zone, amounts with separators and the currency, lines cut to
the terminal, a count line. Every expectation below was worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from salesplay.engine.present import labels, output
from salesplay.engine.present.output import Money, View, render, width

SHANGHAI = ZoneInfo("Asia/Shanghai")
TITLE = "跟进 华鑫机械（A 级客户，应于 2024-06-20 前）并确认下季度的采购计划与付款安排"

TASK = {
    "id": 7,
    "rule": "follow_up",
    "subject_id": "C1 华鑫机械",
    "assignee_id": "R1 张三",
    "due": date(2024, 6, 20),
    "title": TITLE,
    "status": "open",
}
COLUMNS = list(TASK)


def zh(width: int | None = None) -> View:
    return View(labels.words("zh", "tasks"), width, SHANGHAI, "CNY")


def test_a_table_under_the_default_view_is_english_and_whole() -> None:
    row = {**TASK, "title": "跟进 华鑫机械"}
    assert render([row], "table", COLUMNS).splitlines() == [
        "id  rule       subject      assignee  due         title          status",
        "--  ---------  -----------  --------  ----------  -------------  ------",
        "7   follow_up  C1 华鑫机械  R1 张三   2024-06-20  跟进 华鑫机械  open",
        "1 row",
    ]


def test_chinese_words_and_the_count_line() -> None:
    lines = render([TASK, {**TASK, "id": 8, "status": "done"}], "table", COLUMNS, zh()).split("\n")
    assert lines[0].split() == ["编号", "规则", "对象", "负责人", "截止日期", "任务", "状态"]
    assert lines[2].endswith("待办") and lines[3].endswith("已完成")
    assert lines[-1] == "2 条任务"
    english = View(labels.words("en", "tasks"))
    assert render([TASK], "table", COLUMNS, english).splitlines()[-1] == "1 task"
    assert render([TASK] * 3, "table", COLUMNS, english).splitlines()[-1] == "3 tasks"


def test_an_empty_listing_says_so_in_its_language() -> None:
    assert render([], "table", COLUMNS) == "(none)"
    assert render([], "table", COLUMNS, zh()) == "（无）"


def test_a_line_is_cut_to_the_terminal_width_at_the_title() -> None:
    """At 80 columns: 编号 4 + 规则 9 + 对象 11 + 负责人 7 + 截止日期 10 + 状态 4 = 45 and six
    gaps of 2 leave 80 - 57 = 23 columns for the title. 跟进 华鑫机械（A 级客 takes 21; 户 would
    make 23 and leave no room for the …"""
    lines = render([TASK], "table", COLUMNS, zh(80)).splitlines()
    assert [width(line) for line in lines] == [80, 80, 80, 8]  # 状态 fills its 4 columns
    assert lines[2] == (
        "7     follow_up  C1 华鑫机械  R1 张三  2024-06-20  跟进 华鑫机械（A 级客…   待办"
    )
    assert lines[3] == "1 条任务"


def test_without_a_width_nothing_is_cut() -> None:
    assert TITLE in render([TASK], "table", COLUMNS, zh(None))


def test_cutting_counts_wide_characters_as_two_columns() -> None:
    assert output.truncate("华鑫机械有限公司", 7) == "华鑫机…"  # 6 columns, then …
    assert output.truncate("华鑫机械有限公司", 8) == "华鑫机…"  # a fourth would need 9
    assert output.truncate("abc", 3) == "abc"
    assert output.truncate("abcd", 3) == "ab…"


def test_numbers_amounts_and_times_keep_their_digits_while_texts_are_cut() -> None:
    rows = [{"owner": "R1 张三 华东大区上海城市经理", "amount": Money("1296000"), "note": "x" * 40}]
    lines = render(rows, "table", ["owner", "amount", "note"], View(width=40)).splitlines()
    assert max(width(line) for line in lines) <= 40
    assert "1,296,000.00" in lines[2]
    assert lines[2].rstrip().endswith("…")


def test_an_impossible_width_still_fits_every_line() -> None:
    lines = render([TASK], "table", COLUMNS, zh(20)).splitlines()
    assert max(width(line) for line in lines) <= 20


def test_amounts_show_two_decimals_separators_and_the_currency() -> None:
    assert output.amount_text(Money("1296000")) == "1,296,000.00"
    assert output.amount_text(Money("1296000"), "CNY") == "¥1,296,000.00"
    assert output.amount_text(Money("-5.5"), "USD") == "-$5.50"
    assert output.amount_text(Money("12"), "HKD") == "HKD 12.00"
    assert output.cell_text(Money("40800"), view=zh()) == "¥40,800.00"


def test_times_are_shown_in_the_zone_and_kept_in_utc_for_scripts() -> None:
    stored = datetime(2024, 6, 14, 23, 30, 5)  # naive: the engine stores UTC
    rows = [{"id": 1, "started_at": stored, "ended": datetime(2024, 6, 15, 1, 0, tzinfo=UTC)}]
    table = render(rows, "table", ["id", "started_at", "ended"], zh())
    assert "2024-06-15 07:30:05" in table and "2024-06-15 09:00:00" in table
    assert json.loads(render(rows, "json", ["id", "started_at", "ended"])) == [
        {"id": 1, "started_at": "2024-06-14T23:30:05", "ended": "2024-06-15T01:00:00+00:00"}
    ]


def test_json_and_csv_are_the_scripting_contract() -> None:
    row = {"id": 7, "total": Money("40800"), "rate": Decimal("0.05"), "pooled": True}
    assert json.loads(render([row], "json", list(row))) == [
        {"id": 7, "total": 40800, "rate": 0.05, "pooled": True}
    ]
    assert render([row], "csv", list(row)) == "id,total,rate,pooled\n7,40800,0.05,True"


def test_yes_no_levels_and_count_maps_in_words() -> None:
    view = View(labels.words("zh", "alerts"))
    assert output.cell_text(True, "pooled", view) == "是"
    assert output.cell_text(False, "pooled") == "no"
    assert output.cell_text("red", "level", view) == "红"
    assert output.cell_text("open", "status", view) == "未处理"  # an alert's, not a task's 待办
    assert output.cell_text("unheard-of", "status", view) == "unheard-of"
    assert output.cell_text({"tasks": 3, "alerts": 1}) == "tasks 3, alerts 1"


def test_a_family_brings_its_own_words_over_the_shared_ones() -> None:
    extra = {"zh": {"status.closed": "已结算", "count.many": "{n} 条明细"}}
    words = labels.words("zh", "payouts", extra)
    assert (words["status.closed"], words["count.many"], words["level.red"]) == (
        "已结算",
        "{n} 条明细",
        "红",
    )


@pytest.mark.parametrize("language", labels.LANGUAGES)
def test_every_language_has_the_shared_words(language: str) -> None:
    assert {"yes", "no", "none", "count.many"} <= set(labels.SHARED[language])
    for listing in labels.LISTINGS.values():
        assert "count.many" in listing[language]


def test_the_terminal_width_is_columns_unless_wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    assert output.terminal_width() == 80
    assert output.terminal_width(wide=True) is None
    monkeypatch.delenv("COLUMNS")

    class Pipe:
        def isatty(self) -> bool:
            return False

    assert output.terminal_width(stream=Pipe()) is None  # type: ignore[arg-type]
