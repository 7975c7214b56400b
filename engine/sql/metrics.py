"""Metrics: named aggregates over a subject's records, compiled to one grouped query per source.

    revenue_6m: {sum: orders.amount, window: last 6 months}
    pipeline:   {sum: deals.amount, where: "status = 'open'"}
    last_visit: {latest: activities.occurred_on, where: "channel in ('visit', 'video')"}
    ratio:      {formula: "revenue_6m / pipeline"}

A metric has no subject of its own: used for customers it groups by customer, for reps by rep,
for a target by the target's owner within the target's period.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from salesplay.engine.errors import ExpressionError, PlaybookError, Unusable
from salesplay.engine.lang import dates, logic
from salesplay.engine.lang import expressions as ex
from salesplay.engine.lang.document import Document, bundled_names
from salesplay.engine.sql import team
from salesplay.engine.sql.compiler import (
    Scope,
    Typed,
    compile_condition,
    compile_expression,
    unknown_name,
)
from salesplay.engine.store import dialects
from salesplay.engine.store.dialects import analyze, text_to_number
from salesplay.engine.store.models import (
    Activity,
    Customer,
    Deal,
    Grade,
    Order,
    Payment,
    Rep,
    Survey,
    table_of,
)
from salesplay.engine.store.partitions import Partition
from salesplay.engine.store.records import KINDS

Sql = Any
AGGREGATES = ("sum", "count", "distinct", "min", "max", "avg", "latest")
COUNTS = ("sum", "count", "distinct")  # aggregates that are 0, not null, over no records
# `latest` of a date field is its maximum; of any other field, see _latest.
AGGREGATE_SQL: dict[str, Callable[..., Any]] = {
    "sum": sa.func.sum,
    "count": sa.func.count,
    "distinct": lambda value: sa.func.count(sa.distinct(value)),
    "min": sa.func.min,
    "max": sa.func.max,
    "avg": sa.func.avg,
    "latest": sa.func.max,
}
FIELD_TYPES = {
    "text": "text",
    "number": "number",
    "amount": "amount",
    "date": "date",
    "bool": "bool",
    "yes/no": "bool",
}


@dataclass(frozen=True)
class Source:
    """A record table metrics can aggregate: its date column and how it links to subjects."""

    name: str
    select: Callable[[], sa.Select[Any]]  # columns: id, deleted, day, link columns, fields
    day: str | None
    links: dict[str, str]  # subject type -> column in select
    fields: dict[str, str]  # field -> value type


def _grade(customer_id: Any) -> Any:
    """The customer's current grade, as a scalar subquery: free unless a rule names it."""
    g = table_of(Grade).c
    return sa.select(g.grade).where(g.customer_id == customer_id).scalar_subquery()


def _orders() -> sa.Select[Any]:
    o = table_of(Order).c
    earlier = table_of(Order).alias("earlier").c
    first_order = ~(
        sa.select(earlier.id)
        .where(
            earlier.customer_id == o.customer_id,
            earlier.deleted == sa.false(),
            sa.or_(
                earlier.ordered_on < o.ordered_on,
                sa.and_(earlier.ordered_on == o.ordered_on, earlier.id < o.id),
            ),
        )
        .exists()
    )
    return sa.select(
        o.id,
        o.deleted,
        o.ordered_on.label("day"),
        o.customer_id,
        o.rep_id,
        o.amount_cents.label("amount"),
        o.collected_cents.label("collected_amount"),
        o.ordered_on,
        o.product,
        first_order.label("first_order"),
        _grade(o.customer_id).label("grade"),
    )


def _payments() -> sa.Select[Any]:
    p = table_of(Payment).c
    o = table_of(Order).c
    return (
        sa.select(
            p.id,
            p.deleted,
            p.paid_on.label("day"),
            o.customer_id,
            o.rep_id,
            p.amount_cents.label("amount"),
            p.paid_on,
            p.order_id,
            o.product,
        )
        .join_from(table_of(Payment), table_of(Order), p.order_id == o.id)
        .where(o.deleted == sa.false())
    )


