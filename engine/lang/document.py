"""A playbook as a document: strict YAML, `extends` resolved, every value mapped to its line.

Reading is the first two phases of loading (engine/loader.py runs the rest): parse each file
with the strict reader, then merge it over what it `extends`. Every problem is a PlaybookError
naming file, line and YAML path, e.g. `fmcg.yaml:3: extends: no playbook 'defualt' …`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from salesplay.engine.errors import ExpressionError, PlaybookError
from salesplay.engine.lang import dates
from salesplay.engine.lang.yamlsafe import load_yaml, render_path

YamlPath = tuple[str | int, ...]
Lines = dict[YamlPath, tuple[str, int]]
BUNDLED = "salesplay.playbooks"
DEFAULT = "default"
# The largest playbook file read: the bundled ones are about 20 KB, so 5 MB is any real one
# with room to spare, and a bigger file (or a device that never ends) is refused unread.
MAX_BYTES = 5 * 1024 * 1024
# How many playbooks one may build on through `extends` (each over the next): a company's
# playbook over an industry's over the default is 3.
MAX_EXTENDS = 16


@dataclass
class Document:
    """A playbook's merged data, the line of every value, and where it came from."""

    path: str
    data: dict[str, Any]
    lines: Lines
    content_hash: str
    files: list[str] = field(default_factory=list)
    # What the runs ledger records and pinning compares: a bundled playbook's name (`default`),
    # a file's absolute resolved path. See origin_of().
    origin: str = ""

    @property
    def name(self) -> str:
        return str(self.data.get("playbook") or Path(self.path).stem)

    @property
    def timezone(self) -> str:
        return str(self.data.get("timezone") or "Asia/Shanghai")

    @property
    def language(self) -> str:
        """The language of tables (`zh` or `en`): the bundled playbooks say zh, and a playbook
        that extends one inherits it; one that says nothing and extends none is en."""
        return str(self.data.get("language") or "en")

    def today(self, now: datetime | None = None) -> date:
        """Today in the playbook's time zone (now is passed in by tests and schedulers)."""
        zone = ZoneInfo(self.timezone)
        return (now.astimezone(zone) if now else datetime.now(zone)).date()

    def section(self, name: str) -> Any:
        return self.data.get(name)

    def error(self, path: YamlPath, message: str) -> PlaybookError:
        """A PlaybookError pointing at the nearest line we know for path."""
        file, line = self.where(path)
        return PlaybookError(message, file, line, render_path(path))

    def expression_error(self, path: YamlPath, exc: ExpressionError) -> PlaybookError:
        return self.error(path, exc.message)

    def where(self, path: YamlPath) -> tuple[str, int]:
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), (self.path, 1))

    def check_timezone(self) -> None:
        """The `timezone` is an IANA zone this machine knows."""
        try:
            dates.check_zone(self.timezone)
        except ExpressionError as exc:
            raise self.error(("timezone",), exc.message) from None


def bundled_names() -> list[str]:
    """The bundled playbooks: every .yaml file of the package but the tests (`*.test.yaml`)."""
    folder = resources.files(BUNDLED)
    return sorted(
        p.name[:-5]
        for p in folder.iterdir()
        if p.name.endswith(".yaml") and not p.name.endswith(".test.yaml")
    )


def origin_of(recorded: str) -> str:
    """A playbook as the runs ledger names it, normalised so that two names of one playbook
    compare equal: a bundled playbook is its name, a file its absolute resolved path.

    Runs recorded before playbooks were pinned hold what the user typed: `playbooks/default.yaml`
    for a bundled one, a path relative to the folder salesplay ran in, or the bundled file's
    own path inside the installed package or a checkout; each of these counts as what it names.
        origin_of("playbooks/default.yaml") == "default"
        origin_of("/venv/lib/python3.11/site-packages/salesplay/playbooks/fmcg.yaml") == "fmcg"
    """
    names = bundled_names()
    if recorded in names:
        return recorded
    path = Path(recorded)
    if path.parent == Path("playbooks") and path.suffix == ".yaml" and path.stem in names:
        return path.stem
    resolved = path.resolve()  # relative: to the working folder, the best guess left
    if resolved.parent.name == "playbooks" and resolved.suffix == ".yaml":
        home = resolved.parent.parent
        ours = Path(str(resources.files(BUNDLED))).resolve()
        installed = home.name == "salesplay" and bool(
            {"site-packages", "dist-packages"} & set(home.parts)
        )  # perhaps another release's, in a virtual environment since removed
        if resolved.stem in names and (
            resolved.parent == ours or installed or (home / "engine" / "loader.py").exists()
        ):
            return resolved.stem
    return str(resolved)


