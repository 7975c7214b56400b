"""Which project, database and playbook a command uses, and where each came from.

Precedence, for the database and the playbook alike: the command-line option, then the
environment variable, then the project's salesplay.toml, then the built-in default. The
project is `--project DIR`, else SALESPLAY_PROJECT, else the nearest salesplay.toml in the
working directory or a folder above it (as git finds its repository), else none.

Paths in salesplay.toml are relative to the file; paths on the command line or in the
environment, to the working directory. Nothing here opens a database or reads a playbook:
`salesplay validate`, `schema`, `info` and `--help` resolve settings without touching either.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from salesplay.engine.errors import ProjectError, SalesplayError
from salesplay.engine.lang.document import Document, bundled_names

FILE = "salesplay.toml"
DEFAULT_DATABASE = "salesplay.db"
DEFAULT_PLAYBOOK = "default"
ENV = {"project": "SALESPLAY_PROJECT", "database": "SALESPLAY_DB", "playbook": "SALESPLAY_PLAYBOOK"}
OPTION = {"project": "--project", "database": "--db", "playbook": "--playbook"}
KEYS = {
    "database": "the database: a file (relative to this file) or a URL",
    "playbook": "the playbook: a file (relative to this file) or a bundled name",
}


@dataclass(frozen=True)
class Setting:
    """A resolved value and where it came from (`--db`, `SALESPLAY_DB`, the toml, default)."""

    value: str
    source: str
    given: str = ""  # as written, before resolving against a folder


@dataclass(frozen=True)
class Settings:
    project: Path | None  # the folder holding salesplay.toml
    project_source: str
    database: Setting  # a SQLAlchemy URL
    playbook: Setting  # a bundled name or an absolute path
    config: Mapping[str, Any] = field(default_factory=dict)  # the toml's other tables

    @property
    def toml(self) -> Path | None:
        return self.project / FILE if self.project else None

    @property
    def playbook_named(self) -> bool:
        """Did the user name the playbook on this command line?"""
        return self.playbook.source == OPTION["playbook"]

    def database_file(self) -> Path | None:
        """The SQLite file the database URL names, or None (PostgreSQL, in memory)."""
        return sqlite_file(self.database.value)

    def require_database(self) -> str:
        """The URL, after checking that the database it names exists: a command that only
        reads or evaluates must not create an empty database where the user made a mistake."""
        path = self.database_file()
        if path is not None and not path.exists():
            raise SalesplayError(
                f"no database at {path} ({self.database.source}): {self.how_to_set()}"
            )
        return self.database.value

    def document(self) -> Document | None:
        """salesplay.toml's tables as a document whose keys know their lines, for messages
        located in the file (the `imports` tables are checked so), or None without one."""
        if self.toml is None:
            return None
        text = self.toml.read_text("utf-8-sig")
        lines = {path: (str(self.toml), line) for path, line in toml_lines(text).items()}
        lines[()] = (str(self.toml), 1)
        return Document(str(self.toml), dict(self.config), lines, "")

    def how_to_set(self) -> str:
        if self.project is None:
            return (
                "run salesplay init to start a project here, run from a project folder, "
                "or give --project DIR or --db FILE|URL"
            )
        return f"import records first (salesplay import KIND FILE), or set database in {self.toml}"


def resolve(
    project: str | None = None,
    database: str | None = None,
    playbook: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """The settings in force for the options given on the command line (None: not given)."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    folder, folder_source = _project(project, env, cwd)
    config = read(folder / FILE) if folder else {}
    toml_source = f"{folder / FILE}" if folder else ""

    def pick(key: str, given: str | None) -> tuple[str, str, Path] | None:
        if given:
            return given, OPTION[key], cwd
        if env.get(ENV[key]):
            return env[ENV[key]], ENV[key], cwd
        if key in config and folder is not None:
            return str(config[key]), toml_source, folder
        return None

    found = pick("database", database)
    if found is None:
        db = Setting(
            database_url(DEFAULT_DATABASE, cwd),
            "the default: salesplay.db in the working directory",
        )
    else:
        db = Setting(database_url(found[0], found[2]), found[1], found[0])
    found = pick("playbook", playbook)
    if found is None:
        book = Setting(DEFAULT_PLAYBOOK, "the default: the bundled playbook")
    else:
        base = found[2] if found[1] == toml_source else None
        book = Setting(playbook_ref(found[0], base), found[1], found[0])
    rest = {k: v for k, v in config.items() if k not in KEYS}
    return Settings(folder, folder_source, db, book, rest)


