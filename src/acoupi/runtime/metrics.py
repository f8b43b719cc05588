"""What the live view and the run summary show, gathered without failing.

Every figure is read independently and is None when it cannot be read
(no store, a locked database, the broker away), with the reason kept in
``Snapshot.problems``: a metric must never stop the view, let alone the
run.
"""

import datetime
import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from acoupi.components.sqlite_db import datetime_to_db
from acoupi.runtime.backlog import get_backlog
from acoupi.runtime.coverage import Span
from acoupi.runtime.run_counts import OutboxCounts, StoreCounts
from acoupi.system.errors_summary import LogError, LogErrorReader

__all__ = [
    "LogWatcher",
    "MetricsCollector",
    "Snapshot",
    "detections_by_tag",
    "recording_spans",
]


@dataclass
class Snapshot:
    """Figures at one moment; None means "could not be read"."""

    recordings: Optional[int] = None
    """Recordings stored since the run started (rows added during the run)."""

    model_outputs: Optional[int] = None
    """Recordings the model processed since the run started."""

    detections: Optional[int] = None
    """Detections stored since the run started."""

    messages_pending: Optional[int] = None
    messages_sent: Optional[int] = None
    messenger: Optional[bool] = None
    """Whether a messenger sends the messages (None: not a messaging program)."""

    queues: Optional[Dict[str, int]] = None
    """Messages waiting per Celery queue."""

    backlog: Optional[int] = None
    """Recordings waiting for detection."""

    disk_free: Optional[int] = None
    """Bytes free where recordings are kept."""

    disk_path: Optional[Path] = None
    not_recording: Optional[str] = None
    """Why nothing is being recorded now (outside the schedule, ...)."""

    problems: List[str] = field(default_factory=list)


def _connect_ro(path: Path) -> sqlite3.Connection:
    # Read-only and short timeout: the view must never hold up a writer
    # nor wait long for one.
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.5)


def _db_path(component: Any) -> Optional[Path]:
    path = getattr(component, "db_path", None)
    return Path(path) if path is not None else None


def _config_path(program: Any, *names: str) -> Optional[Path]:
    value = getattr(program, "config", None)
    for name in names:
        value = getattr(value, name, None)
    return Path(value) if value is not None else None


class MetricsCollector:
    """Read a program's figures since ``since``.

    Parameters
    ----------
    program
        The loaded program (any attribute may be missing: the test program
        has no store).
    since
        Start of the run; counts are of things stored after it.
    queues
        Celery queues to report the depth of.
    """

    queue_poll_seconds = 5.0
    """Minimum seconds between two broker queries: each one opens a broker
    connection, which on RabbitMQ doubled its idle CPU when done every
    second."""

    def __init__(
        self,
        program: Any,
        since: datetime.datetime,
        queues: Sequence[str],
        deployment: Any = None,
    ) -> None:
        self.deployment = deployment
        """The running deployment; with it, snapshots say why nothing is
        recorded."""
        self._polled_at: Optional[float] = None
        self._depths: Optional[Dict[str, int]] = None
        self._backlog: Optional[int] = None
        self.program = program
        self.since = datetime_to_db(since)
        self.queues = list(queues)
        self.store_db = _db_path(getattr(program, "store", None))
        self.message_db = _db_path(getattr(program, "message_store", None))
        self.recordings_dir = _config_path(program, "paths", "recordings")
        self.store_counts = StoreCounts(since=self.since)
        self.outbox = OutboxCounts()
        try:
            self._start_counts()
        except sqlite3.Error:  # busy: the first collect starts them
            pass

    def _start_counts(self) -> None:
        if self.store_db is None or not self.store_db.exists():
            self.store_counts.start(None)
            return
        with closing(_connect_ro(self.store_db)) as connection:
            self.store_counts.start(connection)

    def collect(self) -> Snapshot:
        """Return the current figures; never raises."""
        snapshot = Snapshot()
        steps = (self._store, self._messages, self._queues, self._disk, self._outlook)
        for step in steps:
            try:
                step(snapshot)
            except Exception as error:  # a metric must never crash the run
                snapshot.problems.append(
                    f"{step.__name__.strip('_')}: {self._explain(step, error)}"
                )
        return snapshot

    def _explain(self, step: Any, error: Exception) -> str:
        """The error; for a database file, its name and the fix."""
        from acoupi.components.sqlite_errors import explain_error

        path = {self._store: self.store_db, self._messages: self.message_db}.get(step)
        if path is None:
            return str(error) or type(error).__name__
        return explain_error(path, error)

    def _store(self, snapshot: Snapshot) -> None:
        if self.store_db is None or not self.store_db.exists():
            return
        with closing(_connect_ro(self.store_db)) as connection:
            # Only the rows added since the last look: the same cost on the
            # first day and the hundredth.
            self.store_counts.update(connection)
        counts = self.store_counts
        snapshot.recordings = counts.recordings
        snapshot.model_outputs = counts.model_outputs
        snapshot.detections = counts.detections

    def _messages(self, snapshot: Snapshot) -> None:
        if hasattr(self.program, "messenger"):
            snapshot.messenger = self.program.messenger is not None
        if self.message_db is None or not self.message_db.exists():
            return
        with closing(_connect_ro(self.message_db)) as connection:
            if snapshot.messenger is False:
                # Pruned to the newest few (detection.UNSENT_KEPT_WITHOUT_
                # MESSENGER): a small count, and deletions must show.
                row = connection.execute("SELECT COUNT(*) FROM message").fetchone()
                snapshot.messages_pending, snapshot.messages_sent = int(row[0]), 0
                return
            self.outbox.update(connection)
        snapshot.messages_pending = self.outbox.pending
        snapshot.messages_sent = self.outbox.sent

    def _queues(self, snapshot: Snapshot) -> None:
        from acoupi.system.broker import queue_depths

        app = getattr(self.program, "app", None)
        if app is None or not self.queues:
            return
        now = time.monotonic()
        if self._polled_at is None or now - self._polled_at >= self.queue_poll_seconds:
            self._polled_at = now
            self._depths = self._backlog = None  # never show stale figures
            self._depths = queue_depths(app, self.queues)
            self._backlog = get_backlog(self.program)
        snapshot.queues = self._depths
        snapshot.backlog = self._backlog

    def _disk(self, snapshot: Snapshot) -> None:
        from acoupi.system.disk import disk_usage

        if self.recordings_dir is None:
            return
        for usage in disk_usage([self.recordings_dir]):
            snapshot.disk_path = usage.path
            snapshot.disk_free = usage.free

    def _outlook(self, snapshot: Snapshot) -> None:
        from acoupi.system.outlook import schedule_outlook

        if self.deployment is None:
            return
        from acoupi.components.disk_guard import storage_problem_of

        # The disk guard pauses recording whatever the schedule says.
        problem = storage_problem_of(self.program)
        if problem is not None:
            snapshot.not_recording = problem
            return
        outlook = schedule_outlook(self.program, self.deployment)
        if not outlook.recording_now:
            snapshot.not_recording = outlook.reason


