"""``acoupi detections`` and ``acoupi recordings``: what was heard, in a terminal.

Lists, per-tag summaries and exports (CSV, JSON, Raven Pro selection
tables) read the metadata database read-only, with the same queries as
the dashboard (:mod:`acoupi.dashboard.queries`).
"""

import datetime
import functools
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar, cast

import click

from acoupi.cli.context import get_settings
from acoupi.cli.errors import AcoupiGroup
from acoupi.cli.output import make_console, stdout_is_terminal

__all__ = ["detections", "recordings"]

F = TypeVar("F", bound=Callable[..., Any])


class _When(click.ParamType):
    """A date, date and time (UTC) or age, parsed by ``parse_when``."""

    name = "when"

    def convert(
        self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]
    ) -> datetime.datetime:
        if isinstance(value, datetime.datetime):
            return value
        from acoupi.dashboard.queries import parse_when

        try:
            return parse_when(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


WHEN = _When()


def _time_options(func: F) -> F:
    options = (
        click.option(
            "--since",
            type=WHEN,
            help="Recordings from this time on: 2024-05-01, 2024-05-01T21:00 "
            "(UTC), today, or an age such as 24h or 7d.",
        ),
        click.option("--until", type=WHEN, help="Recordings before this time."),
        click.option("--deployment", help="Only this deployment (name or id)."),
    )
    for option in reversed(options):
        func = option(func)
    return func


def _filter_options(func: F) -> F:
    options = (
        click.option(
            "--tag",
            "tags",
            multiple=True,
            help="Tag value (bat) or key:value (event:bat); repeat for several.",
        ),
        click.option(
            "--min-score",
            type=click.FloatRange(0, 1),
            help="Lowest detection score, 0 to 1.",
        ),
    )
    func = _time_options(func)
    for option in reversed(options):
        func = option(func)
    return func


def _connection(ctx: click.Context) -> Any:
    from acoupi.dashboard.sources import DataSources, open_metadata

    return open_metadata(DataSources.from_settings(get_settings(ctx)))


def _query(**filters: Any) -> Any:
    from acoupi.dashboard.queries import DetectionQuery

    return DetectionQuery(
        tags=list(filters.get("tags") or ()) or None,
        min_score=filters.get("min_score"),
        since=filters.get("since"),
        until=filters.get("until"),
        deployment=filters.get("deployment"),
    )


def _with_query(func: F) -> F:
    """Turn the filter options into one ``query`` argument."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        names = ("tags", "min_score", "since", "until", "deployment")
        filters = {name: kwargs.pop(name, None) for name in names}
        return func(*args, query=_query(**filters), **kwargs)

    return cast(F, wrapper)


def _explain_no_match(ctx: click.Context, query: Any, what: str) -> None:
    """Say nothing matched, naming filters that name nothing in the store."""
    from acoupi.dashboard.queries import unknown_filters

    notes = unknown_filters(_connection(ctx), query.tags, query.deployment)
    click.echo(" ".join([f"No {what} match.", *notes]), err=True)


def _print_table(headers: list[str], rows: list[list[str]]) -> None:
    """Print a table: aligned on a terminal, tab-separated in a pipe."""
    if not stdout_is_terminal():
        for line in [headers, *rows]:
            click.echo("\t".join(line))
        return
    from rich.table import Table

    table = Table(*headers, box=None)
    for row in rows:
        table.add_row(*row)
    make_console().print(table)


def _to_stdout(write: Callable[[Any], Any]) -> None:
    """Write to standard output; a reader that stops early (``| head``) is fine."""
    try:
        write(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when flushing at exit.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@click.group(cls=AcoupiGroup, short_help="List, summarise and export detections.")
def detections() -> None:
    """List, summarise and export what the models detected.

    \b
    Examples:
      acoupi detections list --tag bat --since 24h
      acoupi detections summary --by hour --since today
      acoupi detections export --format raven --output selections/
    """  # noqa: D301 - \b keeps click from re-wrapping the examples


@detections.command("list")
@_filter_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@_with_query
def list_command(
    ctx: click.Context, query: Any, limit: int, offset: int, as_json: bool
) -> None:
    """List detections, newest first."""
    from acoupi.dashboard.queries import list_detections

    page = list_detections(_connection(ctx), query, limit=limit, offset=offset)
    if as_json:
        _echo_page("detections", page, offset, limit)
        return
    if not page.rows:
        _explain_no_match(ctx, query, "detections")
        return
    lines = []
    for row in page.rows:
        box = (
            f"{row.box[0]:.3f}-{row.box[2]:.3f} s, "
            f"{row.box[1] / 1000:.1f}-{row.box[3] / 1000:.1f} kHz"
            if row.box
            else "whole recording"
        )
        lines.append(
            [
                row.time.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                row.tag or "-",
                f"{row.score:.2f}",
                box,
                str(row.recording_id),
            ]
        )
    _print_table(["time (UTC)", "tag", "score", "box", "recording"], lines)
    if page.has_more:
        click.echo(f"More follow: add --offset {offset + limit}.", err=True)


@detections.command("summary")
@_filter_options
@click.option(
    "--by",
    "bucket",
    type=click.Choice(["day", "hour"]),
    default="day",
    show_default=True,
    help="Count per day or per hour (UTC).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@_with_query
def summary_command(ctx: click.Context, query: Any, bucket: str, as_json: bool) -> None:
    """Count detections per tag per day or hour."""
    from acoupi.dashboard.queries import count_by_bucket

    rows = count_by_bucket(_connection(ctx), query, bucket)  # type: ignore[arg-type]
    if as_json:
        items = [
            {bucket: stamp, "key": key, "tag": value, "count": count}
            for stamp, key, value, count in rows
        ]
        click.echo(json.dumps(items, indent=2))
        return
    if not rows:
        _explain_no_match(ctx, query, "detections")
        return
    tags = sorted({value for _, _, value, _ in rows})
    grid: dict[str, dict[str, int]] = {}
    for stamp, _, value, count in rows:
        grid.setdefault(stamp, {})[value] = grid.get(stamp, {}).get(value, 0) + count
    lines = [
        [stamp, *(str(counts.get(tag, 0)) for tag in tags), str(sum(counts.values()))]
        for stamp, counts in grid.items()
    ]
    _print_table([f"{bucket} (UTC)", *tags, "total"], lines)


@detections.command("export")
@_filter_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "raven"]),
    default="csv",
    show_default=True,
    help="csv and json: one file; raven: one Raven Pro selection table per "
    "recording, in a folder.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="File (csv, json; default: standard output) or folder (raven).",
)
@click.pass_context
@_with_query
def export_command(
    ctx: click.Context, query: Any, fmt: str, output: Optional[Path]
) -> None:
    """Export detections in time order."""
    from acoupi.dashboard import exports
    from acoupi.dashboard.queries import list_detections

    rows = list_detections(_connection(ctx), query, limit=None, newest_first=False)
    if not rows.rows:
        # The file is still written (with its header): scripts rely on it.
        _explain_no_match(ctx, query, "detections")
    if fmt == "raven":
        if output is None:
            raise click.UsageError(
                "--format raven writes one file per recording: give a folder "
                "with --output, e.g. --output selections/."
            )
        if output.exists() and not output.is_dir():
            raise click.UsageError(f"{output} is a file; --output must be a folder.")
        written = exports.write_raven_tables(rows.rows, output)
        click.echo(
            f"Wrote {len(written)} selection table(s) "
            f"({len(rows.rows)} detections) to {output}.",
            err=True,
        )
        return
    writer = exports.write_csv if fmt == "csv" else exports.write_json
    if output is None:
        _to_stdout(lambda handle: writer(rows.rows, handle))
        return
    _write_file(output, lambda handle: writer(rows.rows, handle))
    click.echo(f"Wrote {len(rows.rows)} detections to {output}.", err=True)


def _write_file(path: Path, write: Callable[[Any], Any]) -> None:
    import io

    from acoupi.system.atomic import atomic_write_text

    buffer = io.StringIO()
    write(buffer)
    atomic_write_text(path, buffer.getvalue())


@click.command(short_help="List recordings with detections and file locations.")
@_time_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def recordings(
    ctx: click.Context,
    since: Optional[datetime.datetime],
    until: Optional[datetime.datetime],
    deployment: Optional[str],
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List recordings, newest first: time, detections, and where the file is."""
    from acoupi.dashboard.queries import list_recordings

    page = list_recordings(
        _connection(ctx),
        since=since,
        until=until,
        deployment=deployment,
        limit=limit,
        offset=offset,
    )
    if as_json:
        _echo_page("recordings", page, offset, limit)
        return
    if not page.rows:
        from acoupi.dashboard.queries import unknown_filters

        notes = unknown_filters(_connection(ctx), deployment=deployment)
        click.echo(" ".join(["No recordings match.", *notes]), err=True)
        return
    lines = []
    for row in page.rows:
        if row.path is None:
            where = "not kept"
        else:
            where = str(row.path) + ("" if row.file_exists else " (missing)")
        lines.append(
            [
                row.time.strftime("%Y-%m-%d %H:%M:%S"),
                f"{row.duration:g} s",
                str(row.detections),
                where,
                str(row.id),
            ]
        )
    _print_table(["time (UTC)", "length", "detections", "file", "id"], lines)
    if page.has_more:
        click.echo(f"More follow: add --offset {offset + limit}.", err=True)


def _echo_page(kind: str, page: Any, offset: int, limit: int) -> None:
    """Print one page of rows as the JSON document of ``--json``."""
    document = {
        kind: [row.as_json() for row in page.rows],
        "offset": offset,
        "limit": limit,
        "has_more": page.has_more,
    }
    click.echo(json.dumps(document, indent=2))
