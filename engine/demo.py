"""A deterministic synthetic sales organisation: org tree, reps, customers, orders, deals,
activities, surveys and targets, shaped like the documents describe (a skewed revenue curve,
a funnel, more contact with bigger customers). The same seed and date give the same data.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from . import dates
from .models import Activity, Customer, Deal, Order, OrgUnit, Rep, Survey, Target

REGIONS = {
    "华东": ["上海", "杭州", "南京"],
    "华北": ["北京", "天津"],
    "华南": ["广州", "深圳"],
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红鹏辉"
PREFIX = ["华", "鑫", "盛", "恒", "瑞", "嘉", "达", "信", "宏", "金", "天", "博", "安", "泰", "锦"]
MIDDLE = ["联", "创", "源", "通", "康", "美", "科", "兴", "丰", "新", "融", "汇", "远", "德"]
INDUSTRIES = {"制造": "manufacturing", "零售": "retail", "医药": "pharma", "快消": "fmcg",
              "教育": "education", "物流": "logistics"}
SUFFIX = {"manufacturing": "机械", "retail": "商贸", "pharma": "医药", "fmcg": "食品",
          "education": "教育科技", "logistics": "物流"}
STAGES = ["lead", "opportunity", "proposal", "contract"]
CHANNELS = ["visit", "video", "call", "wechat", "email", "message"]
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
        return self.reps or max(7, min(2000, self.customers // 500))


def build(engine: Engine, as_of: date, size: DemoSize, seed: int = 7,
          progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Fill an empty database with the demo organisation; return row counts per table."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    units, reps = _org(size.rep_count, as_of, rng)
    with engine.begin() as conn:
        counts["org_units"] = _insert(conn, OrgUnit, iter(units), progress)
        counts["reps"] = _insert(conn, Rep, iter(reps), progress)
        rep_ids = [r["id"] for r in reps if r["org_unit_id"] and r["id"].startswith("R")]
        city_of = {r["id"]: r["org_unit_id"] for r in reps}
        customers = _customers(size, as_of, rng, rep_ids, city_of)
        counts["customers"] = _insert(conn, Customer, iter(customers), progress)
        weights = [c["_weight"] for c in customers]
        generated: tuple[tuple[Any, Iterator[dict[str, Any]]], ...] = (
            (Order, _orders(size, as_of, rng, customers)),
            (Deal, _deals(size, as_of, rng, customers)),
            (Activity, _activities(size, as_of, rng, customers, weights)),
            (Survey, _surveys(as_of, rng, customers)),
        )
        for model, gen in generated:
            counts[model.__tablename__] = _insert(conn, model, gen, progress)
        counts["targets"] = _insert(conn, Target, iter(_targets(as_of, rng, reps, units)), progress)
    return counts


def _insert(conn: Any, model: Any, rows: Iterator[dict[str, Any]],
            progress: Callable[[str, int], None] | None) -> int:
    table = model.__table__
    names = [c.name for c in table.columns]
    batch: list[dict[str, Any]] = []
    total = 0
    for row in rows:
        batch.append({n: row.get(n, False if n == "deleted" else None) for n in names})
        if len(batch) >= BATCH:
            conn.execute(sa.insert(table), batch)
            total += len(batch)
            batch = []
            if progress:
                progress(table.name, total)
    if batch:
        conn.execute(sa.insert(table), batch)
        total += len(batch)
    if progress:
        progress(table.name, total)
    return total


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _org(rep_count: int, as_of: date, rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    units = [{"id": "HQ", "name": "总部", "parent_id": None, "kind": "company", "manager_id": "M0"}]
    reps = [{"id": "M0", "name": "总经理" + _person(rng), "org_unit_id": "HQ", "manager_id": None,
             "hired_on": as_of - timedelta(days=3000), "exam_score": 95.0, "active": True,
             "email": "ceo@example.com", "mobile": "13800000000", "im_id": "ceo"}]
    cities = [(region, city) for region, names in REGIONS.items() for city in names]
    for r, region in enumerate(REGIONS, start=1):
        units.append({"id": f"RG{r}", "name": f"{region}大区", "parent_id": "HQ", "kind": "region",
                      "manager_id": f"M{r}"})
        reps.append({"id": f"M{r}", "name": _person(rng), "org_unit_id": f"RG{r}",
                     "manager_id": "M0", "hired_on": as_of - timedelta(days=2000),
                     "exam_score": 92.0, "active": True})
    region_ids = {region: f"RG{i}" for i, region in enumerate(REGIONS, start=1)}
    for c, (region, city) in enumerate(cities, start=1):
        units.append({"id": f"CT{c}", "name": f"{city}分公司", "parent_id": region_ids[region],
                      "kind": "city", "manager_id": f"CM{c}"})
        reps.append({"id": f"CM{c}", "name": _person(rng), "org_unit_id": f"CT{c}",
                     "manager_id": None, "hired_on": as_of - timedelta(days=1500),
                     "exam_score": 90.0, "active": True})
    for i in range(rep_count):
        city = f"CT{i % len(cities) + 1}"
        tenure = int(rng.paretovariate(1.2) * 120)
        reps.append({
            "id": f"R{i + 1:04d}", "name": _person(rng), "org_unit_id": city, "manager_id": None,
            "hired_on": as_of - timedelta(days=min(tenure, 3650)),
            "exam_score": float(rng.randint(60, 100)), "active": True,
            "email": f"rep{i + 1}@example.com", "mobile": f"139{i + 1:08d}",
            "im_id": f"rep{i + 1}",
        })
    return units, reps


def _customers(size: DemoSize, as_of: date, rng: random.Random, rep_ids: list[str],
               city_of: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    start = dates.shift(as_of, -size.years - 1, "years")
    span = (as_of - start).days
    industries = list(INDUSTRIES.values())
    for i in range(size.customers):
        industry = rng.choice(industries)
        owner = rep_ids[i % len(rep_ids)] if rng.random() > 0.02 else None
        out.append({
            "id": f"C{i + 1:07d}",
            "name": rng.choice(PREFIX) + rng.choice(MIDDLE) + SUFFIX[industry] + "有限公司",
            "owner_id": owner, "org_unit_id": city_of.get(owner or "", None),
            "industry": industry, "strategic": rng.random() < 0.02,
            "status": rng.choice(["active"] * 8 + ["negotiating", "paused"]),
            "created_on": start + timedelta(days=rng.randrange(span)),
            "attrs": {"employees": str(int(rng.paretovariate(1.1) * 20))},
            "_weight": rng.paretovariate(1.16),  # 80/20: a few customers buy most
        })
    return out


def _orders(size: DemoSize, as_of: date, rng: random.Random,
            customers: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    n = 0
    mean = sum(c["_weight"] for c in customers) / max(1, len(customers))
    span = 365 * size.years
    for c in customers:
        count = min(200, int(rng.expovariate(1 / size.orders_per_customer) * c["_weight"] / mean) + 0)
        for _ in range(count):
            n += 1
            day = as_of - timedelta(days=rng.randrange(span))
            if c["created_on"] and day < c["created_on"]:
                day = c["created_on"]
            amount = int(rng.lognormvariate(10.3, 0.9) * min(c["_weight"], 30)) * 100
            collected = amount if rng.random() < 0.8 else amount * rng.randint(0, 9) // 10
            yield {"id": f"O{n:08d}", "customer_id": c["id"], "rep_id": c["owner_id"],
                   "amount_cents": amount, "ordered_on": day, "collected_cents": collected,
                   "product": rng.choice(["A", "A", "B", "C"])}


def _deals(size: DemoSize, as_of: date, rng: random.Random,
           customers: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    n = 0
    for c in customers:
        count = int(rng.expovariate(1 / size.deals_per_customer))
        for _ in range(count):
            n += 1
            status = rng.choice(["open", "open", "open", "won", "lost"])
            changed = as_of - timedelta(days=rng.randrange(180))
            yield {"id": f"D{n:08d}", "customer_id": c["id"], "rep_id": c["owner_id"],
                   "stage": rng.choice(STAGES), "status": status,
                   "amount_cents": int(rng.lognormvariate(11.5, 1.0) * min(c["_weight"], 10)) * 100,
                   "expected_close": changed + timedelta(days=rng.randrange(15, 120)),
                   "stage_changed_on": changed}


def _activities(size: DemoSize, as_of: date, rng: random.Random, customers: list[dict[str, Any]],
                weights: list[float]) -> Iterator[dict[str, Any]]:
    n = 0
    span = 365 * size.years
    for c in customers:
        if c["owner_id"] is None:
            continue
        count = int(rng.expovariate(1 / size.activities_per_customer) * min(c["_weight"], 4) / 2)
        for _ in range(count):
            n += 1
            day = as_of - timedelta(days=int(rng.expovariate(1 / 120)) % span)
            at = datetime(day.year, day.month, day.day, rng.randint(8, 19), rng.randrange(60))
            channel = rng.choices(CHANNELS, weights=[3, 2, 4, 4, 1, 1])[0]
            yield {"id": f"A{n:09d}", "customer_id": c["id"], "rep_id": c["owner_id"],
                   "occurred_at": at, "occurred_on": day, "channel": channel,
                   "content": "产品介绍" if channel != "visit" else "上门拜访，需求调研",
                   "feedback": rng.choice(["有兴趣", "需要报价", "暂无需求", "比较价格"]),
                   "next_step": rng.choice(["发送报价", "安排演示", "下月回访", None])}


def _surveys(as_of: date, rng: random.Random, customers: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for i, c in enumerate(customers):
        if rng.random() < 0.2:
            yield {"id": f"S{i + 1:07d}", "customer_id": c["id"],
                   "surveyed_on": as_of - timedelta(days=rng.randrange(180)),
                   "nps": rng.choice([10, 9, 9, 8, 7, 6, 3]), "satisfaction": float(rng.randint(55, 100)),
                   "complaint": rng.random() < 0.03}


def _targets(as_of: date, rng: random.Random, reps: list[dict[str, Any]],
             units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    start = dates.period_start(as_of, "quarter")
    end = dates.period_end(as_of, "quarter")
    out = []
    for rep in reps:
        if rep["id"].startswith("R"):
            out.append({"id": f"T-{rep['id']}-{start:%Y}Q{(start.month - 1) // 3 + 1}",
                        "owner_type": "rep", "owner_id": rep["id"], "metric": "sales",
                        "period_start": start, "period_end": end,
                        "value_x100": rng.choice([60, 80, 100, 120, 150]) * 10_000 * 100})
    for unit in units:
        out.append({"id": f"T-{unit['id']}-{start:%Y}Q{(start.month - 1) // 3 + 1}",
                    "owner_type": "org_unit", "owner_id": unit["id"], "metric": "sales",
                    "period_start": start, "period_end": end,
                    "value_x100": 5_000_000 * 100})
    return out


def run_demo(engine: Engine, book: Any, as_of: date, size: DemoSize, seed: int,
             reset: bool) -> str:
    """Build the demo data, evaluate the playbook, and return a short summary for people."""
    from sqlmodel import SQLModel

    from .db import create_tables
    from .errors import SalesplayError
    from .evaluate import evaluate
    from .queries import alerts, grades, tasks

    with engine.connect() as conn:
        has_data = conn.execute(sa.select(sa.func.count()).select_from(Customer)).scalar()
    if has_data and not reset:
        raise SalesplayError(f"--db {engine.url}: the database already holds {has_data} customers; "
                             "demo needs an empty one (add --reset to empty it)")
    if reset:
        SQLModel.metadata.drop_all(engine)
        create_tables(engine)
    counts = build(engine, as_of, size, seed)
    result = evaluate(engine, book, as_of)
    by_grade: dict[str, int] = {}
    for row in grades(engine):
        by_grade[row["grade"]] = by_grade.get(row["grade"], 0) + 1
    open_tasks = tasks(engine, status="open")
    open_alerts = alerts(engine, status="open")
    levels: dict[str, int] = {}
    for row in open_alerts:
        levels[row["level"]] = levels.get(row["level"], 0) + 1
    lines = [
        f"demo database {engine.url} as of {as_of}: "
        + ", ".join(f"{n} {t}" for t, n in counts.items()),
        f"evaluated {book.path} in {result.seconds:.2f}s (run {result.run_id})",
        "grades: " + ", ".join(f"{g} {n}" for g, n in sorted(by_grade.items())),
        f"open tasks: {len(open_tasks)} ("
        + ", ".join(f"{r} {sum(1 for t in open_tasks if t['rule'] == r)}"
                    for r in sorted({t["rule"] for t in open_tasks})) + ")",
        "open alerts: " + (", ".join(f"{lv} {n}" for lv, n in sorted(levels.items())) or "none"),
    ]
    for row in open_tasks[:3]:
        lines.append(f"  e.g. task {row['id']} for {row['assignee_id']}: {row['title']}")
    for row in [a for a in open_alerts if a["level"] == "red"][:2]:
        lines.append(f"  e.g. alert {row['id']} [{row['level']}]: {row['message']}")
    lines.append("next: salesplay tasks --status open | salesplay alerts | "
                 "salesplay explain customer ID")
    return "\n".join(lines)
