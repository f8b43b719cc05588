"""Run, inspect, stop and purge the Celery workers of an acoupi installation.

Workers are managed with ``celery multi`` (pidfiles in ``run_dir``, logs in
``log_dir``); status and purge talk to the broker in-process with a small
Celery app built from ``celery.json`` alone, so they never import the
program. Celery itself is imported inside functions only: importing this
module stays cheap for ``acoupi deployment status``.
"""

import os
import socket
import subprocess
import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence

from pydantic import BaseModel, Field

from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.exceptions import (
    AcoupiError,
    CeleryUnavailableError,
    ConfigurationError,
)

if TYPE_CHECKING:
    from celery import Celery
    from kombu import Connection

    from acoupi.programs.core.workers import WorkerConfig

__all__ = [
    "CeleryState",
    "CeleryStatus",
    "WorkerState",
    "WorkerStatus",
    "broker_silent_status",
    "broker_unreachable",
    "check_broker",
    "celery_status_from_broker",
    "celery_status_from_files",
    "get_celery_bin",
    "get_celery_status",
    "import_broker_client",
    "purge_queue",
    "purge_queues",
    "restart_workers",
    "run_celery_command",
    "start_workers",
    "stop_workers",
    "wait_for_workers",
]

DEFAULT_QUEUE = "celery"
"""Celery's default queue: where tasks without a route go."""

CONNECT_TIMEOUT = 2.0
"""Seconds to wait for the broker before calling it unreachable."""

PING_TIMEOUT = 1.0
"""Seconds to wait for workers to answer a ping."""

_UNREACHABLE = "Cannot reach the Celery broker"
"""How the status of a broker that could not be connected to begins."""

_LEAST_WAIT = 0.05
"""Shortest connect or ping timeout a deadline leaves (0 would mean none)."""

STARTUP_GRACE = 3.0
"""Seconds after ``celery multi start`` before a missing pidfile means a dead worker."""

# The beat script writes its pidfile next to the workers' ones.
_NOT_WORKER_PIDFILES = {"beat"}


class CeleryState(str, Enum):
    """Whether Celery workers can be reached."""

    UNAVAILABLE = "unavailable"
    AVAILABLE = "available"
    ERROR = "error"


class WorkerState(str, Enum):
    """Whether a worker answered a ping."""

    OK = "ok"
    NOTOK = "notok"


class WorkerStatus(BaseModel):
    """One worker, named ``<name>@<host>`` as Celery names nodes."""

    worker_name: str
    state: WorkerState


class CeleryStatus(BaseModel):
    """State of the Celery side of acoupi.

    ``AVAILABLE`` means at least one worker answered; ``UNAVAILABLE`` means
    the broker or every worker is unreachable; ``ERROR`` means the state
    could not be determined (``detail`` says why).
    """

    state: CeleryState
    workers: List[WorkerStatus] = Field(default_factory=list)
    detail: Optional[str] = None
    """Why the state is not ``AVAILABLE``, in plain words."""


# ---------------------------------------------------------------------------
# Running the celery command line


def get_celery_bin() -> Path:
    """Return the path to the ``celery`` executable.

    The lookup lives in :mod:`acoupi.system.scripts`; calling it through the
    module keeps a monkeypatched lookup effective here too.
    """
    from acoupi.system import scripts

    return Path(scripts.get_celery_bin())


def _app_module(settings: Settings) -> tuple[str, Path]:
    """Return the module name of the generated app and the folder to import from."""
    program_file = Path(settings.program_file)
    try:
        relative = program_file.relative_to(settings.home)
    except ValueError:
        return program_file.stem, program_file.parent
    return ".".join(relative.with_suffix("").parts), Path(settings.home)


