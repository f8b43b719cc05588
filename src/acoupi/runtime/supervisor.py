"""Start, watch and stop the Celery worker and beat child processes.

Each child runs in a session of its own, so a Ctrl-C in the terminal
reaches only the supervisor, which then stops the children in order; and
each child is told by the kernel to stop if the supervisor dies, so even a
``kill -9`` of ``acoupi run`` leaves no worker behind (Linux). Workers are
forked from the supervisor when it is told they may be (see
:mod:`acoupi.runtime.forker`), else started as programs of their own.
"""

import enum
import os
import signal
import subprocess
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import (
    IO,
    Callable,
    Deque,
    Dict,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
)

from acoupi.programs.core.workers import WorkerConfig
from acoupi.runtime.forker import ForkError, fork_child, forkable_module
from acoupi.runtime.linux import die_with_parent
from acoupi.runtime.worker_process import worker_argv
from acoupi.system.constants import Settings
from acoupi.system.logfiles import rotate_appended_file

__all__ = [
    "BEAT_NAME",
    "ChildSpec",
    "ChildState",
    "ChildStatus",
    "Supervisor",
    "beat_spec",
    "worker_specs",
]

BEAT_NAME = "beat"
"""Name of the beat child (its pidfile is ``beat.pid`` as with the scripts)."""


@dataclass(frozen=True)
class ChildSpec:
    """How to start one child process."""

    name: str
    argv: Sequence[str]
    log_path: Path
    """The child's stdout and stderr are appended here."""


class ChildState(str, enum.Enum):
    """What a child is doing."""

    UP = "up"
    DOWN = "down"
    """Exited unexpectedly; a restart is scheduled."""

    STOPPED = "stopped"


@dataclass
class ChildStatus:
    """A child as the live view shows it."""

    name: str
    state: ChildState
    pid: Optional[int]
    restarts: int
    last_exit: Optional[int]
    """Exit code of the last unexpected exit (negative: killed by signal)."""


class _Process(Protocol):
    """What the supervisor uses of a child: ``Popen`` or a forked worker."""

    pid: int
    returncode: Optional[int]

    def poll(self) -> Optional[int]: ...

    def wait(self, timeout: Optional[float] = None) -> int: ...


@dataclass
class _Child:
    spec: ChildSpec
    process: Optional[_Process] = None
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0
    """Consecutive quick exits, for the backoff."""

    restart_at: Optional[float] = None
    last_exit: Optional[int] = None
    log: Optional[IO[bytes]] = None


def worker_specs(
    settings: Settings,
    config: WorkerConfig,
    python: str,
    pool: str,
    log_level: str,
) -> List[ChildSpec]:
    """Return one child per worker of ``config``.

    Each runs ``python -m acoupi.runtime.worker_process -n <name>@%h
    [-Q queues] [-c n] -P <pool>`` (the worker of ``celery worker``
    without Celery's command-line tool), with its pidfile in ``run_dir``
    (as ``celery multi`` writes them, so ``acoupi deployment status`` sees
    these workers) and its log in ``log_dir``.
    """
    specs = []
    for worker in config.workers:
        argv = worker_argv(
            python,
            worker.name,
            worker.queues,
            worker.concurrency,
            pool,
            log_level,
            str(Path(settings.run_dir) / f"{worker.name}.pid"),
        )
        specs.append(
            ChildSpec(worker.name, argv, Path(settings.log_dir) / f"{worker.name}.log")
        )
    return specs


def beat_spec(
    settings: Settings, celery_bin: Path, app_module: str, log_level: str
) -> ChildSpec:
    """Return the beat child: ``celery -A <app> beat --schedule <run_dir>/...``."""
    run_dir = Path(settings.run_dir)
    return ChildSpec(
        BEAT_NAME,
        [
            str(celery_bin),
            "--quiet",
            "-A",
            app_module,
            "beat",
            f"--schedule={run_dir / 'celerybeat-schedule'}",
            f"--pidfile={run_dir / f'{BEAT_NAME}.pid'}",
            f"--loglevel={log_level}",
        ],
        Path(settings.log_dir) / f"{BEAT_NAME}.log",
    )


