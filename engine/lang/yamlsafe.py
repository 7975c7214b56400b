"""A strict YAML reader for playbooks: YAML 1.2 scalars, no duplicate keys, no aliases or tags.

It returns plain Python data plus a map from YAML path to line, so that every later error can
say where it is. Numbers come back as int or Decimal (never float), so 0.8 stays exactly 0.8;
`yes`, `no`, `on`, `off` and `0755` stay text.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import yaml

from salesplay.engine.errors import PlaybookError

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_ALIAS = "!salesplay/alias"  # our own marker for *name, never a tag a user can write usefully
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|(0|[1-9][0-9]*)(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_REUSE = "write the value out in full instead of reusing it"
# How deeply maps and lists may nest: a playbook needs about 8 levels; the reader and the
# checks after it recurse once per level, and Python's stack is about 1000 frames deep.
MAX_DEPTH = 32
# Characters YAML refuses (C0 controls but tab and newlines, DEL, C1 controls but NEL,
# surrogates, U+FFFE/U+FFFF), found before PyYAML does so that the error names line and column.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
_CONTROL_NAMES = {0x00: "NUL", 0x0C: "form feed", 0x1B: "ESC", 0x7F: "DEL", 0x08: "backspace"}


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit resolvers: we resolve plain scalars ourselves (YAML 1.2).

    Anchors and aliases are not expanded but remembered, so that the error can name the YAML
    path they sit at (the composer does not know paths; the converter below does).
    """

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.anchored: dict[int, str] = {}
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            return self._compose(parent, index)
        finally:
            self.depth -= 1

    def _compose(self, parent: Any, index: Any) -> Any:
        if self.depth > MAX_DEPTH:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise _TooDeep(mark.line + 1)
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()  # type: ignore[no-untyped-call]
            return yaml.ScalarNode(_ALIAS, event.anchor, event.start_mark, event.end_mark)
        anchor = getattr(self.peek_event(), "anchor", None)  # type: ignore[no-untyped-call]
        self.anchors = {}  # never expanded, so a repeated &name must not fail before we refuse it
        node = super().compose_node(parent, index)
        if anchor is not None:
            self.anchored[id(node)] = anchor
        return node


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


def render_path(path: Path) -> str:
    """('grading', 'grades', 1, 'when') -> 'grading.grades[1].when'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def load_yaml(text: str, file: str) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; return (data, lines) or raise PlaybookError with file:line."""
    lines: dict[Path, int] = {}
    _refuse_control_characters(text, file)
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # a character the scan above let through
        line = text.count("\n", 0, exc.position) + 1
        raise PlaybookError(
            f"character U+{exc.character:04X} cannot be in a playbook: remove it", file, line
        ) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file) from None
    except yaml.YAMLError:
        raise PlaybookError("YAML syntax error: not valid YAML", file, 1) from None
    except _TooDeep as exc:
        raise PlaybookError(
            f"maps and lists nested more than {MAX_DEPTH} levels deep: write it more simply",
            file,
            exc.line,
        ) from None
    finally:
        loader.dispose()
    if node is None:
        return {}, lines
    return _Converter(file, lines, loader.anchored).convert(node, ()), lines


def _refuse_control_characters(text: str, file: str) -> None:
    """A control character (NUL, ESC, DEL, form feed …) anywhere, at its line and column."""
    found = _CONTROL.search(text)
    if found is None:
        return
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    code = ord(found.group())
    name = _CONTROL_NAMES.get(code, "a control character")
    raise PlaybookError(
        f"column {column}: {name} (U+{code:04X}) cannot be in a playbook: remove it "
        "(it is invisible in most editors; a YAML file is plain text)",
        file,
        line,
    )


_OPENED = {
    "while parsing a flow sequence": "a [ … ] list",
    "while parsing a flow mapping": "a { … } map",
    "while scanning a quoted scalar": "a quoted text",
    "while scanning a double-quoted scalar": "a quoted text",
    "while scanning a single-quoted scalar": "a quoted text",
}


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> PlaybookError:
    """PyYAML's wording turned into words an ops person can act on, at the line to fix."""
    problem = str(exc.problem or exc.context or "not valid YAML")
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    context = str(exc.context or "")
    start = exc.context_mark.line + 1 if exc.context_mark else line
    if context == "while scanning a simple key":
        return PlaybookError(
            "YAML syntax error: a line with no ':' after its key (write 'key: value')", file, start
        )
    if context in _OPENED:
        found = problem.partition("but got ")[2] or problem
        if "end of stream" in found or "<stream end>" in found:
            found = "the end of the file"
        return PlaybookError(
            f"YAML syntax error: {_OPENED[context]} opened on this line is not "
            f"closed (found {found} on line {line})",
            file,
            start,
        )
    if context.startswith("expected a single document"):
        return PlaybookError(
            "YAML syntax error: a playbook is one YAML document; remove the '---' line", file, line
        )
    character = re.fullmatch(r"found character '(.*)' that cannot start any token", problem)
    if character and character.group(1) == "\\t":
        reason = "a tab character: indent with spaces, not tabs"
    elif character:
        reason = f"a value cannot start with '{character.group(1)}': put the text in quotes"
    elif problem == "mapping values are not allowed here":
        reason = (
            "a ':' where no key can start: check the indentation, or put text "
            "containing ': ' in quotes"
        )
    elif problem.startswith("expected <block end>"):
        reason = "this line does not line up with the lines above it: check the indentation"
    else:
        reason = problem
    return PlaybookError(f"YAML syntax error: {reason}", file, line)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


