"""The canonical columns of every record kind, as data: type, whether required, what it references.

Users' exports and scripts are written against these names; change them only with care.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace

from salesplay.engine.errors import SalesplayError
from salesplay.engine.store.models import (
    Activity,
    Customer,
    Deal,
    Order,
    OrgUnit,
    Payment,
    PlanTask,
    ProgressNote,
    Rep,
    Survey,
    Target,
)


@dataclass(frozen=True)
class Column:
    name: str  # the name in the file
    type: str  # text / date / datetime / money / int / number / bool / decimal / period
    header: bool = True  # must the file have this column?
    value: bool = False  # must every row have a value?
    stored: str = ""  # the database column when it differs (amount -> amount_cents)
    ref: str = ""  # the record kind an id points at
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    default: object = None
    custom: bool = False  # a customer's custom column (playbook `fields:`), kept in attrs

    @property
    def column(self) -> str:
        return self.stored or self.name


@dataclass(frozen=True)
class Kind:
    name: str
    model: type
    columns: tuple[Column, ...]
    extra_to_attrs: bool = False  # customers keep unknown columns as custom attributes
    # the playbook's `fields:` that have a type to check (number, date, bool): kept in attrs,
    # converted and checked as the columns are (see with_fields)
    fields: tuple[Column, ...] = ()

    def with_fields(self, fields: Mapping[str, str]) -> Kind:
        """This kind with the playbook's custom columns (`fields:` name -> type) whose values
        are checked on import; only customers keep custom columns."""
        if not self.extra_to_attrs:
            return self
        typed = tuple(
            Column(name, CUSTOM_TYPES[kind], header=False, custom=True)
            for name, kind in fields.items()
            if kind in CUSTOM_TYPES and name not in {c.name for c in self.columns}
        )
        return replace(self, fields=typed)


# The types of `fields:` that an import checks, as the types of columns (text is kept as written).
CUSTOM_TYPES = {
    "number": "number",
    "amount": "number",
    "date": "date",
    "bool": "bool",
    "yes/no": "bool",
}


def _id() -> Column:
    return Column("id", "text", value=True)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in [
        Kind(
            "org_units",
            OrgUnit,
            (
                _id(),
                Column("name", "text", value=True),
                Column("parent_id", "text", ref="org_units"),
                Column("kind", "text", choices=("company", "region", "city", "team")),
                Column("manager_id", "text", header=False),
            ),
        ),
        Kind(
            "reps",
            Rep,
            (
                _id(),
                Column("name", "text", value=True),
                Column("org_unit_id", "text", ref="org_units"),
                Column("manager_id", "text", ref="reps"),
                Column("hired_on", "date"),
                Column("left_on", "date", header=False),
                Column("exam_score", "number", low=0, high=100),
                Column("active", "bool", default=True),
                Column("email", "text", header=False),
                Column("mobile", "text", header=False),
                Column("im_id", "text", header=False),
            ),
        ),
        Kind(
            "customers",
            Customer,
            (
                _id(),
                Column("name", "text", value=True),
                Column("owner_id", "text", ref="reps"),
                Column("org_unit_id", "text", ref="org_units"),
                Column("industry", "text"),
                Column("strategic", "bool", default=False),
                Column("status", "text"),
                Column("created_on", "date"),
            ),
            extra_to_attrs=True,
        ),
        Kind(
            "orders",
            Order,
            (
                _id(),
                Column("customer_id", "text", value=True, ref="customers"),
                Column("rep_id", "text", ref="reps"),
                Column("amount", "money", value=True, stored="amount_cents"),
                Column("ordered_on", "date", value=True),
                Column("collected_amount", "money", header=False, stored="collected_cents"),
                Column("product", "text", header=False),
            ),
        ),
        Kind(
            "payments",
            Payment,
            (
                _id(),
                Column("order_id", "text", value=True, ref="orders"),
                Column("amount", "money", value=True, stored="amount_cents"),
                Column("paid_on", "date", value=True),
            ),
        ),
        Kind(
            "surveys",
            Survey,
            (
                _id(),
                Column("customer_id", "text", value=True, ref="customers"),
                Column("surveyed_on", "date", value=True),
                Column("nps", "int", low=0, high=10),
                Column("satisfaction", "number", low=0, high=100),
                Column("complaint", "bool", default=False),
            ),
        ),
        Kind(
            "deals",
            Deal,
            (
                _id(),
                Column("customer_id", "text", value=True, ref="customers"),
                Column("rep_id", "text", ref="reps"),
                Column("stage", "text"),
                Column("amount", "money", stored="amount_cents"),
                Column("expected_close", "date"),
                Column("stage_changed_on", "date"),
                Column("status", "text", value=True, choices=("open", "won", "lost")),
            ),
        ),
        Kind(
            "activities",
            Activity,
            (
                _id(),
                Column("customer_id", "text", value=True, ref="customers"),
                Column("rep_id", "text", ref="reps"),
                Column("occurred_at", "datetime", value=True),
                Column(
                    "channel",
                    "text",
                    value=True,
                    choices=("visit", "video", "call", "wechat", "email", "message"),
                ),
                Column("content", "text"),
                Column("feedback", "text"),
                Column("next_step", "text"),
                Column("contact_role", "text", header=False),
            ),
        ),
        Kind(
            "targets",
            Target,
            (
                _id(),
                Column("owner_type", "text", value=True, choices=("org_unit", "rep")),
                Column("owner_id", "text", value=True),
                Column("metric", "text", value=True),
                Column("period_start", "date", value=True),
                Column("period_end", "date", value=True),
                Column("value", "decimal", value=True, stored="value_x100"),
            ),
        ),
        Kind(
            "progress_notes",
            ProgressNote,
            (
                Column("id", "text", header=False),  # made from the goal when absent
                Column("owner_type", "text", value=True, choices=("org_unit", "rep")),
                Column("owner_id", "text", value=True),
                Column("metric", "text", value=True),
                Column("period", "period", value=True),
                Column("reason", "text"),
                Column("plan", "text"),
            ),
        ),
    ]
}

# Improvement-plan tasks (DOMAIN.md §3): each live row becomes an open task for its owner.
KINDS["plan_tasks"] = Kind(
    "plan_tasks",
    PlanTask,
    (
        _id(),
        Column("owner_id", "text", value=True, ref="reps"),
        Column("title", "text", value=True),
        Column("due_on", "date", value=True),
    ),
)


def kind_named(name: str) -> Kind:
    """The record kind of that name; an unknown one is a one-line error with the kinds there
    are (and the closest, when one is close)."""
    if name not in KINDS:
        close = difflib.get_close_matches(name, list(KINDS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise SalesplayError(f"KIND: unknown record kind '{name}'{hint}; one of {', '.join(KINDS)}")
    return KINDS[name]
