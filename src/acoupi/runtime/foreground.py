"""``acoupi run``: the whole of acoupi as one foreground process.

:func:`run_foreground` starts a deployment if none is active, recovers the
recordings a crash left behind, starts the program's workers as child
processes (forked from this one by default) and beat (in its main loop by
default), shows what they do, and on Ctrl-C, SIGTERM or the end of
``duration`` stops them all. Nothing it started outlives it.
"""

import datetime
import logging
import signal
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

from acoupi.components.disk_guard import storage_problem_of
from acoupi.data import Deployment
from acoupi.runtime import worker_process
from acoupi.runtime.beat_plan import write_beat_plan
from acoupi.runtime.coverage import Coverage, measure_coverage
from acoupi.runtime.embedded_beat import EmbeddedBeat
from acoupi.runtime.environment import child_environment
from acoupi.runtime.metrics import (
    LogWatcher,
    MetricsCollector,
    Snapshot,
    detections_by_tag,
    recording_spans,
)
from acoupi.runtime.plain_console import ConsoleLike, PlainConsole
from acoupi.runtime.recovery import RecoveryReport, recover
from acoupi.runtime.supervisor import (
    BEAT_NAME,
    ChildSpec,
    Supervisor,
    beat_spec,
    worker_specs,
)
from acoupi.runtime.worker_process import APP_MODULE
from acoupi.system import foreground_runs
from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.exceptions import AcoupiError, DeploymentError
from acoupi.system.outlook import RECORDING_TASK
from acoupi.system.pidfiles import owned_processes, remove_stale_pidfiles
from acoupi.system.programs import load_program
from acoupi.timeutil import now_utc

__all__ = [
    "APP_MODULE",
    "RECORDING_TASK",
    "RunSummary",
    "WorkersRunningError",
    "run_foreground",
    "running_processes",
]

logger = logging.getLogger(__name__)

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
    stopped_because: Optional[str] = None
    """Why the run stopped, when not by Ctrl-C, SIGTERM or its duration."""
    coverage: Optional[Coverage] = None
    detections_by_tag: Dict[str, int] = field(default_factory=dict)
    tasks_ok: int = 0
    tasks_failed: int = 0
    failed_by_task: Dict[str, int] = field(default_factory=dict)
    """Failed tasks per short task name."""

    succeeded_by_task: Dict[str, int] = field(default_factory=dict)
    """Tasks that succeeded per short task name."""
    restarts: int = 0
    recovery: RecoveryReport = field(default_factory=RecoveryReport)
    recordings_dir: Optional[Path] = None
    temp_dir: Optional[Path] = None
    database: Optional[Path] = None
    log_dir: Optional[Path] = None
    exit_codes: Dict[str, Optional[int]] = field(default_factory=dict)
    last_error: Optional[str] = None
    storage_problem: Optional[str] = None
    """Why the disk guard paused recording at the end of the run, if it did."""

    @property
    def recording_failed(self) -> bool:
        """True when every recording attempt of the run failed."""
        return (
            self.failed_by_task.get(RECORDING_TASK, 0) > 0
            and self.succeeded_by_task.get(RECORDING_TASK, 0) == 0
        )

    @property
    def exit_code(self) -> int:
        """0, or 1 when the run recorded nothing because recording failed."""
        return 1 if self.recording_failed else 0

    def _tasks_line(self) -> str:
        line = f"Tasks finished: {self.tasks_ok + self.tasks_failed}"
        if self.tasks_failed:
            failed = ", ".join(f"{n} {t}" for t, n in self.failed_by_task.items())
            line += f", of which {self.tasks_failed} failed ({failed})"
        return line

    def lines(self) -> List[str]:
        """Return the summary as lines of text."""
        s = self.snapshot

        def known(value: Optional[int]) -> str:
            return "unknown" if value is None else str(value)

        state = "ended" if self.deployment_ended else "still active"
        lines = [
            f"Ran {self.seconds:.0f} s; deployment {self.deployment!r} {state}.",
            self._tasks_line(),
        ]
        if self.stopped_because:
            lines.insert(0, f"Stopped: {self.stopped_because}.")
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
        lines += _message_lines(s)
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
        if self.storage_problem:
            lines.append(self.storage_problem)
        if self.recording_failed:
            lines.append(
                "Nothing was recorded: every recording failed. The cause is "
                f"above; details in {self.log_dir}."
            )
        return lines