def run_celery_command(
    settings: Settings,
    args: Sequence[str],
    with_app: bool = True,
    quiet: bool = False,
    **kwargs: Any,
) -> "subprocess.CompletedProcess[Any]":
    """Run ``celery [-A <app>] [-q] <args>`` in the acoupi home.

    Parameters
    ----------
    settings
        The acoupi settings.
    args
        Arguments after the global options, for example ``["status"]``.
    with_app
        Pass ``-A <app module>`` (the generated ``app.py``).
    quiet
        Pass ``-q``.
    **kwargs
        Passed to :func:`subprocess.run` (``capture_output``, ``text``,
        ``timeout``, ``env``...).

    Returns
    -------
    subprocess.CompletedProcess
        The finished process; its return code is not checked.
    """
    command = [str(get_celery_bin())]
    env = dict(kwargs.pop("env", None) or os.environ)
    if with_app:
        module, root = _app_module(settings)
        command += ["-A", module]
        # Celery imports ``-A`` relative to the working directory only in
        # the first process; the detached workers need it on the path too.
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(root), env.get("PYTHONPATH", "")) if part
        )
    if quiet:
        command.append("-q")
    command += [str(arg) for arg in args]
    home = Path(settings.home)
    kwargs.setdefault("cwd", home if home.is_dir() else None)
    return subprocess.run(command, env=env, **kwargs)


# ---------------------------------------------------------------------------
# Talking to the broker in-process


def _load_celery_config(settings: Settings) -> CeleryConfig:
    from acoupi.system.config import load_config

    return load_config(settings.celery_config_file, CeleryConfig)


def _light_app(
    config: CeleryConfig, connect_timeout: float, settings: Settings
) -> "Celery":
    """Return a Celery app that knows the broker but none of the tasks."""
    from celery import Celery

    from acoupi.system.broker import celery_conf_for

    app = Celery("acoupi-control", set_as_current=False)
    app.config_from_object(
        {
            **celery_conf_for(config, settings),
            # Fail fast instead of Celery's patient defaults: a status
            # check must answer in seconds even when the broker is down.
            "broker_connection_timeout": connect_timeout,
            "broker_connection_retry": False,
            "broker_connection_retry_on_startup": False,
            "broker_connection_max_retries": 0,
        }
    )
    return app


def _redact(url: str) -> str:
    """Hide the password (and query values) of a broker URL."""
    from acoupi.system.redact import redact_url

    return redact_url(url)


def _broker_help(settings: Settings, config: Optional[CeleryConfig] = None) -> str:
    from acoupi.system.broker import broker_paths, is_embedded

    if config is not None and is_embedded(config):
        return (
            "acoupi's built-in broker keeps its queues in "
            f"{broker_paths(settings).root}; check that the folder exists and "
            "is writable by this user."
        )
    return (
        "Check that the broker is running (for RabbitMQ: `sudo systemctl "
        "status rabbitmq-server`) and that `broker_url` in "
        f"{settings.celery_config_file} is right; rerun `acoupi setup` with "
        "`--broker_url <url>` to change it."
    )


class _Broker:
    """An open broker connection, or the reason there is none."""

    def __init__(self, settings: Settings, connect_timeout: float):
        self.settings = settings
        self.connect_timeout = connect_timeout

    def __enter__(self) -> tuple["Celery", "Connection"]:
        try:
            config = _load_celery_config(self.settings)
        except FileNotFoundError:
            raise CeleryUnavailableError(
                "Acoupi is not set up: there is no Celery configuration "
                f"({self.settings.celery_config_file}).",
                help="Run `acoupi setup` first.",
            ) from None
        self.url = config.broker_url
        self.config = config
        self.app = _light_app(config, self.connect_timeout, self.settings)
        self.connection = self.app.connection_for_write()
        try:
            # max_retries=0: one attempt, bounded by broker_connection_timeout.
            self.connection.ensure_connection(
                max_retries=0, timeout=self.connect_timeout
            )
        except Exception as error:
            self.connection.release()
            raise CeleryUnavailableError(
                f"{_UNREACHABLE} at {_redact(self.url)}: "
                f"{error or type(error).__name__}.",
                help=_broker_help(self.settings, self.config),
            ) from error
        return self.app, self.connection

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.connection.release()
        except Exception:  # closing a dead link must not mask errors
            pass


