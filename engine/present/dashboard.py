"""`salesplay dashboard`: one self-contained HTML page of the reports, for a phone or a desk.

Nothing on the page asks the network for anything: styles are inline, charts are inline SVG,
text uses the fonts the device has (PingFang, Noto Sans CJK, YaHei …). Every figure shown
carries `data-fig="kind/row/key"` and `data-value` (its JSON value), and the page embeds the
reports' JSON (`<script type="application/json" id="salesplay-data">`), so anyone can check
that the page and `salesplay report KIND --format json` agree. Names are user data: every
text is escaped.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.lang import periods
from salesplay.engine.present import labels, reports
from salesplay.engine.present.output import amount_text, number_text
from salesplay.engine.run.family import Playbook
from salesplay.engine.sql.team import reps_under, units_under
from salesplay.engine.store.models import OrgUnit, Rep, table_of

# The sections in the order a manager reads them, each from one report.
SECTIONS = ("goals", "funnel", "grades", "visits", "warnings", "follow-up", "payouts")

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Sales dashboard",
        "goals": "Goals",
        "funnel": "Funnel",
        "grades": "Customer grades",
        "visits": "Visits per week",
        "warnings": "Open warnings",
        "noisiest": "Noisiest rules",
        "follow-up": "Follow-up compliance",
        "payouts": "Payouts this period",
        "no_data": "No data for this scope and period.",
        "scope": "Scope",
        "everyone": "everyone",
        "as_of": "As of",
        "period": "Period",
        "owner": "Owner",
        "metric": "Metric",
        "target": "Target",
        "current": "Current",
        "completion": "Completion",
        "light": "Light",
        "forecast": "Forecast",
        "level.red": "red",
        "level.yellow": "yellow",
        "level.green": "green",
        "total": "All stages",
        "over": "over budget",
    },
    "zh": {
        "title": "销售看板",
        "goals": "目标",
        "funnel": "销售漏斗",
        "grades": "客户等级",
        "visits": "每周拜访",
        "warnings": "未处理预警",
        "noisiest": "最吵的规则",
        "follow-up": "跟进合规",
        "payouts": "本期提成",
        "no_data": "该范围和周期暂无数据。",
        "scope": "范围",
        "everyone": "全公司",
        "as_of": "截至",
        "period": "周期",
        "owner": "负责人",
        "metric": "指标",
        "target": "目标",
        "current": "当前值",
        "completion": "完成率",
        "light": "灯",
        "forecast": "预测",
        "level.red": "红",
        "level.yellow": "黄",
        "level.green": "绿",
        "total": "全部阶段",
        "over": "超预算",
    },
}

COLORS = {"red": "#d93025", "yellow": "#f2a600", "green": "#188038", None: "#9aa0a6"}
BAR = "#1a73e8"

STYLE = """
*{box-sizing:border-box}
body{margin:0;font-family:-apple-system,"PingFang SC","Hiragino Sans GB","Noto Sans CJK SC",
"Noto Sans SC","Microsoft YaHei","Source Han Sans SC",sans-serif;color:#202124;background:#f6f7f9;
font-size:15px;line-height:1.45}
header{padding:14px 16px;background:#fff;border-bottom:1px solid #e0e0e0}
h1{font-size:20px;margin:0 0 4px}
header p{margin:0;color:#5f6368;font-size:13px}
main{display:grid;grid-template-columns:1fr;gap:12px;padding:12px;max-width:1280px;margin:0 auto}
@media (min-width:900px){main{grid-template-columns:1fr 1fr}#goals{grid-column:1 / -1}}
section{background:#fff;border:1px solid #e0e0e0;border-radius:8px;padding:12px;min-width:0}
h2{font-size:17px;margin:0 0 8px}
h3{font-size:15px;margin:12px 0 6px}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 6px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
td.name{text-align:left;white-space:normal;min-width:5em}
svg{display:block;width:100%;height:auto;max-width:640px}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px}
.empty{color:#5f6368;font-style:italic;margin:8px 0}
.flag{color:#d93025;font-weight:600}
"""


def build(
    engine: Engine,
    playbook: Playbook,
    as_of: date,
    under: str | None = None,
    period: str | None = None,
) -> str:
    """The page for an org unit's subtree (None: everyone) as of a day; bad input raises
    SalesplayError before anything is computed."""
    asked = reports.query(engine, playbook, as_of, period, under)
    known = reports.available(playbook)
    data = {kind: reports.run(kind, asked).envelope() for kind in SECTIONS if kind in known}
    data = json.loads(json.dumps(data, default=_jsonable))  # exactly what JSON readers see
    language = playbook.language if playbook.language in WORDS else "en"
    page = Page(language, known, _names(engine, under))
    scope = page.names.get(under or "", under) if under else page.word("everyone")
    body = [page.section(kind, data[kind]["rows"]) if kind in data else "" for kind in SECTIONS]
    title = f"{page.word('title')} · {scope}"
    period_text = periods.label(*asked.period)
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f'<html lang="{"zh-CN" if language == "zh" else "en"}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body>",
            f"<header><h1>{_e(title)}</h1><p>{_e(page.word('as_of'))} {as_of.isoformat()} · "
            f"{_e(page.word('period'))} {_e(period_text)} · {_e(page.word('scope'))} "
            f"{_e(scope)}</p></header>",
            "<main>",
            *body,
            "</main>",
            '<script type="application/json" id="salesplay-data">'
            + _script_json(data)
            + "</script>",
            "</body>",
            "</html>",
        ]
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON: {value!r}")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _script_json(data: Any) -> str:
    """JSON safe inside <script>: no `</script>` or `<!--` can end or bend the element."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _names(engine: Engine, under: str | None) -> dict[str, str]:
    """Names of the reps and org units in scope (and only those): ids on the page show them."""
    r, o = table_of(Rep), table_of(OrgUnit)
    reps_q = sa.select(r.c.id, r.c.name)
    units_q = sa.select(o.c.id, o.c.name)
    if under is not None:
        reps_q = reps_q.where(r.c.id.in_(reps_under(under)))
        tree = units_under(under)
        units_q = units_q.where(o.c.id.in_(sa.select(tree.c.unit)))
    with engine.connect() as conn:
        found = {str(k): str(v) for k, v in conn.execute(units_q).all()}
        found.update({str(k): str(v) for k, v in conn.execute(reps_q).all()})
    return found


class Page:
    """The words, formats and charts of one page."""

    def __init__(self, language: str, known: dict[str, Any], names: dict[str, str]) -> None:
        self.language = language
        self.known = known
        self.names = names

    def word(self, key: str) -> str:
        return WORDS[self.language].get(key, WORDS["en"].get(key, key))

    def header(self, kind: str, key: str) -> str:
        extra = self.known[kind].labels if kind in self.known else {}
        found = labels.words(self.language, "", extra)
        return found.get(key) or self.word(key)

    def section(self, kind: str, rows: list[dict[str, Any]]) -> str:
        parts = [f'<section id="{_e(kind)}"><h2>{_e(self.word(kind))}</h2>']
        if not rows:
            parts.append(f'<p class="empty">{_e(self.word("no_data"))}</p>')
        else:
            parts.append(getattr(self, "_" + kind.replace("-", "_"))(kind, rows))
        parts.append("</section>")
        return "".join(parts)

    # ---- one figure, and a table of them ----

    def fig(self, kind: str, i: int, key: str, value: Any, shown: str | None = None) -> str:
        text = self.format(key, value) if shown is None else shown
        raw = _e(json.dumps(value, ensure_ascii=False, sort_keys=True))
        return f'<span data-fig="{_e(kind)}/{i}/{_e(key)}" data-value="{raw}">{_e(text)}</span>'

    def format(self, key: str, value: Any) -> str:
        if key == "light" and isinstance(value, str):
            return self.word(f"level.{value}")
        return format_value(key, value)

    def name(self, ident: Any) -> str:
        if ident is None:
            return ""
        name = self.names.get(str(ident))
        return f"{name}" if name else str(ident)

    def table(
        self,
        kind: str,
        rows: list[dict[str, Any]],
        keys: list[str],
        first: Callable[[int, dict[str, Any]], str] | None = None,
        first_header: str = "",
    ) -> str:
        head = "".join(f"<th>{_e(self.header(kind, key))}</th>" for key in keys)
        if first is not None:
            head = f"<th>{_e(first_header)}</th>" + head
        body = []
        for i, row in enumerate(rows):
            cells = "".join(f"<td>{self.fig(kind, i, key, row.get(key))}</td>" for key in keys)
            if first is not None:
                cells = f'<td class="name">{first(i, row)}</td>' + cells
            body.append(f"<tr>{cells}</tr>")
        return f'<div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>'

    def bars(self, items: list[tuple[str, float, str]]) -> str:
        """A horizontal bar chart: (label, value, colour) per bar, label and value as text."""
        top = max((v for _, v, _ in items), default=0) or 1
        row_h, label_w, width = 26, 120, 360
        height = row_h * len(items) + 4
        out = [f'<svg viewBox="0 0 {label_w + width + 70} {height}" role="img">']
        for n, (label, value, colour) in enumerate(items):
            y = n * row_h + 4
            w = max(width * value / top, 1 if value else 0)
            out.append(
                f'<text x="0" y="{y + 15}" font-size="13">{_e(label)}</text>'
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 8}" '
                f'fill="{colour}" rx="2"></rect>'
                f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="13">'
                f"{_e(format_value('', value))}</text>"
            )
        out.append("</svg>")
        return "".join(out)

    # ---- the sections ----

    def _goals(self, kind: str, rows: list[dict[str, Any]]) -> str:
        def owner(i: int, row: dict[str, Any]) -> str:
            light = row.get("light")
            dot = f'<span class="dot" style="background:{COLORS.get(light, COLORS[None])}"></span>'
            return dot + _e(self.name(row.get("owner_id")))

        keys = ["metric", "target", "current", "completion", "light", "forecast"]
        return self.table(kind, rows, keys, owner, self.word("owner"))

    def _funnel(self, kind: str, rows: list[dict[str, Any]]) -> str:
        stages = [row for row in rows if row["stage"] is not None]
        chart = self.bars([(str(r["stage"]), float(r["open_deals"]), BAR) for r in stages])
        keys = ["open_deals", "open_amount", "avg_days_in_stage", "closed_deals", "win_rate"]
        keys.append("avg_cycle_days")

        def stage(i: int, row: dict[str, Any]) -> str:
            return _e(row["stage"] if row["stage"] is not None else self.word("total"))

        return chart + self.table(kind, rows, keys, stage, self.header(kind, "stage"))

    def _grades(self, kind: str, rows: list[dict[str, Any]]) -> str:
        chart = self.bars([(str(r["grade"]), float(r["customers"]), BAR) for r in rows])
        keys = ["customers", "share", "at_since", "moved_in", "moved_out", "to", "conversion"]
        return chart + self.table(
            kind, rows, keys, lambda i, r: _e(r["grade"]), self.header(kind, "grade")
        )

    def _visits(self, kind: str, rows: list[dict[str, Any]]) -> str:
        top = max((r["visits"] for r in rows), default=0) or 1
        step, height = 64, 140
        out = [f'<svg viewBox="0 0 {step * len(rows) + 8} {height + 40}" role="img">']
        for n, row in enumerate(rows):
            h = height * row["visits"] / top
            x = n * step + 8
            out.append(
                f'<rect x="{x}" y="{height - h + 16:.1f}" width="{step - 20}" height="{h:.1f}" '
                f'fill="{BAR}" rx="2"></rect>'
                f'<text x="{x}" y="{height - h + 12:.1f}" font-size="12">{row["visits"]}</text>'
                f'<text x="{x}" y="{height + 32}" font-size="11">{_e(row["week"][5:])}</text>'
            )
        out.append("</svg>")
        return "".join(out) + self.table(
            kind, rows, ["visits", "customers", "reps"], lambda i, r: _e(r["week"]),
            self.header(kind, "week"),
        )  # fmt: skip

    def _warnings(self, kind: str, rows: list[dict[str, Any]]) -> str:
        rules = [(i, r) for i, r in enumerate(rows) if r["part"] == "rule"]
        levels = [
            (self.word(f"level.{level}"), float(sum(r[f"open_{level}"] for _, r in rules)), c)
            for level, c in (("red", COLORS["red"]), ("yellow", COLORS["yellow"]))
        ]
        levels.append(
            (
                self.word("level.green"),
                float(sum(r["open_green"] for _, r in rules)),
                COLORS["green"],
            )
        )
        keys = ["open", "open_red", "open_yellow", "raised", "handled_share", "acted_share"]
        keys += ["median_open_days", "per_week", "over_budget"]
        noisy = sorted(rules, key=lambda ir: (-ir[1]["raised"], -ir[1]["open"]))[:5]
        head = "".join(f"<th>{_e(self.header(kind, k))}</th>" for k in keys)
        body = []
        for i, row in noisy:
            cells = "".join(f"<td>{self.fig(kind, i, k, row.get(k))}</td>" for k in keys)
            body.append(f'<tr><td class="name">{_e(row["rule"])}</td>{cells}</tr>')
        people = [(i, r) for i, r in enumerate(rows) if r["part"] == "recipient"]
        over = [
            f"<li>{_e(self.name(r['recipient_id']))}: "
            f"{self.fig(kind, i, 'per_week', r['per_week'])}"
            f' <span class="flag">{_e(self.word("over"))}</span></li>'
            for i, r in people
            if r["over_budget"]
        ]
        return (
            self.bars(levels)
            + f"<h3>{_e(self.word('noisiest'))}</h3>"
            + f'<div class="scroll"><table><tr><th>{_e(self.header(kind, "rule"))}</th>{head}'
            + f"</tr>{''.join(body)}</table></div>"
            + (f"<ul>{''.join(over)}</ul>" if over else "")
        )

    def _follow_up(self, kind: str, rows: list[dict[str, Any]]) -> str:
        keys = ["grade", "due", "on_time", "late", "open", "on_time_rate"]
        return self.table(
            kind, rows, keys, lambda i, r: _e(self.name(r["rep_id"])), self.header(kind, "rep_id")
        )

    def _payouts(self, kind: str, rows: list[dict[str, Any]]) -> str:
        keys = ["status", "total"]
        return self.table(
            kind, rows, keys, lambda i, r: _e(self.name(r["owner_id"])), self.word("owner")
        )


SHARES = frozenset(
    {"win_rate", "share", "conversion", "handled_share", "acted_share", "on_time_rate",
     "completion", "pace"}
)  # fmt: skip
AMOUNTS = frozenset({"open_amount", "total"})


def format_value(key: str, value: Any) -> str:
    """A figure as the page shows it: shares as percentages, amounts with separators, counts
    with separators, maps as `A 3, B 1`, nothing as —. The test re-formats the embedded JSON
    with this function and compares."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✔" if value else "·"
    if isinstance(value, dict):
        return ", ".join(f"{k} {format_value('', v)}" for k, v in value.items()) or "—"
    if isinstance(value, (int, float, Decimal)) and key in SHARES:
        return f"{float(value) * 100:.1f}%"
    if isinstance(value, (int, float, Decimal)) and key in AMOUNTS:
        return amount_text(value)
    if isinstance(value, (int, float, Decimal)):
        return number_text(value) or "—"
    return str(value)
