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
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.lang import periods
from salesplay.engine.present import labels, reports
from salesplay.engine.present.output import amount_text, number_text
from salesplay.engine.run.family import Panel, Playbook, Report
from salesplay.engine.sql.team import reps_under, units_under
from salesplay.engine.store.models import OrgUnit, Rep, table_of

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Sales dashboard",
        "no_data": "No data for this scope and period.",
        "scope": "Scope",
        "everyone": "everyone",
        "as_of": "As of",
        "period": "Period",
        "all": "All",
        "light.red": "red",
        "light.yellow": "yellow",
        "light.green": "green",
    },
    "zh": {
        "title": "销售看板",
        "no_data": "该范围和周期暂无数据。",
        "scope": "范围",
        "everyone": "全公司",
        "as_of": "截至",
        "period": "周期",
        "all": "合计",
        "light.red": "红",
        "light.yellow": "黄",
        "light.green": "绿",
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
    shown = [r for r in reports.available(playbook).values() if r.panels]
    data = {report.kind: reports.run(report.kind, asked).envelope() for report in shown}
    data = json.loads(json.dumps(data, default=_jsonable))  # exactly what JSON readers see
    language = playbook.language if playbook.language in WORDS else "en"
    page = Page(language, _names(engine, under))
    scope = page.names.get(under or "", under) if under else page.word("everyone")
    panels = sorted((panel.order, report.kind, n, report, panel)
                    for report in shown for n, panel in enumerate(report.panels))  # fmt: skip
    body = [
        page.panel(report, panel, data[kind]["rows"], kind if n == 0 else f"{kind}-{n}")
        for _, kind, n, report, panel in panels
    ]
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

    def __init__(self, language: str, names: dict[str, str]) -> None:
        self.language = language
        self.names = names

    def word(self, key: str) -> str:
        return WORDS[self.language].get(key, WORDS["en"].get(key, key))

    def panel(self, report: Report, panel: Panel, rows: list[dict[str, Any]], id_: str) -> str:
        """One box: its title, then its chart and table, or words saying there is no data."""
        title = panel.title.get(self.language) or next(iter(panel.title.values()), report.kind)
        lines = [(i, row) for i, row in enumerate(rows) if _kept(panel, row)]
        if panel.limit is not None:
            lines = lines[: panel.limit]
        parts = [f'<section id="{_e(id_)}"><h2>{_e(title)}</h2>']
        if not lines:
            parts.append(f'<p class="empty">{_e(self.word("no_data"))}</p>')
        else:
            words = labels.words(self.language, "", report.labels)
            parts.append(self.chart(panel, lines, words))
            parts.append(self.table(report.kind, panel, lines, words))
        parts.append("</section>")
        return "".join(parts)

    def fig(self, kind: str, i: int, key: str, value: Any) -> str:
        """One figure: its text, and where it sits in the embedded JSON with its value."""
        raw = _e(json.dumps(value, ensure_ascii=False, sort_keys=True))
        text = self.word(f"light.{value}") if key == "light" else format_value(key, value)
        return f'<span data-fig="{_e(kind)}/{i}/{_e(key)}" data-value="{raw}">{_e(text)}</span>'

    def label(self, panel: Panel, row: dict[str, Any]) -> str:
        value = row.get(panel.label)
        if value is None:
            return self.word("all")
        return self.names.get(str(value), str(value)) if panel.names else str(value)

    def table(
        self, kind: str, panel: Panel, lines: list[tuple[int, dict[str, Any]]], words: Any
    ) -> str:
        head = "".join(f"<th>{_e(words.get(k, k))}</th>" for k in (panel.label, *panel.keys))
        body = []
        for i, row in lines:
            dot = ""
            if panel.light:
                colour = COLORS.get(row.get(panel.light), COLORS[None])
                dot = f'<span class="dot" style="background:{colour}"></span>'
            cells = "".join(f"<td>{self.fig(kind, i, k, row.get(k))}</td>" for k in panel.keys)
            name = _e(self.label(panel, row))
            body.append(f'<tr><td class="name">{dot}{name}</td>{cells}</tr>')
        return f'<div class="scroll"><table><tr>{head}</tr>{"".join(body)}</table></div>'

    def chart(self, panel: Panel, lines: list[tuple[int, dict[str, Any]]], words: Any) -> str:
        if panel.chart == "bars":
            drawn = [(i, r) for i, r in lines if r.get(panel.label) is not None]
            return bars(
                [(self.label(panel, r), _number(r.get(panel.value)), BAR) for _, r in drawn]
            )
        if panel.chart == "totals":
            return bars(
                [
                    (words.get(key, key), sum(_number(r.get(key)) for _, r in lines), _colour(key))
                    for key in panel.totals
                ]
            )
        if panel.chart == "columns":
            return columns([(self.label(panel, r), _number(r.get(panel.value))) for _, r in lines])
        return ""


def _kept(panel: Panel, row: dict[str, Any]) -> bool:
    if panel.where is not None and row.get(panel.where[0]) != panel.where[1]:
        return False
    return not panel.flag or bool(row.get(panel.flag))


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _colour(key: str) -> str:
    return next((c for level, c in COLORS.items() if level and key.endswith(level)), BAR)


def bars(items: list[tuple[str, float, str]]) -> str:
    """A horizontal bar chart in inline SVG: (label, value, colour) per bar, both as text."""
    top = max((v for _, v, _ in items), default=0) or 1
    row_h, label_w, width = 26, 120, 360
    out = [f'<svg viewBox="0 0 {label_w + width + 70} {row_h * len(items) + 4}" role="img">']
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


def columns(items: list[tuple[str, float]]) -> str:
    """A trend as columns in inline SVG, each with its value above and its label below."""
    top = max((v for _, v in items), default=0) or 1
    step, height = 64, 140
    out = [f'<svg viewBox="0 0 {step * len(items) + 8} {height + 40}" role="img">']
    for n, (label, value) in enumerate(items):
        h, x = height * value / top, n * step + 8
        out.append(
            f'<rect x="{x}" y="{height - h + 16:.1f}" width="{step - 20}" height="{h:.1f}" '
            f'fill="{BAR}" rx="2"></rect>'
            f'<text x="{x}" y="{height - h + 12:.1f}" font-size="12">'
            f"{_e(format_value('', value))}</text>"
            f'<text x="{x}" y="{height + 32}" font-size="11">{_e(label[-3:])}</text>'
        )
    out.append("</svg>")
    return "".join(out)


SHARES = reports.SHARES
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
