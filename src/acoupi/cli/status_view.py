"""Draw ``acoupi deployment status`` as coloured Rich panels.

Four panels, top to bottom: the systemd services, Celery and its workers,
the program's health and the current deployment. The status object is
read by attribute only, so this module does not import the system.
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


def _services(status: "AcoupiStatus") -> "RenderableType":
    services = status.services
    rows = [
        ("acoupi", _bullet(services.acoupi)),
        ("beat", _bullet(services.beat)),
    ]
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


def render_status(status: "AcoupiStatus", console: "Console") -> None:
    """Print the status of acoupi as four panels.

    Parameters
    ----------
    status
        The status returned by ``acoupi.system.get_status``.
    console
        Where to print.
    """
    console.print("[bold]Acoupi status[/]")
    for section in (_services, _celery, _program, _deployment):
        console.print(section(status))
