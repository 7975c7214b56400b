"""`salesplay init`: a project folder with its salesplay.toml, its own playbook extending a
bundled one, the schema beside it for editors, and an empty database."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from salesplay.engine.errors import SalesplayError
from salesplay.engine.lang.document import BUNDLED, bundled_names, read
from salesplay.engine.project.settings import DEFAULT_DATABASE, FILE
from salesplay.engine.run.family import Examples, RuleFamily

PLAYBOOK = "playbook.yaml"
SCHEMA = "playbook.schema.json"
TESTS = "playbook.test.yaml"

TOML = """\
# salesplay project. Every salesplay command run in this folder, or in a folder below it,
# uses the database and playbook named here (paths relative to this file). An option on the
# command line (--db, --playbook) or an environment variable (SALESPLAY_DB,
# SALESPLAY_PLAYBOOK) wins over this file for one command.
database = "{database}"        # a file, or a URL such as "postgresql://ops@db.example.com/sales"
playbook = "{playbook}"
"""

# Everything below `extends` is commented out: the project starts with exactly the bundled
# rules, and each block shows one common change. Uncommented, every block is valid as written.
PLAYBOOK_TEXT = """\
# yaml-language-server: $schema=./{schema}
#
# 本公司的销售规则：从内置规则 `{base}` 继承，只写与它不同的地方。
# This company's playbook: it extends the bundled `{base}` playbook and says only what differs.
# Check it with `salesplay validate`; `salesplay schema` describes every key.
# Uncomment a block below and change its numbers to make it yours.
extends: {base}
playbook: {name}

{examples}# 目标亮灯：达到预期进度的 80% 为绿灯，低于 60% 为红灯
# Goal lights: green at or above this share of the expected pace, red below the other.
# goals:
#   lights:
#     green: 85%
#     red: 60%

# 提成：阶梯比例按目标完成率（写 3%，不要写 3）
# Commission tiers by attainment (write rates as 3%, never as a bare 3).
# incentives:
#   commission:
#     sales_commission:
#       tiers: [{{upto: 100%, rate: 3%}}, {{upto: 120%, rate: 5%}}, {{rate: 8%}}]
#       # by amount sold instead (no target needed; 月销售额 30 万以下 3% …):
#       # by: amount
#       # tiers: [{{upto: 30万, rate: 3%}}, {{upto: 50万, rate: 5%}}, {{rate: 7%}}]
"""


@dataclass(frozen=True)
class Created:
    folder: Path
    files: list[str]
    base: str


def init(
    folder: Path,
    industry: str | None,
    schema_json: str,
    make_database: Callable[[str], object],
    families: Sequence[RuleFamily] = (),
) -> Created:
    """Create the project's files in `folder` (made if missing). Refuses, changing nothing,
    when any of them already exists: a project is never overwritten."""
    base = industry or "default"
    if base not in bundled_names():
        import difflib

        close = difflib.get_close_matches(base, bundled_names(), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise SalesplayError(
            f"--industry {base}: no such bundled playbook ({hint}"
            f"there are: {', '.join(bundled_names())})"
        )
    folder = folder.resolve()
    targets = [folder / n for n in (FILE, PLAYBOOK, TESTS, SCHEMA, DEFAULT_DATABASE)]
    existing = [p.name for p in targets if p.exists()]
    if existing:
        raise SalesplayError(
            f"{folder} already holds {', '.join(existing)}: nothing was changed "
            "(a project is never overwritten; choose an empty folder)"
        )
    if folder.exists() and not folder.is_dir():
        raise SalesplayError(f"{folder} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    name = "".join(ch if ch.isalnum() else "_" for ch in folder.name).strip("_") or "company"
    name = f"company_{name}" if name[0].isdigit() else name
    (folder / SCHEMA).write_text(schema_json, "utf-8")
    examples = _examples(base, families)
    text = PLAYBOOK_TEXT.format(schema=SCHEMA, base=base, name=name, examples=examples)
    (folder / PLAYBOOK).write_text(text, "utf-8")
    (folder / TESTS).write_text(_tests(base), "utf-8")
    (folder / FILE).write_text(TOML.format(database=DEFAULT_DATABASE, playbook=PLAYBOOK), "utf-8")
    make_database(f"sqlite:///{folder / DEFAULT_DATABASE}")
    return Created(folder, [FILE, PLAYBOOK, TESTS, SCHEMA, DEFAULT_DATABASE], base)


def _examples(base: str, families: Sequence[RuleFamily]) -> str:
    """Each family's own example of its section, from the base playbook, commented out."""
    data = read(base).data
    blocks = []
    for family in families:
        section = data.get(family.section)
        if isinstance(family, Examples) and section:
            lines = family.example(section)
            blocks.append("".join(f"# {line}\n" if line else "#\n" for line in lines) + "\n")
    return "".join(blocks)


def _tests(base: str) -> str:
    """The bundled playbook's own YAML tests, pointed at the project's playbook: they pass as
    the project starts, and `salesplay test` then shows which worked example an edit changes."""
    from importlib import resources

    text = resources.files(BUNDLED).joinpath(f"{base}.test.yaml").read_text("utf-8")
    header = (
        f"# The worked examples of the bundled `{base}` playbook, run against this project's\n"
        f"# playbook by `salesplay test`. When you change a rule on purpose, change its expected\n"
        f"# results here too; add your own examples of your company's policy.\n"
    )
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):  # the bundled file's own header
        lines.pop(0)
    out = [f"playbook: {PLAYBOOK}\n" if line.startswith("playbook:") else line for line in lines]
    return header + "".join(out)
