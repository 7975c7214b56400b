"""What the structure of conditions alone tells, without any data: whether a condition can
ever hold, and whether one condition holding means another does.

    never_holds(parse("x > 10 and x < 5"))                              -> True
    implies(parse("revenue_6m >= 600000"), parse("revenue_6m >= 500000")) -> True

Used by `salesplay lint`: a grade shadowed by the grades before it, a warning that can never
fire. Conditions are read as the engine runs them, in three-valued logic: a comparison with an
empty value is undecided, and an undecided condition counts as not met. The reasoning is sound
and deliberately incomplete: it understands a name compared with constants (`=`, `!=`, `<` …,
`in`, `between`, `is null`), yes/no names, `and`, `or` and `not`; anything else (`x > y`,
dates, functions) is a fact it cannot see into, so it never claims more than it can prove.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from decimal import Decimal
from itertools import product
from typing import Any

from salesplay.engine.lang import expressions as ex

Value = Decimal | str | bool
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "=": "!=", "!=": "="}
_COMPARISONS = set(_FLIP)
# Beyond this many alternatives (an `or` of `and`s of `or`s …) a condition is not analysed:
# nothing is claimed about it.
_MAX_BRANCHES = 512


# ---- the values a term may take -------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    """The values a term may take for a condition to hold: an interval, minus some points, or
    a finite set (for text and yes/no, always a set or an exclusion), or only the empty
    value (`is null`). Any comparison excludes the empty value."""

    low: Value | None = None
    low_closed: bool = True
    high: Value | None = None
    high_closed: bool = True
    allowed: frozenset[Value] | None = None
    excluded: frozenset[Value] = frozenset()
    null: bool = False  # only the empty value

    def values(self) -> list[Any]:
        """Every value a term of this domain may take, when there are finitely many."""
        assert self.allowed is not None
        return [v for v in self.allowed if self._within(v) and v not in self.excluded]

    def _within(self, value: Any) -> bool:
        if self.low is not None and (
            value < self.low or (value == self.low and not self.low_closed)
        ):
            return False
        return not (
            self.high is not None
            and (value > self.high or (value == self.high and not self.high_closed))
        )

    @property
    def empty(self) -> bool:
        if self.null:
            return False
        if self.allowed is not None:
            return not self.values()
        if self.low is None or self.high is None:
            return False
        if self.low > self.high:  # type: ignore[operator]
            return True
        if self.low == self.high:
            return not (self.low_closed and self.high_closed) or self.low in self.excluded
        return False


class _Unknown(Exception):
    """Values of different kinds meet (a number and a text): nothing can be said."""


def _kind(value: Any) -> type:
    return bool if isinstance(value, bool) else type(value)


def _same_kind(*values: Any) -> None:
    kinds = {_kind(v) for v in values if v is not None}
    if len(kinds) > 1:
        raise _Unknown


def intersect(a: Domain, b: Domain) -> Domain | None:
    """Both at once; None when no value satisfies both."""
    if a.null or b.null:
        return a if a.null and b.null else None
    bounds = [x for d in (a, b) for x in (d.low, d.high)]
    sets = [v for d in (a, b) for v in (d.allowed or frozenset()) | d.excluded]
    _same_kind(*bounds, *sets)
    low, low_closed = a.low, a.low_closed
    if b.low is not None and (low is None or b.low > low or (b.low == low and not b.low_closed)):  # type: ignore[operator]
        low, low_closed = b.low, b.low_closed
    high, high_closed = a.high, a.high_closed
    if b.high is not None and (
        high is None or b.high < high or (b.high == high and not b.high_closed)  # type: ignore[operator]
    ):
        high, high_closed = b.high, b.high_closed
    allowed = a.allowed if b.allowed is None else b.allowed
    if a.allowed is not None and b.allowed is not None:
        allowed = a.allowed & b.allowed
    found = Domain(low, low_closed, high, high_closed, allowed, a.excluded | b.excluded)
    return None if found.empty else found


# ---- conditions as formulas over facts ------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """The term (a name, or any expression compared with constants) takes a value of domain."""

    term: ex.Node
    domain: Domain


@dataclass(frozen=True)
class All:
    parts: tuple[Formula, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Formula, ...]


@dataclass(frozen=True)
class Const:
    value: bool  # True also stands for a fact this module cannot see into


Formula = Fact | All | AnyOf | Const
TRUE, FALSE = Const(True), Const(False)
# Something this module cannot see into: it may or may not hold, so it constrains nothing, and
# neither does its failing. Told apart from TRUE by identity.
OPAQUE = Const(True)


def shape(node: ex.Node) -> ex.Node:
    """The node with every position zeroed: two spellings of one expression compare equal."""
    changes: dict[str, Any] = {"pos": 0}
    for item in fields(node):
        value = getattr(node, item.name)
        if isinstance(value, ex.Node):
            changes[item.name] = shape(value)
        elif isinstance(value, tuple):
            changes[item.name] = tuple(shape(v) if isinstance(v, ex.Node) else v for v in value)
    return replace(node, **changes)


def _constant(node: ex.Node) -> Value | None:
    """The constant a node stands for, folding arithmetic on numbers (`50万 * 2`)."""
    if isinstance(node, ex.Num):
        return node.value
    if isinstance(node, ex.Str | ex.Bool):
        return node.value
    if isinstance(node, ex.Unary) and node.op == "neg":
        inner = _constant(node.operand)
        return -inner if isinstance(inner, Decimal) else None
    if isinstance(node, ex.Binary) and node.op in "+-*/":
        left, right = _constant(node.left), _constant(node.right)
        if isinstance(left, Decimal) and isinstance(right, Decimal):
            if node.op == "/":
                return None if right == 0 else left / right
            return {"+": left + right, "-": left - right, "*": left * right}[node.op]
    return None


def _is_term(node: ex.Node) -> bool:
    return _constant(node) is None and not isinstance(node, ex.Null)


def _compare(term: ex.Node, op: str, value: Value) -> Formula:
    if isinstance(value, str | bool) and op not in ("=", "!="):
        return OPAQUE  # text order depends on the database's collation
    if op == "=":
        domain = Domain(allowed=frozenset({value}))
    elif op == "!=":
        domain = Domain(excluded=frozenset({value}))
    elif op in ("<", "<="):
        domain = Domain(high=value, high_closed=op == "<=")
    else:
        domain = Domain(low=value, low_closed=op == ">=")
    return Fact(shape(term), domain)


def _negated(node: ex.Node) -> ex.Node:
    """not node, pushed inwards as far as three-valued logic allows without changing meaning:
    not (x < 5) is x >= 5 (both undecided when x is empty), not (a and b) is not a or not b."""
    if isinstance(node, ex.Unary) and node.op == "not":
        return node.operand
    if isinstance(node, ex.Binary) and node.op in ("and", "or"):
        other = "or" if node.op == "and" else "and"
        return ex.Binary(node.pos, other, _negated(node.left), _negated(node.right))
    if isinstance(node, ex.Binary) and node.op in _NEGATE:
        return ex.Binary(node.pos, _NEGATE[node.op], node.left, node.right)
    if isinstance(node, ex.In):
        return replace(node, negated=not node.negated)
    if isinstance(node, ex.Between):
        return replace(node, negated=not node.negated)
    if isinstance(node, ex.IsNull):
        return replace(node, negated=not node.negated)
    if isinstance(node, ex.Bool):
        return ex.Bool(node.pos, not node.value)
    return ex.Unary(node.pos, "not", node)


def holds(node: ex.Node) -> Formula:
    """The facts under which the condition is met (true, not undecided)."""
    if isinstance(node, ex.Binary) and node.op in ("and", "or"):
        parts = (holds(node.left), holds(node.right))
        return All(parts) if node.op == "and" else AnyOf(parts)
    if isinstance(node, ex.Unary) and node.op == "not":
        if _opaque_not(node.operand):  # `not strategic`
            return Fact(shape(node.operand), Domain(allowed=frozenset({False})))
        return holds(_negated(node.operand))
    if isinstance(node, ex.Bool):
        return TRUE if node.value else FALSE
    if isinstance(node, ex.Name | ex.Call):  # a yes/no value standing alone: `strategic`
        return Fact(shape(node), Domain(allowed=frozenset({True})))
    if isinstance(node, ex.Binary) and node.op in _COMPARISONS:
        left, right = _constant(node.left), _constant(node.right)
        if right is not None and _is_term(node.left):
            return _compare(node.left, node.op, right)
        if left is not None and _is_term(node.right):
            return _compare(node.right, _FLIP[node.op], left)
        if left is not None and right is not None:
            return _decide(left, node.op, right)
        return OPAQUE
    if isinstance(node, ex.In) and _is_term(node.operand):
        items = [_constant(i) for i in node.items]
        if any(i is None for i in items):
            return OPAQUE
        values = frozenset(i for i in items if i is not None)
        domain = Domain(excluded=values) if node.negated else Domain(allowed=values)
        return Fact(shape(node.operand), domain)
    if isinstance(node, ex.Between) and _is_term(node.operand):
        low, high = _constant(node.low), _constant(node.high)
        if not isinstance(low, Decimal) or not isinstance(high, Decimal):
            return OPAQUE
        term = shape(node.operand)
        if node.negated:
            return AnyOf(
                (
                    Fact(term, Domain(high=low, high_closed=False)),
                    Fact(term, Domain(low=high, low_closed=False)),
                )
            )
        return Fact(term, Domain(low=low, high=high))
    if isinstance(node, ex.IsNull) and _is_term(node.operand):
        term = shape(node.operand)
        return Fact(term, Domain()) if node.negated else Fact(term, Domain(null=True))
    return OPAQUE


def _opaque_not(node: ex.Node) -> bool:
    """Whether `not node` must stay as it is: node is a yes/no value, not a comparison."""
    return isinstance(node, ex.Name | ex.Call)


def _decide(left: Value, op: str, right: Value) -> Formula:
    try:
        _same_kind(left, right)
        if op not in ("=", "!=") and not isinstance(left, Decimal):
            return OPAQUE
        result = {
            "=": left == right,
            "!=": left != right,
            "<": left < right,  # type: ignore[operator]
            "<=": left <= right,  # type: ignore[operator]
            ">": left > right,  # type: ignore[operator]
            ">=": left >= right,  # type: ignore[operator]
        }[op]
    except _Unknown:
        return OPAQUE
    return Const(result)


def fails(node: ex.Node) -> Formula:
    """The facts under which the condition is not met: false, or undecided because a value it
    compares is empty."""
    if isinstance(node, ex.Binary) and node.op in ("and", "or"):
        parts = (fails(node.left), fails(node.right))
        return AnyOf(parts) if node.op == "and" else All(parts)
    if isinstance(node, ex.Unary) and node.op == "not" and not _opaque_not(node.operand):
        return fails(_negated(node.operand))
    met = holds(node)
    if isinstance(met, Const):
        return OPAQUE if met is OPAQUE else Const(not met.value)
    if isinstance(met, Fact):
        if met.domain.null:  # `x is null` fails when x holds a value
            return Fact(met.term, Domain())
        empty = Fact(met.term, Domain(null=True))
        if met.domain == Domain():  # `x is not null`
            return empty
        return AnyOf((*_complement(met), empty))
    if isinstance(met, AnyOf):  # not between: fails when within, or empty
        term = met.parts[0].term  # type: ignore[union-attr]
        low = met.parts[0].domain.high  # type: ignore[union-attr]
        high = met.parts[1].domain.low  # type: ignore[union-attr]
        return AnyOf((Fact(term, Domain(low=low, high=high)), Fact(term, Domain(null=True))))
    return OPAQUE


def _complement(fact: Fact) -> tuple[Formula, ...]:
    """The values of the term (never the empty one) outside the fact's domain."""
    d, term = fact.domain, fact.term
    out: list[Formula] = []
    if d.allowed is not None:
        out.append(Fact(term, Domain(excluded=d.allowed)))
    out.extend(Fact(term, Domain(allowed=frozenset({v}))) for v in d.excluded)
    if d.low is not None:
        out.append(Fact(term, Domain(high=d.low, high_closed=not d.low_closed)))
    if d.high is not None:
        out.append(Fact(term, Domain(low=d.high, low_closed=not d.high_closed)))
    return tuple(out)


