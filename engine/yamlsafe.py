"""A strict YAML reader for playbooks: YAML 1.2 scalars, no duplicate keys, no aliases or tags.

It returns plain Python data plus a map from YAML path to line, so that every later error can
say where it is. Numbers come back as int or Decimal (never float), so 0.8 stays exactly 0.8.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import yaml

from .errors import PlaybookError

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|(0|[1-9][0-9]*)(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit resolvers: we resolve plain scalars ourselves (YAML 1.2)."""

    yaml_implicit_resolvers: dict[Any, Any] = {}  # noqa: RUF012

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused("aliases (*name) are not allowed in playbooks", event.start_mark)
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused("anchors (&name) are not allowed in playbooks", event.start_mark)
        return super().compose_node(parent, index)


class _Refused(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


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
    try:
        node = yaml.compose(text, Loader=_Loader)
    except _Refused as exc:
        raise PlaybookError(exc.message, file, exc.mark.line + 1) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        reason = exc.problem or str(exc)
        raise PlaybookError(f"YAML syntax error: {reason}", file, line) from None
    except yaml.YAMLError as exc:
        raise PlaybookError(f"YAML syntax error: {exc}", file, 1) from None
    if node is None:
        return {}, lines
    return _convert(node, (), lines, file), lines


def _convert(node: yaml.Node, path: Path, lines: dict[Path, int], file: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise PlaybookError("keys must be plain text", file, line, render_path(path))
            key = key_node.value
            if key == "<<":
                raise PlaybookError(
                    "merge keys (<<) are not allowed in playbooks", file, line, render_path(path)
                )
            if key in out:
                raise PlaybookError(
                    f"duplicate key '{key}'", file, line, render_path((*path, key))
                )
            lines[(*path, key)] = line
            out[key] = _convert(value_node, (*path, key), lines, file)
            lines[(*path, key)] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, i), lines, file) for i, item in enumerate(node.value)
        ]
    assert isinstance(node, yaml.ScalarNode)
    if node.tag not in (_STR, "!"):
        raise PlaybookError(
            f"YAML tags like {node.tag} are not allowed", file, node.start_mark.line + 1,
            render_path(path),
        )
    if node.style is not None:  # quoted or block scalars are always text
        return node.value
    return _plain_scalar(node.value)


def _plain_scalar(text: str) -> Any:
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text) and any(c.isdigit() for c in text):
        return Decimal(text)
    return text