def _deals() -> sa.Select[Any]:
    d = table_of(Deal).c
    return sa.select(
        d.id,
        d.deleted,
        sa.null().label("day"),
        d.customer_id,
        d.rep_id,
        d.amount_cents.label("amount"),
        d.stage,
        d.status,
        d.expected_close,
        d.stage_changed_on,
        _grade(d.customer_id).label("grade"),
    )


def _won_deals() -> sa.Select[Any]:
    """Won deals, dated by the day they were won (their last stage change)."""
    d = table_of(Deal).c
    return sa.select(
        d.id,
        d.deleted,
        d.stage_changed_on.label("day"),
        d.customer_id,
        d.rep_id,
        d.amount_cents.label("amount"),
        d.stage_changed_on.label("won_on"),
        _grade(d.customer_id).label("grade"),
    ).where(d.status == "won", d.stage_changed_on.is_not(None))


def _activities() -> sa.Select[Any]:
    a = table_of(Activity).c
    return sa.select(
        a.id,
        a.deleted,
        a.occurred_on.label("day"),
        a.customer_id,
        a.rep_id,
        a.channel,
        a.occurred_on,
        a.occurred_on.label("occurred_at"),
        _grade(a.customer_id).label("grade"),
        a.contact_role,
    )


def _surveys() -> sa.Select[Any]:
    s = table_of(Survey).c
    c = table_of(Customer).c
    return sa.select(
        s.id,
        s.deleted,
        s.surveyed_on.label("day"),
        s.customer_id,
        c.owner_id.label("rep_id"),
        s.nps,
        s.satisfaction,
        s.complaint,
        s.surveyed_on,
    ).join_from(table_of(Survey), table_of(Customer), s.customer_id == c.id)


def _customers() -> sa.Select[Any]:
    c = table_of(Customer).c
    return sa.select(
        c.id,
        c.deleted,
        # a customer without a creation date has always been there
        sa.func.coalesce(c.created_on, sa.literal(date(1900, 1, 1), sa.Date())).label("day"),
        c.owner_id.label("rep_id"),
        c.industry,
        c.strategic,
        c.status,
        c.created_on,
        _grade(c.id).label("grade"),
        c.id.label("customer_id"),
    )


SOURCES: dict[str, Source] = {
    "orders": Source(
        "orders",
        _orders,
        "day",
        {"customer": "customer_id", "rep": "rep_id"},
        {
            "amount": "amount",
            "collected_amount": "amount",
            "ordered_on": "date",
            "product": "text",
            "first_order": "bool",
            "grade": "text",
            "customer_id": "text",
        },
    ),
    "payments": Source(
        "payments",
        _payments,
        "day",
        {"customer": "customer_id", "rep": "rep_id"},
        {"amount": "amount", "paid_on": "date", "product": "text"},
    ),
    "deals": Source(
        "deals",
        _deals,
        None,
        {"customer": "customer_id", "rep": "rep_id"},
        {
            "amount": "amount",
            "stage": "text",
            "status": "text",
            "expected_close": "date",
            "stage_changed_on": "date",
            "grade": "text",
            "customer_id": "text",
        },
    ),
    "won_deals": Source(
        "won_deals",
        _won_deals,
        "day",
        {"customer": "customer_id", "rep": "rep_id"},
        {"amount": "amount", "won_on": "date", "grade": "text", "customer_id": "text"},
    ),
    "activities": Source(
        "activities",
        _activities,
        "day",
        {"customer": "customer_id", "rep": "rep_id"},
        {
            "channel": "text",
            "occurred_on": "date",
            "occurred_at": "date",
            "grade": "text",
            "customer_id": "text",
            "contact_role": "text",
        },
    ),
    "surveys": Source(
        "surveys",
        _surveys,
        "day",
        {"customer": "customer_id", "rep": "rep_id"},
        {"nps": "number", "satisfaction": "number", "complaint": "bool", "surveyed_on": "date"},
    ),
    "customers": Source(
        "customers",
        _customers,
        "day",
        {"rep": "rep_id"},
        {
            "industry": "text",
            "strategic": "bool",
            "status": "text",
            "created_on": "date",
            "grade": "text",
            "customer_id": "text",
        },
    ),
}

