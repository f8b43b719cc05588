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
from pathlib import Path
from typing import Any

__all__ = ["BACKUPS", "MAX_BYTES", "install_log_rotation", "rotate_appended_file"]

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


def _on_setup_logger(logger: logging.Logger, *args: Any, **kwargs: Any) -> None:
    use_rotating_handlers(logger)


def install_log_rotation() -> None:
    """Make the log files Celery opens (``--logfile``) size-bounded."""
    from celery import signals

    signals.after_setup_logger.connect(_on_setup_logger, weak=False)
    signals.after_setup_task_logger.connect(_on_setup_logger, weak=False)


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
