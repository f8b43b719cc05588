"""``acoupi task``: list, run and profile the program's tasks."""

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional

import click

from acoupi.cli.base import acoupi
from acoupi.cli.context import get_settings, needs_setup
from acoupi.cli.errors import AcoupiGroup, CliError, CliUsageError
from acoupi.cli.output import make_console

if TYPE_CHECKING:
    import pstats

__all__ = ["task", "task_list", "task_profile", "task_run"]

LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


@acoupi.group(cls=AcoupiGroup, invoke_without_command=True)
@click.pass_context
def task(ctx: click.Context) -> None:
    """List, run and profile the program's tasks."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


def _load_program(ctx: click.Context) -> Any:
    from acoupi import system

    return system.load_program(get_settings(ctx))


def _task_names(program: Any) -> list[str]:
    from acoupi import system

    return list(system.get_task_list(program))


def _require_task(program: Any, name: str) -> None:
    names = _task_names(program)
    if name not in names:
        available = ", ".join(names) or "none"
        raise CliUsageError(
            f"Task {name!r} not found.",
            f"The program's tasks are: {available}. List them with `acoupi task list`.",
        )


@task.command("list")
@click.pass_context
@needs_setup
def task_list(ctx: click.Context) -> None:
    """List the tasks of the program."""
    program = _load_program(ctx)
    click.echo(f"Tasks of {type(program).__module__}:")
    for name in _task_names(program):
        click.echo(f"  • {name}")


class _NotSentCollector(logging.Handler):
    """Keep the causes the messaging tasks log when a send fails."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.causes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        from acoupi.tasks.messaging import NOT_SENT

        cause = getattr(record, NOT_SENT, None)
        if cause is not None and cause not in self.causes:
            self.causes.append(str(cause))


@contextmanager
def _collect_not_sent() -> Iterator[list[str]]:
    """Yield the list of send failures logged while the block runs."""
    handler = _NotSentCollector()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler.causes
    finally:
        root.removeHandler(handler)


_WHAT_IS_SENT = {"heartbeat_task": "Heartbeat", "send_messages_task": "Messages"}


@task.command("run")
@click.argument("task_name")
@click.pass_context
@needs_setup
def task_run(ctx: click.Context, task_name: str) -> None:
    """Run TASK_NAME once, here and now (not on the workers)."""
    from acoupi import system

    program = _load_program(ctx)
    _require_task(program, task_name)
    click.echo(f"Running task {task_name}...")
    # Sending tasks log a failed send and return normally (the next run
    # retries); run by hand to test the uplink, that must not read as success.
    with _collect_not_sent() as not_sent:
        result = system.run_task(program, task_name)
    if result is not None:
        click.echo(f"Result: {result!r}")
    if not_sent:
        what = _WHAT_IS_SENT.get(task_name, f"Task {task_name}: message")
        raise CliError(
            f"{what} not sent: {'; '.join(not_sent)}",
            "Check the messenger settings (`acoupi config get messaging`), the "
            "network, and that the server is running; `acoupi check` tests it.",
        )
    click.secho(f"Task {task_name} finished.", fg="green")


def _function_name(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    if filename == "~":  # built-in function
        return function
    return f"{Path(filename).name}:{line}({function})"


def print_top_stats(stats: "pstats.Stats", limit: int) -> None:
    """Print the ``limit`` functions with the highest cumulative time.

    Parameters
    ----------
    stats
        Profile statistics, as returned by ``profile_task``.
    limit
        Number of rows to show.
    """
    from rich.table import Table

    # ``Stats.stats`` maps (file, line, function) to
    # (primitive calls, total calls, own time, cumulative time, callers).
    raw: dict[Any, Any] = getattr(stats, "stats", {})
    rows = sorted(raw.items(), key=lambda item: item[1][3], reverse=True)[:limit]
    total = getattr(stats, "total_tt", 0.0)
    table = Table(title=f"Top {len(rows)} functions by cumulative time")
    table.add_column("calls", justify="right")
    table.add_column("own s", justify="right")
    table.add_column("cumulative s", justify="right")
    table.add_column("function", overflow="fold")
    for key, (primitive, calls, own, cumulative, _callers) in rows:
        shown_calls = str(calls) if calls == primitive else f"{calls}/{primitive}"
        table.add_row(
            shown_calls, f"{own:.4f}", f"{cumulative:.4f}", _function_name(key)
        )
    console = make_console()
    console.print(table)
    console.print(f"Total time: {total:.4f} s")


@task.command("profile")
@click.argument("task_name")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Save the full profile to this file (open it with pstats or snakeviz).",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Print nothing but errors.",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="WARNING",
    show_default=True,
    help="Log level while the task runs.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    default=15,
    show_default=True,
    help="Number of functions in the summary table.",
)
@click.pass_context
@needs_setup
def task_profile(
    ctx: click.Context,
    task_name: str,
    output: Optional[Path],
    quiet: bool,
    log_level: str,
    top: int,
) -> None:
    """Run TASK_NAME once under the profiler and summarise where time goes."""
    import logging

    from acoupi import system

    if not quiet:
        logging.basicConfig(level=log_level.upper())
    program = _load_program(ctx)
    _require_task(program, task_name)
    if not quiet:
        click.echo(f"Profiling task {task_name}...")
    stats = system.profile_task(program, task_name)
    if output is not None:
        stats.dump_stats(output)
    if quiet:
        return
    print_top_stats(stats, top)
    if output is not None:
        click.echo(f"Full profile saved to {output}.")