def check_broker(settings: Settings, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise unless the broker in ``celery.json`` accepts a connection.

    Parameters
    ----------
    settings
        The acoupi settings.
    timeout
        Seconds to wait for the broker.

    Raises
    ------
    CeleryUnavailableError
        If acoupi is not set up or the broker cannot be reached.
    ConfigurationError
        If ``celery.json`` is invalid.
    """
    from acoupi.system.broker import check_embedded_broker, is_embedded

    try:
        embedded = is_embedded(_load_celery_config(settings))
    except FileNotFoundError:
        embedded = False  # _Broker below explains that acoupi is not set up
    if embedded:
        check_embedded_broker(settings)
    with _Broker(settings, timeout):
        pass


def _pidfile_workers(settings: Settings) -> List[str]:
    """Names of workers that have a pidfile, i.e. that should be running."""
    run_dir = Path(settings.run_dir)
    if not run_dir.is_dir():
        return []
    return sorted(
        path.stem
        for path in run_dir.glob("*.pid")
        if path.stem not in _NOT_WORKER_PIDFILES
    )


def get_celery_status(
    settings: Settings,
    timeout: float = PING_TIMEOUT,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> CeleryStatus:
    """Ping the workers and report who answered.

    Never raises and never waits longer than about ``connect_timeout +
    timeout`` seconds. Files answer first (see
    :func:`celery_status_from_files`); the broker is asked only when they
    cannot (:func:`celery_status_from_broker`).

    Parameters
    ----------
    settings
        The acoupi settings.
    timeout
        Seconds to wait for ping replies.
    connect_timeout
        Seconds to wait for the broker.

    Returns
    -------
    CeleryStatus
        ``AVAILABLE`` with one ``OK`` entry per worker that answered (and a
        ``NOTOK`` entry per worker whose pidfile exists but that stayed
        silent); ``UNAVAILABLE`` if the broker is down or no worker
        answered; ``ERROR`` if the configuration is broken.
    """
    known = celery_status_from_files(settings)
    if known is not None:
        return known
    return celery_status_from_broker(settings, timeout, connect_timeout)


def celery_status_from_files(settings: Settings) -> Optional[CeleryStatus]:
    """The workers' status when files tell it; None when the broker must.

    Workers with a pidfile are judged by their heartbeat files; with no
    worker running on the built-in broker, its folders are all there is
    to check. Imports neither Celery nor kombu and waits for nothing.

    Parameters
    ----------
    settings
        The acoupi settings.

    Returns
    -------
    CeleryStatus or None
        The status, or None when only the broker can tell (a worker
        without a heartbeat file, or no worker on another broker).
    """
    expected = _pidfile_workers(settings)
    if expected:
        return _heartbeat_status(settings, expected)
    if not _is_embedded(settings):
        return None
    # Nobody to ping, and the built-in broker is folders: checking them
    # is all a connection would tell, without importing kombu's stack.
    from acoupi.system.broker import check_embedded_broker

    try:
        check_embedded_broker(settings)
    except CeleryUnavailableError as error:
        return CeleryStatus(state=CeleryState.UNAVAILABLE, detail=error.message)
    return CeleryStatus(
        state=CeleryState.UNAVAILABLE, detail="No Celery worker is running."
    )


def celery_status_from_broker(
    settings: Settings,
    timeout: float = PING_TIMEOUT,
    connect_timeout: float = CONNECT_TIMEOUT,
    deadline: Optional[float] = None,
) -> CeleryStatus:
    """Ask the broker: connect, and ping the workers that have a pidfile.

    Never raises; waits about ``connect_timeout + timeout`` seconds at
    most (a broker that accepts and never answers may hold a read longer:
    callers with a deadline run it in a thread).

    Parameters
    ----------
    settings
        The acoupi settings.
    timeout
        Seconds to wait for ping replies.
    connect_timeout
        Seconds to wait for the broker.
    deadline
        A ``time.monotonic()`` time by which connecting and pinging must be
        over; it shortens both timeouts.

    Returns
    -------
    CeleryStatus
        As :func:`get_celery_status`.
    """

    # Pinging in-process takes ~1.0 s with the broker up and ~0.4 s with it
    # down (celery import included). Spawning `celery -A app status` took
    # ~1.9 s for a trivial app (more for a real program, whose import opens
    # stores and loads models) and ~7 s with the broker down, as Celery
    # retries the connection.
    def within(seconds: float) -> float:
        if deadline is None:
            return seconds
        return max(_LEAST_WAIT, min(seconds, deadline - time.monotonic()))

    expected = _pidfile_workers(settings)
    try:
        with _Broker(settings, within(connect_timeout)) as (app, connection):
            if not expected:
                # Every worker acoupi starts (services or `acoupi run`)
                # writes a pidfile: with none there is nobody to wait for.
                return CeleryStatus(
                    state=CeleryState.UNAVAILABLE,
                    detail="No Celery worker is running.",
                )
            replies = app.control.ping(
                timeout=within(timeout),
                connection=connection,
                # Stop waiting as soon as every expected worker answered.
                limit=len(expected),
            )
    except CeleryUnavailableError as error:
        return CeleryStatus(state=CeleryState.UNAVAILABLE, detail=error.message)
    except ConfigurationError as error:
        return CeleryStatus(state=CeleryState.ERROR, detail=error.message)
    except Exception as error:  # a status report must not raise
        return CeleryStatus(
            state=CeleryState.ERROR,
            detail=f"Could not ping the workers: {error or type(error).__name__}",
        )

    workers = {}
    for reply in replies or []:
        for node, answer in reply.items():
            ok = isinstance(answer, dict) and answer.get("ok") == "pong"
            workers[node] = WorkerState.OK if ok else WorkerState.NOTOK
    answered = {node.split("@", 1)[0] for node in workers}
    host = socket.gethostname()
    for name in expected:
        if name not in answered:
            workers[f"{name}@{host}"] = WorkerState.NOTOK

    statuses = [
        WorkerStatus(worker_name=node, state=state)
        for node, state in sorted(workers.items())
    ]
    if any(status.state == WorkerState.OK for status in statuses):
        return CeleryStatus(state=CeleryState.AVAILABLE, workers=statuses)
    return CeleryStatus(
        state=CeleryState.UNAVAILABLE,
        workers=statuses,
        detail="No Celery worker answered.",
    )


def import_broker_client() -> None:
    """Import Celery and kombu's connection, before threads need them.

    Celery replaces its own module while it is first imported; two threads
    importing it at once can see it half-built ("cannot import name
    'Celery'"). A caller about to talk to the broker from several threads
    imports it first, in one.
    """
    import celery.app.base  # noqa: F401
    import kombu.connection  # noqa: F401


def broker_silent_status(settings: Settings, seconds: float) -> CeleryStatus:
    """The status when the broker did not answer within ``seconds``.

    Parameters
    ----------
    settings
        The acoupi settings.
    seconds
        How long the broker was waited for.

    Returns
    -------
    CeleryStatus
        ``UNAVAILABLE``, naming the broker (without its password).
    """
    try:
        where = f" at {_redact(_load_celery_config(settings).broker_url)}"
    except Exception:  # a status report must not raise
        where = ""
    return CeleryStatus(
        state=CeleryState.UNAVAILABLE,
        detail=f"The Celery broker{where} did not answer within {seconds:.1f} s.",
    )


def broker_unreachable(status: CeleryStatus) -> bool:
    """Whether ``status`` says the broker could not be connected to."""
    return status.detail is not None and status.detail.startswith(_UNREACHABLE)


def _is_embedded(settings: Settings) -> bool:
    """Whether the configured broker is the built-in one (False if unknown)."""
    from acoupi.system.broker import is_embedded

    try:
        return is_embedded(_load_celery_config(settings))
    except Exception:  # missing or broken config: _Broker explains it
        return False


def _heartbeat_status(
    settings: Settings, expected: Sequence[str]
) -> Optional[CeleryStatus]:
    """Status from the workers' heartbeat files, or None if a ping must tell.

    Reading files takes milliseconds where a ping over the built-in broker
    takes about a second (see :mod:`acoupi.system.liveness`).
    """
    from acoupi.system.liveness import worker_liveness

    alive = worker_liveness(Path(settings.run_dir), expected)
    if alive is None:
        return None
    host = socket.gethostname()
    statuses = [
        WorkerStatus(
            worker_name=f"{name}@{host}",
            state=WorkerState.OK if ok else WorkerState.NOTOK,
        )
        for name, ok in sorted(alive.items())
    ]
    if any(alive.values()):
        return CeleryStatus(state=CeleryState.AVAILABLE, workers=statuses)
    return CeleryStatus(
        state=CeleryState.UNAVAILABLE,
        workers=statuses,
        detail="No Celery worker is alive and connected to the broker "
        "(stopped, stuck or disconnected).",
    )


def wait_for_workers(
    settings: Settings,
    names: Optional[Sequence[str]] = None,
    timeout: float = 30.0,
) -> CeleryStatus:
    """Wait until every named worker answers a ping.

    Parameters
    ----------
    settings
        The acoupi settings.
    names
        Worker names (without ``@host``); by default the program's workers.
    timeout
        Seconds to wait in total.

    Returns
    -------
    CeleryStatus
        The first status in which every worker answered.

    Raises
    ------
    CeleryUnavailableError
        If some worker did not answer in time.
    """
    if names is None:
        names = [worker.name for worker in _worker_config(settings).workers]
    deadline = time.monotonic() + timeout
    # A worker writes its pidfile right after forking; give it that long
    # before reading a missing pidfile as a worker that died.
    grace_end = time.monotonic() + min(timeout, STARTUP_GRACE)
    while True:
        status = get_celery_status(settings, timeout=0.5)
        ready = {
            worker.worker_name.split("@", 1)[0]
            for worker in status.workers
            if worker.state == WorkerState.OK
        }
        missing = sorted(set(names) - ready)
        if not missing:
            return status
        dead = [name for name in missing if not _is_running(settings, name)]
        if dead and time.monotonic() >= grace_end:
            raise CeleryUnavailableError(
                f"Celery workers {', '.join(dead)} exited right after starting."
                + _log_tail(settings, dead),
                help=f"See the worker logs in {settings.log_dir}.",
            )
        if time.monotonic() >= deadline:
            raise CeleryUnavailableError(
                f"Celery workers {', '.join(missing)} did not start within "
                f"{timeout:g} s ({status.detail or status.state.value}).",
                help=f"See the worker logs in {settings.log_dir}.",
            )
        time.sleep(0.2)


def _is_running(settings: Settings, name: str) -> bool:
    """Return whether worker ``name`` has a pidfile naming our live process."""
    from acoupi.system.pidfiles import live_pid

    return live_pid(Path(settings.run_dir) / f"{name}.pid") is not None


def _log_tail(settings: Settings, names: Sequence[str], lines: int = 5) -> str:
    """Return the last lines of the workers' logs, to show why they died."""
    text = []
    for name in names:
        for log in sorted(Path(settings.log_dir).glob(f"{name}*.log")):
            try:
                tail = log.read_text(errors="replace").strip().splitlines()[-lines:]
            except OSError:
                continue
            if tail:
                text.append(f"\n{log.name}:\n  " + "\n  ".join(tail))
    return "".join(text)


# ---------------------------------------------------------------------------
# celery multi


def _worker_config(settings: Settings) -> "WorkerConfig":
    from acoupi.system.programs import load_worker_config

    return load_worker_config(settings)


def _node_options(config: "WorkerConfig") -> Iterator[str]:
    """Yield ``name [-Q:name q1,q2] [-c:name n]`` for every worker."""
    for worker in config.workers:
        yield worker.name
        if worker.queues:
            yield f"-Q:{worker.name}"
            yield ",".join(worker.queues)
        if worker.concurrency is not None:
            yield f"-c:{worker.name}"
            yield str(worker.concurrency)


def _file_options(settings: Settings, log_level: Optional[str]) -> List[str]:
    return [
        f"--loglevel={log_level or settings.log_level}",
        f"--pidfile={Path(settings.run_dir) / '%n.pid'}",
        f"--logfile={Path(settings.log_dir) / '%n%I.log'}",
    ]


def _multi(
    settings: Settings, action: str, args: List[str]
) -> "subprocess.CompletedProcess[str]":
    Path(settings.run_dir).mkdir(parents=True, exist_ok=True)
    Path(settings.log_dir).mkdir(parents=True, exist_ok=True)
    result = run_celery_command(
        settings,
        # Output is captured for error messages: no terminal colour codes.
        ["--no-color", "multi", action, *args],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        output = (result.stderr or result.stdout or "").strip()
        raise CeleryUnavailableError(
            f"`celery multi {action}` failed (exit code {result.returncode})"
            + (f":\n{output}" if output else "."),
            help=f"See the worker logs in {settings.log_dir}.",
        )
    return result


def _check_privileges(settings: Settings) -> None:
    """Refuse to start as root with pickle, before Celery silently does.

    A detached worker that refuses to run as root only says so on a stderr
    that nobody sees; this explains it up front.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return
    if os.environ.get("C_FORCE_ROOT"):
        return
    try:
        accepted = _load_celery_config(settings).accept_content
    except Exception:  # check_broker reports config problems
        return
    if "pickle" in accepted:
        raise CeleryUnavailableError(
            "Celery workers refuse to run as root while they accept pickled "
            "messages (acoupi's default).",
            help="Run acoupi as a normal user (recommended; the systemd user "
            "services do), or use the JSON serializer, which runs no code "
            "from the queue (`acoupi setup ... --task_serializer json "
            "--result_serializer json --accept_content '[\"json\"]'`), or "
            "set C_FORCE_ROOT=1 if you really must.",
        )


def _refuse_running(settings: Settings, config: "WorkerConfig") -> None:
    running = [w.name for w in config.workers if _is_running(settings, w.name)]
    if running:
        raise AcoupiError(
            f"Celery workers {', '.join(running)} are already running.",
            help="Run `acoupi workers restart` to restart them, or "
            "`acoupi workers stop` first.",
        )


def _require_workers(config: "WorkerConfig") -> None:
    if not config.workers:
        raise ConfigurationError(
            "The program declares no Celery workers.",
            help="Give the program class a `worker_config` with at least one "
            "worker, then rerun `acoupi setup`.",
        )


def _launch_workers(
    settings: Settings,
    config: "WorkerConfig",
    action: str,
    pool: str,
    log_level: Optional[str],
    timeout: Optional[float],
) -> "subprocess.CompletedProcess[str]":
    """Run ``celery multi start|restart``; wait up to ``timeout`` for pings."""
    from acoupi.system.pidfiles import remove_stale_pidfiles

    _check_privileges(settings)
    # Celery refuses to start over a pidfile whose PID another process got.
    remove_stale_pidfiles(Path(settings.run_dir))
    # Without a broker the workers would start and then retry forever.
    check_broker(settings)
    result = _multi(
        settings,
        action,
        [*_node_options(config), f"--pool={pool}", *_file_options(settings, log_level)],
    )
    if timeout is not None:
        wait_for_workers(settings, [w.name for w in config.workers], timeout)
    return result


def start_workers(
    settings: Settings,
    pool: str = "threads",
    log_level: Optional[str] = None,
    timeout: Optional[float] = None,
) -> "subprocess.CompletedProcess[str]":
    """Start the program's workers in the background with ``celery multi``.

    Parameters
    ----------
    settings
        The acoupi settings.
    pool
        Celery pool type of every worker.
    log_level
        Worker log level; ``settings.log_level`` by default.
    timeout
        If given, wait up to this many seconds for every worker to answer a
        ping.

    Returns
    -------
    subprocess.CompletedProcess
        The ``celery multi start`` run (output captured as text).

    Raises
    ------
    CeleryUnavailableError
        If the broker is unreachable (then nothing is started), ``celery
        multi`` fails, or the workers do not answer within ``timeout``.
    AcoupiError
        If some of the workers are already running.
    """
    config = _worker_config(settings)
    _require_workers(config)
    _refuse_running(settings, config)
    return _launch_workers(settings, config, "start", pool, log_level, timeout)


def restart_workers(
    settings: Settings,
    log_level: Optional[str] = None,
    pool: Optional[str] = None,
    timeout: Optional[float] = None,
) -> "subprocess.CompletedProcess[str]":
    """Restart the program's workers with ``celery multi restart``.

    Parameters
    ----------
    settings
        The acoupi settings.
    log_level
        Worker log level; ``settings.log_level`` by default.
    pool
        Celery pool type; ``settings.celery_pool_type`` by default (upstream
        passed none, so restarted workers silently switched to prefork).
    timeout
        If given, wait up to this many seconds for every worker to answer a
        ping.

    Returns
    -------
    subprocess.CompletedProcess
        The ``celery multi restart`` run (output captured as text).

    Raises
    ------
    CeleryUnavailableError
        If the broker is unreachable, ``celery multi`` fails, or the workers
        do not answer within ``timeout``.
    """
    config = _worker_config(settings)
    _require_workers(config)
    pool = pool or settings.celery_pool_type
    return _launch_workers(settings, config, "restart", pool, log_level, timeout)


def stop_workers(
    settings: Settings,
    log_level: Optional[str] = None,
) -> "subprocess.CompletedProcess[str]":
    """Stop the workers and wait until they have exited.

    Stops the program's workers and any other worker that left a pidfile in
    ``run_dir`` (for example from a previous setup with other worker names),
    and still works when the program cannot be loaded.

    Parameters
    ----------
    settings
        The acoupi settings.
    log_level
        Log level passed to ``celery multi``.

    Returns
    -------
    subprocess.CompletedProcess
        The ``celery multi stopwait`` run (output captured as text).

    Raises
    ------
    CeleryUnavailableError
        If ``celery multi stopwait`` fails.
    """
    from acoupi.system.pidfiles import remove_stale_pidfiles

    # `celery multi stopwait` signals whatever PID a pidfile holds: after a
    # reboot that may be a stranger's process.
    remove_stale_pidfiles(Path(settings.run_dir))
    names = _pidfile_workers(settings)
    try:
        names += [worker.name for worker in _worker_config(settings).workers]
    except Exception:  # stopping must work with a broken program
        pass
    names = list(dict.fromkeys(names))
    if not names:
        return subprocess.CompletedProcess(args=[], returncode=0, stdout="", stderr="")
    # stopwait needs no broker: it signals the pids in the pidfiles.
    return _multi(settings, "stopwait", [*names, *_file_options(settings, log_level)])


# ---------------------------------------------------------------------------
# Purging


def _purge(connection: "Connection", queue_name: str) -> int:
    # A fresh channel per queue: on AMQP a missing queue closes the channel.
    channel = connection.channel()
    try:
        return int(channel.queue_purge(queue_name) or 0)
    except connection.channel_errors:
        return 0  # the queue does not exist yet: nothing to purge
    finally:
        try:
            channel.close()
        except Exception:  # the channel may already be closed
            pass


def purge_queue(settings: Settings, queue_name: str) -> int:
    """Delete every waiting message of one queue.

    Works with any broker Kombu supports (upstream used ``celery amqp``,
    which only works with RabbitMQ).

    Parameters
    ----------
    settings
        The acoupi settings.
    queue_name
        The queue to purge.

    Returns
    -------
    int
        Number of messages deleted (0 if the queue does not exist).

    Raises
    ------
    CeleryUnavailableError
        If the broker is unreachable.
    """
    with _Broker(settings, CONNECT_TIMEOUT) as (_, connection):
        return _purge(connection, queue_name)


def purge_queues(settings: Settings) -> Dict[str, int]:
    """Delete every waiting message of the program's queues.

    The queues are those of the program's workers plus Celery's default
    queue, where tasks without a route wait.

    Parameters
    ----------
    settings
        The acoupi settings.

    Returns
    -------
    dict of str to int
        Number of messages deleted per queue.

    Raises
    ------
    CeleryUnavailableError
        If the broker is unreachable.
    """
    config = _worker_config(settings)
    queues = list(dict.fromkeys([*config.queue_names(), DEFAULT_QUEUE]))
    with _Broker(settings, CONNECT_TIMEOUT) as (_, connection):
        return {queue: _purge(connection, queue) for queue in queues}