def _message_lines(s: Snapshot) -> List[str]:
    if s.messenger is False:
        from acoupi.programs.templates.detection import (
            UNSENT_KEPT_WITHOUT_MESSENGER as kept,
        )

        now = "unknown" if s.messages_pending is None else s.messages_pending
        return [
            f"Messages: none sent (no messenger configured); the newest {kept}"
            f" are kept, {now} now."
        ]
    if s.messages_sent is None and s.messages_pending is None:
        return []
    sent = "unknown" if s.messages_sent is None else s.messages_sent
    pending = "unknown" if s.messages_pending is None else s.messages_pending
    return [f"Messages sent: {sent}; pending: {pending}"]


def running_processes(settings: Settings) -> Dict[str, int]:
    """Return the workers and beat of this installation that are alive.

    Read from the pidfiles in ``run_dir``, which ``celery multi``, the beat
    script and ``acoupi run`` all write; a pidfile whose PID now belongs
    to another process (reboot, PID reuse) does not count.
    """
    return owned_processes(Path(settings.run_dir))


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
    # Stale pidfiles would make Celery refuse to start the children.
    remove_stale_pidfiles(Path(settings.run_dir))
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


def _continuing_lines(
    deployment: Deployment,
    name: Optional[str],
    latitude: Optional[float],
    longitude: Optional[float],
) -> List[str]:
    """Say that the run records under an existing deployment, not a new one.

    Without this a run given ``--name`` silently stored its recordings under
    whatever deployment an earlier run or service had left active.
    """
    started = deployment.started_on.astimezone()
    lines = [
        f"Continuing deployment {deployment.name!r}, started "
        f"{started:%a %d %b %Y %H:%M %Z} and left active by an earlier run "
        "or service."
    ]
    ignored = [
        option
        for option, value in (
            (f"--name {name!r}", name),
            ("--latitude", latitude),
            ("--longitude", longitude),
        )
        if value is not None
    ]
    if ignored:
        lines.append(
            f"{', '.join(ignored)} ignored: they describe a new deployment. "
            "To start one, end this one first with `acoupi deployment stop`."
        )
    return lines


def _undo_deployment(settings: Settings, state: _Deployment) -> None:
    from acoupi.system.atomic import atomic_write_text

    path = Path(settings.deployment_file)
    if state.previous_file is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write_text(path, state.previous_file)


class _DeploymentWatch:
    """Notice when the run's deployment is ended or replaced by someone else.

    Only the file's modification time is read each tick; the file itself
    only when that changes.
    """

    def __init__(self, settings: Settings, deployment: Deployment) -> None:
        self.path = Path(settings.deployment_file)
        self.deployment = deployment
        self.mtime = self._mtime()

    def _mtime(self) -> Optional[int]:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def changed(self) -> Optional[str]:
        """Return why the deployment is no longer this run's, or None."""
        from acoupi.system.deployments import load_deployment_from_file

        mtime = self._mtime()
        if mtime == self.mtime:
            return None
        self.mtime = mtime
        if mtime is None:
            return "its deployment file was removed"
        try:
            current = load_deployment_from_file(self.path)
        except Exception:  # a file being replaced: look again next tick
            self.mtime = None
            return None
        if current.id != self.deployment.id:
            return f"another deployment ({current.name!r}) was started"
        if current.ended_on is not None:
            return f"the deployment was ended at {current.ended_on:%H:%M:%S %Z}"
        return None


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


def _plain_events(console: ConsoleLike) -> Callable[[List[str]], None]:
    def show(events: List[str]) -> None:
        for event in events:
            console.print(event, style="yellow", markup=False, highlight=False)

    return show


def _ticks(
    period: float,
    stop: threading.Event,
    until: Optional[float],
    beat: Optional[EmbeddedBeat] = None,
) -> Iterator[None]:
    """Yield about every ``period`` s until ``stop`` is set or ``until`` passes.

    In between, tick ``beat`` whenever it is due: beat runs in this loop,
    not in a thread of its own (see :mod:`acoupi.runtime.forker`).
    """
    due = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if until is not None and now >= until:
            return
        if now >= due:
            yield
            due = time.monotonic() + period
        wait = due - time.monotonic()
        if beat is not None:
            wait = min(wait, beat.tick())
        if until is not None:
            wait = min(wait, until - time.monotonic())
        stop.wait(max(0.0, wait))


