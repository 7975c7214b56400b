"""Opt-in, in-process workarounds for engine bugs the equality check found, so that the timings
can still be taken while the fix is pending (`bench/run.py --workaround int_div`).

Each workaround first probes whether the installed engine still has the bug and does nothing when
it has been fixed. None of them changes the SQL's cost, only its text.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def int_div_is_broken() -> bool:
    """engine.templates.int_div prints its operands without parentheses, so the fraction of an
    amount whose cents end in 0 is computed as `frac - whole * 100 / 10`: 123.50 renders as
    '123.11120' instead of '123.5' (on SQLite and PostgreSQL alike)."""
    from salesplay.engine.sql.compiler import Typed
    from salesplay.engine.sql.templates import value_text

    with sa.create_engine("sqlite://").connect() as conn:
        text = conn.execute(sa.select(value_text(Typed(sa.literal(12350), "amount")))).scalar()
    return text != "123.5"


def fix_int_div() -> bool:
    """Register a compiler for int_div that parenthesises its operands; True if it was needed."""
    if not int_div_is_broken():
        return False
    from sqlalchemy.ext.compiler import compiles

    from salesplay.engine.sql.templates import int_div

    @compiles(int_div)
    def _int_div(element: Any, compiler: Any, **kw: Any) -> str:
        a, b = list(element.clauses)
        return f"(({compiler.process(a, **kw)}) / ({compiler.process(b, **kw)}))"

    assert not int_div_is_broken()
    return True


WORKAROUNDS = {"int_div": fix_int_div}
