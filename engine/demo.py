"""A deterministic synthetic sales organisation: org tree, reps, customers, orders, deals,
activities, surveys and targets, shaped like the documents describe (a skewed revenue curve,
a funnel, more contact with bigger customers). The same seed and date give the same data.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.lang import dates
from salesplay.engine.store.dialects import bulk_insert
from salesplay.engine.store.models import Customer
from salesplay.engine.store.partitions import bucket_of

REGIONS = {
    "华东": ["上海", "杭州", "南京"],
    "华北": ["北京", "天津"],
    "华南": ["广州", "深圳"],
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉"
PREFIX = ["华", "鑫", "盛", "恒", "瑞", "嘉", "达", "信", "宏", "金", "天", "博", "安", "泰", "锦"]
MIDDLE = ["联", "创", "源", "通", "康", "美", "科", "兴", "丰", "新", "融", "汇", "远", "德"]
SUFFIX = {
    "manufacturing": "机械",
    "retail": "商贸",
    "pharma": "医药",
    "fmcg": "食品",
    "education": "教育科技",
    "logistics": "物流",
}
STAGES = ["lead", "opportunity", "proposal", "contract"]
DEAL_STATUSES = ["open", "open", "open", "won", "lost"]
STATUSES = ["active"] * 8 + ["negotiating", "paused"]
PRODUCTS = ["A", "A", "B", "C"]
CHANNEL_MIX = ["visit"] * 3 + ["video"] * 2 + ["call"] * 4 + ["wechat"] * 4 + ["email", "message"]
FEEDBACK = ["有兴趣", "需要报价", "暂无需求", "比较价格"]
NEXT_STEPS = ["发送报价", "安排演示", "下月回访", None]
BATCH = 20_000


@dataclass
class DemoSize:
    customers: int = 3000
    reps: int | None = None
    orders_per_customer: float = 5.0
    deals_per_customer: float = 1.0
    activities_per_customer: float = 10.0
    years: int = 2

    @property
    def rep_count(self) -> int:
        return self.reps or max(7, min(2000, self.customers // 60))


# Column order of the rows generate() yields, per table (the database's own column names).
COLUMNS: dict[str, list[str]] = {
    "org_units": ["id", "name", "parent_id", "kind", "manager_id", "deleted"],
    "reps": [
        "id",
        "name",
        "org_unit_id",
        "manager_id",
        "hired_on",
        "exam_score",
        "active",
        "email",
        "mobile",
        "im_id",
        "deleted",
    ],
    "customers": [
        "id",
        "name",
        "owner_id",
        "org_unit_id",
        "industry",
        "strategic",
        "status",
        "created_on",
        "attrs",
        "bucket",
        "deleted",
    ],
    "orders": [
        "id",
        "customer_id",
        "rep_id",
        "amount_cents",
        "ordered_on",
        "collected_cents",
        "product",
        "deleted",
    ],
    "deals": [
        "id",
        "customer_id",
        "rep_id",
        "stage",
        "amount_cents",
        "expected_close",
        "stage_changed_on",
        "status",
        "deleted",
    ],
    "activities": [
        "id",
        "customer_id",
        "rep_id",
        "occurred_at",
        "occurred_on",
        "channel",
        "content",
        "feedback",
        "next_step",
        "deleted",
    ],
    "surveys": ["id", "customer_id", "surveyed_on", "nps", "satisfaction", "complaint", "deleted"],
    "targets": [
        "id",
        "owner_type",
        "owner_id",
        "metric",
        "period_start",
        "period_end",
        "value_x100",
        "deleted",
    ],
    "progress_notes": [
        "id",
        "owner_type",
        "owner_id",
        "metric",
        "period",
        "period_start",
        "period_end",
        "reason",
        "plan",
        "deleted",
    ],
}
# Means of min(pareto(1.16), cap), so that counts average out to the sizes asked for.
_MEAN_W50 = 3.9
_MEAN_W20 = 3.3


def generate(as_of: date, size: DemoSize, seed: int = 7) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Every demo row as (table, values in COLUMNS order), streamed: memory stays flat at any size.

    Dates are ISO text, so the same rows load into SQLite and PostgreSQL (COPY) alike.
    """
    rng = random.Random(seed)
    units, reps = _org(size.rep_count, as_of, rng)
    for unit in units:
        yield "org_units", (*unit, False)
    for rep in reps:
        yield "reps", (*rep, False)
    sellers = [(r[0], r[2]) for r in reps if r[0].startswith("R")]
    today = as_of.toordinal()
    first_created = dates.shift(as_of, -size.years - 1, "years").toordinal()
    span = 365 * size.years
    industries = list(SUFFIX)
    opc, dpc, apc = size.orders_per_customer, size.deals_per_customer, size.activities_per_customer
    n_order = n_deal = n_act = 0
    last_quarter_end = dates.period_start(as_of, "quarter").toordinal() - 1
    last_quarter_start = dates.period_start(
        date.fromordinal(last_quarter_end), "quarter"
    ).toordinal()
    last_quarter_sales: dict[str, int] = {}
    expo, rand, randrange, choice = rng.expovariate, rng.random, rng.randrange, rng.choice
    for i in range(size.customers):
        cid = f"C{i + 1:07d}"
        industry = industries[i % len(industries)]
        owner, city = sellers[i % len(sellers)] if rand() > 0.02 else (None, None)
        created = first_created + randrange(today - first_created)
        weight = rng.paretovariate(1.16)  # 80/20: a few customers buy most
        yield (
            "customers",
            (
                cid,
                choice(PREFIX) + choice(MIDDLE) + SUFFIX[industry] + "有限公司",
                owner,
                city,
                industry,
                rand() < 0.02,
                choice(STATUSES),
                _iso(created),
                f'{{"employees": "{int(weight * 20)}"}}',
                bucket_of(cid),
                False,
            ),
        )
        for _ in range(int(expo(1.0) * opc * min(weight, 50) / _MEAN_W50 + 0.5)):
            n_order += 1
            day = max(created, today - randrange(span))
            amount = int(rng.lognormvariate(10.3, 0.9) * min(weight, 30)) * 100
            collected = amount if rand() < 0.8 else amount * randrange(10) // 10
            if owner is not None and last_quarter_start <= day <= last_quarter_end:
                last_quarter_sales[owner] = last_quarter_sales.get(owner, 0) + amount
            yield (
                "orders",
                (
                    f"O{n_order:08d}",
                    cid,
                    owner,
                    amount,
                    _iso(day),
                    collected,
                    choice(PRODUCTS),
                    False,
                ),
            )
        for _ in range(int(expo(1.0) * dpc + 0.5)):
            n_deal += 1
            changed = today - randrange(180)
            yield (
                "deals",
                (
                    f"D{n_deal:08d}",
                    cid,
                    owner,
                    choice(STAGES),
                    int(rng.lognormvariate(11.5, 1.0) * min(weight, 10)) * 100,
                    _iso(changed + 15 + randrange(105)),
                    _iso(changed),
                    choice(DEAL_STATUSES),
                    False,
                ),
            )
        if owner is not None:
            for _ in range(int(expo(1.0) * apc * min(weight, 20) / _MEAN_W20 + 0.5)):
                n_act += 1
                day = today - int(expo(1 / 120)) % span
                channel = choice(CHANNEL_MIX)
                yield (
                    "activities",
                    (
                        f"A{n_act:09d}",
                        cid,
                        owner,
                        f"{_iso(day)} {8 + randrange(12):02d}:{randrange(60):02d}:00",
                        _iso(day),
                        channel,
                        "上门拜访，需求调研" if channel == "visit" else "产品介绍",
                        choice(FEEDBACK),
                        choice(NEXT_STEPS),
                        False,
                    ),
                )
        if rand() < 0.2:
            yield (
                "surveys",
                (
                    f"S{i + 1:07d}",
                    cid,
                    _iso(today - randrange(180)),
                    choice((10, 9, 9, 8, 7, 6, 3)),
                    float(55 + randrange(46)),
                    rand() < 0.03,
                    False,
                ),
            )
    targets = _targets(as_of, rng, reps, units, last_quarter_sales)
    for target in targets:
        yield "targets", (*target, False)
    for note in _notes(as_of, rng, targets):
        yield "progress_notes", (*note, False)


