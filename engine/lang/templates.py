"""Message templates as ops staff write them: '跟进 {customer.name}（{grade} 级客户）'.

Placeholders are names a rule knows, optionally with a format: {completion:%}. Nothing else
is a placeholder: not Python's attribute access, indexes, positions, conversions or format
specs ({customer.__class__}, {x[0]}, {0}, {name!r}, {name:>10}), which are refused here, before
the rule's names are even looked at. This module only splits a template into text and
placeholders; engine/sql/templates.py renders it in SQL, where every value is a bound
parameter or a column, never text run as code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from salesplay.engine.errors import ExpressionError

_PLACEHOLDER = re.compile(r"\{([^{}:]*)(?::([^{}]*))?\}")
# A name, or names joined by dots (customer.name); no part starts with __ (no __class__).
_NAME = re.compile(r"(?!__)[^\W\d]\w*(?:\.(?!__)[^\W\d]\w*)*")
FORMATS = ("", "%")
# How many placeholders one title or message may hold: each is a level of SQL concatenation,
# and 2,000 overflowed Python's stack when the playbook ran.
MAX_PLACEHOLDERS = 50
# A placeholder written so that it prints as it stands: in full-width braces (what a Chinese
# keyboard types) or doubled (how a literal brace is written).
_LOOKALIKE = re.compile(
    r"(｛\s*[^\W\d][\w.]*\s*(?::[^｝]*)?｝|\{\{\s*[^\W\d][\w.]*\s*(?::[^{}]*)?\}\})"
)


@dataclass(frozen=True)
class Piece:
    text: str = ""
    name: str = ""
    format: str = ""


def parse_template(template: str) -> list[Piece]:
    """Split '{a} and {b:%}' into literal text and placeholders; '{{' is a literal brace."""
    pieces: list[Piece] = []
    pos = 0
    text = template.replace("{{", "\x00").replace("}}", "\x01")
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > pos:
            pieces.append(Piece(text=text[pos : match.start()]))
        name = match.group(1).strip()
        _check_name(name, match.group(0))
        fmt = (match.group(2) or "").strip()
        if fmt not in FORMATS:
            raise ExpressionError(
                f"unknown format '{{{match.group(1)}:{fmt}}}': use {{name}} "
                "or {name:%} for a percentage"
            )
        pieces.append(Piece(name=name, format=fmt))
        pos = match.end()
    if pos < len(text):
        pieces.append(Piece(text=text[pos:]))
    placeholders = sum(1 for piece in pieces if piece.name)
    if placeholders > MAX_PLACEHOLDERS:
        raise ExpressionError(
            f"{placeholders} placeholders in one text; at most {MAX_PLACEHOLDERS} are allowed"
        )
    for piece in pieces:
        if piece.text and ("{" in piece.text or "}" in piece.text):
            raise ExpressionError("unbalanced { or } in template (write {{ or }} for a brace)")
    return [
        Piece(p.text.replace("\x00", "{").replace("\x01", "}"), p.name, p.format) for p in pieces
    ]


def lookalikes(text: str) -> list[str]:
    """Placeholders that are not ones and print as written: `｛grade｝`, `{{grade}}`."""
    return _LOOKALIKE.findall(text)


def _check_name(name: str, placeholder: str) -> None:
    """A placeholder names what to show, and that is all it can do."""
    if _NAME.fullmatch(name):
        return
    if not name or re.match(r"\d+(\W|$)", name):
        why = "a placeholder names what to show, not a position"
    elif "!" in name:
        why = "conversions such as !r are not supported"
    elif "[" in name or "]" in name:
        why = "indexes are not supported"
    elif any(part.startswith("__") for part in name.split(".")):
        why = "names do not start with __"
    else:
        why = "a placeholder is a name, or names joined by dots"
    raise ExpressionError(
        f"placeholder '{placeholder}' is not allowed: {why}; write a name such as "
        "{customer.name}, or {completion:%} for a percentage"
    )
