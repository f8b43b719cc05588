"""Draw ``acoupi deployment status`` as coloured Rich panels.

Panels, top to bottom: how acoupi runs (systemd services or a foreground
run), Celery and its workers, the program's health, the current
deployment, the recording outlook (next recording or why none is due, last
recording, today's counts, pending messages) and free disk space. The
status object is read by attribute only, so this module does not import
the system.
"""

import datetime
from typing import TYPE_CHECKING, Any, Iterable, Optional

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from acoupi.system.state import AcoupiStatus

__all__ = ["render_status", "STATE_STYLES"]

# Colour of each state value; anything else is shown in yellow.
STATE_STYLES = {
    # services
    "active": "green",
    "activating": "yellow",
    "reloading": "yellow",
    "deactivating": "yellow",
    "inactive": "dim",
    "failed": "bold red",
    "uninstalled": "yellow",
    "unknown": "yellow",
    # celery and workers
    "available": "green",
    "unavailable": "red",
    "error": "bold red",
    "notok": "red",
    # program
    "ok": "green",
    "unhealthy": "yellow",
}

_PANEL_WIDTH = 64
_CHECK_HINT = "Run `acoupi check` for details."


def _value(state: Any) -> str:
    """The plain string of an enum member (or of anything else)."""
    return str(getattr(state, "value", state))


def _bullet(state: Any) -> str:
    value = _value(state)
    style = STATE_STYLES.get(value, "yellow")
    return f"[{style}]●[/] [{style}]{value}[/]"


def _grid(rows: Iterable[tuple[str, str]]) -> "RenderableType":
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _panel(title: str, body: "RenderableType") -> "RenderableType":
    from rich.panel import Panel

    return Panel(
        body,
        title=f"[bold]{title}[/]",
        title_align="left",
        width=_PANEL_WIDTH,
    )


def _mode_text(running: Any) -> str:
    mode = _value(running.mode)
    names = ", ".join(
        f"{name} (pid {pid})" for name, pid in sorted(running.processes.items())
    )
    if mode == "foreground":
        return f"[green]●[/] foreground: `acoupi run` (pid {running.pid})"
    if mode == "services":
        return "[green]●[/] systemd user services"
    if mode == "detached":
        return f"[yellow]●[/] workers without a supervisor: {names}"
    return "[dim]●[/] stopped: start with `acoupi deployment start` or `acoupi run`"


def _services(status: "AcoupiStatus") -> "RenderableType":
    services = status.services
    running = getattr(status, "running", None)
    rows = []
    if running is not None:
        rows.append(("running", _mode_text(running)))
    if running is not None and _value(running.mode) == "foreground":
        # The units are not used by a foreground run; "unknown" would
        # suggest something is wrong.
        rows.append(("services", "[dim]not used while running in the foreground[/]"))
    elif detail := getattr(services, "detail", None):
        from rich.markup import escape

        rows.append(("services", f"[dim]{escape(detail)}[/]"))
    else:
        rows.append(("acoupi", _bullet(services.acoupi)))
        rows.append(("beat", _bullet(services.beat)))
    return _panel("Services", _grid(rows))


def _worker_name(name: str) -> str:
    # Celery names workers "<name>@<host>"; the host is the same for all.
    return name.split("@", 1)[0]


def _celery(status: "AcoupiStatus") -> "RenderableType":
    from rich.markup import escape

    celery = status.celery
    rows = [("state", _bullet(celery.state))]
    workers = list(getattr(celery, "workers", None) or [])
    if workers:
        for index, worker in enumerate(workers):
            label = "workers" if index == 0 else ""
            rows.append(
                (label, f"{_bullet(worker.state)}  {_worker_name(worker.worker_name)}")
            )
    else:
        rows.append(("workers", "[dim]none running[/]"))
    detail = getattr(celery, "detail", None)
    if detail:
        rows.append(("", escape(str(detail))))
    return _panel("Celery", _grid(rows))


def _program(status: "AcoupiStatus") -> "RenderableType":
    state = _value(status.program)
    rows = [("health", _bullet(status.program))]
    if state == "unhealthy":
        rows.append(("", "[yellow]Configuration errors were found.[/]"))
        rows.append(("", _CHECK_HINT))
    elif state == "error":
        rows.append(("", "[red]The health checks could not run.[/]"))
        rows.append(("", _CHECK_HINT))
    if status.backlog is not None:
        # Recordings waiting for the model: growing means detection lags.
        rows.append(("backlog", f"{status.backlog} recording(s) awaiting detection"))
    if status.storage is not None:
        rows.append(("disk", f"[red]{status.storage}[/]"))
    if status.pending is not None:
        # Everything not yet filed, including what a dead worker stranded.
        rows.append(("unfiled", status.pending))
    return _panel("Program", _grid(rows))