# ---- deciding -------------------------------------------------------------------------------


def _branches(formula: Formula) -> list[list[Fact]] | None:
    """The formula as alternatives of facts that must hold together (None: too many)."""
    if isinstance(formula, Const):
        return [[]] if formula.value else []
    if isinstance(formula, Fact):
        return [[formula]]
    parts = [_branches(p) for p in formula.parts]
    if any(p is None for p in parts):
        return None
    if isinstance(formula, AnyOf):
        out = [branch for p in parts for branch in p or []]
        return out if len(out) <= _MAX_BRANCHES else None
    combined = 1
    for p in parts:
        combined *= len(p or [])
        if combined > _MAX_BRANCHES:
            return None
    return [[fact for branch in choice for fact in branch] for choice in product(*parts)]  # type: ignore[arg-type]


def _possible(branch: list[Fact]) -> bool:
    domains: dict[ex.Node, Domain] = {}
    try:
        for fact in branch:
            if fact.domain.empty:
                return False
            if fact.term in domains:
                found = intersect(domains[fact.term], fact.domain)
                if found is None:
                    return False
                domains[fact.term] = found
            else:
                domains[fact.term] = fact.domain
    except _Unknown:
        return True
    return True


def impossible(formula: Formula) -> bool:
    """True when no values make every fact of some alternative hold together."""
    branches = _branches(formula)
    return branches is not None and not any(_possible(b) for b in branches)


