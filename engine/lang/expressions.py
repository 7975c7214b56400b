"""The condition language: tokens -> syntax tree. No eval; names are checked when compiled.

    revenue_6m >= 500000 or pipeline >= 1000000 or strategic
    channel in ('visit', 'video') and occurred_on >= today - 30 days
    completion between 80% and 120%

Numbers are Decimal (`120%` is 1.2), `7 days` / `1 month` are durations, `today` is the as-of
date. ≥ ≤ ≠ × ÷ are accepted beside >= <= != * / for people who type them.

Nesting is bounded (MAX_NESTING): each bracket, each `not` and each negating `-` is one level.
A deeper condition is an ExpressionError, located like any other, never a RecursionError.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from decimal import Decimal

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang.dates import UNITS, check_length
from salesplay.engine.lang.values import (
    CHINESE_MULTIPLIERS,
    MOST_AMOUNT,
    MOST_DECIMALS,
    PERCENT_SIGNS,
    decimal_places,
)

DURATION_UNITS = UNITS  # one table of duration words, shared with dates.py
KEYWORDS = {"and", "or", "not", "in", "between", "is", "null", "true", "false", "today"}
_VALUES = {"null", "true", "false", "today"}
# How deeply a condition may nest. Every level becomes a level of SQL, and SQLite before 3.46
# parses SQL with a fixed stack of 100 entries: a function call nested 24 deep in a metric's
# `where` overflows it (`parser stack overflow`), a minus sign about 37 deep. 16 leaves room
# for the statement around the condition; Python's recursion and PostgreSQL are far from it.
MAX_NESTING = 16
# How many operators (and, or, comparisons, arithmetic) one condition or formula may hold: a
# chain of `or` is a chain of SQL as deep as it is long, and 2,000 terms overflowed Python's
# stack. The bundled playbooks' longest has 9.
MAX_OPERATORS = 100
_OPERATORS = {"and", "or", "+", "-", "*", "/", "=", "!=", "<", "<=", ">", ">=", "in", "between"}
# The largest number a condition may hold: the largest amount (values.MOST_AMOUNT) in units;
# a 41-digit threshold validated and then overflowed the database.
MOST_NUMBER = MOST_AMOUNT


@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Num(Node):
    value: Decimal
    # written with a percent sign (80% is 0.8): a plain 80 beside a share is refused, 80% is not
    percent: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Str(Node):
    value: str


@dataclass(frozen=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True)
class Null(Node):
    pass


@dataclass(frozen=True)
class Today(Node):
    pass


@dataclass(frozen=True)
class Duration(Node):
    count: int
    unit: str  # days / weeks / months / years


@dataclass(frozen=True)
class Name(Node):
    name: str  # may be dotted: customer.name


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Unary(Node):
    op: str  # not / neg
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # and or = != < <= > >= + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class In(Node):
    operand: Node
    items: tuple[Node, ...]
    negated: bool


@dataclass(frozen=True)
class Between(Node):
    operand: Node
    low: Node
    high: Node
    negated: bool


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node
    negated: bool


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(\d+(\.\d*)?|\.\d+)(\s*[%％])?)
  | (?P<string>'([^'\\]|\\.)*'|"([^"\\]|\\.)*"|‘[^’]*’|“[^”]*”)
  | (?P<op>>=|<=|!=|<>|==|≥|≤|≠|[-+*/×÷<>=(),（），])
  | (?P<name>[^\W\d][\w]*(\.[^\W\d][\w]*)*)
    """,
    re.VERBOSE,
)
_QUOTES = {"'": "'", '"': '"', "‘": "’", "“": "”"}
_OP_ALIASES = {
    "≥": ">=",
    "≤": "<=",
    "≠": "!=",
    "<>": "!=",
    "==": "=",
    "×": "*",
    "÷": "/",
    "（": "(",
    "）": ")",
    "，": ",",
}


