"""Is the device well? Workers, backlog, disk, messages and the last error.

The system status comes from ``acoupi deployment status --json`` run in a
child process: it loads the program (and with it the models) and Celery,
which would otherwise stay in the dashboard's memory for good. It is
refreshed in the background at most every :data:`STATUS_MAX_AGE_S`
seconds, and only while someone looks at the dashboard, so pages never
wait for it and an idle dashboard costs nothing.
"""

import datetime
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from acoupi.dashboard.sources import DataSources, NoDataError, open_read_only
from acoupi.system.constants import Settings
from acoupi.system.errors_summary import LogErrorReader

__all__ = [
    "DiskSpace",
    "LastError",
    "MessageCounts",
    "StatusCache",
    "disk_space",
    "last_error",
    "log_tail",
    "message_counts",
]

STATUS_MAX_AGE_S = 30.0
"""A status check loads Python, Celery and the program (0.9 s of CPU on this
x86 machine, more on a Pi), so it runs at most this often, and only while
pages are open."""
STATUS_TIMEOUT_S = 60.0
LAST_ERROR_MAX_AGE = datetime.timedelta(hours=24)
"""An error older than this is no longer shown, even if nothing since says
the fault is gone: the logs keep it for whoever needs it."""


class StatusCache:
    """The latest ``acoupi deployment status``, refreshed in the background."""

    def __init__(
        self,
        settings: Settings,
        max_age: float = STATUS_MAX_AGE_S,
        enabled: bool = True,
    ) -> None:
        self._settings = settings
        self._max_age = max_age
        self._enabled = enabled
        self._lock = threading.Lock()
        self._first = threading.Event()
        self._value: Optional[Dict[str, Any]] = None
        self._error: Optional[str] = None
        self._fetched = 0.0
        self._running = False

    def get(self) -> Tuple[Optional[Dict[str, Any]], Optional[str], Optional[float]]:
        """Return (status, error, age in s) and start a refresh when stale."""
        if not self._enabled:
            return None, "System status is not checked by this dashboard.", None
        with self._lock:
            stale = time.monotonic() - self._fetched > self._max_age
            if stale and not self._running:
                self._running = True
                threading.Thread(
                    target=self._refresh, name="acoupi-dashboard-status", daemon=True
                ).start()
            age = time.monotonic() - self._fetched if self._fetched else None
            return self._value, self._error, age

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for the first status (returns at once after).

        A scraper asks once per interval: without waiting, its first scrape
        would find no status, and no backlog.
        """
        if self._enabled:
            self.get()  # starts the first refresh if none runs
            self._first.wait(timeout)

    def _refresh(self) -> None:
        value: Optional[Dict[str, Any]] = None
        error: Optional[str] = None
        env = {**os.environ, "ACOUPI_HOME": str(self._settings.home)}
        try:
            result = subprocess.run(
                [sys.executable, "-m", "acoupi", "deployment", "status", "--json"],
                capture_output=True,
                text=True,
                timeout=STATUS_TIMEOUT_S,
                env=env,
                check=False,
            )
            if result.returncode == 0:
                value = json.loads(result.stdout)
            else:
                lines = (result.stderr or result.stdout).strip().splitlines()
                error = lines[0] if lines else f"exit code {result.returncode}"
        except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
            error = f"status unavailable: {exc}"
        with self._lock:
            self._value, self._error = value, error
            self._fetched = time.monotonic()
            self._running = False
        self._first.set()


@dataclass
class DiskSpace:
    """Free space of one storage folder."""

    label: str
    path: Path
    free_bytes: int
    total_bytes: int

    @property
    def free_fraction(self) -> float:
        """Free space as a fraction of the filesystem's size."""
        return self.free_bytes / self.total_bytes if self.total_bytes else 0.0


def _existing(path: Path) -> Path:
    # A folder not created yet still lives on its parent's filesystem.
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_space(sources: DataSources) -> List[DiskSpace]:
    """Return the free space of each storage folder."""
    spaces = []
    for label, folder in sources.storage_folders():
        try:
            usage = shutil.disk_usage(_existing(folder))
        except OSError:
            continue
        spaces.append(DiskSpace(label, folder, usage.free, usage.total))
    return spaces


@dataclass
class MessageCounts:
    """Messages in the outbox: sent (acknowledged) and still pending."""

    sent: int
    pending: int


def message_counts(sources: DataSources) -> Optional[MessageCounts]:
    """Count sent and pending messages; None without a message database."""
    if sources.messages_db is None:
        return None
    try:
        connection = open_read_only(sources.messages_db)
    except NoDataError:
        return None
    try:
        total, sent = connection.execute(
            "SELECT (SELECT count(*) FROM message),"
            " (SELECT count(DISTINCT message_id) FROM response WHERE status = 0)"
        ).fetchone()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
    return MessageCounts(sent=sent, pending=max(0, total - sent))


def _read_end(path: Path, size: int = 64 * 1024) -> List[str]:
    with path.open("rb") as handle:
        handle.seek(0, 2)
        start = max(0, handle.tell() - size)
        handle.seek(start)
        lines = handle.read().decode("utf-8", errors="replace").splitlines()
    # A line cut by the seek would be misread.
    return lines[1:] if start else lines


def log_tail(sources: DataSources, lines: int = 40) -> Dict[str, List[str]]:
    """Return the last ``lines`` lines of each log file, by log name."""
    tails: Dict[str, List[str]] = {}
    for path in sorted(Path(sources.log_dir).glob("*.log")):
        try:
            tails[path.stem] = _read_end(path)[-lines:]
        except OSError:
            continue
    return tails


@dataclass
class LastError:
    """The newest failure in the logs that still matters."""

    source: str
    """The task that failed, or else the log it was found in."""

    cause: str
    """One line: the exception type and message."""

    time: datetime.datetime
    """When it was logged (aware)."""

    @property
    def text(self) -> str:
        """``source: cause``, as the run summary says it."""
        return f"{self.source}: {self.cause}"

    def as_json(self) -> Dict[str, str]:
        """The error as JSON-ready values."""
        return {
            "text": self.text,
            "source": self.source,
            "cause": self.cause,
            "time": self.time.isoformat(timespec="seconds"),
        }


def last_error(
    sources: DataSources, now: Optional[datetime.datetime] = None
) -> Optional[LastError]:
    """Return the newest failure of the logs, unless it is over.

    Each log's end is read by :class:`acoupi.system.errors_summary.LogErrorReader`
    (as the end-of-run summary does), so the cause is one line, never a
    traceback header. A failure is over once the same task succeeded after
    it (any task, for an error of no task), or when it is older than
    :data:`LAST_ERROR_MAX_AGE`.
    """
    now = now or datetime.datetime.now(datetime.timezone.utc)
    newest: Optional[LastError] = None
    for path in Path(sources.log_dir).glob("*.log"):
        try:
            mtime = path.stat().st_mtime
            lines = _read_end(path)
        except OSError:
            continue
        reader = LogErrorReader()
        reader.feed_all(lines)
        error = reader.last
        if error is None or error.resolved:
            continue
        when = error.time or datetime.datetime.fromtimestamp(mtime).astimezone()
        if now - when > LAST_ERROR_MAX_AGE:
            continue
        if newest is None or when > newest.time:
            newest = LastError(error.task or path.stem, error.cause, when)
    return newest
