"""One exception root for everything a user can get wrong; cli.py prints it as one line."""

from __future__ import annotations

_BREAKS = {i: f"\\x{i:02x}" for i in [*range(0x20), *range(0x7F, 0xA0)]} | {
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def one_line(text: str) -> str:
    """A message with the control characters a user's value brought escaped (`\\r` as
    `\\x0d`), so that each problem stays one line whatever the playbook held."""
    return text.translate(_BREAKS)


class SalesplayError(Exception):
    """Bad input from a user: printed as one line, exit status 2."""

    exit_code = 2

    @property
    def located(self) -> bool:
        """True when the message already starts with FILE:LINE (then no 'error:' prefix)."""
        return False


class PlaybookError(SalesplayError):
    """A playbook problem, located by file, line and YAML path."""

    def __init__(self, message: str, file: str = "", line: int = 0, path: str = "") -> None:
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        super().__init__(self.render())

    @property
    def located(self) -> bool:
        return bool(self.file)

    def render(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file else ""
        field = f"{self.path}: " if self.path else ""
        return one_line(f"{where}{field}{self.message}")


class PlaybookErrors(SalesplayError):
    """Several playbook problems at once, one line each, sorted by file and line."""

    def __init__(self, errors: list[PlaybookError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.path))
        super().__init__("\n".join(e.render() for e in self.errors))

    @property
    def located(self) -> bool:
        return True


class RecordError(SalesplayError):
    """A rejected import file: every bad row, one `FILE:LINE: column: reason` line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    @property
    def located(self) -> bool:
        return True


class ExpressionError(Exception):
    """A problem inside one condition or formula; the loader adds file, line and path.

    `metrics`: the formula metrics the message already names (so that an error found inside
    nested formulas says each of them once).
    """

    def __init__(
        self, message: str, column: int = 0, metrics: frozenset[str] = frozenset()
    ) -> None:
        self.message = message
        self.column = column
        self.metrics = metrics
        super().__init__(message)


class UnknownName(ExpressionError):
    """A name the expression's scope does not hold (with a "did you mean" where one is close)."""


class Unusable(ExpressionError):
    """A known name that this kind of rule cannot use: a metric over a target's period in a
    customer rule, a metric of records that do not link to the subject."""


class ProjectError(PlaybookError):
    """A problem in a project's salesplay.toml, located by file and line like a playbook's."""
