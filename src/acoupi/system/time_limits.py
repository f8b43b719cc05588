"""Task time limits that hold under the ``threads`` pool.

Celery enforces ``task_soft_time_limit``/``task_time_limit`` only in its
prefork pool; acoupi's default workers use threads, where a stuck task held
its thread for minutes. A watchdog thread in each worker process enforces
them there:

* past the soft limit, :class:`celery.exceptions.SoftTimeLimitExceeded` is
  raised inside the task's thread (Python delivers it at the next bytecode,
  so a task stuck in one long C call only sees it when the call returns);
* past the hard limit, the worker process exits (code
  :data:`HARD_LIMIT_EXIT`) after logging which task was stuck. The
  supervisor of ``acoupi run``, or systemd, starts it again, and the other
  tasks it held return to the queue (acknowledged late; on the embedded
  broker, see :mod:`acoupi.system.claims`). The stuck task itself is set
  aside on the embedded broker, as prefork fails it, so that it cannot
  stop the worker again and again.

Installed by the Celery app the workers load (:func:`install_time_limits`).
"""

import ctypes
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional

__all__ = ["HARD_LIMIT_EXIT", "Watchdog", "install_time_limits"]

logger = logging.getLogger(__name__)

HARD_LIMIT_EXIT = 70
"""Exit code of a worker stopped because a task passed its hard time limit."""

CHECK_INTERVAL = 0.5
"""Seconds between two looks at the running tasks."""

# Pools where Celery itself enforces the limits.
_POOLS_WITH_LIMITS = ("prefork", "processes")


@dataclass
class _Running:
    name: str
    thread_id: int
    started: float
    soft: Optional[float]
    hard: Optional[float]
    soft_sent: bool = False
    on_hard_limit: Optional[Callable[[], None]] = None
    """Called before the worker exits: sets the stuck task's message aside."""


def _raise_in_thread(thread_id: int, error: type) -> bool:
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(error)
    )
    return bool(done == 1)


class Watchdog:
    """Enforce time limits on the tasks running in this process.

    Parameters
    ----------
    exit
        Called with :data:`HARD_LIMIT_EXIT` when a hard limit passes
        (``os._exit`` by default; tests pass their own).
    clock
        Monotonic clock.
    """

    def __init__(
        self,
        exit: Callable[[int], Any] = os._exit,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._exit = exit
        self._clock = clock
        self._running: Dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Start watching (once)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._watch, name="acoupi-time-limits", daemon=True
        )
        self._thread.start()

    def begin(
        self,
        task_id: str,
        name: str,
        soft: Optional[float],
        hard: Optional[float],
        on_hard_limit: Optional[Callable[[], None]] = None,
    ) -> None:
        """Note that ``task_id`` starts now in the calling thread."""
        if not soft and not hard:
            return
        with self._lock:
            self._running[task_id] = _Running(
                name,
                threading.get_ident(),
                self._clock(),
                soft or None,
                hard or None,
                on_hard_limit=on_hard_limit,
            )

    def end(self, task_id: str) -> None:
        """Note that ``task_id`` ended."""
        with self._lock:
            self._running.pop(task_id, None)

    def check(self) -> None:
        """Act on every task past a limit (called by the watching thread)."""
        from celery.exceptions import SoftTimeLimitExceeded

        now = self._clock()
        with self._lock:
            running = list(self._running.items())
        for task_id, task in running:
            ran = now - task.started
            if task.hard is not None and ran >= task.hard:
                logger.critical(
                    "Task %s[%s] ran %.0f s, past its hard time limit of %g s; "
                    "stopping this worker so that it restarts with a free thread.",
                    task.name,
                    task_id,
                    ran,
                    task.hard,
                )
                if task.on_hard_limit is not None:
                    try:
                        task.on_hard_limit()
                    except Exception:  # exiting matters more
                        logger.exception("Could not set the stuck task aside")
                for handler in logging.getLogger().handlers:
                    handler.flush()
                self._exit(HARD_LIMIT_EXIT)
                return
            if task.soft is not None and ran >= task.soft and not task.soft_sent:
                task.soft_sent = True
                logger.error(
                    "Task %s[%s] passed its soft time limit of %g s; interrupting it.",
                    task.name,
                    task_id,
                    task.soft,
                )
                _raise_in_thread(task.thread_id, SoftTimeLimitExceeded)

    def _watch(self) -> None:
        while True:
            time.sleep(CHECK_INTERVAL)
            try:
                self.check()
            except Exception:  # the watchdog itself must never die
                logger.exception("Time limit watchdog failed")


_WATCHDOG = Watchdog()
_enabled = False


def _limits(task: Any) -> tuple[Optional[float], Optional[float]]:
    conf = task.app.conf
    soft = getattr(task, "soft_time_limit", None) or conf.task_soft_time_limit
    hard = getattr(task, "time_limit", None) or conf.task_time_limit
    return soft, hard


def _on_worker_init(sender: Any = None, **kwargs: Any) -> None:
    global _enabled
    pool = getattr(getattr(sender, "pool_cls", None), "__module__", "") or ""
    _enabled = not any(name in pool for name in _POOLS_WITH_LIMITS)
    if _enabled:
        _WATCHDOG.start()


def _set_aside(task_id: str, task: Any) -> Optional[Callable[[], None]]:
    """Return how to keep the restarted worker from taking this task again.

    On the embedded broker the stuck task's message is moved to the
    ``unreadable`` folder (kept, logged, not run again), as Celery's prefork
    pool fails a task past its hard limit instead of retrying it. Other
    brokers redeliver it (acknowledged late).
    """
    options = task.app.conf.broker_transport_options or {}
    claimed, aside = options.get("claimed_folder"), options.get("unreadable_folder")
    if not (claimed and aside and task_id):
        return None

    def set_aside() -> None:
        from acoupi.system.claims import drop_claim

        kept = drop_claim(Path(claimed), task_id, Path(aside))
        if kept is not None:
            logger.critical("The stuck task's message is kept at %s.", kept)

    return set_aside


def _on_prerun(task_id: str = "", task: Any = None, **kwargs: Any) -> None:
    if _enabled and task is not None:
        soft, hard = _limits(task)
        _WATCHDOG.begin(task_id, task.name, soft, hard, _set_aside(task_id, task))


def _on_postrun(task_id: str = "", **kwargs: Any) -> None:
    _WATCHDOG.end(task_id)


def install_time_limits() -> None:
    """Enforce task time limits in workers whose pool does not (threads)."""
    from celery import signals

    signals.worker_init.connect(_on_worker_init, weak=False)
    signals.task_prerun.connect(_on_prerun, weak=False)
    signals.task_postrun.connect(_on_postrun, weak=False)