def _project(given: str | None, env: Mapping[str, str], cwd: Path) -> tuple[Path | None, str]:
    for value, source in ((given, OPTION["project"]), (env.get(ENV["project"]), ENV["project"])):
        if not value:
            continue
        folder = (cwd / value).resolve()
        if folder.is_file() and folder.name == FILE:
            folder = folder.parent
        if not (folder / FILE).is_file():
            raise SalesplayError(
                f"{source} {value}: no {FILE} in {folder} (salesplay init {value} makes one)"
            )
        return folder, source
    for folder in [cwd.resolve(), *cwd.resolve().parents]:
        if (folder / FILE).is_file():
            where = "the working directory" if folder == cwd.resolve() else "a folder above it"
            return folder, f"{FILE} found in {where}"
    return None, "none: no salesplay.toml here or in a folder above"


def read(path: Path) -> dict[str, Any]:
    """A salesplay.toml: known keys checked, every problem located at its line."""
    try:
        text = path.read_text("utf-8-sig")
    except OSError as exc:
        raise ProjectError(f"cannot read the project file: {exc.strerror}", str(path), 1) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_of(str(exc))
        reason = str(exc).split(" (at line")[0]
        raise ProjectError(f"not valid TOML: {reason}", str(path), line) from None
    for key, value in data.items():
        if key in KEYS and not (isinstance(value, str) and value.strip()):
            raise ProjectError(f"must be text: {KEYS[key]}", str(path), _key_line(text, key), key)
    return data


_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"


def toml_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """The line of each table and key of a TOML text, by its path (`[imports.customers]` and
    `columns.客户名称 = "name"` under it). A key inside an inline table `{ … }` has the line of
    the table's key: messages then point at that line."""
    import re

    lines: dict[tuple[str | int, ...], int] = {}
    table: tuple[str, ...] = ()
    header = re.compile(rf"\s*\[\[?\s*({_DOTTED})\s*\]\]?\s*(#.*)?$")
    assignment = re.compile(rf"\s*({_DOTTED})\s*=")
    for number, line in enumerate(text.splitlines(), 1):
        found = header.match(line)
        if found:
            table = _key_parts(found.group(1))
            for depth in range(1, len(table) + 1):
                lines.setdefault(table[:depth], number)
            continue
        found = assignment.match(line)
        if found:
            path = (*table, *_key_parts(found.group(1)))
            for depth in range(len(table) + 1, len(path) + 1):
                lines.setdefault(path[:depth], number)
    return lines


def _key_parts(dotted: str) -> tuple[str, ...]:
    import re

    parts = re.findall(rf"{_KEY}", dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _line_of(message: str) -> int:
    import re

    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else 1


def _key_line(text: str, key: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(key) and line.split("=")[0].strip() == key:
            return number
    return 1


def database_url(value: str, base: Path) -> str:
    """A URL as it is; a file path (`salesplay.db`, `data/sales.db`) as an SQLite URL, relative
    to `base`. `sqlite:///NAME` with a relative NAME is relative to `base` too."""
    value = value.strip()
    if "://" not in value:
        return f"sqlite:///{(base / Path(value).expanduser()).resolve()}"
    if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        name = value[len("sqlite:///") :]
        if name and name != ":memory:" and not name.startswith(("file:", "?")):
            return f"sqlite:///{(base / name).resolve()}"
    return value


def sqlite_file(url: str) -> Path | None:
    if not url.startswith("sqlite:///"):
        return None
    name = url[len("sqlite:///") :].split("?")[0]
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name)


def playbook_ref(value: str, base: Path | None) -> str:
    """A bundled name stays a name; a file in salesplay.toml becomes an absolute path (relative
    to the file). One given on the command line or in the environment stays as typed, relative
    to the working directory, so that messages name the file the way the user wrote it."""
    value = value.strip()
    looks_like_path = value.endswith((".yaml", ".yml")) or "/" in value or os.sep in value
    if base is None or (value in bundled_names() and not looks_like_path):
        return value
    path = (base / Path(value).expanduser()).resolve()
    if not looks_like_path and not path.exists():
        return value  # an unknown bundled name: the loader says which names there are
    return str(path)


def hide_password(url: str) -> str:
    """The URL for printing: `postgresql://ops:***@db/sales`."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url
