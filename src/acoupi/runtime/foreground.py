"""``acoupi run``: the whole of acoupi as one foreground process.

:func:`run_foreground` starts a deployment if none is active, recovers the
recordings a crash left behind, starts the program's workers and beat as
child processes, shows what they do, and on Ctrl-C, SIGTERM or the end of
``duration`` stops them all. Nothing it started outlives it.
"""

import datetime
import logging
import signal
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Dict, Iterator, List, Optional

from rich.console import Console

from acoupi.data import Deployment
from acoupi.runtime.beat_plan import write_beat_plan
from acoupi.runtime.coverage import Coverage, measure_coverage
from acoupi.runtime.environment import child_environment
from acoupi.runtime.metrics import (
    LogWatcher,
    MetricsCollector,
    Snapshot,
    detections_by_tag,
    recording_spans,
)
from acoupi.runtime.recovery import RecoveryReport, recover
from acoupi.runtime.supervisor import Supervisor, beat_spec, worker_specs
from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.exceptions import AcoupiError, DeploymentError
from acoupi.system.programs import load_program
from acoupi.timeutil import now_utc

__all__ = [
    "APP_MODULE",
    "RunSummary",
    "WorkersRunningError",
    "run_foreground",
    "running_processes",
]

logger = logging.getLogger(__name__)

APP_MODULE = "acoupi.runtime.celery_app"
"""``-A`` target of the children: the program's app, broker applied."""

BEAT_APP_MODULE = "acoupi.runtime.beat_app"
"""``-A`` target of beat: a bare app from the beat plan."""


class WorkersRunningError(AcoupiError):
    """Workers of this installation already run (services or another run)."""


def _by_tag(counts: Dict[str, int]) -> str:
    if not counts:
        return ""
    return " (" + ", ".join(f"{tag}: {n}" for tag, n in counts.items()) + ")"


@dataclass
class RunSummary:
    """What a foreground run did, for the closing report."""

    deployment: str
    deployment_ended: bool
    seconds: float
    snapshot: Snapshot
    coverage: Optional[Coverage] = None
    detections_by_tag: Dict[str, int] = field(default_factory=dict)
    tasks_ok: int = 0
    tasks_failed: int = 0
    restarts: int = 0
    recovery: RecoveryReport = field(default_factory=RecoveryReport)
    recordings_dir: Optional[Path] = None
    temp_dir: Optional[Path] = None
    database: Optional[Path] = None
    log_dir: Optional[Path] = None
    exit_codes: Dict[str, Optional[int]] = field(default_factory=dict)
    last_error: Optional[str] = None

    def lines(self) -> List[str]:
        """Return the summary as lines of text."""
        s = self.snapshot

        def known(value: Optional[int]) -> str:
            return "unknown" if value is None else str(value)

        state = "ended" if self.deployment_ended else "still active"
        lines = [
            f"Ran {self.seconds:.0f} s; deployment {self.deployment!r} {state}.",
            f"Tasks run: {self.tasks_ok}"
            + (f" ({self.tasks_failed} failed)" if self.tasks_failed else ""),
        ]
        if s.recordings is not None:
            lines.append(f"Recordings made: {s.recordings}")
            if not s.recordings and s.not_recording:
                lines.append(f"Nothing recorded: {s.not_recording}")
            if self.coverage is not None and self.coverage.recordings:
                lines.append(f"Coverage: {self.coverage.describe()}")
            lines.append(
                f"Processed by the model: {known(s.model_outputs)}; "
                f"detections: {known(s.detections)}" + _by_tag(self.detections_by_tag)
            )
        if s.messages_sent is not None or s.messages_pending is not None:
            lines.append(
                f"Messages sent: {known(s.messages_sent)}; "
                f"pending: {known(s.messages_pending)}"
            )
        if self.restarts:
            lines.append(f"Process restarts: {self.restarts}")
        recovered = self.recovery
        if recovered.touched:
            lines.append(f"Recovered at start: {recovered.describe()}")
        for label, path in (
            ("Recordings", self.recordings_dir),
            ("Waiting recordings", self.temp_dir),
            ("Database", self.database),
            ("Logs", self.log_dir),
        ):
            if path is not None:
                lines.append(f"{label}: {path}")
        if self.last_error:
            lines.append(f"Last error: {self.last_error}")
        return lines


def running_processes(settings: Settings) -> Dict[str, int]:
    """Return the workers and beat of this installation that are alive.

    Read from the pidfiles in ``run_dir``, which ``celery multi``, the beat
    script and ``acoupi run`` all write.
    """
    from acoupi.system.liveness import live_processes

    return live_processes(Path(settings.run_dir))


def _check_broker(settings: Settings) -> CeleryConfig:
    from acoupi.system.broker import check_embedded_broker, is_embedded
    from acoupi.system.celery import check_broker
    from acoupi.system.config import load_config

    config = load_config(settings.celery_config_file, CeleryConfig)
    if is_embedded(config):
        check_embedded_broker(settings)
    else:
        check_broker(settings)
    return config