class _Converter:
    """Node tree -> plain data, recording the line of every YAML path on the way."""

    def __init__(self, file: str, lines: dict[Path, int], anchored: dict[int, str]) -> None:
        self.file = file
        self.lines = lines
        self.anchored = anchored

    def refuse(self, node: yaml.Node, path: Path) -> None:
        """Aliases, anchors and tags have no place in a playbook: say so at their path."""
        line = node.start_mark.line + 1
        if node.tag == _ALIAS:
            raise PlaybookError(
                f"aliases (*{node.value}) are not allowed in playbooks: {_REUSE}",
                self.file,
                line,
                render_path(path),
            )
        if id(node) in self.anchored:
            raise PlaybookError(
                f"anchors (&{self.anchored[id(node)]}) are not allowed in playbooks: {_REUSE}",
                self.file,
                line,
                render_path(path),
            )
        expected: str = _STR
        if isinstance(node, yaml.MappingNode):
            expected = _MAP
        elif isinstance(node, yaml.SequenceNode):
            expected = _SEQ
        if node.tag != expected:
            raise PlaybookError(
                f"YAML tags like {_short_tag(node.tag)} are not allowed in "
                "playbooks: write the value without it",
                self.file,
                line,
                render_path(path),
            )

    def convert(self, node: yaml.Node, path: Path) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        self.refuse(node, path)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.style is not None:  # quoted or block scalars are always text
            return node.value
        return _plain_scalar(node.value)

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise PlaybookError("keys must be plain text", self.file, line, render_path(path))
            self.refuse(key_node, path)
            key = key_node.value
            if key == "<<" and key_node.style is None:
                raise PlaybookError(
                    "merge keys (<<) are not allowed in playbooks: write the keys "
                    "out in full, or build on another playbook with extends:",
                    self.file,
                    line,
                    render_path(path),
                )
            here = (*path, key)
            if _without_value(key_node, value_node):
                hint = "write key: value"
                if key.isdigit():
                    hint = (
                        "a comma starts the next entry, so 20,000 reads as 20 and then "
                        "'000': write 20000, or quote it: '20,000'"
                    )
                raise PlaybookError(
                    f"'{key}' has no ':' and no value: inside {{ }} {hint}",
                    self.file,
                    line,
                    render_path(path),
                )
            if key in out:
                raise PlaybookError(
                    f"duplicate key '{key}' (it is already on line "
                    f"{self.lines[here]}): keep only one",
                    self.file,
                    line,
                    render_path(here),
                )
            self.lines[here] = line
            out[key] = self.convert(value_node, here)
        return out


def _without_value(key: yaml.Node, value: yaml.Node) -> bool:
    """A key written alone in a flow map (`{amount: 20,000}` holds `000`): YAML reads it as
    a key whose value is empty, and a merged playbook would drop it as a deletion unseen."""
    return (
        isinstance(value, yaml.ScalarNode)
        and value.value == ""
        and value.style is None
        and value.start_mark.index == key.end_mark.index
    )


def _plain_scalar(text: str) -> Any:
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(text) and len(text) <= 4000:  # int() refuses more than 4300 digits
        return int(text)
    if _FLOAT.fullmatch(text) and any(c.isdigit() for c in text):
        return Decimal(text)
    return text


def flow(value: object) -> str:
    """A value as YAML a person would write it: plain where that reads back the same, quoted
    where it might not (`revenue_6m >= 500000`, `[visit, video]`, `"1 week"` stays plain)."""
    import json

    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    word = str(value)
    plain = (
        isinstance(value, str)
        and word[:1] not in "-?:,[]{}#&*!|>'\"%@` "
        and ": " not in word
        and " #" not in word
        and word.lower() not in ("true", "false", "null", "yes", "no", "on", "off")
    )
    return word if plain else json.dumps(value, ensure_ascii=False)