def _default_console(live: bool) -> ConsoleLike:
    if not live:
        return PlainConsole()  # no Rich in a headless run: about 4 MB
    from rich.console import Console

    return Console()


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
    console: Optional[ConsoleLike] = None,
    log_level: Optional[str] = None,
    stop_timeout: float = 15.0,
    refresh: float = 1.0,
    on_started: Optional[Callable[[Dict[str, int]], Any]] = None,
    embedded_beat: bool = True,
    environment: Optional[Mapping[str, str]] = None,
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
        Where to draw (a Rich console for the live view); by default a
        Rich console on stdout when live, else a plain one (no Rich).
    log_level
        Log level of the children; ``settings.log_level`` by default.
    stop_timeout
        Seconds the children get to finish their tasks when stopping.
    refresh
        Seconds between two redraws of the live view.
    on_started
        Called with the children's pids once they are started (tests).
    embedded_beat
        ``acoupi run --lean``: run beat in this process's main loop instead
        of a child (only with a beat plan, i.e. plain interval schedules;
        otherwise beat stays a child), and fork the workers from this
        process so that they share its memory (see
        :mod:`acoupi.runtime.forker`). False starts beat and every worker
        as programs of their own.
    environment
        The environment the children start from; ``os.environ`` by
        default. ``acoupi run`` passes its own from before it capped its
        thread pools (see :mod:`acoupi.runtime.native_threads`).

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
    console = console or _default_console(live)
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
    if not state.started_here:
        for line in _continuing_lines(state.deployment, name, latitude, longitude):
            console.print(line, highlight=False, markup=False, soft_wrap=True)

    recovery = recover(program)
    worker_config = type(program).get_worker_config()
    level = (log_level or settings.log_level).upper()
    specs = worker_specs(
        settings, worker_config, sys.executable, settings.celery_pool_type, level
    )
    # Beat only sends task names on a timer: with a plan it runs a bare app
    # instead of the whole program (no numpy or model modules in beat).
    lean = write_beat_plan(program.app, Path(settings.run_dir))
    beat: Optional[EmbeddedBeat] = None
    if embedded_beat and lean:
        beat = EmbeddedBeat(settings, level)
    else:
        beat_module = BEAT_APP_MODULE if lean else APP_MODULE
        # Imported here: the scripts' templates (jinja2) cost every lean
        # run, and the workers forked from it, several MB.
        from acoupi.system.scripts import get_celery_bin

        specs.append(beat_spec(settings, get_celery_bin(), beat_module, level))
    queues = list(dict.fromkeys([*worker_config.queue_names(), "celery"]))
    supervisor = Supervisor(
        specs,
        child_environment(settings, environment),
        Path(settings.home),
        stop_timeout=stop_timeout,
        **_forking(settings, embedded_beat),
    )
    started = now_utc()
    t0 = time.monotonic()
    metrics = MetricsCollector(program, started, queues, state.deployment)
    logs = LogWatcher([spec.log_path for spec in specs])
    stop = _StopSignal()
    snapshot = Snapshot()
    watch = _DeploymentWatch(settings, state.deployment)
    stopped_because: Optional[str] = None
    foreground_runs.register_run(settings, state.deployment.name)
    try:
        with ExitStack() as stack:
            stop.install(stack)
            if beat is not None:
                # Before the workers are forked, so that they share its pages.
                beat.start()
                stack.callback(beat.stop)
            supervisor.start()
            stack.callback(supervisor.stop)  # also on any error below
            _record_now(program)
            if on_started is not None:
                on_started(supervisor.pids())
            console.print(_started_line(specs, settings))
            until = None if duration is None else t0 + duration
            view = None
            if live:
                from rich.console import Console
                from rich.live import Live

                drawn_on = console if isinstance(console, Console) else None
                view = stack.enter_context(
                    Live(console=drawn_on, auto_refresh=False, transient=False)
                )
            show_events = _plain_events(console)
            beat_restarts = 0
            for _ in _ticks(refresh, stop.event, until, beat):
                events = supervisor.poll()
                if beat is not None and beat.restarts > beat_restarts:
                    beat_restarts = beat.restarts
                    events.append("beat (in this process) failed; restarted")
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
                stopped_because = _stop_reason(settings, watch)
                if stopped_because is not None:
                    break
            seconds = time.monotonic() - t0
            stopped_because = stopped_because or _stop_reason(settings, watch)
            if stopped_because == STOPPED_BY_COMMAND:
                end = True  # whoever started the deployment
            elif stopped_because is not None:
                end = False  # ended or replaced elsewhere: not ours to end
            if stop.received is not None or stopped_because is not None:
                console.print("Stopping acoupi (waiting for running tasks)...")
            # Workers stop before the deployment ends: nothing is recorded
            # under an ended deployment.
            exit_codes = supervisor.stop()
        logs.poll()

        deployment = state.deployment
        ended = False
        if end:
            ended_now = _end(settings, program, queues, console)
            ended = ended_now is not None
            deployment = ended_now or deployment
    finally:
        foreground_runs.clear_run(settings)
    snapshot = metrics.collect()
    return _summary(
        settings,
        program,
        deployment,
        ended or stopped_because is not None,
        seconds,
        stopped_because,
        snapshot,
        started,
        logs,
        supervisor,
        recovery,
        exit_codes,
    )