DETECTIONS_BY_TAG = (
    # CROSS JOIN keeps this order: the model outputs of the window (by
    # their created_on index), then their detections and tags (by their
    # foreign key indexes). Left to the planner, every tag was scanned.
    "SELECT t.value, COUNT(DISTINCT d.id) FROM model_output m"
    " CROSS JOIN detection d ON d.model_output_id = m.id"
    " CROSS JOIN predicted_tag t ON t.detection_id = d.id"
    " WHERE m.created_on >= ? GROUP BY t.value ORDER BY t.value"
)


def detections_by_tag(database: Path, since: datetime.datetime) -> Dict[str, int]:
    """Count detections per tag value (e.g. ``bat``, ``bird``) since ``since``."""
    with closing(_connect_ro(database)) as connection:
        rows = connection.execute(
            DETECTIONS_BY_TAG, (datetime_to_db(since),)
        ).fetchall()
    return {str(value): int(count) for value, count in rows}


def recording_spans(database: Path, since: datetime.datetime) -> List[Span]:
    """Return start time and duration of the recordings stored since ``since``."""
    from acoupi.components.sqlite_db import datetime_from_db

    with closing(_connect_ro(database)) as connection:
        rows = connection.execute(
            "SELECT datetime, duration_s FROM recording WHERE datetime >= ? "
            "ORDER BY datetime",
            (datetime_to_db(since),),
        ).fetchall()
    return [(datetime_from_db(start), float(duration)) for start, duration in rows]


class LogWatcher:
    """Follow the children's log files: last error, tasks done and failed.

    Only the bytes written since the last look are read (at most
    ``max_read`` per file and look), so following stays cheap however long
    the logs grow. Errors are reduced to one line each by
    :class:`acoupi.system.errors_summary.LogErrorReader`.
    """

    def __init__(self, paths: Sequence[Path], max_read: int = 256 * 1024) -> None:
        self.max_read = max_read
        self.offsets: Dict[Path, int] = {}
        self.readers: Dict[Path, LogErrorReader] = {}
        for path in paths:
            # Start at the end: errors of earlier runs are not news.
            try:
                self.offsets[path] = path.stat().st_size
            except OSError:
                self.offsets[path] = 0
            self.readers[path] = LogErrorReader()
        self._last: Optional[LogError] = None
        self._last_source = ""

    @property
    def succeeded(self) -> Dict[str, int]:
        """Tasks that succeeded, per short task name."""
        return _add(reader.succeeded for reader in self.readers.values())

    @property
    def failed(self) -> Dict[str, int]:
        """Tasks that failed, per short task name."""
        return _add(reader.failed for reader in self.readers.values())

    @property
    def tasks_ok(self) -> int:
        """Tasks that succeeded."""
        return sum(self.succeeded.values())

    @property
    def tasks_failed(self) -> int:
        """Tasks that failed."""
        return sum(self.failed.values())

    def poll(self) -> None:
        """Read what was appended since the last call; never raises."""
        for path, offset in list(self.offsets.items()):
            try:
                size = path.stat().st_size
                if size < offset:  # rotated or truncated
                    offset = 0
                start = max(offset, size - self.max_read)
                with open(path, "rb") as handle:
                    handle.seek(start)
                    chunk = handle.read(size - start)
            except OSError:
                continue
            # Keep a partial last line for the next look.
            end = chunk.rfind(b"\n") + 1
            self.offsets[path] = start + end
            reader = self.readers[path]
            before = reader.errors
            reader.feed_all(chunk[:end].decode("utf-8", "replace").splitlines())
            if reader.errors != before:
                self._last, self._last_source = reader.last, path.stem

    @property
    def last_error(self) -> Optional[str]:
        """The newest failure in one line, naming its task or log."""
        error = self._last
        if error is None:
            return None
        return f"{error.task or self._last_source}: {error.cause}"


def _add(counts: Iterable[Dict[str, int]]) -> Dict[str, int]:
    total: Dict[str, int] = {}
    for count in counts:
        for name, n in count.items():
            total[name] = total.get(name, 0) + n
    return total


def environment_summary() -> Dict[str, str]:
    """Return the load average, for the view's header (empty if unknown)."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return {}
    return {"load": f"{one:.2f} {five:.2f}"}