# The fields of each subject, as (column, type); customers also get the playbook's `fields:`.
SUBJECT_FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "customer": {
        "id": ("id", "text"),
        "name": ("name", "text"),
        "owner_id": ("owner_id", "text"),
        "org_unit_id": ("org_unit_id", "text"),
        "industry": ("industry", "text"),
        "strategic": ("strategic", "bool"),
        "status": ("status", "text"),
        "created_on": ("created_on", "date"),
    },
    "rep": {
        "id": ("id", "text"),
        "name": ("name", "text"),
        "org_unit_id": ("org_unit_id", "text"),
        "manager_id": ("manager_id", "text"),
        "hired_on": ("hired_on", "date"),
        "exam_score": ("exam_score", "number"),
        "active": ("active", "bool"),
    },
}
SUBJECT_TABLES: dict[str, type[SQLModel]] = {"customer": Customer, "rep": Rep}


@dataclass(frozen=True)
class Metric:
    name: str
    path: tuple[str | int, ...]
    formula: str | None = None
    aggregate: str | None = None
    source: str | None = None
    field: str | None = None
    where: str | None = None
    window: str = "all time"
    better: str = "higher"  # for goals: "lower" when less is better (complaint rate)

    @property
    def per_target(self) -> bool:
        return self.window == "target period"

    @property
    def cumulative(self) -> bool:
        """Does its expected value grow with the days elapsed in a target's period (a sum or a
        count over the period: sales, visits), rather than hold a level (a rate, NPS)?"""
        return self.per_target and self.aggregate in COUNTS


def declared(playbook: Document) -> dict[str, Metric]:
    """The playbook's metrics, parsed (their syntax was checked by check_metrics)."""
    out: dict[str, Metric] = {}
    for name, spec in (playbook.section("metrics") or {}).items():
        path = ("metrics", name)
        if "formula" in spec:
            out[name] = Metric(
                name, path, formula=str(spec["formula"]), better=spec.get("better", "higher")
            )
            continue
        aggregate = next(a for a in AGGREGATES if a in spec)
        target = str(spec[aggregate])
        source, _, field_name = target.partition(".")
        out[name] = Metric(
            name,
            path,
            aggregate=aggregate,
            source=source,
            field=field_name or None,
            where=spec.get("where"),
            window=dates.check_window(spec.get("window", "all time")),
            better=spec.get("better", "higher"),
        )
    return out


def custom_fields(playbook: Document) -> dict[str, str]:
    return {name: FIELD_TYPES[str(t)] for name, t in (playbook.section("fields") or {}).items()}


