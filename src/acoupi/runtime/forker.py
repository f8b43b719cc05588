"""Workers forked from ``acoupi run`` itself, so that they share its memory.

A Python process with Celery, kombu and pydantic holds about 30 MB of
imported code and objects before it does any work, and ``acoupi run`` used
to start one such interpreter per worker besides its own. A forked process
shares its parent's pages until one of them writes to a page, so with
``--lean`` (the default) the supervisor forks its workers instead:

* Before the first fork it imports what every worker needs (Celery's
  worker) and builds the workers' program, never used by itself (see
  :func:`acoupi.runtime.worker_process.prepare`), so that the workers share
  those pages too. Before each fork it collects its garbage and freezes
  what is left (``gc.freeze``): the collector then never writes to those
  objects, in the supervisor or in a worker, and their pages stay shared
  (nor frees them: what exists at a fork, mostly modules and the program,
  lives as long as the run anyway).
* It forks only while it runs no other thread (beat runs in its main loop,
  see :mod:`acoupi.runtime.embedded_beat`): a thread holding a lock at the
  fork would leave that lock held forever in the child. If a thread runs,
  :func:`fork_child` refuses and the worker is started as a program.
  Libraries with a state of their own per process (PortAudio, a model's
  thread pool) are loaded by the workers that use them, never by the
  supervisor, so no worker inherits them. A program's module may import
  numpy all the same, whose OpenBLAS starts a thread per core as it
  loads: ``acoupi run`` holds such pools at one thread in itself (see
  :mod:`acoupi.runtime.native_threads`).
* The child starts a session of its own (the supervisor signals and kills
  its process group, as for any child), is sent SIGTERM by the kernel when
  the supervisor dies, writes to its log file, takes the children's
  environment and runs the module's ``main(args)``. It never returns into
  the supervisor's code and leaves with ``os._exit``, so nothing of the
  supervisor's (open databases, exit handlers) is closed or run twice.

Each worker is still a process of its own: recording never waits for
detection, and a crash ends one worker, which is restarted (forked again).
Workers keep the supervisor's command line (``ps`` shows ``acoupi run``);
their process name (``ps -o comm``, ``top``, ``pgrep``) is
``acoupi-<worker>``.
"""

import gc
import importlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from functools import partial
from pathlib import Path
from typing import Any, Callable, List, Mapping, NoReturn, Optional, Sequence

from acoupi.runtime.linux import die_with_parent, set_process_name

__all__ = ["ForkError", "ForkedChild", "fork_child", "forkable_module"]

_KEPT: List[Any] = []
"""The parent's standard streams, kept alive in a child (see _redirect_output)."""


class ForkError(Exception):
    """A worker cannot be forked now (it is then started as a program)."""


class ForkedChild:
    """A child forked by this process, with the parts of ``Popen`` in use."""

    def __init__(self, pid: int, args: Sequence[str]) -> None:
        self.pid = pid
        self.args = list(args)
        self.returncode: Optional[int] = None

    def poll(self) -> Optional[int]:
        """Return the exit code if the child has exited, else None."""
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: gone, code unknown
                pid, status = self.pid, 255 << 8
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait for the child to exit; return its exit code.

        Raises
        ------
        subprocess.TimeoutExpired
            If it still runs after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        assert self.returncode is not None
        return self.returncode


def forkable_module(argv: Sequence[str], entries: Sequence[str]) -> Optional[str]:
    """Return the module ``argv`` runs if it is one of ``entries``, else None.

    ``argv`` is a command line ``python -m <module> args...``.
    """
    if len(argv) >= 3 and argv[1] == "-m" and argv[2] in entries:
        return argv[2]
    return None


def fork_child(
    name: str,
    module: str,
    args: Sequence[str],
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
) -> ForkedChild:
    """Fork a child that runs ``module.main(args)``.

    Parameters
    ----------
    name
        The child's name (process name ``acoupi-<name>``).
    module
        Module whose ``main(args)`` the child runs; its return value is
        the exit code.
    args
        The arguments.
    log_path
        The child's stdout and stderr are appended here.
    env
        The child's environment.
    cwd
        The child's working directory.

    Returns
    -------
    ForkedChild
        The running child.

    Raises
    ------
    ForkError
        If forking is not possible here: not Linux, or other threads run.
    """
    if not sys.platform.startswith("linux"):
        raise ForkError("forking workers needs Linux")
    why_not = _other_threads()
    if why_not:
        raise ForkError(f"threads run in this process ({why_not})")
    gc.collect()
    gc.freeze()  # keeps the pages of what exists now shared with the child
    for stream in (sys.stdout, sys.stderr):
        _flush(stream)
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return ForkedChild(pid, [sys.executable, "-m", module, *args])
    _child_main(partial(_run, name, module, args, log_path, env, cwd, parent))


def _other_threads() -> str:
    """Name the threads running besides this one ("" if none).

    Counted by the kernel too: threads that a C library started (a model's
    thread pool, an audio callback) are not in ``threading.enumerate()``.
    """
    names = [
        t.name for t in threading.enumerate() if t is not threading.current_thread()
    ]
    try:
        native = len(os.listdir("/proc/self/task")) - 1
    except OSError:
        native = len(names)
    if native > len(names):
        names.append(f"{native - len(names)} not started by Python")
    return ", ".join(names)


def _child_main(
    run: Callable[[], int],
) -> NoReturn:  # pragma: no cover - runs in the child; its tests watch it
    code = 1
    try:
        code = run()
    except SystemExit as stop:
        code = _exit_code(stop.code)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            _flush(stream)
        # Never unwind into the supervisor's code nor run its exit
        # handlers: they would close what the supervisor still uses.
        os._exit(code)


def _run(
    name: str,
    module: str,
    args: Sequence[str],
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path,
    parent: int,
) -> int:  # pragma: no cover - runs in the child
    # Own session: the terminal's Ctrl-C is the supervisor's alone, and
    # the supervisor can signal the whole group at once.
    os.setsid()
    die_with_parent()
    if os.getppid() != parent:
        return 1  # the supervisor died before the line above
    # The supervisor's handlers set its flags; here signals act as usual
    # until the worker installs its own.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)
    _redirect_output(log_path)
    set_process_name(name)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    return int(importlib.import_module(module).main(list(args)) or 0)


def _flush(stream: Any) -> None:
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError):
        pass


def _exit_code(code: Any) -> int:
    """Exit status of ``sys.exit(code)``, as the interpreter computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _text_stream(fd: int) -> io.TextIOWrapper:
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(
        raw, encoding="utf-8", errors="backslashreplace", line_buffering=True
    )


def _redirect_output(path: Path) -> None:
    """Point file descriptors 0-2 and ``sys.std*`` at ``path`` (stdin: null)."""
    # Keep the parent's stream objects alive: freeing one would close its
    # descriptor, which is by then the log file.
    _KEPT.extend([sys.stdin, sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__])
    devnull = os.open(os.devnull, os.O_RDONLY)
    path.parent.mkdir(parents=True, exist_ok=True)
    log = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    for fd in (devnull, log):
        if fd > 2:
            os.close(fd)
    # Fresh objects: the parent's may be a terminal's or a test's capture.
    sys.stdout = _text_stream(1)
    sys.stderr = _text_stream(2)
    # Celery logs to sys.__stderr__ when it has no log file.
    sys.__stdout__ = sys.stdout  # type: ignore[misc]
    sys.__stderr__ = sys.stderr  # type: ignore[misc]