def _forking(settings: Settings, lean: bool) -> Dict[str, Any]:
    """Fork the workers from this process when lean: they share its memory."""
    if not lean:
        return {}
    return {
        "fork_entries": [worker_process.__name__],
        "fork_prepare": partial(worker_process.prepare, settings),
    }


def _started_line(specs: List[ChildSpec], settings: Settings) -> str:
    workers = [spec.name for spec in specs if spec.name != BEAT_NAME]
    noun = "worker" if len(workers) == 1 else "workers"
    return (
        f"acoupi is running: {noun} {', '.join(workers)} and the scheduler "
        f"(beat); logs in {settings.log_dir}. Ctrl-C to stop."
    )


STOPPED_BY_COMMAND = "`acoupi deployment stop` ended the deployment"


def _stop_reason(settings: Settings, watch: _DeploymentWatch) -> Optional[str]:
    """Return why the run must stop now (besides signals and duration)."""
    if foreground_runs.stop_requested(settings):
        return STOPPED_BY_COMMAND
    return watch.changed()


def _end(
    settings: Settings, program: Any, queues: List[str], console: ConsoleLike
) -> Optional[Deployment]:
    """End the deployment, flush what waits, empty the queues.

    Returns None when the deployment had already ended (nothing to do).
    """
    from acoupi.system import deployments
    from acoupi.system.deployments import InvalidDeploymentError

    try:
        deployment = deployments.end_deployment(settings)
    except InvalidDeploymentError:
        raise
    except DeploymentError:
        return None
    _finish(program, deployment, queues, console)
    return deployment


def _finish(
    program: Any, deployment: Deployment, queues: List[str], console: ConsoleLike
) -> None:
    from acoupi.system.broker import purge_queues

    program.on_end(deployment)
    try:
        # The recordings these tasks were for were just processed by
        # on_end; left queued they would run again next time.
        purge_queues(program.app, queues)
    except Exception as error:
        console.print(
            f"Could not empty the task queues: {error}",
            style="yellow",
            markup=False,
            highlight=False,
        )


def _summary(
    settings: Settings,
    program: Any,
    deployment: Deployment,
    ended: bool,
    seconds: float,
    stopped_because: Optional[str],
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
            # Up to the moment the stop began: silence at the end (disk
            # full, microphone gone) is a gap, not left out of the span.
            until = started + datetime.timedelta(seconds=seconds)
            coverage = measure_coverage(spans, interval, until=until)
            by_tag = detections_by_tag(Path(database), started)
        except Exception:  # the summary must not fail on a busy database
            logger.debug("Could not read the run's statistics", exc_info=True)
    return RunSummary(
        deployment=deployment.name,
        deployment_ended=ended,
        seconds=seconds,
        stopped_because=stopped_because,
        snapshot=snapshot,
        coverage=coverage,
        detections_by_tag=by_tag,
        tasks_ok=logs.tasks_ok,
        tasks_failed=logs.tasks_failed,
        failed_by_task=logs.failed,
        succeeded_by_task=logs.succeeded,
        restarts=supervisor.total_restarts,
        recovery=recovery,
        recordings_dir=getattr(paths, "recordings", None),
        temp_dir=getattr(paths, "tmp_audio", None),
        database=Path(database) if database is not None else None,
        log_dir=Path(settings.log_dir),
        exit_codes=exit_codes,
        last_error=logs.last_error,
        storage_problem=storage_problem_of(program),
    )
