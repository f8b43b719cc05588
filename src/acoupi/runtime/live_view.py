"""The live view of ``acoupi run``: one Rich panel, redrawn about once a second."""

from typing import List, Optional, Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from acoupi.runtime.metrics import Snapshot
from acoupi.runtime.supervisor import ChildState, ChildStatus
from acoupi.system.disk import format_bytes

__all__ = ["format_bytes", "render"]

_UNKNOWN = Text("?", style="yellow")
_STATE_STYLE = {
    ChildState.UP: "green",
    ChildState.DOWN: "bold red",
    ChildState.STOPPED: "dim",
}


def _value(value: Optional[object], suffix: str = "") -> RenderableType:
    return _UNKNOWN if value is None else Text(f"{value}{suffix}")


def _figures(snapshot: Snapshot, tasks_ok: int, tasks_failed: int) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Recordings", _value(snapshot.recordings))
    if snapshot.not_recording:
        table.add_row("Not recording", Text(snapshot.not_recording, style="yellow"))
    table.add_row("Processed by the model", _value(snapshot.model_outputs))
    table.add_row("Detections", _value(snapshot.detections))
    table.add_row("Detection backlog", _value(snapshot.backlog))
    if snapshot.messenger is False:
        kept = "?" if snapshot.messages_pending is None else snapshot.messages_pending
        note = f"{kept} kept, not sent: no messenger configured"
        table.add_row("Messages", Text(note, "dim"))
    elif snapshot.messages_pending is not None or snapshot.messages_sent is not None:
        table.add_row(
            "Messages sent / pending",
            Text(f"{snapshot.messages_sent} / {snapshot.messages_pending}"),
        )
    failed = Text(f", {tasks_failed} failed", style="red") if tasks_failed else ""
    table.add_row("Tasks finished", Text.assemble(f"{tasks_ok} ok", failed))
    if snapshot.queues is not None:
        queues = ", ".join(f"{q} {n}" for q, n in snapshot.queues.items())
        table.add_row("Waiting in queues", Text(queues or "-"))
    else:
        table.add_row("Waiting in queues", _UNKNOWN)
    if snapshot.disk_free is not None:
        style = "red" if snapshot.disk_free < 1_000_000_000 else ""
        table.add_row(
            "Disk free",
            Text(f"{format_bytes(snapshot.disk_free)} ({snapshot.disk_path})", style),
        )
    return table


def _children(children: Sequence[ChildStatus]) -> Table:
    table = Table(box=None, padding=(0, 2), show_edge=False)
    for column in ("Process", "State", "PID", "Restarts"):
        table.add_column(column, style="bold" if column == "Process" else None)
    for child in children:
        state = child.state.value
        if child.state == ChildState.DOWN and child.last_exit is not None:
            state += f" (exit {child.last_exit})"
        table.add_row(
            child.name,
            Text(state, style=_STATE_STYLE[child.state]),
            str(child.pid or "-"),
            str(child.restarts),
        )
    return table


def render(
    snapshot: Snapshot,
    children: Sequence[ChildStatus],
    elapsed: float,
    duration: Optional[float],
    tasks_ok: int = 0,
    tasks_failed: int = 0,
    last_error: Optional[str] = None,
    events: Sequence[str] = (),
    deployment: Optional[str] = None,
) -> RenderableType:
    """Return the whole live view.

    Parameters
    ----------
    snapshot
        The latest figures.
    children
        State of every worker and beat.
    elapsed
        Seconds since the run started.
    duration
        Planned length of the run, or None to run until stopped.
    tasks_ok, tasks_failed
        Tasks finished since the start, from the logs.
    last_error
        The newest error line of the logs.
    events
        Latest supervisor events (restarts), newest last.
    deployment
        Name of the deployment.
    """
    title = f"acoupi - {deployment}" if deployment else "acoupi"
    clock = f"{elapsed:.0f} s" + (f" of {duration:.0f} s" if duration else "")
    parts: List[RenderableType] = [
        _figures(snapshot, tasks_ok, tasks_failed),
        Text(""),
        _children(children),
    ]
    if events:
        parts += [Text(""), Text("\n".join(events[-3:]), style="yellow")]
    if last_error:
        parts += [Text(""), Text(f"Last error: {last_error}", style="red")]
    if snapshot.problems:
        parts += [Text("Not shown: " + "; ".join(snapshot.problems), style="dim")]
    footer = "Ctrl-C to stop"
    return Panel(
        Group(*parts),
        title=title,
        subtitle=f"{clock} - {footer}",
        expand=False,
    )