def _refuse_running(settings: Settings) -> None:
    running = running_processes(settings)
    if running:
        names = ", ".join(f"{name} (pid {pid})" for name, pid in running.items())
        raise WorkersRunningError(
            f"Acoupi is already running here: {names}.",
            help="Stop it first with `acoupi deployment stop` (services) or "
            "`acoupi workers stop`, or stop the other `acoupi run`.",
        )


@dataclass
class _Deployment:
    deployment: Deployment
    started_here: bool
    previous_file: Optional[str]


def _ensure_deployment(
    settings: Settings,
    name: Optional[str],
    latitude: Optional[float],
    longitude: Optional[float],
) -> _Deployment:
    from acoupi.system import deployments
    from acoupi.system.deployments import InvalidDeploymentError

    path = Path(settings.deployment_file)
    try:
        current = deployments.get_current_deployment(settings)
    except InvalidDeploymentError:
        raise  # a corrupt file: its own message says how to fix it
    except DeploymentError:
        pass
    else:
        return _Deployment(current, False, None)
    previous = path.read_text(encoding="utf-8") if path.exists() else None
    name = name or f"acoupi run {now_utc():%Y-%m-%d %H:%M}"
    started = deployments.start_deployment(settings, name, latitude, longitude)
    return _Deployment(started, True, previous)


def _undo_deployment(settings: Settings, state: _Deployment) -> None:
    from acoupi.system.atomic import atomic_write_text

    path = Path(settings.deployment_file)
    if state.previous_file is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write_text(path, state.previous_file)


