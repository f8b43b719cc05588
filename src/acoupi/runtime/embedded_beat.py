"""Beat as a thread of the ``acoupi run`` supervisor (``acoupi run --lean``).

A beat child process costs about 35 MB (a Python interpreter with Celery
and pydantic) to send a few task names on a timer. On a 512 MB device
running a model that is the difference that matters, so ``--lean`` runs
the same lean beat app (:mod:`acoupi.runtime.beat_plan`) in a thread of
the supervisor, which has those modules loaded anyway. Recording and
detection still run in their own worker processes: only the timer moves.
The thread is restarted if it dies, like a crashed child.
"""

import logging
from pathlib import Path
from typing import Any, Optional

from acoupi.runtime.beat_plan import build_beat_app
from acoupi.system.constants import Settings

__all__ = ["EmbeddedBeat"]

BEAT_LOG = "beat.log"

MAX_SLEEP = 2.0
"""Longest sleep of the beat loop, in seconds."""


class EmbeddedBeat:
    """Celery beat in a daemon thread, logging to ``<log_dir>/beat.log``.

    Parameters
    ----------
    settings
        The installation (run folder for the schedule, log folder).
    log_level
        Level of the beat log, e.g. ``"INFO"``.
    """

    def __init__(self, settings: Settings, log_level: str = "INFO") -> None:
        self.settings = settings
        self.log_level = log_level
        self.restarts = 0
        self._service: Any = None
        self._handler: Optional[logging.Handler] = None

    def start(self) -> None:
        """Start the beat thread (and its log file)."""
        from celery.beat import EmbeddedService

        if self._handler is None:
            self._handler = self._log_to_file()
        app = build_beat_app(self.settings)
        self._service = EmbeddedService(
            app,
            thread=True,
            schedule_filename=str(Path(self.settings.run_dir) / "celerybeat-schedule"),
            # Wake at least this often, so stopping never waits a long sleep.
            max_interval=MAX_SLEEP,
        )
        self._service.start()

    def _log_to_file(self) -> logging.Handler:
        path = Path(self.settings.log_dir) / BEAT_LOG
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(
            logging.Formatter("[%(asctime)s: %(levelname)s/beat] %(message)s")
        )
        for name in ("celery.beat", "celery.app.amqp"):
            logger = logging.getLogger(name)
            logger.addHandler(handler)
            logger.setLevel(self.log_level)
            # Never into the live view: the file is where beat writes.
            logger.propagate = False
        return handler

    @property
    def alive(self) -> bool:
        """Whether the beat thread runs."""
        return self._service is not None and self._service.is_alive()

    def ensure_running(self) -> bool:
        """Restart the thread if it died; True if it had to."""
        if self._service is None or self.alive:
            return False
        logging.getLogger("celery.beat").error("Beat stopped; restarting it.")
        self.restarts += 1
        self.start()
        return True

    def stop(self) -> None:
        """Stop the thread and close the log file."""
        if self._service is not None:
            self._service.stop()  # returns once the loop woke and synced
            self._service.join(timeout=MAX_SLEEP + 5)
            self._service = None
        if self._handler is not None:
            for name in ("celery.beat", "celery.app.amqp"):
                logging.getLogger(name).removeHandler(self._handler)
            self._handler.close()
            self._handler = None
