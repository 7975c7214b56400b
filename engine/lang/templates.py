"""Message templates as ops staff write them: '跟进 {customer.name}（{grade} 级客户）'.

Placeholders are names a rule knows, optionally with a format: {completion:%}. This module
only splits a template into text and placeholders; engine/sql/templates.py renders it in SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from salesplay.engine.errors import ExpressionError

_PLACEHOLDER = re.compile(r"\{([^{}:]+)(?::([^{}]*))?\}")
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
        fmt = (match.group(2) or "").strip()
        if fmt not in FORMATS:
            raise ExpressionError(
                f"unknown format '{{{match.group(1)}:{fmt}}}': use {{name}} "
                "or {name:%} for a percentage"
            )
        pieces.append(Piece(name=match.group(1).strip(), format=fmt))
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
