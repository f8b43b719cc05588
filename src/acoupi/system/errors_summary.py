"""One plain line saying why something failed.

People look at the live view, the end-of-run summary and ``deployment
status``, not at log files, so a failure must be told there in one line:
the exception type and its message (with the file concerned where there is
one), never "Traceback (most recent call last):".

* :func:`describe_error` turns an exception into that line;
* :func:`describe_record` does the same for a :class:`logging.LogRecord`;
* :class:`LogErrorReader` reads log lines as written by Celery workers
  (including multi-line tracebacks) and yields the cause of each failure.
"""

import ast
import datetime
import logging
import re
from dataclasses import dataclass
from typing import Iterable, Optional

__all__ = [
    "MAX_LENGTH",
    "LogError",
    "LogErrorReader",
    "describe_error",
    "describe_record",
    "one_line",
]

MAX_LENGTH = 200
"""Longest line returned; longer causes are cut with an ellipsis."""

_TRACEBACK = "Traceback (most recent call last):"
_CHAINED = (
    "During handling of the above exception",
    "The above exception was the direct cause",
)
# Celery's log prefix: "[2026-01-01 10:00:00,123: ERROR/MainProcess] ".
_PREFIX = re.compile(r"^\[(?P<time>[^\]]*?):\s*(?P<level>[A-Z]+)/[^\]]*\]\s?")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S,%f"
# "Task <name>[<id>] raised unexpected: <repr of the exception>"
_TASK_RAISED = re.compile(
    r"Task (?P<task>\S+?)\[[0-9a-f-]+\] raised unexpected: (?P<error>.*)$"
)
_TASK_OK = re.compile(r"Task (?P<task>\S+?)\[[0-9a-f-]+\] succeeded")
# An exception's repr: "Name('message', ...)" or "module.Name(...)".
_REPR = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)\((?P<args>.*)\)$", re.DOTALL)
# The last line of a traceback: "package.module.Name: message" or "Name".
_EXCEPTION_LINE = re.compile(
    r"^(?P<type>[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Fault"
    r"|Timeout|Expired|Missing|Failure|NotFound))(: (?P<message>.*))?$"
)


