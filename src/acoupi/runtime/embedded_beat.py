"""Beat run by the main loop of ``acoupi run`` (``acoupi run --lean``).

A beat child process costs about 35 MB (a Python interpreter with Celery
and pydantic) to send a few task names on a timer. On a 512 MB device
running a model that is the difference that matters, so ``--lean`` runs
the same lean beat app (:mod:`acoupi.runtime.beat_plan`) inside the
supervisor, which has those modules loaded anyway. It runs in the main
loop, not in a thread: the supervisor forks its workers
(:mod:`acoupi.runtime.forker`), which is only safe while it runs no other
thread. Recording and detection still run in their own worker processes:
only the timer moves. A scheduler that fails is rebuilt, like a crashed
child is restarted.
"""

import logging
import os
import time
import weakref
from pathlib import Path
from typing import Any, Callable, Optional

from acoupi.runtime.beat_plan import build_beat_app
from acoupi.system.constants import Settings

__all__ = ["EmbeddedBeat"]

BEAT_LOG = "beat.log"

MAX_SLEEP = 2.0
"""Longest wait between two ticks of the scheduler, in seconds."""

RETRY_AFTER = 1.0
"""Seconds before a failed scheduler is rebuilt."""

logger = logging.getLogger("celery.beat")

_BEAT_LOGGERS = ("celery.beat", "celery.app.amqp")

_running: "weakref.WeakSet[EmbeddedBeat]" = weakref.WeakSet()
"""Beats of this process whose log file is attached (see _forget_in_child)."""


def _forget_in_child() -> None:
    """In a forked worker, give beat's loggers back: beat is the parent's."""
    for beat in list(_running):
        beat._detach_log()
    _running.clear()


class EmbeddedBeat:
    """Celery beat ticked by its caller, logging to ``<log_dir>/beat.log``.

    Call :meth:`tick` whenever the time it last returned has passed: it
    sends the tasks that are due (as ``celery beat`` does between its
    sleeps) and returns how long until it wants to be called again.

    Parameters
    ----------
    settings
        The installation (run folder for the schedule, log folder).
    log_level
        Level of the beat log, e.g. ``"INFO"``.
    clock
        Monotonic clock (tests may replace it).
    """

    def __init__(
        self,
        settings: Settings,
        log_level: str = "INFO",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.log_level = log_level
        self.clock = clock
        self.restarts = 0
        self._service: Any = None
        self._handler: Optional[logging.Handler] = None
        self._due = 0.0

    def start(self) -> None:
        """Build the scheduler (and open the log file); the first tick is due."""
        from celery.beat import Service

        if self._handler is None:
            self._handler = self._log_to_file()
            _running.add(self)
        app = build_beat_app(self.settings)
        self._service = Service(
            app,
            schedule_filename=str(Path(self.settings.run_dir) / "celerybeat-schedule"),
            max_interval=MAX_SLEEP,
        )
        logger.info("beat: Starting...")
        _ = self._service.scheduler  # opens the schedule now, not at the first tick
        self._due = self.clock()

    def _log_to_file(self) -> logging.Handler:
        path = Path(self.settings.log_dir) / BEAT_LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(
            logging.Formatter("[%(asctime)s: %(levelname)s/beat] %(message)s")
        )
        for name in _BEAT_LOGGERS:
            named = logging.getLogger(name)
            named.addHandler(handler)
            named.setLevel(self.log_level)
            # Never into the live view: the file is where beat writes.
            named.propagate = False
        return handler

    @property
    def running(self) -> bool:
        """Whether the scheduler is built (between start and stop)."""
        return self._service is not None

    def tick(self) -> float:
        """Send the tasks that are due; return seconds until the next call.

        A scheduler that raises is logged, closed and rebuilt
        ``RETRY_AFTER`` seconds later (counted in :attr:`restarts`).
        """
        if self._service is None:
            return MAX_SLEEP
        now = self.clock()
        if now < self._due:
            return self._due - now
        try:
            scheduler = self._service.scheduler
            wait = scheduler.tick() or 0.0
            if scheduler.should_sync():
                scheduler._do_sync()
        except Exception:
            logger.exception("Beat failed; rebuilding its scheduler.")
            self._close()
            self.restarts += 1
            self.start()
            wait = RETRY_AFTER
        wait = min(max(wait, 0.0), MAX_SLEEP)
        self._due = self.clock() + wait
        return wait

    def _close(self) -> None:
        service, self._service = self._service, None
        if service is None:
            return
        try:
            service.sync()  # writes the schedule and closes its file
        except Exception:
            logger.warning("Could not save beat's schedule.", exc_info=True)

    def stop(self) -> None:
        """Save the schedule and close the log file."""
        if self._service is not None:
            logger.info("beat: Shutting down...")
        self._close()
        self._detach_log()
        _running.discard(self)

    def _detach_log(self) -> None:
        if self._handler is None:
            return
        for name in _BEAT_LOGGERS:
            named = logging.getLogger(name)
            named.removeHandler(self._handler)
            named.propagate = True
        self._handler.close()
        self._handler = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