def format_local_time(moment: datetime.datetime) -> str:
    """Show a timestamp in the device's local time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone().strftime("%A %d %B %Y, %H:%M %Z")


def _coordinate(value: Optional[float]) -> str:
    return (
        "[dim]not set[/]" if value is None else f"{value:.6f}".rstrip("0").rstrip(".")
    )


def _deployment(status: "AcoupiStatus") -> "RenderableType":
    from rich.markup import escape

    deployment = status.deployment
    if deployment is None:
        rows = [
            ("state", "[dim]●[/] [dim]inactive[/]"),
            ("", "Start one with `acoupi deployment start`."),
        ]
        return _panel("Deployment", _grid(rows))
    rows = [
        ("state", "[green]●[/] [green]active[/]"),
        ("name", escape(deployment.name)),
        ("started on", format_local_time(deployment.started_on)),
        ("latitude", _coordinate(deployment.latitude)),
        ("longitude", _coordinate(deployment.longitude)),
    ]
    return _panel("Deployment", _grid(rows))


def _known(value: Optional[int]) -> str:
    return "[yellow]?[/]" if value is None else str(value)


def _recording(status: "AcoupiStatus") -> Optional["RenderableType"]:
    from rich.markup import escape

    outlook = getattr(status, "outlook", None)
    activity = getattr(status, "activity", None)
    if outlook is None and activity is None:
        return None
    rows = []
    if outlook is not None:
        if outlook.recording_now:
            rows.append(("now", "[green]●[/] recording on schedule"))
        elif outlook.reason:
            rows.append(
                ("now", f"[yellow]●[/] not recording: {escape(outlook.reason)}")
            )
        if outlook.next_recording is not None:
            rows.append(("next", format_local_time(outlook.next_recording)))
        if outlook.window:
            rows.append(("window", escape(outlook.window)))
    if activity is not None:
        last = activity.last_recording
        if last is not None or activity.recordings_today is not None:
            rows.append(
                ("last", format_local_time(last) if last else "[dim]none yet[/]")
            )
        if activity.recordings_today is not None:
            rows.append(("today", f"{activity.recordings_today} recording(s)"))
            tags = ", ".join(
                f"{escape(tag)} {count}"
                for tag, count in activity.detections_by_tag.items()
            )
            rows.append(
                (
                    "",
                    f"{_known(activity.detections_today)} detection(s)"
                    + (f" ({tags})" if tags else ""),
                )
            )
        if activity.messages_pending is not None:
            where = activity.messages_destination or "[yellow]no messenger[/]"
            rows.append(
                (
                    "messages",
                    f"{activity.messages_pending} pending, to {escape(where)}",
                )
            )
        for problem in activity.problems:
            rows.append(("", f"[yellow]{escape(problem)}[/]"))
    return _panel("Recording", _grid(rows))


def _disk(status: "AcoupiStatus") -> Optional["RenderableType"]:
    from rich.markup import escape
    from rich.table import Table

    from acoupi.system.disk import format_bytes

    usages = list(getattr(status, "disk", None) or [])
    if not usages:
        return None
    # One column that folds: long storage paths must show in full.
    grid = Table.grid()
    grid.add_column(overflow="fold")
    for usage in usages:
        low = usage.free < 1_000_000_000 or usage.free_fraction < 0.05
        style = "red" if low else "green"
        grid.add_row(
            f"[{style}]●[/] {format_bytes(usage.free)} free of "
            f"{format_bytes(usage.total)}: {escape(str(usage.path))}"
        )
    return _panel("Disk", grid)


def render_status(status: "AcoupiStatus", console: "Console") -> None:
    """Print the status of acoupi as panels.

    Parameters
    ----------
    status
        The status returned by ``acoupi.system.get_status``.
    console
        Where to print.
    """
    console.print("[bold]Acoupi status[/]")
    for section in (_services, _celery, _program, _deployment, _recording, _disk):
        panel = section(status)
        if panel is not None:
            console.print(panel)