@dataclass(frozen=True)
class Token:
    kind: str  # number string op name end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match and text[pos] in _QUOTES:
            shown = text[pos:].split()[0] if text[pos:].split() else text[pos]
            raise ExpressionError(
                f"quoted text {shown} has no closing quote ({_QUOTES[text[pos]]})", pos
            )
        if not match:
            raise ExpressionError(f"unexpected character {text[pos]!r}", pos)
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "op":
            value = _OP_ALIASES.get(value, value)
        if kind == "string":
            value = value[1:-1].replace("\\'", "'").replace('\\"', '"')
        if kind != "space":
            tokens.append(Token(kind, value, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


@dataclass
class _Level:
    """An open bracket while measuring: prefix nots and minuses still pending inside it, and
    whether a `between` awaits its `and`."""

    nots: int = 0
    minuses: int = 0
    between: bool = False


def nesting(tokens: list[Token]) -> int:
    """How deeply tokens nest, counted as the parser counts (each bracket, each prefix `not`
    and each negating `-` is a level) but without recursing, so that any depth can be told.

    A `-` holds until the value after it ends; a `not` until the `and`, `or`, `,` or closing
    bracket that ends its comparison.
    """
    open_: list[_Level] = [_Level()]
    deepest = 0
    for i, tok in enumerate(tokens):
        top = open_[-1]
        before = tokens[i - 1].text.lower() if i else ""
        after = tokens[i + 1].text.lower() if i + 1 < len(tokens) else ""
        word = tok.text.lower() if tok.kind == "name" else ""
        value = tok.kind in ("number", "string", "name") and word not in KEYWORDS - _VALUES
        if tok.kind == "op" and tok.text == "(":
            open_.append(_Level())
        elif tok.kind == "op" and tok.text == ")":
            if len(open_) > 1:
                open_.pop()
            open_[-1].minuses = 0  # the bracket was a value: the minuses before it end
        elif tok.kind == "op" and tok.text == ",":
            top.nots = top.minuses = 0
        elif tok.kind == "op" and tok.text == "-" and _negates(tokens[i - 1] if i else None):
            top.minuses += 1
        elif word == "not" and after not in ("in", "between") and before != "is":
            top.nots += 1
        elif word == "between":
            top.between = True
        elif word == "and" and top.between:
            top.between = False
            top.minuses = 0
        elif word in ("and", "or"):
            top.nots = top.minuses = 0
        elif value and not (tok.kind == "name" and after == "("):
            top.minuses = 0  # a value (not a function's name) ends the minuses before it
        level = len(open_) - 1 + sum(o.nots + o.minuses for o in open_)
        deepest = max(deepest, level)
    return deepest


def _negates(previous: Token | None) -> bool:
    """Whether a `-` after this token negates (rather than subtracts)."""
    if previous is None:
        return True
    if previous.kind == "op":
        return previous.text != ")"
    return previous.kind == "name" and previous.text.lower() in ("and", "or", "not", "between")


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        operators = [
            t
            for i, t in enumerate(self.tokens)
            if t.kind != "string"
            and t.text.lower() in _OPERATORS
            and not (t.text == "-" and _negates(self.tokens[i - 1] if i else None))
        ]  # a negating `-` is a level of nesting, counted (and refused) as one
        if len(operators) > MAX_OPERATORS:
            raise ExpressionError(
                f"{len(operators)} operators in one expression; at most {MAX_OPERATORS} are "
                "allowed: split it into metrics, or into several rules",
                operators[MAX_OPERATORS].pos,
            )

    def enter(self, pos: int) -> None:
        """One level deeper (a bracket, a `not`, a negating `-`); refused past MAX_NESTING."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            # The parser has got this deep, so the whole text is at least as deep.
            depth = max(nesting(self.tokens), self.depth)
            raise ExpressionError(
                f"nested {depth} levels deep; at most {MAX_NESTING} levels are allowed (each "
                "bracket, 'not' and negating '-' is one): write it more simply",
                pos,
            )

    def leave(self) -> None:
        self.depth -= 1

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def word(self, *words: str) -> bool:
        return self.tok.kind == "name" and self.tok.text.lower() in words

    def op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def expect_op(self, op: str) -> None:
        if not self.op(op):
            if self.tok.kind == "end":
                raise ExpressionError(f"a '{op}' is missing at the end", self.tok.pos)
            raise ExpressionError(f"expected '{op}' but found {self.describe()}", self.tok.pos)
        self.advance()

    def describe(self) -> str:
        return "the end" if self.tok.kind == "end" else repr(self.tok.text)

    def unexpected(self) -> ExpressionError:
        """The error for a token that cannot come here, with a hint where one is likely."""
        tok = self.tok
        before = self.tokens[self.i - 1] if self.i else None
        if tok.kind == "end":
            after = f" after '{before.text}'" if before else ""
            return ExpressionError(f"incomplete: something is missing{after} at the end", tok.pos)
        if tok.kind == "name":
            close = difflib.get_close_matches(
                tok.text.lower(), sorted(KEYWORDS - {"today"}), n=1, cutoff=0.6
            )
            known = tok.text.lower() in KEYWORDS
            if close and not known and before is not None and before.kind != "op":
                return ExpressionError(
                    f"unexpected '{tok.text}' (did you mean '{close[0]}'?)", tok.pos
                )
            if before is not None and before.kind == "number":
                return ExpressionError(
                    f"'{before.text} {tok.text}' is not a duration: write a "
                    "number and days, weeks, months or years, e.g. '2 weeks'",
                    before.pos,
                )
        return ExpressionError(f"unexpected {self.describe()}", tok.pos)

    def parse(self) -> Node:
        node = self.or_()
        if self.tok.kind != "end":
            raise self.unexpected()
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.word("or"):
            pos = self.advance().pos
            node = Binary(pos, "or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.word("and"):
            pos = self.advance().pos
            node = Binary(pos, "and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.word("not"):
            pos = self.advance().pos
            self.enter(pos)
            node = Unary(pos, "not", self.not_())
            self.leave()
            return node
        return self.comparison()

    def comparison(self) -> Node:
        node = self.additive()
        pos = self.tok.pos
        if self.op("=", "!=", "<", "<=", ">", ">="):
            op = self.advance().text
            return Binary(pos, op, node, self.additive())
        negated = False
        if self.word("not") and self.tokens[self.i + 1].text.lower() in ("in", "between"):
            self.advance()
            negated = True
        if self.word("in"):
            self.advance()
            bracket = self.tok.pos
            self.expect_op("(")
            self.enter(bracket)
            if self.op(")"):
                raise ExpressionError("the list after 'in' is empty", self.tok.pos)
            items = [self.additive()]
            while self.op(","):
                self.advance()
                items.append(self.additive())
            self.expect_op(")")
            self.leave()
            return In(pos, node, tuple(items), negated)
        if self.word("between"):
            self.advance()
            low = self.additive()
            if not self.word("and"):
                raise ExpressionError("'between' needs 'and': x between 1 and 5", self.tok.pos)
            self.advance()
            return Between(pos, node, low, self.additive(), negated)
        if self.word("is"):
            self.advance()
            is_not = False
            if self.word("not"):
                self.advance()
                is_not = True
            if not self.word("null"):
                raise ExpressionError(
                    "'is' goes with null: write 'x is null' or 'x is not null'", self.tok.pos
                )
            self.advance()
            return IsNull(pos, node, is_not)
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.op("+", "-"):
            tok = self.advance()
            node = Binary(tok.pos, tok.text, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.op("*", "/"):
            tok = self.advance()
            node = Binary(tok.pos, tok.text, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.op("-"):
            pos = self.advance().pos
            self.enter(pos)
            node = Unary(pos, "neg", self.unary())
            self.leave()
            return node
        return self.primary()

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            percent = tok.text.endswith(PERCENT_SIGNS)
            value = Decimal(tok.text.rstrip("".join(PERCENT_SIGNS)).strip())
            if decimal_places(value) > MOST_DECIMALS:
                raise ExpressionError(
                    f"{tok.text} has more than {MOST_DECIMALS} decimal places", tok.pos
                )
            if self.tok.kind == "name" and self.tok.text in CHINESE_MULTIPLIERS:
                value *= CHINESE_MULTIPLIERS[self.advance().text]
            if value > MOST_NUMBER:
                raise ExpressionError(
                    f"{tok.text} is more than {MOST_NUMBER:,}, the largest number a "
                    "condition may hold",
                    tok.pos,
                )
            if percent:
                return Num(tok.pos, value / 100, percent=True)
            if self.tok.kind == "name" and self.tok.text.lower() in DURATION_UNITS:
                if value != int(value):
                    raise ExpressionError("a duration needs a whole number", tok.pos)
                unit = DURATION_UNITS[self.advance().text.lower()]
                try:
                    count = check_length(str(int(value)), unit)
                except ExpressionError as exc:
                    raise ExpressionError(exc.message, tok.pos) from None
                return Duration(tok.pos, count, unit)
            return Num(tok.pos, value)
        if tok.kind == "string":
            self.advance()
            return Str(tok.pos, tok.text)
        if self.op("("):
            self.enter(self.advance().pos)
            node = self.or_()
            self.expect_op(")")
            self.leave()
            return node
        if tok.kind == "name":
            word = tok.text.lower()
            if word in ("true", "false"):
                self.advance()
                return Bool(tok.pos, word == "true")
            if word == "null":
                self.advance()
                return Null(tok.pos)
            if word == "today":
                self.advance()
                return Today(tok.pos)
            if word in KEYWORDS:
                raise self.unexpected()
            self.advance()
            if self.op("("):
                self.enter(self.advance().pos)
                args: list[Node] = []
                if not self.op(")"):
                    args.append(self.or_())
                    while self.op(","):
                        self.advance()
                        args.append(self.or_())
                self.expect_op(")")
                self.leave()
                return Call(tok.pos, tok.text.lower(), tuple(args))
            return Name(tok.pos, tok.text)
        raise self.unexpected()


def parse(text: str) -> Node:
    """Parse a condition or formula into a syntax tree; raise ExpressionError on bad syntax."""
    if not text.strip():
        raise ExpressionError("empty expression")
    return _Parser(text).parse()


def names_in(node: Node) -> list[str]:
    """Every name the expression mentions, in order of appearance."""
    found: list[str] = []

    def walk(n: Node) -> None:
        if isinstance(n, Name):
            found.append(n.name)
        for child in children(n):
            walk(child)

    walk(node)
    return found


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.operand, *node.items)
    if isinstance(node, Between):
        return (node.operand, node.low, node.high)
    if isinstance(node, IsNull):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    return ()