def check_metrics(playbook: Document) -> None:
    """Every metric's source, field, filter and window exist and agree in type."""
    metrics = playbook.section("metrics") or {}
    for name, spec in metrics.items():
        path: tuple[str | int, ...] = ("metrics", name)
        if not name.isidentifier():
            raise playbook.error(
                path,
                f"'{name}' cannot be a metric name: use letters, digits "
                "and _ (Chinese letters too), not starting with a digit",
            )
        if name in SUBJECT_FIELDS["customer"] or name in SUBJECT_FIELDS["rep"]:
            raise playbook.error(path, f"'{name}' is already a record field; pick another name")
        if "formula" in spec:
            continue
        aggregate = next(a for a in AGGREGATES if a in spec)
        source_name, _, field_name = str(spec[aggregate]).partition(".")
        if source_name not in SOURCES:
            raise playbook.error(
                (*path, aggregate), unknown_name(source_name, SOURCES, noun="record kind")
            )
        source = SOURCES[source_name]
        if aggregate == "count":  # distinct, like the others, names a field
            if field_name:
                raise playbook.error(
                    (*path, aggregate),
                    f"count takes a record kind, e.g. 'count: {source_name}', not a field",
                )
        else:
            if not field_name:
                raise playbook.error(
                    (*path, aggregate),
                    f"{aggregate} needs a field, e.g. '{source_name}.{next(iter(source.fields))}'",
                )
            if field_name not in source.fields:
                raise playbook.error(
                    (*path, aggregate),
                    unknown_name(field_name, source.fields, noun=f"field of {source_name}"),
                )
            kind = source.fields[field_name]
            if aggregate in ("sum", "avg") and kind not in ("amount", "number"):
                raise playbook.error(
                    (*path, aggregate),
                    f"cannot {aggregate} {source_name}.{field_name}: it "
                    f"is {'a date' if kind == 'date' else kind}, not a number",
                )
        if "window" in spec:
            try:
                dates.check_window(spec["window"])
            except ExpressionError as exc:
                raise playbook.expression_error((*path, "window"), exc) from None
            if spec["window"] != "all time" and source.day is None:
                raise playbook.error(
                    (*path, "window"),
                    f"{source_name} records carry no date, so a window cannot apply to them",
                )
        if "where" in spec:
            try:
                compile_condition(str(spec["where"]), record_scope(source, date(2000, 1, 1)))
            except ExpressionError as exc:
                raise playbook.expression_error((*path, "where"), exc) from None
    _check_formula_sizes(playbook)
    # Formulas last: they may name any other metric, and must not loop.
    for subject in ("customer", "rep"):
        table = placeholder_table(subject, playbook)
        scope = subject_scope(subject, playbook, table, date(2000, 1, 1))
        for metric in declared(playbook).values():
            if metric.formula and not any(
                declared(playbook)[n].per_target for n in _formula_names(playbook, metric)
            ):
                try:
                    scope.resolve(metric.name, 0)
                except ExpressionError as exc:
                    raise playbook.expression_error((*metric.path, "formula"), exc) from None


# A formula is computed by writing the formulas it names into its own SQL: each level nests
# the SQL deeper (SQLite before 3.46 parses at most about 100 levels), and a formula naming
# another twice doubles it (60 levels of `f + f` would be 2^60 terms). The bundled playbooks'
# formulas go 1 level deep and name 3 metrics.
MAX_FORMULA_DEPTH = 5
MAX_FORMULA_TERMS = 1000


def _check_formula_sizes(playbook: Document) -> None:
    """Refuse a formula whose SQL, with every formula it names written in, is too deep or large."""
    metrics = declared(playbook)
    sizes: dict[str, tuple[int, int]] = {}  # name: (depth, terms)

    def size(name: str, open_: frozenset[str]) -> tuple[int, int]:
        metric = metrics[name]
        if not metric.formula or name in open_:  # a loop is reported elsewhere
            return 0, 1
        if name not in sizes:
            try:
                names = [n for n in ex.names_in(ex.parse(metric.formula)) if n in metrics]
            except ExpressionError:
                names = []
            parts = [size(n, open_ | {name}) for n in names]
            depth = 1 + max((d for d, _ in parts), default=0)
            terms = 1 + sum(t for _, t in parts)
            sizes[name] = (min(depth, MAX_FORMULA_DEPTH + 1), min(terms, MAX_FORMULA_TERMS + 1))
        return sizes[name]

    for name, metric in metrics.items():
        if not metric.formula:
            continue
        depth, terms = size(name, frozenset())
        if depth > MAX_FORMULA_DEPTH:
            raise playbook.error(
                (*metric.path, "formula"),
                f"formulas over formulas more than {MAX_FORMULA_DEPTH} deep: compute it in "
                "fewer steps",
            )
        if terms > MAX_FORMULA_TERMS:
            raise playbook.error(
                (*metric.path, "formula"),
                f"with the formulas it names written out, more than {MAX_FORMULA_TERMS} metrics: "
                "name each formula fewer times",
            )