def _iso(ordinal: int) -> str:
    return date.fromordinal(ordinal).isoformat()


def build(
    engine: Engine,
    as_of: date,
    size: DemoSize,
    seed: int = 7,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Fill an empty database with the demo organisation in one transaction; return row counts."""
    counts: dict[str, int] = dict.fromkeys(COLUMNS, 0)
    batches: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}
    with engine.begin() as conn:
        for table, row in generate(as_of, size, seed):
            batch = batches[table]
            batch.append(row)
            if len(batch) >= BATCH:
                bulk_insert(conn, table, COLUMNS[table], batch)
                counts[table] += len(batch)
                batch.clear()
                if progress:
                    progress(table, counts[table])
        for table, batch in batches.items():
            if batch:
                bulk_insert(conn, table, COLUMNS[table], batch)
                counts[table] += len(batch)
    return counts


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _org(
    rep_count: int, as_of: date, rng: random.Random
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(org_units, reps) rows: HQ → 3 regions → 7 city branches → reps, each unit with a head."""

    def rep(
        rid: str,
        name: str,
        unit: str,
        manager: str | None,
        days: int,
        score: float,
        n: int | None = None,
    ) -> tuple[Any, ...]:
        contact = (f"rep{n}@example.com", f"139{n:08d}", f"rep{n}") if n else (None, None, None)
        return (
            rid,
            name,
            unit,
            manager,
            (as_of - timedelta(days=days)).isoformat(),
            score,
            True,
            *contact,
        )

    units: list[tuple[Any, ...]] = [("HQ", "总部", None, "company", "M0")]
    reps = [rep("M0", "总经理" + _person(rng), "HQ", None, 3000, 95.0)]
    cities = [(region, city) for region, names in REGIONS.items() for city in names]
    region_ids = {region: f"RG{i}" for i, region in enumerate(REGIONS, start=1)}
    for region, rid in region_ids.items():
        units.append((rid, f"{region}大区", "HQ", "region", "M" + rid[2:]))
        reps.append(rep("M" + rid[2:], _person(rng), rid, "M0", 2000, 92.0))
    for c, (region, city) in enumerate(cities, start=1):
        units.append((f"CT{c}", f"{city}分公司", region_ids[region], "city", f"CM{c}"))
        reps.append(rep(f"CM{c}", _person(rng), f"CT{c}", None, 1500, 90.0))
    for i in range(rep_count):
        tenure = min(int(rng.paretovariate(1.2) * 120), 3650)
        reps.append(
            rep(
                f"R{i + 1:04d}",
                _person(rng),
                f"CT{i % len(cities) + 1}",
                None,
                tenure,
                float(rng.randint(60, 100)),
                i + 1,
            )
        )
    return units, reps


def _targets(
    as_of: date,
    rng: random.Random,
    reps: list[tuple[Any, ...]],
    units: list[tuple[Any, ...]],
    last_quarter: dict[str, int],
) -> list[tuple[Any, ...]]:
    """This quarter's goals (values in hundredths). Sales: each seller's last quarter raised
    0–60% (so that some lag), rounded to 10,000; new customers and visits a few per seller;
    each org unit the sum of its sellers' (the company's sales a little higher, so that one
    parent does not add up). Rates for every org unit: collection 90%, A-grade conversion 5%;
    for every seller collection 90% and satisfaction 80, the scorecard's other KPIs."""
    start = dates.period_start(as_of, "quarter")
    end = dates.period_end(as_of, "quarter")
    label = dates.period_label(as_of, "quarter").replace("-", "")
    parent = {u[0]: u[2] for u in units}
    sums = ("sales", "new_customers", "visits")
    totals: dict[tuple[str, str], int] = {(u, m): 0 for u in parent for m in sums}
    out: list[tuple[Any, ...]] = []

    def goal(owner_type: str, owner: str, metric: str, value: int) -> None:
        key = f"T-{owner}-{label}" + ("" if metric == "sales" else f"-{metric}")
        out.append((key, owner_type, owner, metric, start.isoformat(), end.isoformat(), value))

    for rep in reps:
        if not rep[0].startswith("R"):
            continue
        base = max(last_quarter.get(rep[0], 0), 1_000_000_00)
        values = {
            "sales": int(base * rng.choice([0.9, 1.0, 1.1, 1.2, 1.3, 1.6]) // 1_000_000)
            * 1_000_000,
            "new_customers": rng.randint(2, 6) * 100,
            "visits": rng.randint(60, 200) * 100,
        }
        for metric, value in values.items():
            goal("rep", rep[0], metric, value)
            unit: str | None = rep[2]
            while unit is not None:
                totals[unit, metric] += value
                unit = parent[unit]
    for (unit_id, metric), total in totals.items():
        is_top = parent[unit_id] is None
        goal(
            "org_unit", unit_id, metric, total * 11 // 10 if is_top and metric == "sales" else total
        )
    for unit_id in parent:
        goal("org_unit", unit_id, "collection_rate", 90)
        goal("org_unit", unit_id, "conversion_a", 5)
    # the scorecard's other KPIs, per seller: collection 90%, satisfaction 80 of 100
    for rep in reps:
        if rep[0].startswith("R"):
            goal("rep", rep[0], "collection_rate", 90)
            goal("rep", rep[0], "satisfaction", 80_00)
    return out


REASONS = [
    ("2 家大客户延迟签约", "总监陪同拜访，月底前推动签约"),
    ("竞争对手价格战", "申请阶段性价格支持，强化服务差异"),
    ("新人尚在培训期", "师傅带教，每周复盘两次"),
    ("重点客户预算冻结", "转向中小客户，增加拜访量"),
]


def _notes(
    as_of: date, rng: random.Random, targets: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """Progress notes (reason and plan) on every fifth sales goal, as reps file them weekly."""
    period = dates.period_label(as_of, "quarter")
    out = []
    for i, (_, owner_type, owner, metric, start, end, _) in enumerate(targets):
        if metric == "sales" and i % 5 == 0:
            reason, plan = rng.choice(REASONS)
            key = f"{owner_type}:{owner}:{metric}:{period}"
            out.append((key, owner_type, owner, metric, period, start, end, reason, plan))
    return out


def run_demo(engine: Engine, book: Any, as_of: date, size: DemoSize, seed: int, reset: bool) -> str:
    """Build the demo data, evaluate the playbook, and return a short summary for people."""
    from salesplay.engine.errors import SalesplayError
    from salesplay.engine.run.evaluate import evaluate
    from salesplay.engine.store import migrate
    from salesplay.engine.store.models import Alert, Grade, Task, table_of

    with engine.connect() as conn:
        has_data = conn.execute(sa.select(sa.func.count()).select_from(Customer)).scalar()
    if has_data and not reset:
        raise SalesplayError(
            f"--db {engine.url}: the database already holds {has_data} customers; "
            "demo needs an empty one (add --reset to empty it)"
        )
    if reset:
        migrate.reset(engine)
    counts = build(engine, as_of, size, seed)
    result = evaluate(engine, book, as_of)
    grade, task, alert = (table_of(m) for m in (Grade, Task, Alert))
    with engine.connect() as conn:

        def tally(column: Any, *where: Any) -> str:
            query = (
                sa.select(column, sa.func.count()).where(*where).group_by(column).order_by(column)
            )
            return ", ".join(f"{k} {n}" for k, n in conn.execute(query)) or "none"

        by_grade = tally(grade.c.grade)
        by_rule = tally(task.c.rule, task.c.status == "open")
        by_level = tally(alert.c.level, alert.c.status == "open")
        examples = conn.execute(
            sa.select(task.c.id, task.c.assignee_id, task.c.title)
            .where(task.c.status == "open")
            .order_by(task.c.id)
            .limit(3)
        ).all()
        reds = conn.execute(
            sa.select(alert.c.id, alert.c.message)
            .where(alert.c.status == "open", alert.c.level == "red")
            .order_by(alert.c.id)
            .limit(2)
        ).all()
    lines = [
        f"demo database {engine.url} as of {as_of}: "
        + ", ".join(f"{n} {t}" for t, n in counts.items()),
        f"evaluated {book.path} in {result.seconds:.2f}s (run {result.run_id})",
        f"grades: {by_grade}",
        f"open tasks: {by_rule}",
        f"open alerts: {by_level}",
    ]
    lines += [f"  e.g. task {i} for {who}: {title}" for i, who, title in examples]
    lines += [f"  e.g. alert {i} [red]: {message}" for i, message in reds]
    lines.append(
        "next: salesplay tasks --status open | salesplay alerts | "
        "salesplay explain customer C0000001"
    )
    quarter = dates.period_label(as_of, "quarter")
    lines.append(
        f"      salesplay goals --as-of {as_of} | salesplay scorecards --as-of {as_of} | "
        f"salesplay payouts --period {quarter}"
    )
    return "\n".join(lines)


def write_csv(folder: Path, as_of: date, size: DemoSize, seed: int = 7) -> dict[str, int]:
    """The same demo rows as CSV files in the canonical import columns, one file per kind,
    named so that importing them in name order respects references (01_org_units.csv …)."""
    import csv

    from salesplay.engine.store.records import KINDS

    folder.mkdir(parents=True, exist_ok=True)
    order = [
        "org_units",
        "reps",
        "customers",
        "orders",
        "deals",
        "activities",
        "surveys",
        "targets",
        "progress_notes",
    ]
    handles = {}
    writers = {}
    counts = dict.fromkeys(order, 0)
    for i, kind in enumerate(order, start=1):
        handles[kind] = (folder / f"{i:02d}_{kind}.csv").open("w", encoding="utf-8", newline="")
        writers[kind] = csv.writer(handles[kind])
        header = [c.name for c in KINDS[kind].columns]
        writers[kind].writerow([*header, "employees"] if kind == "customers" else header)
    plans = {kind: _csv_plan(kind) for kind in order}
    try:
        for table, row in generate(as_of, size, seed):
            writers[table].writerow(plans[table](row))
            counts[table] += 1
    finally:
        for handle in handles.values():
            handle.close()
    return counts


def _csv_plan(kind: str) -> Callable[[tuple[Any, ...]], list[Any]]:
    """How a generated row (database columns) becomes a CSV row (import columns)."""
    from salesplay.engine.store.records import KINDS

    index = {name: i for i, name in enumerate(COLUMNS[kind])}
    getters: list[Callable[[tuple[Any, ...]], Any]] = []
    for column in KINDS[kind].columns:
        if column.column not in index:  # an optional column the demo leaves empty
            getters.append(lambda row: "")
            continue
        getters.append(_getter(index[column.column], column.type))
    if kind == "customers":
        attrs = index["attrs"]
        getters.append(lambda row: row[attrs].split('"')[3])  # {"employees": "N"}
    return lambda row: [get(row) for get in getters]


def _getter(at: int, kind: str) -> Callable[[tuple[Any, ...]], Any]:
    if kind in ("money", "decimal"):
        return lambda row: _units(row[at])
    if kind == "bool":
        return lambda row: "true" if row[at] else "false"
    return lambda row: "" if row[at] is None else row[at]


def _units(cents: int | None) -> str:
    if cents is None:
        return ""
    whole, frac = divmod(cents, 100)
    return f"{whole}.{frac:02d}" if frac else str(whole)