def one_line(text: str, limit: int = MAX_LENGTH) -> str:
    """Collapse ``text`` to one line of at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return flat


def _short_type(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def describe_error(error: BaseException, limit: int = MAX_LENGTH) -> str:
    """Return ``"<Type>: <message>"`` for ``error``, in one line.

    The acoupi message (``AcoupiError.message``) is used when there is one;
    an ``OSError`` names its file. An exception without a message gives its
    type alone.

    Examples
    --------
    >>> describe_error(FileNotFoundError(2, "No such file", "/tmp/a.wav"))
    'FileNotFoundError: No such file: /tmp/a.wav'
    """
    kind = type(error).__name__
    message = getattr(error, "message", None)
    if not isinstance(message, str) or not message:
        if isinstance(error, OSError) and error.strerror:
            message = error.strerror
            if error.filename is not None:
                message += f": {error.filename}"
        else:
            message = str(error)
    if isinstance(error, KeyError) and error.args:
        message = f"missing key {error.args[0]!r}"
    return one_line(f"{kind}: {message}" if message else kind, limit)


def describe_record(record: logging.LogRecord, limit: int = MAX_LENGTH) -> str:
    """Return the cause a log record reports, in one line.

    With an exception attached, the line is the record's message followed
    by the exception (``describe_error``); otherwise the first line of the
    message.
    """
    message = record.getMessage().splitlines()[0] if record.getMessage() else ""
    if record.exc_info and record.exc_info[1] is not None:
        cause = describe_error(record.exc_info[1], limit)
        return one_line(f"{message}: {cause}" if message else cause, limit)
    return one_line(message, limit)


def _from_repr(text: str) -> str:
    """Turn ``AudioFileError('file not found')`` into ``AudioFileError: ...``."""
    match = _REPR.match(text.strip())
    if match is None:
        return text.strip()
    kind = _short_type(match["type"])
    try:
        args = ast.literal_eval(f"({match['args']},)") if match["args"] else ()
    except (SyntaxError, ValueError):
        return f"{kind}: {match['args']}"
    parts = [str(arg) for arg in args]
    if len(parts) >= 3 and parts[0].lstrip("-").isdigit():  # OSError(errno, s, f)
        parts = [f"{parts[1]}: {parts[2]}"]
    elif len(parts) == 2 and parts[0].lstrip("-").isdigit():
        parts = [parts[1]]
    message = ", ".join(parts)
    return f"{kind}: {message}" if message else kind


@dataclass
class LogError:
    """A failure found in a log."""

    cause: str
    """One line: what failed and why."""

    task: Optional[str] = None
    """Short name of the task that failed, if a task failed."""

    time: Optional[datetime.datetime] = None
    """When it was logged (aware, local time), if the log line says."""

    resolved: bool = False
    """Whether a task succeeded after it in the same log: the same task
    after a task failure, any task after another error. A fault that is
    gone need not be shown any more."""


class LogErrorReader:
    """Read log lines one by one; keep the last failure and task outcomes.

    A Celery task failure is logged as one ``Task x[id] raised unexpected:
    Error('...')`` line followed by a traceback: it becomes one
    :class:`LogError` with the task's short name, whose cause is refined
    from the traceback's last line when that arrives (it names the file of
    an ``OSError``, which the first line does not). A traceback on its own
    becomes its last line; an ``ERROR`` or ``CRITICAL`` line its message,
    joined with the exception of a traceback that follows it.

    Attributes
    ----------
    last
        The latest failure read, or None.
    errors
        How many failures were read; grows by one per failure, not when
        ``last`` is refined.
    succeeded, failed
        Finished tasks per short task name.
    """

    def __init__(self) -> None:
        self.last: Optional[LogError] = None
        self.errors = 0
        self.succeeded: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self._in_traceback = False
        self._context: Optional[LogError] = None
        """The failure the current traceback belongs to, if already told."""
        self._time: Optional[datetime.datetime] = None
        """Time of the latest line that had one (tracebacks have none)."""

    def feed(self, line: str) -> None:
        """Read one line."""
        prefix = _PREFIX.match(line)
        body = line[prefix.end() :] if prefix else line
        if prefix is not None:
            self._time = _parse_time(prefix["time"]) or self._time
        stripped = body.strip()
        if self._in_traceback:
            if not stripped or body[:1].isspace() or stripped.startswith(_CHAINED):
                return
            if stripped == _TRACEBACK:
                return
            self._in_traceback = False
            if prefix is None and _EXCEPTION_LINE.match(stripped):
                self._end_of_traceback(self._exception(stripped))
                return
        if stripped == _TRACEBACK:
            self._in_traceback = True
            return
        self._context = None
        ok = _TASK_OK.search(body)
        if ok is not None:
            name = _short_type(ok["task"])
            self.succeeded[name] = self.succeeded.get(name, 0) + 1
            if self.last is not None and self.last.task in (None, name):
                self.last.resolved = True
            return
        raised = _TASK_RAISED.search(body)
        if raised is not None:
            name = _short_type(raised["task"])
            self.failed[name] = self.failed.get(name, 0) + 1
            self._found(LogError(one_line(_from_repr(raised["error"])), name))
        elif prefix is not None and prefix["level"] in ("ERROR", "CRITICAL"):
            self._found(LogError(one_line(stripped)))

    def feed_all(self, lines: Iterable[str]) -> None:
        """Read many lines."""
        for line in lines:
            self.feed(line)

    def _found(self, error: LogError) -> None:
        error.time = self._time
        self.last = self._context = error
        self.errors += 1

    def _end_of_traceback(self, cause: str) -> None:
        context, self._context = self._context, None
        if context is None:
            self._found(LogError(cause))
        elif context.task is not None:
            context.cause = cause  # the fuller form of what was already told
        else:
            # "Could not file x.wav" + "FileExistsError: ..." make one line.
            context.cause = one_line(f"{context.cause.rstrip('.:')}: {cause}")

    @staticmethod
    def _exception(line: str) -> str:
        match = _EXCEPTION_LINE.match(line)
        if match is None:
            return one_line(line)
        kind = _short_type(match["type"])
        message = match["message"]
        return one_line(f"{kind}: {message}" if message else kind)


def _parse_time(text: str) -> Optional[datetime.datetime]:
    """Read Celery's ``2026-01-01 10:00:00,123`` (local time), or None."""
    try:
        return datetime.datetime.strptime(text.strip(), _TIME_FORMAT).astimezone()
    except ValueError:
        return None