def describe(origin: str) -> str:
    """A playbook's name and where it is, for messages: `default (bundled)`,
    `medical (/srv/sales/medical.yaml)`."""
    if origin in bundled_names():
        return f"{origin} (bundled)"
    return f"{Path(origin).stem} ({origin})"


@dataclass(frozen=True)
class _Source:
    display: str  # as messages name it
    text: str
    identity: str  # tells two spellings of one file apart
    folder: Path | None  # what its own `extends` is relative to; None: bundled, extends bundled


def _resolve(ref: str, relative_to: Path | None, bundled_only: bool) -> _Source:
    """A bundled playbook's name means that playbook; a path means a file.

    A bundled playbook extends bundled ones only, and a bare bundled name (`default`, `fmcg`)
    means the bundled playbook wherever it is written, so a file or folder called `default` in
    the working directory or beside the playbook changes nothing. A file of that name is
    reached as a path: `./default`. A path is a name ending in .yaml/.yml or holding a folder
    separator; a bare name that is no bundled playbook's is read as a file when one exists.
    """
    candidate = Path(ref)
    if relative_to is not None and not candidate.is_absolute():
        candidate = relative_to / candidate
    display = ref if relative_to is None else os.path.normpath(candidate)
    is_path = (
        candidate.suffix in (".yaml", ".yml")
        or "/" in ref
        or os.sep in ref
        or (ref not in bundled_names() and _exists(candidate))
    )
    if not bundled_only and is_path:
        try:
            text = _read_text(candidate, display)
        except FileNotFoundError:
            raise PlaybookError(f"playbook file not found: {display}") from None
        except IsADirectoryError:
            raise PlaybookError(f"{display} is a folder: give the playbook's .yaml file") from None
        except UnicodeDecodeError:
            raise PlaybookError("not UTF-8 text: save the playbook as UTF-8", display, 1) from None
        except OSError as exc:
            raise PlaybookError(f"cannot read {display}: {exc.strerror}") from None
        return _Source(display, text, str(candidate.resolve()), candidate.parent)
    if ref in bundled_names():
        text = resources.files(BUNDLED).joinpath(f"{ref}.yaml").read_text("utf-8")
        return _Source(f"playbooks/{ref}.yaml", text, f"bundled:{ref}", None)
    hint = difflib.get_close_matches(ref, bundled_names(), n=1)
    extra = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise PlaybookError(
        f"no playbook '{ref}': give a .yaml file or one of {', '.join(bundled_names())}{extra}"
    )


def _exists(path: Path) -> bool:
    """Whether a file or folder is there; False for a name the system cannot even look up
    (longer than a file name may be)."""
    try:
        return path.exists()
    except OSError:
        return False


class _Unreadable(PlaybookError):
    """A file refused before reading it: located at the `extends` line that names it, or at
    line 1 of the file itself when it is the playbook asked for."""


def _read_text(path: Path, display: str) -> str:
    """A regular file of at most MAX_BYTES, as text; refused by its size before it is read."""
    if path.is_dir():
        raise IsADirectoryError(path)
    if path.exists() and not path.is_file():
        raise _Unreadable(f"{display} is not a file (a device or a pipe): give a .yaml file")
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)  # a file that grows while read is cut here too
    if len(data) > MAX_BYTES:
        raise _Unreadable(
            f"{display} is larger than {MAX_BYTES // (1024 * 1024)} MB, the most a playbook may "
            "be: is it the right file?"
        )
    return data.decode("utf-8-sig")