class _StopSignal:
    """Turn SIGINT and SIGTERM into a flag while installed."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.received: Optional[int] = None

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        self.received = signum
        self.event.set()

    def install(self, stack: ExitStack) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals only reach the main thread
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous = signal.signal(signum, self._handle)
            stack.callback(signal.signal, signum, previous)


def _plain_events(console: Console) -> Callable[[List[str]], None]:
    def show(events: List[str]) -> None:
        for event in events:
            console.print(f"[yellow]{event}[/yellow]")

    return show


def _ticks(
    period: float, stop: threading.Event, until: Optional[float]
) -> Iterator[None]:
    """Yield about every ``period`` s until ``stop`` is set or ``until`` passes."""
    while not stop.is_set():
        now = time.monotonic()
        if until is not None and now >= until:
            return
        yield
        wait = period if until is None else min(period, until - time.monotonic())
        stop.wait(max(0.0, wait))


def _record_now(program: Any) -> None:
    """In continuous mode, queue the first recording now, not one interval later.

    Beat first runs an interval task one interval after it starts. In
    continuous mode every call takes the next clip, so an extra first call
    only shifts the series earlier; duty-cycled recordings keep beat's pace.
    """
    task = getattr(program, "tasks", {}).get("recording_task")
    if task is None or not getattr(
        getattr(program, "recorder", None), "continuous", False
    ):
        return
    try:
        task.apply_async()
    except Exception:  # the scheduled recordings still come
        logger.warning("Could not queue the first recording.", exc_info=True)


def run_foreground(
    settings: Settings,
    duration: Optional[float] = None,
    live: bool = True,
    name: Optional[str] = None,
    latitude: Optional[float] = None,
    longitude: Optional[float] = None,
    end_deployment: Optional[bool] = None,
    console: Optional[Console] = None,
    log_level: Optional[str] = None,
    stop_timeout: float = 15.0,
    refresh: float = 1.0,
    on_started: Optional[Callable[[Dict[str, int]], Any]] = None,
) -> RunSummary:
    """Run the configured program in the foreground until stopped.

    Parameters
    ----------
    settings
        The acoupi settings.
    duration
        Stop after this many seconds; None runs until Ctrl-C or SIGTERM.
    live
        Show the live view (else only events are printed, as in a log).
    name, latitude, longitude
        The deployment to start if none is active (a name with the date
        is made up when not given).
    end_deployment
        End the deployment when the run stops (then the program's
        ``on_end`` processes the recordings still waiting). By default the
        deployment is ended only if this run started it.
    console
        Where to draw; a new console on stdout by default.
    log_level
        Log level of the children; ``settings.log_level`` by default.
    stop_timeout
        Seconds the children get to finish their tasks when stopping.
    refresh
        Seconds between two redraws of the live view.
    on_started
        Called with the children's pids once they are started (tests).

    Returns
    -------
    RunSummary
        What the run did.

    Raises
    ------
    WorkersRunningError
        If workers of this installation already run.
    CeleryUnavailableError
        If the broker cannot be reached or its folder is not writable.
    NotConfiguredError
        If acoupi is not set up.
    """
    from acoupi.system.scripts import get_celery_bin

    console = console or Console()
    _check_broker(settings)
    _refuse_running(settings)
    state = _ensure_deployment(settings, name, latitude, longitude)
    try:
        program = load_program(settings)
        if state.started_here:
            program.on_start(state.deployment)
    except BaseException:
        if state.started_here:
            _undo_deployment(settings, state)
        raise
    end = state.started_here if end_deployment is None else end_deployment

    recovery = recover(program)
    worker_config = type(program).get_worker_config()
    level = (log_level or settings.log_level).upper()
    celery_bin = get_celery_bin()
    specs = worker_specs(
        settings,
        worker_config,
        celery_bin,
        APP_MODULE,
        settings.celery_pool_type,
        level,
    )
    # Beat only sends task names on a timer: with a plan it runs a bare app
    # instead of the whole program (no numpy or model modules in beat).
    lean = write_beat_plan(program.app, Path(settings.run_dir))
    beat_module = BEAT_APP_MODULE if lean else APP_MODULE
    specs.append(beat_spec(settings, celery_bin, beat_module, level))
    queues = list(dict.fromkeys([*worker_config.queue_names(), "celery"]))
    supervisor = Supervisor(
        specs,
        child_environment(settings),
        Path(settings.home),
        stop_timeout=stop_timeout,
    )
    started = now_utc()
    t0 = time.monotonic()
    metrics = MetricsCollector(program, started, queues, state.deployment)
    logs = LogWatcher([spec.log_path for spec in specs])
    stop = _StopSignal()
    snapshot = Snapshot()

    with ExitStack() as stack:
        stop.install(stack)
        supervisor.start()
        stack.callback(supervisor.stop)  # also on any error below
        _record_now(program)
        if on_started is not None:
            on_started(supervisor.pids())
        console.print(
            f"acoupi running {len(specs) - 1} worker(s) and beat; logs in "
            f"{settings.log_dir}. Ctrl-C to stop."
        )
        until = None if duration is None else t0 + duration
        view = None
        if live:
            from rich.live import Live

            view = stack.enter_context(
                Live(console=console, auto_refresh=False, transient=False)
            )
        show_events = _plain_events(console)
        for _ in _ticks(refresh, stop.event, until):
            events = supervisor.poll()
            logs.poll()
            snapshot = metrics.collect()
            if view is not None:
                from acoupi.runtime.live_view import render

                view.update(
                    render(
                        snapshot,
                        supervisor.statuses(),
                        time.monotonic() - t0,
                        duration,
                        logs.tasks_ok,
                        logs.tasks_failed,
                        logs.last_error,
                        list(supervisor.events),
                        state.deployment.name,
                    ),
                    refresh=True,
                )
            else:
                show_events(events)
        seconds = time.monotonic() - t0
        if stop.received is not None:
            console.print("Stopping acoupi (waiting for running tasks)...")
        exit_codes = supervisor.stop()
    logs.poll()

    deployment = state.deployment
    if end:
        deployment = _end(settings, program, queues, console)
    snapshot = metrics.collect()
    return _summary(
        settings,
        program,
        deployment,
        end,
        seconds,
        snapshot,
        started,
        logs,
        supervisor,
        recovery,
        exit_codes,
    )


def _end(
    settings: Settings, program: Any, queues: List[str], console: Console
) -> Deployment:
    """End the deployment, flush what waits, empty the queues."""
    from acoupi.system import deployments
    from acoupi.system.broker import purge_queues

    deployment = deployments.end_deployment(settings)
    program.on_end(deployment)
    try:
        # The recordings these tasks were for were just processed by
        # on_end; left queued they would run again next time.
        purge_queues(program.app, queues)
    except Exception as error:
        console.print(f"[yellow]Could not empty the task queues: {error}[/yellow]")
    return deployment


def _summary(
    settings: Settings,
    program: Any,
    deployment: Deployment,
    ended: bool,
    seconds: float,
    snapshot: Snapshot,
    started: datetime.datetime,
    logs: LogWatcher,
    supervisor: Supervisor,
    recovery: RecoveryReport,
    exit_codes: Dict[str, Optional[int]],
) -> RunSummary:
    config = getattr(program, "config", None)
    paths = getattr(config, "paths", None)
    database = getattr(getattr(program, "store", None), "db_path", None)
    coverage = None
    by_tag: Dict[str, int] = {}
    interval = getattr(getattr(config, "recording", None), "interval", None)
    if database is not None and interval:
        try:
            spans = recording_spans(Path(database), started)
            coverage = measure_coverage(spans, interval)
            by_tag = detections_by_tag(Path(database), started)
        except Exception:  # the summary must not fail on a busy database
            logger.debug("Could not read the run's statistics", exc_info=True)
    return RunSummary(
        deployment=deployment.name,
        deployment_ended=ended,
        seconds=seconds,
        snapshot=snapshot,
        coverage=coverage,
        detections_by_tag=by_tag,
        tasks_ok=logs.tasks_ok,
        tasks_failed=logs.tasks_failed,
        restarts=supervisor.total_restarts,
        recovery=recovery,
        recordings_dir=getattr(paths, "recordings", None),
        temp_dir=getattr(paths, "tmp_audio", None),
        database=Path(database) if database is not None else None,
        log_dir=Path(settings.log_dir),
        exit_codes=exit_codes,
        last_error=logs.last_error,
    )