def never_holds(node: ex.Node) -> bool:
    """True when the condition can be seen never to be met: `x > 10 and x < 5`."""
    return impossible(holds(node))


def implies(node: ex.Node, other: ex.Node) -> bool:
    """True when node being met can be seen to mean that other is met as well."""
    return impossible(All((holds(node), fails(other))))


def shadowed(node: ex.Node, before: list[ex.Node]) -> bool:
    """True when node can be seen never to be met while none of the conditions before it is:
    the first that holds wins, so node never gets its turn. For a default that has no
    condition of its own, pass `ex.Bool(0, True)` as node."""
    return impossible(All((holds(node), *(fails(b) for b in before))))


def literals(node: ex.Node) -> list[tuple[str, str, int]]:
    """Each (name, text, position) where a name is compared with quoted text: `channel =
    'visit'`, `channel in ('visit', 'vist')` — to check the text against the values the name
    can have."""
    found: list[tuple[str, str, int]] = []

    def walk(n: ex.Node) -> None:
        if isinstance(n, ex.Binary) and n.op in ("=", "!="):
            for name, text in ((n.left, n.right), (n.right, n.left)):
                if isinstance(name, ex.Name) and isinstance(text, ex.Str):
                    found.append((name.name, text.value, text.pos))
        if isinstance(n, ex.In) and isinstance(n.operand, ex.Name):
            found.extend((n.operand.name, i.value, i.pos) for i in n.items if isinstance(i, ex.Str))
        for child in ex.children(n):
            walk(child)

    walk(node)
    return found
