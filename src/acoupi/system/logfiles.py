"""Size-bounded log files.

Logs grew without limit: a missing microphone wrote ~2 KB of traceback
every 10 s. Every log acoupi writes is now capped at :data:`MAX_BYTES`
with :data:`BACKUPS` older files (``name.log.1`` ... ``.3``):

* Celery workers and beat log through Python's logging: their file
  handlers are swapped for rotating ones when Celery sets up logging
  (:func:`install_log_rotation`, called by the app the workers load);
* the foreground supervisor sends each child's output to a file it opened
  in append mode, which it rotates by copy-then-truncate
  (:func:`rotate_appended_file`), the way logrotate's ``copytruncate``
  does: the child keeps its file descriptor and writes on at the start.
"""

import logging
import logging.handlers
import os
import shutil
import time
import traceback
from pathlib import Path
from typing import Any, Dict, Tuple

__all__ = [
    "BACKUPS",
    "MAX_BYTES",
    "RepeatedTracebackFilter",
    "install_log_rotation",
    "rotate_appended_file",
]

MAX_BYTES = 5_000_000
"""Size at which a log file is rotated."""

BACKUPS = 3
"""Older log files kept: at most ``(BACKUPS + 1) * MAX_BYTES`` per log."""


def _rotating(handler: logging.FileHandler) -> logging.Handler:
    rotating = logging.handlers.RotatingFileHandler(
        handler.baseFilename,
        maxBytes=MAX_BYTES,
        backupCount=BACKUPS,
        encoding=handler.encoding,
    )
    rotating.setLevel(handler.level)
    rotating.setFormatter(handler.formatter)
    for log_filter in handler.filters:
        rotating.addFilter(log_filter)
    return rotating


def use_rotating_handlers(logger: logging.Logger) -> None:
    """Replace the plain file handlers of ``logger`` with rotating ones."""
    for handler in list(logger.handlers):
        if type(handler) in (logging.FileHandler, logging.handlers.WatchedFileHandler):
            assert isinstance(handler, logging.FileHandler)
            logger.removeHandler(handler)
            handler.close()
            logger.addHandler(_rotating(handler))


class RepeatedTracebackFilter(logging.Filter):
    """Log a failure's traceback once; repeats of it get one line.

    A task failing the same way every 10 s (a missing microphone) wrote the
    same 2 KB traceback each time. A record whose exception has the same
    type and text as one already logged within ``window`` seconds keeps its
    message and the exception's line, without the stack.
    """

    def __init__(self, window: float = 3600.0) -> None:
        super().__init__()
        self.window = window
        self._seen: Dict[Tuple[str, str, str], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop the traceback of a repeated failure (never the record)."""
        if not record.exc_info or record.exc_info[1] is None:
            return True
        error = record.exc_info[1]
        key = (record.name, type(error).__name__, str(error))
        now = time.monotonic()
        last = self._seen.get(key)
        self._seen[key] = now if last is None or now - last > self.window else last
        if last is not None and now - last <= self.window:
            # Still shaped as a traceback ending with the exception line:
            # readers of the log (the run summary) take the cause from it.
            record.exc_text = (
                "Traceback (most recent call last):\n"
                "  (same error as before: traceback omitted)\n"
                + "".join(traceback.format_exception_only(type(error), error))
            ).rstrip("\n")
        return True


_REPEATS = RepeatedTracebackFilter()

# Where Celery logs task failures with their tracebacks.
_FAILURE_LOGGERS = ("celery.app.trace", "celery.worker.request")


def _on_setup_logger(logger: logging.Logger, *args: Any, **kwargs: Any) -> None:
    use_rotating_handlers(logger)


def install_log_rotation() -> None:
    """Make the log files Celery opens (``--logfile``) size-bounded.

    Also logs the traceback of a failure that repeats only once.
    """
    from celery import signals

    signals.after_setup_logger.connect(_on_setup_logger, weak=False)
    signals.after_setup_task_logger.connect(_on_setup_logger, weak=False)
    for name in _FAILURE_LOGGERS:
        logger = logging.getLogger(name)
        if _REPEATS not in logger.filters:
            logger.addFilter(_REPEATS)


def rotate_appended_file(path: Path) -> bool:
    """Rotate ``path`` if it is over :data:`MAX_BYTES`; return whether it was.

    For files a child process writes through an ``O_APPEND`` descriptor:
    the content is copied to ``path.1`` (older copies shift up) and the file
    is truncated in place, so the writer needs no restart.
    """
    try:
        if path.stat().st_size < MAX_BYTES:
            return False
    except OSError:
        return False
    for index in range(BACKUPS - 1, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            os.replace(older, path.with_name(f"{path.name}.{index + 1}"))
    shutil.copyfile(path, path.with_name(f"{path.name}.1"))
    os.truncate(path, 0)
    return True