def _formula_names(
    playbook: Document, metric: Metric, seen: frozenset[str] = frozenset()
) -> set[str]:
    metrics = declared(playbook)
    out: set[str] = set()
    try:
        names = ex.names_in(ex.parse(metric.formula or ""))
    except ExpressionError:
        return out
    for name in names:
        if name in metrics and name not in seen:
            out.add(name)
            if metrics[name].formula:
                out |= _formula_names(playbook, metrics[name], seen | {metric.name})
    return out


def formula_names(playbook: Document, metric: Metric) -> set[str]:
    """Every metric a formula metric is computed from, through other formulas too."""
    return _formula_names(playbook, metric)


def goal_metric(playbook: Document, metric: Metric) -> bool:
    """Whether a target can be measured by the metric: it is over the target period, or a
    formula over such metrics (collection_rate = collected / sales)."""
    if metric.formula:
        return any(declared(playbook)[n].per_target for n in formula_names(playbook, metric))
    return metric.per_target


# Top-level keys that never name a metric: settings, and the metrics themselves.
_NOT_NAMING = ("playbook", "description", "extends", "timezone", "currency", "fields", "metrics")


def unused(playbook: Document) -> list[PlaybookError]:
    """The playbook's own metrics that nothing uses: no condition, template, formula or other
    setting (a scorecard's KPI, a commission's base) names them, and no target can be measured
    by them. Metrics a playbook inherits through `extends` are its parent's business, and a
    bundled playbook's metrics are a library for the playbooks that extend it (`last_contact`
    is there for them to use)."""
    if playbook.origin in bundled_names():
        return []
    metrics = declared(playbook)
    words: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            words.update(_WORD.findall(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                if key != "description":
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk({k: v for k, v in playbook.data.items() if k not in _NOT_NAMING})
    for metric in metrics.values():
        words.update(_WORD.findall(metric.formula or ""))
    own = playbook.path
    return [
        playbook.error(
            metric.path,
            "nothing uses this metric: no rule, formula, scorecard or incentive names it, and "
            "no target can be measured by it (remove it, or use it)",
        )
        for name, metric in metrics.items()
        if name not in words
        and not goal_metric(playbook, metric)
        and playbook.where(metric.path)[0] == own
    ]


def unknown_values(playbook: Document) -> list[PlaybookError]:
    """A metric's `where` comparing a field with a value the field never holds (`channel =
    'vist'`, `status = 'opened'`): the imports accept only the listed values, so nothing
    matches."""
    found = []
    for metric in declared(playbook).values():
        kind = KINDS.get(str(metric.source))
        if metric.where is None or kind is None:
            continue
        choices = {c.name: c.choices for c in kind.columns if c.choices}
        for field_name, text, _ in logic.literals(ex.parse(metric.where)):
            values = choices.get(field_name)
            if values and text not in values:
                close = difflib.get_close_matches(text, values, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                found.append(
                    playbook.error(
                        (*metric.path, "where"),
                        f"no {kind.name} record has {field_name} '{text}'{hint}: "
                        f"{field_name} is one of {', '.join(values)}, so nothing matches it",
                    )
                )
    return found


def record_scope(source: Source, as_of: date, table: Any = None) -> Scope:
    """Names usable in a metric's `where`: the source's fields."""
    names: dict[str, Any] = {}
    for name, kind in source.fields.items():
        column = table.c[name] if table is not None else sa.column(name)
        names[name] = Typed(column, kind)
    return Scope(names, as_of, f"{source.name} records")


# ---- subject scopes and the facts table -------------------------------------------------


def applicable(playbook: Document, subject: str, used_only: bool = True) -> list[Metric]:
    """Aggregate metrics of this subject (not per-target ones). Only those some rule mentions,
    directly or through a formula, are computed: an unused metric costs nothing."""
    used = referenced(playbook) if used_only else set(declared(playbook))
    return [
        m
        for m in declared(playbook).values()
        if m.aggregate
        and not m.per_target
        and subject in SOURCES[str(m.source)].links
        and m.name in used
    ]


_WORD = re.compile(r"[^\W\d]\w*")


def referenced(playbook: Document) -> set[str]:
    """Metric names mentioned anywhere outside `metrics:` (conditions, templates), plus what
    their formulas mention in turn."""
    return mentioned(playbook, [v for k, v in playbook.data.items() if k != "metrics"])


def mentioned(playbook: Document, values: list[Any]) -> set[str]:
    """Metric names mentioned in these playbook values, plus what their formulas mention."""
    metrics = declared(playbook)
    words: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            words.update(_WORD.findall(value))
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(values)
    used = {name for name in metrics if name in words}
    todo = list(used)
    while todo:
        formula = metrics[todo.pop()].formula
        for name in _WORD.findall(formula or ""):
            if name in metrics and name not in used:
                used.add(name)
                todo.append(name)
    return used


def value_type(metric: Metric) -> str:
    """The value type an aggregate metric produces."""
    if metric.aggregate in ("count", "distinct"):
        return "number"
    return SOURCES[str(metric.source)].fields[str(metric.field)]


def _column_type(kind: str, metric: Metric | None = None) -> Any:
    if kind == "amount":
        return sa.Float() if metric and metric.aggregate == "avg" else sa.BigInteger()
    if kind == "number":
        counted = metric and metric.aggregate in ("count", "distinct")
        return sa.BigInteger() if counted else sa.Float()
    return {"date": sa.Date(), "text": sa.String(), "bool": sa.Boolean()}[kind]


def fact_columns(
    subject: str, playbook: Document, used_only: bool = True
) -> list[tuple[str, str, Any]]:
    """(name, value type, SQL type) of every column of the subject's facts table."""
    cols = [(name, kind, _column_type(kind)) for name, (_, kind) in SUBJECT_FIELDS[subject].items()]
    if subject == "customer":
        cols += [(name, kind, _column_type(kind)) for name, kind in custom_fields(playbook).items()]
    cols += [
        (m.name, value_type(m), _column_type(value_type(m), m))
        for m in applicable(playbook, subject, used_only)
    ]
    return cols


def placeholder_table(subject: str, playbook: Document) -> sa.TableClause:
    columns = fact_columns(subject, playbook, used_only=False)
    return sa.table(f"facts_{subject}", *[sa.column(n, t) for n, _, t in columns])


def subject_scope(
    subject: str,
    playbook: Document,
    table: Any,
    as_of: date,
    extra: Mapping[str, Typed | Callable[[], Typed]] | None = None,
) -> Scope:
    """Names usable in a rule about this subject: its fields, custom fields and metrics.

    Each name is also reachable as subject.name (customer.name), as templates write it.
    """
    names: dict[str, Typed | Callable[[], Typed]] = {}
    for name, kind, _ in fact_columns(subject, playbook, used_only=False):
        if name in table.c:  # unused metrics are not computed, so no rule can name them
            names[name] = Typed(table.c[name], kind)
    scope = Scope(names, as_of, f"{subject} rules")
    metrics = declared(playbook)
    for metric in metrics.values():
        if metric.formula:
            names[metric.name] = _formula_factory(metric, scope, playbook, set())
        elif metric.per_target or subject not in SOURCES[str(metric.source)].links:
            names.setdefault(metric.name, _unavailable(metric, subject))
    for key in list(names):
        names[f"{subject}.{key}"] = names[key]
    for key, typed in team.scope_names(subject, table, as_of).items():
        names.setdefault(key, typed)  # a playbook field or metric of the same name wins
    if extra:
        names.update(extra)
    return scope


def _unavailable(metric: Metric, subject: str) -> Callable[[], Typed]:
    def fail() -> Typed:
        reason = (
            "it is measured over a target's period; use it in a rule 'for: targets'"
            if metric.per_target
            else f"{metric.source} records do not link to a {subject}"
        )
        raise Unusable(f"metric '{metric.name}' cannot be used for a {subject}: {reason}")

    return fail


def _formula_factory(
    metric: Metric, scope: Scope, playbook: Document, stack: set[str]
) -> Callable[[], Typed]:
    def build() -> Typed:
        if metric.name in stack:
            raise ExpressionError(
                f"metric '{metric.name}' is defined in terms of itself",
                metrics=frozenset({metric.name}),
            )
        stack.add(metric.name)
        try:
            return compile_expression(str(metric.formula), scope)
        except ExpressionError as exc:
            if metric.name in exc.metrics:
                raise
            raise ExpressionError(
                f"in metric '{metric.name}': {exc.message}", metrics=exc.metrics | {metric.name}
            ) from None
        finally:
            stack.discard(metric.name)

    return build


def facts_select(
    subject: str,
    playbook: Document,
    as_of: date,
    where: Callable[[Any], Any] | None = None,
    partition: Partition | None = None,
    grouped: bool = False,
) -> sa.Select[Any]:
    """One row per live subject: its fields and every applicable aggregate metric as of a date.

    By default each metric is a correlated scalar subquery over the subject's own records: it
    reads the covering index range of that subject (and window) only, so a partition costs its
    share of the data and a 6-month window does not read two years of orders; SQLite runs this
    fastest. `grouped` instead aggregates each record table once with GROUP BY and joins the
    result, which PostgreSQL's hash aggregate runs faster for a whole, unpartitioned run.
    """
    base = table_of(SUBJECT_TABLES[subject])
    columns: list[Any] = [
        base.c[col].label(name) for name, (col, _) in SUBJECT_FIELDS[subject].items()
    ]
    if subject == "customer":
        for name, kind in custom_fields(playbook).items():
            columns.append(custom_value(base.c.attrs, name, kind).label(name))
    joins: list[tuple[Any, Any]] = []
    by_source: dict[str, list[Metric]] = {}
    for metric in applicable(playbook, subject):
        source = SOURCES[str(metric.source)]
        if grouped and not _latest_row(source, metric):
            by_source.setdefault(source.name, []).append(metric)
            continue
        value = aggregate_sql(metric, as_of, _linked(source, subject, base))
        columns.append(value.label(metric.name))
    for source_name, metrics in by_source.items():
        sub = _grouped(SOURCES[source_name], subject, metrics, as_of)
        joins.append((sub, sub.c.k == base.c.id))
        for m in metrics:
            value = sub.c[m.name]
            if m.aggregate in COUNTS:
                value = sa.func.coalesce(value, 0)
            columns.append(value.label(m.name))
    query = sa.select(*columns).select_from(base)
    for sub, on in joins:
        query = query.outerjoin(sub, on)
    query = query.where(base.c.deleted == sa.false())
    if subject == "customer":
        query = query.where(sa.or_(base.c.created_on.is_(None), base.c.created_on <= as_of))
    if where is not None:
        query = query.where(where(base))
    if partition is not None and subject == "customer":
        query = query.where(partition.holds_row(base))
    return query


def _latest_row(source: Source, metric: Metric) -> bool:
    """`latest` of a non-date field: the value of the newest record, not an aggregate."""
    return metric.aggregate == "latest" and source.fields.get(str(metric.field)) != "date"


def _conditions(
    source: Source, metric: Metric, rows: Any, as_of: date, start: Any = None, end: Any = None
) -> list[Any]:
    """The metric's window (or a target's period) and its `where`, over the source's rows."""
    conditions = []
    if start is not None and source.day:
        conditions += [rows.c.day >= start, rows.c.day <= end]
    else:
        first, _ = dates.window_bounds(metric.window, as_of)
        if first is not None:
            conditions.append(rows.c.day >= first)
    if metric.where:
        conditions.append(compile_condition(metric.where, record_scope(source, as_of, rows)))
    return conditions


def _grouped(source: Source, subject: str, metrics: list[Metric], as_of: date) -> Any:
    """Every metric of one source for every subject: one GROUP BY, a CASE per metric."""
    rows, live = _records(source, as_of)
    key = rows.c[source.links[subject]]
    aggregates = []
    for m in metrics:
        value = sa.literal(1) if m.aggregate == "count" else rows.c[str(m.field)]
        conditions = _conditions(source, m, rows, as_of)
        if conditions:
            value = sa.case((sa.and_(*conditions), value))
        aggregates.append(AGGREGATE_SQL[str(m.aggregate)](value).label(m.name))
    return (
        sa.select(key.label("k"), *aggregates)
        .where(live, key.is_not(None))
        .group_by(key)
        .subquery(f"agg_{source.name}_{subject}")
    )


def _linked(source: Source, subject: str, base: Any) -> Callable[[Any], Any]:
    """The predicate tying a source's records to the outer subject row."""
    column = source.links[subject]
    return lambda rows: rows.c[column] == base.c.id


def aggregate_sql(
    metric: Metric,
    as_of: date,
    link: Callable[[Any], Any],
    start: Any = None,
    end: Any = None,
) -> Any:
    """One aggregate metric as a correlated scalar subquery: `link(rows)` ties the records to
    the outer subject; start/end (a target's period) replace the metric's own window."""
    source = SOURCES[str(metric.source)]
    rows, live = _records(source, as_of)
    conditions = [live, link(rows), *_conditions(source, metric, rows, as_of, start, end)]
    if _latest_row(source, metric):
        order = [rows.c.day.desc(), rows.c.id.desc()] if source.day else [rows.c.id.desc()]
        latest = sa.select(rows.c[str(metric.field)]).where(*conditions).order_by(*order)
        return latest.limit(1).scalar_subquery()
    value = sa.literal(1) if metric.aggregate == "count" else rows.c[str(metric.field)]
    result = sa.select(AGGREGATE_SQL[str(metric.aggregate)](value)).where(*conditions)
    if metric.aggregate in COUNTS:
        return sa.func.coalesce(result.scalar_subquery(), 0)
    return result.scalar_subquery()


def custom_value(attrs: Any, name: str, kind: str) -> Any:
    """A declared custom customer field (`fields:`) read from the customers' attrs, typed."""
    if kind == "number":
        return text_to_number(attrs[name].as_string())
    if kind == "bool":
        return attrs[name].as_boolean()
    return attrs[name].as_string()


def _records(source: Source, as_of: date) -> Any:
    rows = source.select().subquery(f"src_{source.name}")
    conditions = [rows.c.deleted == sa.false()]
    if source.day:
        conditions.append(rows.c.day <= as_of)
    return rows, sa.and_(*conditions)


def materialize(
    conn: Connection,
    subject: str,
    playbook: Document,
    as_of: date,
    partition: Partition | None = None,
) -> sa.Table:
    """Create the temporary facts table for a subject and fill it with one INSERT … SELECT."""
    name = f"facts_{subject}"
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    cols = fact_columns(subject, playbook)
    table = sa.Table(
        name,
        sa.MetaData(),
        *[sa.Column(n, t, primary_key=(n == "id")) for n, _, t in cols],
        prefixes=["TEMPORARY"],
    )
    table.create(conn)
    grouped = dialects.of(conn).grouped_facts and partition is None
    select = facts_select(subject, playbook, as_of, partition=partition, grouped=grouped)
    # Name the columns in the SELECT's own order: metrics are grouped by source there.
    conn.execute(table.insert().from_select([c.name for c in select.selected_columns], select))
    analyze(conn, name)
    return table


def per_target_metric_sql(
    metric: Metric, owner_reps: Callable[[Any], Any], start: Any, end: Any, as_of: date
) -> Any:
    """A target-period metric: the owner's records within the target's period (and as_of)."""
    link = SOURCES[str(metric.source)].links["rep"]
    return aggregate_sql(metric, as_of, lambda rows: owner_reps(rows.c[link]), start, end)