class Supervisor:
    """Run child processes, restart those that crash, stop them all.

    Parameters
    ----------
    specs
        The children.
    env
        Their environment.
    cwd
        Their working directory.
    backoff_base
        Seconds before the first restart of a crashed child; doubled for
        each further crash in a row, up to ``backoff_max``.
    backoff_max
        Longest wait before a restart.
    stable_after
        A child that ran this long before exiting counts as having worked:
        its next restart waits ``backoff_base`` again.
    stop_timeout
        Seconds to wait for children to finish their tasks after SIGTERM
        before killing them.
    clock
        Monotonic clock (tests may replace it).
    fork_entries
        Modules (``python -m <module>``) whose children are forked from
        this process rather than started as programs, so that they share
        its memory; only while this process runs no other thread.
    fork_prepare
        Called once before the first fork: what it builds or imports, every
        forked child shares. If it fails, children are forked all the same
        (each then builds what it needs itself).
    """

    def __init__(
        self,
        specs: Sequence[ChildSpec],
        env: Mapping[str, str],
        cwd: Path,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        stable_after: float = 60.0,
        stop_timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        fork_entries: Sequence[str] = (),
        fork_prepare: Optional[Callable[[], None]] = None,
    ) -> None:
        self.children: Dict[str, _Child] = {s.name: _Child(s) for s in specs}
        self.env = dict(env)
        self.cwd = cwd
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.stop_timeout = stop_timeout
        self.clock = clock
        self.events: Deque[str] = deque(maxlen=50)
        """What happened to the children, newest last, for the live view."""

        self._stopping = False
        self.fork_entries = tuple(fork_entries)
        self.fork_prepare = fork_prepare
        self.fork_refused: Optional[str] = None
        """Why the last child that could have been forked was not."""

        self._notes: List[str] = []
        """Events of starting, for the next :meth:`poll` to report."""

    # Starting -----------------------------------------------------------------

    def start(self) -> None:
        """Start every child."""
        for child in self.children.values():
            self._spawn(child)

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        child.started_at = self.clock()
        child.restart_at = None
        module = forkable_module(spec.argv, self.fork_entries)
        if module is not None:
            self._prepare_fork()
            try:
                child.process = fork_child(
                    spec.name,
                    module,
                    spec.argv[3:],
                    spec.log_path,
                    self.env,
                    self.cwd,
                )
                return
            except ForkError as error:
                if str(error) != self.fork_refused:
                    self._notes.append(f"{spec.name} starts as a program: {error}")
                self.fork_refused = str(error)
        if child.log is None or child.log.closed:
            child.log = open(spec.log_path, "ab", buffering=0)
        child.process = subprocess.Popen(
            list(spec.argv),
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=child.log,
            stderr=subprocess.STDOUT,
            # Own session: the terminal's Ctrl-C goes to us alone, and the
            # whole process group can be killed at once.
            start_new_session=True,
            # Best effort: the supervisor still stops its children.
            preexec_fn=die_with_parent,
        )

    def _prepare_fork(self) -> None:
        prepare, self.fork_prepare = self.fork_prepare, None
        if prepare is None:
            return
        try:
            prepare()
        except Exception as error:  # each child then loads what it needs
            self._notes.append(f"could not prepare the workers here: {error}")

    # Watching -----------------------------------------------------------------

    def poll(self) -> List[str]:
        """Notice exited children and restart those due; return new events."""
        new, self._notes = self._notes, []
        now = self.clock()
        for child in self.children.values():
            rotate_appended_file(child.spec.log_path)
            process = child.process
            code = process.poll() if process is not None else None
            if code is not None:
                new.append(self._on_exit(child, code, now))
            if child.restart_at is not None and now >= child.restart_at:
                if not self._stopping:
                    self._spawn(child)
                    child.restarts += 1
                    new.append(f"{child.spec.name} restarted (pid {self.pid(child)})")
        self.events.extend(new)
        return new

    def _on_exit(self, child: _Child, code: int, now: float) -> str:
        # Grandchildren (a prefork pool) must not outlive their parent.
        self._signal_group(child, signal.SIGKILL)
        child.process = None
        child.last_exit = code
        ran = now - child.started_at
        child.failures = 1 if ran >= self.stable_after else child.failures + 1
        delay = min(self.backoff_base * 2 ** (child.failures - 1), self.backoff_max)
        child.restart_at = now + delay
        return (
            f"{child.spec.name} exited with code {code} after {ran:.0f} s; "
            f"restarting in {delay:.1f} s (see {child.spec.log_path})"
        )

    @staticmethod
    def pid(child: _Child) -> Optional[int]:
        """Return the child's pid while it runs."""
        return child.process.pid if child.process is not None else None

    def pids(self) -> Dict[str, int]:
        """Return the pid of every running child."""
        return {
            name: child.process.pid
            for name, child in self.children.items()
            if child.process is not None
        }

    def statuses(self) -> List[ChildStatus]:
        """Return the state of every child."""
        result = []
        for name, child in self.children.items():
            if child.process is not None:
                state = ChildState.UP
            elif child.restart_at is not None:
                state = ChildState.DOWN
            else:
                state = ChildState.STOPPED
            result.append(
                ChildStatus(
                    name, state, self.pid(child), child.restarts, child.last_exit
                )
            )
        return result

    @property
    def total_restarts(self) -> int:
        """Restarts of all children so far."""
        return sum(child.restarts for child in self.children.values())

    # Stopping -----------------------------------------------------------------

    def _signal_group(self, child: _Child, signum: int) -> None:
        process = child.process
        pgid = process.pid if process is not None else None
        if pgid is None:
            return
        try:
            os.killpg(pgid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self) -> Dict[str, Optional[int]]:
        """Stop every child: SIGTERM, wait, then SIGKILL the stragglers.

        Celery finishes the tasks it is running on SIGTERM (a warm
        shutdown), within ``stop_timeout``.

        Returns
        -------
        dict of str to int or None
            Exit code of each child that was running (None if it had to
            be killed).
        """
        self._stopping = True
        running = {n: c for n, c in self.children.items() if c.process is not None}
        for child in running.values():
            self._signal_group(child, signal.SIGTERM)
        codes: Dict[str, Optional[int]] = {}
        deadline = self.clock() + self.stop_timeout
        for name, child in running.items():
            assert child.process is not None
            try:
                codes[name] = child.process.wait(max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                codes[name] = None
        for name, child in running.items():
            # Kill the group even after a clean exit of its leader: nothing
            # it started may survive.
            self._signal_group(child, signal.SIGKILL)
            assert child.process is not None
            try:
                child.process.wait(5)
            except subprocess.TimeoutExpired:  # pragma: no cover - unkillable
                self.events.append(f"{name} (pid {child.process.pid}) did not die")
            if codes[name] is None:
                self.events.append(f"{name} did not stop in time and was killed")
            child.process = None
        for child in self.children.values():
            child.restart_at = None
            if child.log is not None:
                child.log.close()
        return codes