def read(ref: str | None = None) -> Document:
    """Parse a playbook and merge it over what it extends (default: the bundled `default`)."""
    data, lines, files, identity = _read(ref or DEFAULT, None, [], bundled_only=False)
    content = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return Document(
        path=files[-1],
        data=data,
        lines=lines,
        files=files,
        content_hash=hashlib.sha256(content.encode()).hexdigest()[:16],
        origin=origin_of(identity.removeprefix("bundled:")),
    )


def _read(
    ref: str, relative_to: Path | None, chain: list[tuple[str, str]], bundled_only: bool
) -> tuple[dict[str, Any], Lines, list[str], str]:
    """Read ref and, recursively, what it extends; chain holds (identity, display) so far.
    Returns the merged data, its lines, the files read (ref last) and ref's identity."""
    try:
        source = _resolve(ref, relative_to, bundled_only)
    except _Unreadable as exc:
        if chain:
            raise
        raise PlaybookError(exc.message, ref, 1) from None
    display = source.display
    if len(chain) >= MAX_EXTENDS:
        raise PlaybookError(
            f"extends more than {MAX_EXTENDS} playbooks one over another: "
            f"{chain[0][1]} -> {chain[1][1]} -> … -> {display}"
        )
    if source.identity in [seen for seen, _ in chain]:
        loop = " -> ".join([*[shown for _, shown in chain], display])
        raise PlaybookError(
            f"loops back: {loop} (a playbook cannot extend itself, directly or through others)"
        )
    data, raw_lines = load_yaml(source.text, display)
    if not isinstance(data, dict):
        raise PlaybookError("a playbook is a map of sections (grading:, follow_up: …)", display, 1)
    lines = {path: (display, line) for path, line in raw_lines.items()}
    lines.setdefault((), (display, 1))
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data, lines, [display], source.identity
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        file, line = lines[("extends",)]
        raise PlaybookError(
            "must name one playbook: a bundled name like 'default' or a path to a .yaml file",
            file,
            line,
            "extends",
        )
    try:
        parent, parent_lines, files, _ = _read(
            parent_ref,
            source.folder,
            [*chain, (source.identity, display)],
            bundled_only=source.folder is None,
        )
    except PlaybookError as exc:
        if exc.file:
            raise
        file, line = lines[("extends",)]
        raise PlaybookError(exc.message, file, line, "extends") from None
    merged, merged_lines = merge(parent, parent_lines, data, lines)
    return merged, merged_lines, [*files, display], source.identity


def merge(
    parent: dict[str, Any],
    parent_lines: Lines,
    child: dict[str, Any],
    child_lines: Lines,
) -> tuple[dict[str, Any], Lines]:
    """Maps merge key by key; a list or a value replaces the parent's whole; null deletes."""
    lines = dict(parent_lines)

    def drop(prefix: YamlPath) -> None:
        for path in [p for p in lines if p[: len(prefix)] == prefix and p != prefix]:
            del lines[path]

    def take(prefix: YamlPath) -> None:
        for path, where in child_lines.items():
            if path[: len(prefix)] == prefix:
                lines[path] = where

    def walk(base: dict[str, Any], over: dict[str, Any], at: YamlPath) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            here = (*at, key)
            if value is None and key != "extends":
                out.pop(key, None)
                drop(here)
                lines.pop(here, None)
            elif isinstance(value, dict) and isinstance(out.get(key), dict):
                lines[here] = child_lines.get(here, lines.get(here, ("", 0)))
                out[key] = walk(out[key], value, here)
            else:
                drop(here)
                take(here)
                out[key] = value
        return out

    # The name and the extends line belong to the file that says them, never to its children.
    merged = walk({k: v for k, v in parent.items() if k not in ("playbook", "extends")}, child, ())
    merged.pop("extends", None)
    if () in child_lines:
        lines[()] = child_lines[()]
    for key in ("playbook", "extends"):
        if key not in merged:
            lines.pop((key,), None)
    return merged, lines
