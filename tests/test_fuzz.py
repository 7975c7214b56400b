"""Fuzzing `salesplay validate` with the bundled playbooks, mutated by Hypothesis: keys deleted
and duplicated, values replaced by random text, huge numbers and control characters, values
nested deep. Whatever the text, validate ends within bounded time with exit status 0, or 2 and
lines that each start with FILE:LINE; never a traceback or a Python error's class name.

The CI profile tries 100 playbooks; `HYPOTHESIS_PROFILE=long` tries 5,000 without a deadline
(README, "Reliability").
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesplay.cli import cli
from salesplay.engine.lang import document

PROFILES = {
    "ci": settings(
        max_examples=100,
        deadline=timedelta(seconds=10),
        derandomize=True,  # the same playbooks on every run: CI does not flake on a new find
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    ),
    "long": settings(
        max_examples=5000,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    ),
}
PROFILE = PROFILES[os.environ.get("HYPOTHESIS_PROFILE", "ci")]
LOCATED = re.compile(r"^[^\n]+?\.yaml:\d+: \S")
PYTHON_ERROR = re.compile(r"\b[A-Z]\w*(Error|Exception|Warning)\b|Traceback")

BUNDLED = {
    name: resources.files("salesplay.playbooks").joinpath(f"{name}.yaml").read_text("utf-8")
    for name in document.bundled_names()
}

huge_numbers = st.sampled_from(
    ["9" * 41, "1e400", "1e400%", "-1e400", "99999999999 days", "last 99999999999 months",
     "1e-999999999", "9" * 5000, "0 8 31 2 *", "99999999999999999999 weeks", "1e30", "nan",
     "inf%", "-0", "0 days", "last 0 days"]
)  # fmt: skip
control_text = st.text(
    alphabet=st.sampled_from(["\x00", "\x1b", "\x7f", "\x0c", "\x85", "\ufeff", "\t", "a", "{"]),
    max_size=8,
)
scalars = st.one_of(
    st.text(max_size=40),
    huge_numbers,
    control_text,
    st.integers(),
    st.booleans(),
    st.none(),
    st.just("(" * 200 + "x" + ")" * 200),
    st.just(" or ".join(["strategic"] * 300)),
    st.just("{customer.name}" * 300),
)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a parsed playbook, the root excepted."""
    out: list[tuple[Any, ...]] = [at] if at else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*at, i))
    return out


def _set(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    if value is _DELETE:
        del data[path[-1]]
    else:
        data[path[-1]] = value


_DELETE = object()


@st.composite
def mutated_playbooks(draw: st.DrawFn) -> str:
    """A bundled playbook, changed a few times over, as text."""
    name = draw(st.sampled_from(sorted(BUNDLED)))
    text = BUNDLED[name]
    data = yaml.safe_load(text)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["delete", "replace", "nest", "wrap"]))
        if kind == "delete":
            _set(data, path, _DELETE)
        elif kind == "replace":
            _set(data, path, draw(scalars))
        elif kind == "nest":
            depth = draw(st.integers(1, 60))
            value: Any = draw(scalars)
            for _ in range(depth):
                value = draw(st.sampled_from([[value], {"k": value}]))
            _set(data, path, value)
        else:
            _set(data, path, {"when": draw(scalars), "every": draw(huge_numbers)})
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(0, 2))):  # text-level: duplicate or drop a line, add junk
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["duplicate", "drop", "insert"]))
        if kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "drop":
            del lines[i]
        else:
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(control_text | huge_numbers) + lines[i][at:]
    return "".join(lines)


def assert_one_located_line_per_problem(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.yaml"
        path.write_text(text, "utf-8", errors="surrogatepass")
        result = CliRunner().invoke(cli, ["validate", "--playbook", str(path)])
    assert result.exit_code in (0, 2), (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert lines, result.output
        for line in lines:
            assert LOCATED.match(line), line
            assert not PYTHON_ERROR.search(line.split(": ", 1)[1]), line


@pytest.mark.slow
@PROFILE
@given(mutated_playbooks())
def test_a_mutated_bundled_playbook_loads_or_fails_on_located_lines(text: str) -> None:
    assert_one_located_line_per_problem(text)


@pytest.mark.parametrize(
    "text",
    [
        "extends: default\n" + "description: x\n" * 2,
        "extends: default\ngrading: " + "[" * 100 + "]" * 100 + "\n",
        "extends: default\nmetrics:\n  x: {count: " + "9" * 5000 + "}\n",
        "extends: default\ndescription: \x85\ufeff\n",
        "\ufeffextends: default\n",
        "extends: default\njobs:\n  j: {every: 9999999 weeks, start: '2024-01-01 09:00', "
        "rules: [grading]}\n",
        "extends: default\njobs:\n  j: {cron: '0 8 * * *', rules: [grading], "
        "starting_deadline: 99999999999999 weeks}\n",
        "extends: " + "(" * 300 + "x" + ")" * 300 + "\n",  # too long a name to look up
    ],
    ids=[
        "duplicate",
        "deep-flow",
        "5000-digits",
        "nel-bom",
        "leading-bom",
        "every",
        "deadline",
        "long-extends",
    ],
)
def test_found_by_fuzzing(text: str) -> None:
    """Playbooks the fuzzer (or its author) found, kept as fixed cases."""
    assert_one_located_line_per_problem(text)
