"""Tell how this installation's acoupi is running: in the foreground or not.

``acoupi run`` starts the workers and the scheduler as its own children;
``acoupi deployment start`` (systemd) and ``acoupi workers start`` start
them detached with ``celery multi``. Advice such as "restart the workers"
only works for the latter, so commands ask here which one it is.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Literal, Optional

if TYPE_CHECKING:
    from acoupi.system.constants import Settings

__all__ = ["RunningMode", "describe_running", "parent_pid"]

RunningMode = Literal["foreground", "workers"]


def parent_pid(pid: int, proc: Path = Path("/proc")) -> Optional[int]:
    """Return the parent of process ``pid``, or None if it cannot be read."""
    try:
        status = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("PPid:"):
            return int(line.split()[1])
    return None


def _is_acoupi(pid: int, proc: Path) -> bool:
    """Whether ``pid`` runs the ``acoupi`` command (script or ``-m acoupi``)."""
    try:
        argv = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(Path(word.decode(errors="replace")).name == "acoupi" for word in argv)


def describe_running(
    settings: "Settings", proc: Path = Path("/proc")
) -> Optional[RunningMode]:
    """Return how acoupi runs here, or None if no worker or scheduler is alive.

    Returns
    -------
    "foreground", "workers" or None
        ``foreground`` when a live worker or scheduler is a child of an
        ``acoupi`` process (``acoupi run``); ``workers`` when they run
        detached (systemd services or ``acoupi workers start``).
    """
    # The same pidfiles as ``runtime.foreground.running_processes``, without
    # importing the runtime (a third of a second on a Pi).
    from acoupi.system.pidfiles import owned_processes

    running = owned_processes(Path(settings.run_dir))
    if not running:
        return None
    for pid in running.values():
        parent = parent_pid(pid, proc)
        if parent is not None and parent > 1 and _is_acoupi(parent, proc):
            return "foreground"
    return "workers"
