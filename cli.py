"""salesplay: sales playbooks in YAML, evaluated as SQL. Thin click commands over the library.

Every command takes --db URL (or SALESPLAY_DB) and --playbook FILE (or SALESPLAY_PLAYBOOK);
errors print as one line (exit 2 for bad input) unless --debug is given.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, overload

if __package__ in (None, ""):  # `python cli.py …` from a checkout: the folders are the package
    import types

    _pkg = types.ModuleType("salesplay")
    _pkg.__path__ = [str(Path(__file__).resolve().parent)]
    sys.modules.setdefault("salesplay", _pkg)

from functools import cached_property

import click
import sqlalchemy as sa

from salesplay.engine import demo, loader
from salesplay.engine.errors import SalesplayError
from salesplay.engine.lang import periods
from salesplay.engine.present import browse, labels, output, queries
from salesplay.engine.present.progress import Progress
from salesplay.engine.project import settings as project_settings
from salesplay.engine.project.settings import Settings
from salesplay.engine.run import explain
from salesplay.engine.run.evaluate import ALERT_COLUMNS, TASK_COLUMNS, work
from salesplay.engine.run.evaluate import evaluate as run_evaluation
from salesplay.engine.run.evaluate import replay as replay_evaluation
from salesplay.engine.run.family import Command, Output, Playbook, Sheet
from salesplay.engine.store import db, importer, mapping, migrate
from salesplay.engine.store.staging import ImportResult
from salesplay.rules import FAMILIES


class Cli(click.Group):
    """Turns every SalesplayError into one line on stderr; --debug shows the traceback.

    Every group accepts the shared options (--project, --db, --playbook, --debug), so that
    they may stand before the command name as well as after it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        have = {p.name for p in self.params}
        holder = group_options(lambda: None)
        self.params += [p for p in getattr(holder, "__click_params__", []) if p.name not in have]

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError:  # `salesplay --help | head -3`
            _quiet_stdout()
            raise click.exceptions.Exit(0) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _quiet_stdout()  # `salesplay tasks | head`: the reader has all it wanted
            ctx.exit(0)
        except SalesplayError as exc:
            if _debug(ctx):
                raise
            click.echo(str(exc) if exc.located else f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except sa.exc.SQLAlchemyError as exc:
            if _debug(ctx):
                raise
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            click.echo(f"error: database: {reason} (run with --debug for details)", err=True)
            ctx.exit(1)
        except (KeyboardInterrupt, click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (RecursionError, MemoryError):
            # Only a net: the load's bounds (nesting, sizes, counts) are meant to refuse such
            # input first, at its line. Without them this would print a Python class name.
            if _debug(ctx):
                raise
            click.echo(
                "error: the input is too large or too deeply nested to process: "
                "write it more simply (run with --debug for details)",
                err=True,
            )
            ctx.exit(2)
        except Exception as exc:
            if _debug(ctx):
                raise
            click.echo(
                f"error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True
            )
            ctx.exit(1)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that nothing more (not even the final flush) writes
    into the closed pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _debug(ctx: click.Context) -> bool:
    import os

    return (
        "--debug" in sys.argv
        or bool(os.environ.get("SALESPLAY_DEBUG"))
        or bool(ctx.obj and ctx.obj.get("debug"))
    )


def _given(ctx: click.Context) -> dict[str, Any]:
    """What the command line said, at the root: options before the command name count too."""
    found: dict[str, Any] = ctx.find_root().ensure_object(dict)
    return found


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep a shared option wherever it stands (`salesplay --db X grades` or `grades --db X`);
    the command's own parameter gets the value given anywhere on the line."""
    given = _given(ctx)
    if value not in (None, False):
        given[param.name or ""] = value
    return given.get(param.name or "")


def shared_options(func: Callable[..., Any], expose: bool) -> Callable[..., Any]:
    """--project, --db, --playbook and --debug: the options every command shares, accepted
    before or after the command name."""
    func = click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        callback=_remember,
        is_eager=True,
        help="Show the full traceback on errors.",
    )(func)
    func = click.option(
        "--playbook",
        "playbook_ref",
        metavar="FILE",
        expose_value=expose,
        callback=_remember,
        help="Playbook file or bundled name (else SALESPLAY_PLAYBOOK, salesplay.toml, default).",
    )(func)
    func = click.option(
        "--db",
        "db_url",
        metavar="FILE|URL",
        expose_value=expose,
        callback=_remember,
        help="Database file or SQLAlchemy URL (else SALESPLAY_DB, salesplay.toml, salesplay.db).",
    )(func)
    func = click.option(
        "--project",
        metavar="DIR",
        expose_value=False,
        callback=_remember,
        help="The project folder holding salesplay.toml (else SALESPLAY_PROJECT, or found "
        "by walking up from the working directory).",
    )(func)
    return func


def common(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared options on a command, which receives db_url and playbook_ref."""
    return shared_options(func, expose=True)


def group_options(func: Callable[..., Any]) -> Callable[..., Any]:
    return shared_options(func, expose=False)


class Day(click.ParamType):  # type: ignore[type-arg]  # generic from click 8.2 on
    """A day as people write it: 2024-07-05, 2024/7/5 or 2024年7月5日."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, date):
            return value
        from salesplay.engine.errors import ExpressionError
        from salesplay.engine.lang.dates import parse_day

        try:
            return parse_day(value)
        except ExpressionError as exc:
            self.fail(exc.message, param, ctx)


DAY = Day()


def as_of_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--as-of",
        type=DAY,
        metavar="DATE",
        help="Evaluate as of this date, e.g. 2024-07-05 or 2024/7/5 (default: today in the "
        "playbook's zone).",
    )(func)


def settings(db_url: str | None = None, playbook_ref: str | None = None) -> Settings:
    """The project, database and playbook in force for this command, and where each came
    from (see engine/project/settings.py)."""
    given = _given(click.get_current_context())
    return project_settings.resolve(given.get("project"), db_url, playbook_ref)


def load(ref: str | None) -> Playbook:
    """The playbook in force (--playbook, SALESPLAY_PLAYBOOK, salesplay.toml, default), with
    every family. Read once per command: a table's words and the command's rules come from
    the same load."""
    value = settings(playbook_ref=ref).playbook.value
    loaded: dict[str, Playbook] = (
        click.get_current_context().find_root().meta.setdefault("salesplay.playbooks", {})
    )
    if value not in loaded:
        loaded[value] = loader.load(value, FAMILIES)
    return loaded[value]


def open_db(url: str | None, create: bool = False, prepare: bool = True) -> sa.engine.Engine:
    """The database in force. Only init, demo and import may create one: any other command
    pointed at a database file that does not exist stops, naming the path it looked for.
    `prepare`: make or upgrade the tables on opening (`db status` only looks)."""
    found = settings(db_url=url)
    if not create:
        found.require_database()
    return db.connect(found.database.value, create=prepare)


def _as_of(value: Any, book: Playbook) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else book.today()


def _named(playbook_ref: str | None) -> bool:
    """Whether this command's line gave --playbook, before or after the command name (not the
    environment, salesplay.toml or the default): only then may an evaluation switch to
    another playbook than the last one's."""
    return settings(playbook_ref=playbook_ref).playbook_named


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


@overload
def listing_options(func: Callable[..., Any]) -> Callable[..., Any]: ...


@overload
def listing_options(*, formats: Sequence[str]) -> Decorator: ...


def listing_options(
    func: Callable[..., Any] | None = None, *, formats: Sequence[str] = output.FORMATS
) -> Callable[..., Any] | Decorator:
    """--format (the first of formats by default), --wide, --lang and --out on a listing, and
    --no-bom where it writes CSV. The command receives fmt, wide and lang; --out and --no-bom
    are kept on the context for emit(), which alone writes."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if "csv" in formats:
            func = click.option(
                "--no-bom",
                is_flag=True,
                expose_value=False,
                callback=_keep,
                help="CSV without the byte-order mark Excel needs to read UTF-8 (for scripts).",
            )(func)
        func = click.option(
            "--out",
            metavar="FILE",
            type=click.Path(path_type=Path, dir_okay=False),
            expose_value=False,
            callback=_keep,
            help="Write to FILE instead of the terminal (needed for xlsx).",
        )(func)
        func = click.option(
            "--lang",
            type=click.Choice(labels.LANGUAGES),
            help="Language of a table's headers, statuses and levels "
            "(default: the playbook's `language`).",
        )(func)
        func = click.option(
            "--wide", is_flag=True, help="Print a table whole, however wide the terminal."
        )(func)
        return click.option(
            "--format",
            "fmt",
            type=click.Choice(formats),
            default=formats[0],
            show_default=True,
            help="A table (or xlsx workbook) for people; json and csv for scripts (ids, UTC "
            "times).",
        )(func)

    return decorate(func) if func is not None else decorate


def _keep(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """Keep an option of emit()'s (--out, --no-bom) on the context, not in the command's
    arguments: every listing takes them, and only emit() uses them."""
    ctx.meta[f"salesplay.{param.name}"] = value
    return value


def _output_playbook() -> Playbook:
    """The playbook whose language, time zone and currency a table is shown in."""
    return load(click.get_current_context().params.get("playbook_ref"))


def emit(
    rows: list[dict[str, Any]],
    fmt: str,
    listing: output.Listing,
    wide: bool = False,
    lang: str | None = None,
    words: Mapping[str, Mapping[str, str]] | None = None,
    sheets: Sequence[Sheet] = (),
    canonical: bool = False,
    envelope: Mapping[str, Any] | None = None,
) -> None:
    """Rows in the format asked for, on stdout or in --out FILE; a table or a workbook in the
    playbook's words, zone and currency. `sheets`: a command's own workbook for xlsx (else the
    rows on one sheet). `canonical`: headers and values as stored, to import back (records).
    `envelope`: JSON is that object with the rows under `rows` (a report's contract)."""
    meta = click.get_current_context().meta
    out: Path | None = meta.get("salesplay.out")
    if fmt == "xlsx" and out is None:
        raise SalesplayError(
            "--format xlsx: a workbook is not for a terminal: name a file with --out FILE.xlsx"
        )
    view = None
    if fmt in output.FOR_PEOPLE:
        view = output.table_view(_output_playbook(), listing.name, lang, wide or bool(out), words)
        if canonical:
            view = replace(view, words=labels.bare(view.words))
    columns = listing.shown(fmt)
    if fmt == "xlsx":
        assert out is not None and view is not None
        book = sheets or [Sheet(listing.name, columns, rows)]
        sheet_view = None if canonical else view
        from salesplay.engine.present.sheets import write_workbook

        write_workbook(out, book, sheet_view)
        click.echo(f"{out}: {output.count_line(rows, view.words)}", err=True)
        return
    text = output.render(rows, fmt, columns, view, envelope)
    data = output.encode(text, fmt, bom=not meta.get("salesplay.no_bom"))
    if out is None:
        click.echo(data, nl=False)
        return
    output.write_file(out, data)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="salesplay")
def cli() -> None:
    """Sales playbooks in YAML: grade customers, schedule follow-ups, warn on lagging goals.

    Example: salesplay demo && salesplay tasks --status open
    """


@cli.command("import")
@click.argument("kind")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--full", is_flag=True, help="The file is a complete export: mark missing records deleted."
)
@click.option(
    "--encoding",
    metavar="NAME",
    help="The text file's encoding: utf-8, gb18030 (GBK and GB2312 too) or utf-16 "
    "(default: found from the file).",
)
@click.option(
    "--map",
    "map_file",
    metavar="FILE.yaml",
    type=click.Path(path_type=Path),
    help="How the file names columns and values (columns:, values:, constants:, "
    "date_format:), over the playbook's and salesplay.toml's imports:.",
)
@click.option(
    "--dry-run", is_flag=True, help="Check everything, write nothing: say what the import would do."
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@common
def import_command(
    kind: str,
    file: Path,
    full: bool,
    encoding: str | None,
    map_file: Path | None,
    dry_run: bool,
    quiet: bool,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """Import records of KIND (org_units, reps, customers, orders, payments, surveys, deals,
    activities, targets, plan_tasks) from a CSV (UTF-8, GB18030 or UTF-16), JSON Lines or
    .xlsx FILE: an upsert by id, all or nothing. Headers and values may be the file's own
    (编号, 客户名称, 拜访 …): see imports: and --map.

    Example: salesplay import activities 跟进记录.csv --map 映射.yaml --dry-run
    """
    book = load(playbook_ref)
    where = settings(db_url=db_url)
    recipe = mapping.in_force(kind, book, where.document(), map_file)
    progress = Progress(enabled=False if quiet else None)

    def run(engine: sa.engine.Engine) -> ImportResult:
        return importer.import_file(
            engine,
            kind,
            file,
            full,
            book.timezone,
            progress.rows,
            encoding=encoding,
            mapping=recipe,
            dry_run=dry_run,
        )

    result = _dry_run(where, db_url, run) if dry_run else _import(where, db_url, run)
    progress.close()
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    if quiet:
        return
    if dry_run:
        deleted = result.missing if full else 0
        also = f" ({result.missing} with --full)" if not full and result.missing else ""
        click.echo(
            f"{result.kind}: {result.rows} rows: {result.inserted} new, {result.updated} "
            f"updated, {result.unchanged} unchanged, {deleted} deleted{also} "
            "(dry run: nothing written)"
        )
        return
    seconds = progress.elapsed
    click.echo(
        f"{result.kind}: {result.rows} rows ({result.inserted} new, {result.updated} "
        f"updated"
        + (f", {result.deleted} marked deleted" if full else "")
        + f") in {seconds:.2f}s, {result.rows / max(seconds, 1e-9):,.0f} rows/s"
    )


def _import(
    where: Settings,
    db_url: str | None,
    run: Callable[[sa.engine.Engine], ImportResult],
) -> ImportResult:
    """An import into the database in force, which it creates if there is none yet (and
    removes again when the first import is refused)."""
    path = where.database_file()
    new = path is not None and not path.exists()
    try:
        result = run(open_db(db_url, create=True))
    except BaseException:
        if new and path is not None:  # a refused first import leaves no empty database behind
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
        raise
    if new:
        made = f"note: created the database {path}"
        if where.project is None:
            made += " (no salesplay.toml here or above; salesplay init starts a project)"
        click.echo(made, err=True)
    return result


def _dry_run(
    where: Settings,
    db_url: str | None,
    run: Callable[[sa.engine.Engine], ImportResult],
) -> ImportResult:
    """A dry run changes no database and creates none: with no database yet it checks against
    an empty one (as the first import would find it), and says so."""
    path = where.database_file()
    if path is not None and not path.exists():
        click.echo(
            f"note: no database at {path} yet: checked as an import into an empty one would be "
            "(a dry run creates none)",
            err=True,
        )
        with db.scratch() as engine:
            return run(engine)
    engine = open_db(db_url, prepare=False)
    status = migrate.status(engine)
    if not status.current:
        raise SalesplayError(
            f"--db {status}; a dry run changes nothing, so it checks only a current database"
        )
    return run(engine)


@cli.command()
@click.argument("file", required=False)
@common
def validate(file: str | None, db_url: str | None, playbook_ref: str | None) -> None:
    """Check a playbook without running it (default: the playbook in force); print every
    problem as FILE:LINE: path: reason.

    Example: salesplay validate playbooks/fmcg.yaml
    """
    book = load(file or playbook_ref)
    _warn(book)
    findings = loader.lint(book)
    summary = f"{book.path}: ok ({book.name}, {len(book.data.get('metrics') or {})} metrics"
    click.echo(summary + (f", {len(findings)} warnings)" if findings else ")"))
    for finding in findings:
        click.echo(f"warning: {finding}", err=True)


@cli.command("lint")
@click.argument("file", metavar="[PLAYBOOK]", required=False)
@common
@click.pass_context
def lint_command(
    ctx: click.Context, file: str | None, db_url: str | None, playbook_ref: str | None
) -> None:
    """Look for what a valid playbook allows but surely does not mean: a grade that can never
    match, a metric nothing uses, a warning that can never fire, a value no record holds, a
    placeholder that prints as written. One FILE:LINE: path: message per finding; exit 1
    when there are findings, 0 when there are none, 2 when the playbook is invalid.

    Example: salesplay lint playbook.yaml
    """
    book = load(file or playbook_ref)
    findings = loader.lint(book)
    for finding in findings:
        click.echo(str(finding))
    click.echo(f"{book.path}: {len(findings) or 'no'} findings", err=True)
    ctx.exit(1 if findings else 0)


def _warn(book: Playbook) -> None:
    """What the checks let pass but a person should hear of, on stderr."""
    from salesplay.engine.delivery import config as delivery

    for warning in delivery.warnings(book):
        click.echo(warning, err=True)


@cli.command("init")
@click.argument("folder", metavar="[DIR]", default=".", type=click.Path(path_type=Path))
@click.option(
    "--industry",
    metavar="NAME",
    help="Start from this bundled playbook instead of the default (e.g. fmcg).",
)
@common
def init_command(
    folder: Path, industry: str | None, db_url: str | None, playbook_ref: str | None
) -> None:
    """Start a project in DIR (default: here): salesplay.toml, playbook.yaml extending a bundled
    playbook, its schema for editors, and an empty database. Every command run in DIR or below
    then uses them.

    Example: salesplay init sales --industry fmcg
    """
    from salesplay.engine.project import scaffold

    made = scaffold.init(folder, industry, loader.schema_json(FAMILIES), db.connect, FAMILIES)
    click.echo(f"{made.folder}: {', '.join(made.files)} (playbook extends {made.base})")
    here = made.folder == Path.cwd().resolve()
    prefix = "salesplay" if here else f"salesplay --project {_shell_word(str(folder))}"
    click.echo("next:")
    click.echo(f"  {prefix} validate")
    click.echo(f"  {prefix} import customers customers.csv")
    click.echo(f"  {prefix} evaluate")


def _shell_word(text: str) -> str:
    import shlex

    return shlex.quote(text)


@cli.command("info")
@common
def info_command(db_url: str | None, playbook_ref: str | None) -> None:
    """Print which project, database, playbook and time zone are in force, and where each came
    from (option, environment variable, salesplay.toml or default). Opens no database.

    Example: salesplay info
    """
    found = settings(db_url, playbook_ref)
    book = load(playbook_ref)
    project = str(found.project) if found.project else "(none)"
    database = project_settings.hide_password(found.database.value)
    exists = found.database_file()
    if exists is not None and not exists.exists():
        database += " (does not exist yet)"
    rows = [
        ("project", project, found.project_source),
        ("database", database, found.database.source),
        ("playbook", f"{book.name} ({book.path})", found.playbook.source),
        ("timezone", book.timezone, f"playbook {book.name}"),
    ]
    for name, value, source in rows:
        click.echo(f"{name + ':':<10} {value}")
        click.echo(f"{'':<10} from {source}")


@cli.command()
@common
def schema(db_url: str | None, playbook_ref: str | None) -> None:
    """Print the playbook JSON Schema (editors use it to validate and complete playbooks).

    Example: salesplay schema > playbook.schema.json
    """
    click.echo(loader.schema_json(FAMILIES), nl=False)


@cli.command("test")
@click.argument("paths", metavar="[PATH]...", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--coverage",
    is_flag=True,
    help="Also name every grade, warning, pool rule, escalation, commission tier and bonus "
    "that no test reaches.",
)
@common
def test_command(
    paths: tuple[Path, ...], coverage: bool, db_url: str | None, playbook_ref: str | None
) -> None:
    """Run the playbook tests (NAME.test.yaml: records, an as-of date, the grades, tasks,
    alerts and payouts expected) found under each PATH (default: the playbook's folder), each
    in a scratch database of its own. Exit 0 when all pass, 1 when any fails, 2 for a wrong
    test file.

    Example: salesplay test playbooks/ --coverage
    """
    from salesplay.engine.project import playbook_tests

    ref = settings(playbook_ref=playbook_ref).playbook.value
    found = list(paths) or [playbook_tests.default_folder(ref)]
    summary = playbook_tests.run(
        found, ref, lambda r: loader.load(r, FAMILIES), click.echo, coverage
    )
    click.get_current_context().exit(summary.exit_code)


@cli.command()
@as_of_option
@click.option(
    "--workers",
    default=1,
    show_default=True,
    help="Processes that claim partitions of the run from the database.",
)
@click.option(
    "--partitions",
    type=int,
    help="Split the customer rules into this many partitions "
    "(default: 4 per worker when --workers > 1).",
)
@click.option(
    "--join",
    "join_run",
    type=int,
    metavar="RUN",
    help="Help finish a partitioned run started elsewhere (same playbook, same db).",
)
@click.option(
    "--replay",
    is_flag=True,
    help="Print what an evaluation as of the date would emit (any date, earlier ones too); "
    "store nothing.",
)
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@common
def evaluate(
    as_of: Any,
    workers: int,
    partitions: int | None,
    join_run: int | None,
    replay: bool,
    quiet: bool,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """Evaluate the playbook as of a date; print what was emitted.

    One transaction, or with --workers N one per partition of customers plus a final step for
    the rules that span customers (goals). A date before the latest evaluated one is refused
    unless --replay. Example: salesplay evaluate --as-of 2024-07-01
    """
    book = load(playbook_ref)
    named = _named(playbook_ref)
    if replay and (workers > 1 or partitions or join_run is not None):
        raise SalesplayError(
            "--replay evaluates in one transaction that is rolled back: it cannot be split "
            "with --workers, --partitions or --join"
        )
    engine = open_db(db_url)
    progress = Progress(enabled=False if quiet else None)
    if join_run is not None:
        steps = work(engine, book, join_run, progress)
        progress.close()
        if not quiet:
            click.echo(f"run {join_run}: this worker evaluated {steps} partition(s)")
        return
    if replay:
        found = replay_evaluation(engine, book, _as_of(as_of, book), progress, playbook_named=named)
        progress.close()
        show_replay(found)
        return
    result = run_evaluation(
        engine,
        book,
        _as_of(as_of, book),
        workers=workers,
        partitions=partitions,
        progress=progress,
        playbook_named=named,
        forward_only=True,
    )
    progress.close()
    if not quiet:
        customers = result.customers
        counts = ", ".join(f"{k} {v}" for k, v in result.emitted.items() if v)
        click.echo(
            f"run {result.run_id} as of {result.as_of}: {counts or 'nothing new'}; "
            f"{customers} customers in {result.seconds:.2f}s "
            f"({customers / max(result.seconds, 1e-9):,.0f} customers/s)"
        )
        for note in result.notes:
            click.echo(note)


def show_replay(found: Any) -> None:
    """What a replay would have emitted: the tasks, the alerts, then the counts."""
    for kind, rows, columns in (
        ("tasks", found.tasks, TASK_COLUMNS),
        ("alerts", found.alerts, ALERT_COLUMNS),
    ):
        click.echo(f"{kind} ({len(rows)}):")
        emit(rows, "table", output.Listing(kind, tuple(columns), tuple(columns)))
    counts = ", ".join(f"{k} {v}" for k, v in found.emitted.items() if v)
    click.echo(f"replay as of {found.as_of}, nothing stored: {counts or 'nothing new'}")
    for note in found.notes:
        click.echo(note)


@cli.command("preview")
@click.argument("proposed", metavar="PROPOSED")
@as_of_option
@listing_options(formats=("table", "json"))
@common
def preview_command(
    proposed: str,
    as_of: Any,
    fmt: str,
    wide: bool,
    lang: str | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """What a PROPOSED playbook would change on the live data, before it is put in force: grades
    moving, tasks and alerts added and removed, payouts, the follow-up load. Both playbooks are
    evaluated as of the date (default: the latest evaluation's) and rolled back: nothing is
    stored.

    Example: salesplay preview new-thresholds.yaml --format json
    """
    import json

    from salesplay.engine.run.preview import preview

    book = load(playbook_ref)
    found = preview(open_db(db_url), book, loader.load(proposed, FAMILIES), as_of)
    if fmt == "json":
        click.echo(json.dumps(found.as_json(), ensure_ascii=False, indent=2))
        return
    click.echo(found.headline())
    for line in found.summary():
        click.echo(f"  {line}")
    for detail in found.details():
        click.echo(f"\n{detail.title}:")
        shown = output.Listing("preview", tuple(detail.columns), tuple(detail.columns))
        emit(detail.rows, "table", shown, wide, lang, detail.labels)


@cli.command()
@click.option("--grade", help="Only this grade.")
@click.option("--customer", help="Only this customer id.")
@listing_options
@common
def grades(
    grade: str | None,
    customer: str | None,
    fmt: str,
    wide: bool,
    lang: str | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """List customer grades: {customer_id, grade, since}.

    Example: salesplay grades --grade A --format csv
    """
    rows = queries.grades(open_db(db_url), grade, customer, table=fmt in output.FOR_PEOPLE)
    emit(rows, fmt, queries.GRADES, wide, lang)


@cli.command()
@click.option("--rule")
@click.option("--assignee")
@click.option("--status", type=click.Choice(["open", "done", "closed"]))
@click.option("--subject", help="Only tasks about this customer or rep id.")
@listing_options
@common
def tasks(
    rule: str | None,
    assignee: str | None,
    status: str | None,
    subject: str | None,
    fmt: str,
    wide: bool,
    lang: str | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """List tasks: {id, rule, subject_type, subject_id, assignee_id, due, title, status}.

    Example: salesplay tasks --assignee R1 --status open
    """
    engine = open_db(db_url)
    rows = queries.tasks(engine, rule, assignee, status, subject, table=fmt in output.FOR_PEOPLE)
    emit(rows, fmt, queries.TASKS, wide, lang)


@cli.group(cls=Cli)
def task() -> None:
    """Working with one task.

    Example: salesplay task done 42
    """


@task.command("done")
@click.argument("task_id", metavar="ID", type=int)
@click.option("--note", help="What was done.")
@common
def task_done(task_id: int, note: str | None, db_url: str | None, playbook_ref: str | None) -> None:
    """Mark a task done; it does not come back for the same episode.

    Example: salesplay task done 42 --note "已上门拜访"
    """
    book = load(playbook_ref)
    queries.complete_task(open_db(db_url), task_id, note, book.today())
    click.echo(f"task {task_id}: done")


@cli.command()
@click.option("--rule")
@click.option("--level", type=click.Choice(["green", "yellow", "red"]))
@click.option("--status", type=click.Choice(["open", "acknowledged", "snoozed", "resolved"]))
@click.option("--subject", help="Only alerts about this customer or rep id.")
@click.option("--assignee", help="Only alerts addressed to this rep (owner or manager).")
@listing_options
@common
def alerts(
    rule: str | None,
    level: str | None,
    status: str | None,
    subject: str | None,
    assignee: str | None,
    fmt: str,
    wide: bool,
    lang: str | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """List alerts: {id, rule, subject_type, subject_id, level, message, raised_on, status,
    resolved_on}; the table also shows each one's recipient. Snoozed alerts are listed only
    with --status snoozed.

    Example: salesplay alerts --level red --status open
    """
    engine = open_db(db_url)
    rows = queries.alerts(
        engine, rule, level, status, subject, assignee, table=fmt in output.FOR_PEOPLE
    )
    emit(rows, fmt, queries.ALERTS, wide, lang)


@cli.group(cls=Cli)
def alert() -> None:
    """Working with one alert.

    Example: salesplay alert ack 7
    """


@alert.command("ack")
@click.argument("alert_id", metavar="ID", type=int)
@common
def alert_ack(alert_id: int, db_url: str | None, playbook_ref: str | None) -> None:
    """Acknowledge an alert: still listed, resolved by the engine when its condition clears.

    Example: salesplay alert ack 7
    """
    from salesplay.engine.run import alert_status

    alert_status.acknowledge(open_db(db_url), alert_id, load(playbook_ref).today())
    click.echo(f"alert {alert_id}: acknowledged")


@alert.command("snooze")
@click.argument("alert_id", metavar="ID", type=int)
@click.option(
    "--until",
    required=True,
    type=DAY,
    metavar="DATE",
    help="The day it is open again (if its condition still holds), e.g. 2024-07-15.",
)
@common
def alert_snooze(alert_id: int, until: Any, db_url: str | None, playbook_ref: str | None) -> None:
    """Keep an alert quiet until a date: not listed, not raised again, then open again.

    Example: salesplay alert snooze 7 --until 2024-07-15
    """
    from salesplay.engine.run import alert_status

    alert_status.snooze(open_db(db_url), alert_id, until)
    click.echo(f"alert {alert_id}: snoozed until {until}")


@cli.command()
@click.option("--pooled", is_flag=True, help="Only customers in the shared pool (no owner).")
@click.option("--owner", help="Only customers of this rep.")
@listing_options
@common
def customers(
    pooled: bool,
    owner: str | None,
    fmt: str,
    wide: bool,
    lang: str | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """List customers: {id, name, owner_id, grade, pooled}; owner_id is null while pooled.

    Example: salesplay customers --pooled --format json
    """
    rows = queries.customers(open_db(db_url), pooled, owner, table=fmt in output.FOR_PEOPLE)
    emit(rows, fmt, queries.CUSTOMERS, wide, lang)


@cli.command()
@click.argument("kind")
@click.option(
    "--where",
    "condition",
    metavar="EXPR",
    help="Only the records for which this condition holds, written as in a playbook: "
    "\"customer_id = 'C1' and ordered_on >= date('2024-06-01')\".",
)
@click.option("--limit", type=int, metavar="N", help="At most N records (in id order).")
@click.option("--deleted", is_flag=True, help="Only the records a --full import marked deleted.")
@listing_options
@common
def records(
    kind: str,
    condition: str | None,
    limit: int | None,
    deleted: bool,
    fmt: str,
    wide: bool,
    lang: str | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """List the imported records of KIND in their import columns (customers with their custom
    columns): what --format csv or xlsx writes imports back unchanged.

    Example: salesplay records orders --where "ordered_on >= date('2024-06-01')" --format csv
    --out orders.csv
    """
    book = load(playbook_ref)
    found = browse.records(open_db(db_url), book, kind, condition, limit, deleted)
    if fmt == "xlsx":  # typed cells: amounts, dates and times as the workbook holds them
        rows = found.rows
    else:
        rows = browse.csv_rows(found.rows) if fmt == "csv" else browse.as_text(found.rows)
    listing = output.Listing("records", tuple(found.columns), tuple(found.columns))
    sheet = Sheet(found.kind, found.columns, found.rows)
    emit(rows, fmt, listing, wide, lang, sheets=[sheet], canonical=True)


@cli.command()
@listing_options
@common
@click.option("--job", help="Only this job's runs (`manual` for runs started by evaluate).")
def runs(
    fmt: str,
    wide: bool,
    lang: str | None,
    job: str | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """List the run ledger: when, as of which date, which playbook, what was emitted.

    JSON {id, job, slot, status, started_at, finished_at, as_of, playbook_hash, emitted}.

    Example: salesplay runs --job daily
    """
    rows = queries.runs(open_db(db_url), job, table=fmt in output.FOR_PEOPLE)
    emit(rows, fmt, queries.RUNS, wide, lang)


@cli.command("explain")
@click.argument("subject", type=click.Choice(["customer", "rep", "org_unit"]))
@click.argument("subject_id", metavar="ID")
@as_of_option
@click.option(
    "--period",
    metavar="P",
    help="Also explain the payouts and scorecard of this period (2024-06, 2024-Q2 …).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@common
def explain_command(
    subject: str,
    subject_id: str,
    as_of: Any,
    period: str | None,
    fmt: str,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """Every rule that applies to a customer, rep or org unit, whether it fires, and why.

    Example: salesplay explain customer C0000001 --as-of 2024-07-01
    """
    book = load(playbook_ref)
    span = periods.parse_option(period, "--period") if period else None
    report = explain.explain(open_db(db_url), book, subject, subject_id, _as_of(as_of, book), span)
    if fmt == "json":
        emit([report], "json", output.Listing("explain", tuple(report), tuple(report)))
        return
    click.echo(f"{subject} {subject_id} as of {report['as_of']} ({book.path})")
    for finding in report["findings"]:
        mark = {True: "FIRES", False: "no", None: "—"}[finding["fired"]]
        click.echo(f"  [{mark}] {finding['rule']}: {finding['summary']}")
        for name, value in finding["values"].items():
            click.echo(f"        {name} = {value}")
    for kind in ("tasks", "alerts"):
        for row in report[kind]:
            text = row.get("title") or row.get("message")
            click.echo(f"  {kind[:-1]} {row['id']} [{row['status']}] {row['rule']}: {text}")


@cli.command("demo")
@click.option("--customers", default=3000, show_default=True, help="How many customers.")
@click.option("--seed", default=7, show_default=True, help="Random seed: same seed, same data.")
@as_of_option
@click.option("--reset", is_flag=True, help="Empty the database first.")
@click.option(
    "--csv",
    "csv_dir",
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Write the data as CSV files to import instead (nothing is evaluated).",
)
@common
def demo_command(
    customers: int,
    seed: int,
    as_of: Any,
    reset: bool,
    csv_dir: Path | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """Build a demo database, evaluate the playbook on it and print a summary.

    The data is deterministic: the same --customers, --seed and --as-of give the same rows.
    Example: salesplay demo --customers 5000
    """
    book = load(playbook_ref)
    day = _as_of(as_of, book)
    size = demo.DemoSize(customers=customers)
    if csv_dir is not None:
        counts = demo.write_csv(csv_dir, day, size, seed)
        click.echo(f"{csv_dir}: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))
        return
    click.echo(demo.run_demo(open_db(db_url, create=True), book, day, size, seed, reset))


@cli.group("db", cls=Cli)
def database() -> None:
    """The database's tables: their schema version, and upgrading them.

    Example: salesplay db status
    """


@database.command("status")
@common
def db_status(db_url: str | None, playbook_ref: str | None) -> None:
    """Print the database's schema version and whether it is current.

    Example: salesplay db status
    """
    click.echo(migrate.status(open_db(db_url, prepare=False)))


@database.command("upgrade")
@common
def db_upgrade(db_url: str | None, playbook_ref: str | None) -> None:
    """Bring the tables to this release's schema, in place (an SQLite file is copied to
    NAME.bak-<version> first). A current database is left as it is.

    Example: SALESPLAY_AUTO_UPGRADE=no salesplay db upgrade
    """
    click.echo(migrate.upgrade(open_db(db_url, prepare=False)))


# ---- schedules and delivery (engine/schedule.py, scheduler.py, outbox.py, dispatch.py) ----


def now_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--now",
        metavar="DATETIME",
        help="Stand in for the clock: ISO 8601, with an offset or local to the playbook's zone.",
    )(func)


@cli.command("schedule")
@click.option(
    "--from", "start", metavar="DATETIME", help="List fire times after this (default: now)."
)
@click.option("--next", "count", default=5, show_default=True, help="How many fire times per job.")
@click.option("--cron", "expr", metavar="EXPR", help="Preview this cron expression instead.")
@click.option("--tz", "zone", metavar="ZONE", help="With --cron: its IANA time zone.")
@listing_options(formats=("table", "json"))
@common
def schedule_command(
    start: str | None,
    count: int,
    expr: str | None,
    zone: str | None,
    fmt: str,
    wide: bool,
    lang: str | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """List the next fire times of every job, local and UTC; or preview one expression.

    Example: salesplay schedule --cron "0 8 * * 1-5" --tz Asia/Shanghai --next 3
    """
    from salesplay.engine.schedule import jobs as schedule

    book = load(playbook_ref)
    found = schedule.listing(book, start, count, expr, zone, datetime.now(UTC))
    emit(
        queries.fire_times(found, table=fmt in output.FOR_PEOPLE), fmt, queries.SCHEDULE, wide, lang
    )


def _scheduler(db_url: str | None, playbook_ref: str | None, quiet: bool) -> Any:
    from salesplay.engine.schedule.scheduler import Scheduler

    def report(outcome: Any) -> None:
        if not quiet and outcome.status != "taken":
            click.echo(scheduler_line(outcome))
            for note in outcome.notes:
                click.echo(note)

    book = load(playbook_ref)
    if not quiet:
        _warn(book)
    named = _named(playbook_ref)
    return Scheduler(open_db(db_url), book, on_outcome=report, playbook_named=named)


def _delivery_errors(sent: Any) -> None:
    """One line per failed delivery; with --debug, the redacted traceback of anything a channel
    raised other than its SendError."""
    for error in sent.errors:
        click.echo(f"delivery: {error}", err=True)
    if _debug(click.get_current_context()):
        for trace in sent.tracebacks:
            click.echo(trace.rstrip(), err=True)


def scheduler_line(outcome: Any) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in outcome.emitted.items() if v)
    extra = f" run {outcome.run_id}" if outcome.run_id else ""
    extra += f" ({counts})" if counts else ""
    extra += f": {outcome.error}" if outcome.error else ""
    return f"{outcome.slot.isoformat()} {outcome.job}: {outcome.status}{extra}"


@cli.command()
@now_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@common
def tick(now: str | None, quiet: bool, db_url: str | None, playbook_ref: str | None) -> None:
    """One pass: run every job whose slot is due, then send pending deliveries.

    For system cron or a Kubernetes CronJob; any number may run at once. Example:
    */5 * * * * salesplay tick --db postgresql://…/sales
    """
    from salesplay.engine.delivery.dispatch import dispatch
    from salesplay.engine.schedule.jobs import parse_instant
    from salesplay.engine.schedule.scheduler import Clock

    sched = _scheduler(db_url, playbook_ref, quiet)
    start = parse_instant(now, sched.playbook.timezone) if now else None
    clock = Clock(start)
    sched.clock = clock.now
    sched.tick(start or clock.now())  # exactly --now: a replayed pass decides the same
    sent = dispatch(sched.engine, sched.playbook, clock.now)
    _delivery_errors(sent)
    if not quiet and (sent.sent or sent.retried or sent.dead):
        click.echo(f"deliveries: {sent.sent} sent, {sent.retried} to retry, {sent.dead} dead")


@cli.command("run")
@now_option
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@common
def run_command(now: str | None, quiet: bool, db_url: str | None, playbook_ref: str | None) -> None:
    """The daemon: sleep until the next slot, run what is due, send deliveries; repeat.

    SIGTERM or Ctrl-C stops it cleanly: a running evaluation commits (a second signal rolls it
    back), and it exits 0. Example: salesplay run --db postgresql://…/sales
    """
    import signal
    import threading

    from salesplay.engine.delivery.dispatch import dispatch
    from salesplay.engine.schedule.jobs import parse_instant
    from salesplay.engine.schedule.scheduler import Clock, serve

    sched = _scheduler(db_url, playbook_ref, quiet)
    sched.check_playbook()  # refused at start, before anything runs (each pass checks again)
    clock = Clock(parse_instant(now, sched.playbook.timezone) if now else None)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second signal: roll the running evaluation back
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sched.clock = clock.now
    sched.should_stop = stop.is_set

    def deliver(at: Any) -> float | None:
        try:
            sent = dispatch(sched.engine, sched.playbook, clock.now, should_stop=stop.is_set)
        except Exception as exc:  # the database, say: the daemon lives on and tries again
            reason = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
            click.echo(f"delivery: the pass failed: {type(exc).__name__}: {reason}", err=True)
            return None
        _delivery_errors(sent)
        if sent.next_due is None:
            return None
        return max((sent.next_due - clock.now()).total_seconds(), 5.0)

    if not quiet:
        click.echo(
            f"salesplay run: {sched.playbook.path}, "
            f"{len(sched.playbook.section('jobs') or {})} jobs",
            err=True,
        )
    try:
        serve(sched, clock.now, stop.wait, deliver)
    except KeyboardInterrupt:
        click.echo("stopped; the running evaluation was rolled back", err=True)
    if not quiet:
        click.echo("salesplay run: stopped", err=True)


@cli.group(cls=Cli, invoke_without_command=True)
@click.option("--status", type=click.Choice(["pending", "sent", "dead"]))
@listing_options
@common
@click.pass_context
def deliveries(
    ctx: click.Context,
    status: str | None,
    fmt: str,
    wide: bool,
    lang: str | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """List the outbox: one row per (task or alert, channel), with its delivery status.

    Example: salesplay deliveries --status dead
    """
    if ctx.invoked_subcommand is not None:
        return
    rows = queries.deliveries(open_db(db_url), status, table=fmt in output.FOR_PEOPLE)
    emit(rows, fmt, queries.DELIVERIES, wide, lang)


@deliveries.command("retry")
@click.option("--id", "ids", type=int, multiple=True, help="Only this delivery (repeatable).")
@common
def deliveries_retry(ids: tuple[int, ...], db_url: str | None, playbook_ref: str | None) -> None:
    """Put dead deliveries back in the queue (after fixing a URL or a variable).

    Example: salesplay deliveries retry && salesplay tick
    """
    from salesplay.engine.delivery.dispatch import retry_dead

    click.echo(f"{retry_dead(open_db(db_url), list(ids))} deliveries queued again")


# ---- reports and the dashboard (engine/present/reports.py, dashboard.py) ---------------------


def report_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--period and --under, shared by every report and the dashboard."""
    func = click.option(
        "--under", metavar="ORG", help="Only this org unit, the units below it and their reps."
    )(func)
    return click.option(
        "--period",
        metavar="P",
        help="2024, 2024-Q2, 2024-06, 2024-W23 or 2024-04-01..2024-06-30 (default: the month "
        "of the as-of date; goals and scorecards: those running on it).",
    )(func)


@cli.command("report")
@click.argument("kind")
@as_of_option
@report_options
@click.option(
    "--since",
    type=DAY,
    metavar="DATE",
    help="grades: count movements from this day (default: the period's first day).",
)
@listing_options
@common
def report_command(
    kind: str,
    as_of: Any,
    period: str | None,
    under: str | None,
    since: Any,
    fmt: str,
    wide: bool,
    lang: str | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """Print a report: funnel, grades, follow-up, warnings, goals, payouts or scorecards.

    JSON: {kind, as_of, period, under, rows: [...]}, the row keys of each kind in the README.
    Example: salesplay report funnel --period 2024-Q2 --under SH --format json
    """
    from salesplay.engine.present import reports

    book = load(playbook_ref)
    day, since_day = _as_of(as_of, book), _as_of(since, book) if since else None
    asked = reports.query(open_db(db_url), book, day, period, under, since_day)
    found = reports.run(kind, asked, table=fmt == "table")
    columns = found.report.table if fmt == "table" and found.report.table else found.report.columns
    listing = output.Listing(f"report {kind}", found.report.columns, columns)
    shown = reports.for_people(found.rows) if fmt == "table" else found.rows
    emit(shown, fmt, listing, wide, lang, found.report.labels, envelope=found.envelope())


@cli.command("dashboard")
@as_of_option
@report_options
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE.html",
    help="Write the page to this file (default: print it).",
)
@common
def dashboard_command(
    as_of: Any,
    period: str | None,
    under: str | None,
    out: Path | None,
    db_url: str | None,
    playbook_ref: str | None,
) -> None:
    """Write one self-contained HTML page of the reports, for a phone or a desk.

    Goals with lights and forecasts, the funnel, the grade mix and its movement, visits per
    week, open warnings and the noisiest rules, follow-up compliance and this period's
    payouts, scoped to an org unit's subtree. It loads nothing from the network.
    Example: salesplay dashboard --under CT1 --out 上海.html
    """
    from salesplay.engine.present import dashboard

    book = load(playbook_ref)
    page = dashboard.build(open_db(db_url), book, _as_of(as_of, book), under, period)
    if out is None:
        click.echo(page)
        return
    out.write_text(page, "utf-8")
    click.echo(f"{out}: {len(page.encode()):,} bytes", err=True)


# ---- commands the rule families add (goals, scorecards, payouts, grade set …) ---------------


class Session:
    """What a family's command is handed: the database and the playbook, each opened only when
    the command first asks, and the as-of date (--as-of, else today in the playbook's zone)."""

    def __init__(self, db_url: str | None, playbook_ref: str | None, as_of: Any) -> None:
        self._db_url = db_url
        self._playbook_ref = playbook_ref
        self._as_of = as_of

    @cached_property
    def engine(self) -> Any:
        return open_db(self._db_url)

    @cached_property
    def playbook(self) -> Playbook:
        return load(self._playbook_ref)

    @property
    def as_of(self) -> date:
        return _as_of(self._as_of, self.playbook)


def show(
    out: Output, fmt: str | None, command: Command, wide: bool = False, lang: str | None = None
) -> None:
    """Rows, then notes (after a table on the terminal; else on stderr, so that the data
    stays clean), then plain lines."""
    if fmt is not None:
        listing = output.Listing(command.name, tuple(out.columns), tuple(out.columns))
        emit(out.rows, fmt, listing, wide, lang, command.labels, out.sheets)
    to_file = click.get_current_context().meta.get("salesplay.out") is not None
    for note in out.notes:
        click.echo(note, err=fmt not in (None, "table") or to_file)
    for line in out.lines:
        click.echo(line)


_TYPES: dict[str, Any] = {"date": DAY, "integer": int}


def family_command(command: Command) -> click.Command:
    """A click command from a family's description of it."""

    def callback(db_url: str | None, playbook_ref: str | None, **given: Any) -> None:
        fmt, wide, lang = given.pop("fmt", None), given.pop("wide", False), given.pop("lang", None)
        session = Session(db_url, playbook_ref, given.pop("as_of", None))
        values = {
            name: value.date() if isinstance(value, datetime) else value
            for name, value in given.items()
        }
        if command.formats:
            values["fmt"] = fmt
        show(command.run(session, **values), fmt, command, wide, lang)

    func: Callable[..., Any] = common(callback)
    if command.formats:
        func = listing_options(formats=command.formats)(func)
    if command.as_of:
        func = as_of_option(func)
    for option in reversed(command.options):
        if not option.flag:
            func = click.argument(option.name, metavar=option.metavar)(func)
            continue
        func = click.option(
            option.flag,
            option.name,
            help=option.help,
            metavar=option.metavar,
            required=option.required,
            is_flag=option.kind == "flag",
            type=_TYPES.get(option.kind),
        )(func)
    return click.command(command.name.split()[-1], help=command.help)(func)


for _family in FAMILIES:
    for _command in _family.commands:
        _group: click.Group = cli
        for _word in _command.name.split()[:-1]:
            if _word not in _group.commands:
                _group.add_command(Cli(_word, help=_command.group_help))
            _found = _group.commands[_word]
            assert isinstance(_found, click.Group)
            _group = _found
        _group.add_command(family_command(_command))


def main() -> None:
    try:
        cli(prog_name="salesplay")
    except BrokenPipeError:  # a pipe closed while click itself was writing (--help | head)
        _quiet_stdout()
        sys.exit(0)


if __name__ == "__main__":
    main()
