"""One snapshot of acoupi's state: services, workers, program, deployment.

Every part fails soft: a part that cannot be determined is reported as
``UNKNOWN``/``ERROR``/``None`` instead of raising, so ``acoupi deployment
status`` always answers. The parts are gathered in parallel because the
slow ones (the broker, loading the program) do not depend on each other.

Files answer first: workers' heartbeat files, the built-in broker's queue
folder, the program's SQLite files. The broker (and with it Celery and
kombu) is asked only when files cannot tell, and all its reads share one
deadline (:data:`BROKER_WAIT`). The program is loaded with a deferred
Celery app (:mod:`acoupi.system.deferred_app`), so on the built-in broker
the status imports no Celery at all.

Besides the parts of upstream's status (services, Celery, program,
deployment) it says how acoupi runs (services or foreground), when the next
recording is due or why none is (:mod:`acoupi.system.outlook`), what was
done today (:mod:`acoupi.system.activity`) and the free disk space of each
storage folder (:mod:`acoupi.system.disk`). These extra fields are optional
so a status built by other code stays valid.
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from pydantic import BaseModel, Field

from acoupi.data import Deployment
from acoupi.system.activity import Activity
from acoupi.system.celery import (
    CeleryState,
    CeleryStatus,
    broker_silent_status,
    broker_unreachable,
    celery_status_from_broker,
    celery_status_from_files,
    import_broker_client,
)
from acoupi.system.constants import Settings
from acoupi.system.deployments import get_current_deployment
from acoupi.system.disk import DiskUsage
from acoupi.system.outlook import ScheduleOutlook
from acoupi.system.programs import ProgramState, check_program, load_program
from acoupi.system.services import (
    ServiceStatus,
    get_acoupi_beat_service_status,
    get_acoupi_service_status,
)

__all__ = [
    "AcoupiStatus",
    "RunMode",
    "Running",
    "ServicesStatus",
    "get_status",
    "is_configured",
]

logger = logging.getLogger(__name__)


class ServicesStatus(BaseModel):
    """State of the two systemd user units."""

    acoupi: ServiceStatus
    beat: ServiceStatus
    detail: Optional[str] = None
    """Why the states are unknown, when that is known (no systemd here)."""


class RunMode(str, Enum):
    """How the workers of this installation run."""

    SERVICES = "services"
    """Under the systemd user services (``acoupi deployment start``)."""

    FOREGROUND = "foreground"
    """As children of ``acoupi run`` (or ``deployment start --foreground``)."""

    DETACHED = "detached"
    """Workers run without services nor a foreground run watching them."""

    STOPPED = "stopped"
    """No worker or scheduler of this installation runs."""


class Running(BaseModel):
    """How acoupi runs, with the processes found."""

    mode: RunMode
    pid: Optional[int] = None
    """The ``acoupi run`` process in foreground mode."""

    processes: Dict[str, int] = Field(default_factory=dict)
    """Live workers and scheduler by name (``beat`` is the scheduler)."""


class AcoupiStatus(BaseModel):
    """State of the whole acoupi system."""

    services: ServicesStatus
    celery: CeleryStatus
    program: ProgramState
    deployment: Optional[Deployment]
    backlog: Optional[int] = None
    """Recordings waiting for detection; None when unknown."""
    pending: Optional[str] = None
    """Recordings written but not yet filed, wherever they wait, and the age
    of the oldest (e.g. ``3 recording(s), oldest written 4.5 min ago``)."""
    storage: Optional[str] = None
    """Why recording is paused for lack of disk space; None when it is not."""

    running: Optional[Running] = None
    """Services, foreground or stopped; None when unknown."""

    outlook: Optional[ScheduleOutlook] = None
    """Next recording or why none is due; None when the program did not load."""

    activity: Optional[Activity] = None
    """Today's recordings, detections and pending messages."""

    disk: List[DiskUsage] = Field(default_factory=list)
    """Free space of each storage folder (and of the acoupi home)."""


def is_configured(settings: Settings) -> bool:
    """Return True if ``acoupi setup`` has been run in this home.

    Parameters
    ----------
    settings
        The acoupi settings.

    Returns
    -------
    bool
        True if the program config, app module and program name files exist.
    """
    return all(
        Path(path).is_file()
        for path in (
            settings.program_config_file,
            settings.program_file,
            settings.program_name_file,
        )
    )


def _services_status(settings: Settings) -> ServicesStatus:
    def state(read: Callable[[Settings], ServiceStatus]) -> ServiceStatus:
        try:
            return read(settings)
        except Exception:  # a status report must not raise
            logger.debug("Could not read a service state", exc_info=True)
            return ServiceStatus.UNKNOWN

    acoupi = state(get_acoupi_service_status)
    beat = state(get_acoupi_beat_service_status)
    detail = None
    if acoupi == beat == ServiceStatus.UNKNOWN:
        from acoupi.system.services import has_systemd_user_session

        if not has_systemd_user_session():
            detail = (
                "no systemd user session here (containers, CI): "
                "run acoupi in the foreground with `acoupi run`"
            )
    return ServicesStatus(acoupi=acoupi, beat=beat, detail=detail)


BROKER_WAIT = 0.4
"""Seconds status waits for the broker, in all, counted from its start:
connecting, pinging and queue depths run beside the file and database
reads, so an unreachable or silent broker holds the answer up by about
this much. A broker on the same machine or network connects in tens of
milliseconds."""

LEAST_BROKER_WAIT = 0.25
"""Seconds a broker read started late still gets (after importing the
broker client, or loading the program, on a slow machine), so that a slow
start does not pass for a silent broker."""

_GRACE = 0.1
"""Seconds past the deadline for a read to return its own error (its
timeouts end at the deadline) before it is given up as hung."""

_POLL = 0.02
"""Seconds between two looks at whether another read gave the broker up."""


class BrokerWait:
    """One deadline for every broker read of a status.

    Each read runs in a daemon thread: a read stuck on a dead network
    neither delays the answer beyond the deadline nor the exit of the
    command.

    Parameters
    ----------
    seconds
        How long from now the broker is waited for.
    """

    def __init__(self, seconds: float = BROKER_WAIT):
        self.deadline = time.monotonic() + seconds
        self._given_up = threading.Event()

    def give_up(self) -> None:
        """The broker did not answer: stop waiting for any read of it."""
        self._given_up.set()

    def until(self) -> float:
        """When a read starting now must be over (``time.monotonic()``)."""
        return max(self.deadline, time.monotonic() + LEAST_BROKER_WAIT)

    def run(
        self, read: Callable[..., Any], *args: Any, until: Optional[float] = None
    ) -> tuple[bool, Any]:
        """Call ``read(*args)`` and wait for it until :meth:`until`.

        Parameters
        ----------
        read
            The broker read; it should bound its own timeouts by ``until``.
        *args
            Its arguments.
        until
            The read's deadline, if already taken from :meth:`until`.

        Returns
        -------
        tuple
            ``(True, value)`` when the read returned in time (value None if
            it raised), ``(False, None)`` when it was given up: late, or
            after :meth:`give_up`.
        """
        if self._given_up.is_set():
            return False, None
        until = self.until() if until is None else until
        result: list[Any] = []
        done = threading.Event()

        def call() -> None:
            try:
                result.append(read(*args))
            except Exception:  # broker down: the value is unknown, not zero
                logger.debug("Could not read %s", read.__name__, exc_info=True)
            finally:
                done.set()

        thread = threading.Thread(target=call, name="acoupi-broker-read", daemon=True)
        thread.start()
        end = until + _GRACE
        # Short waits: a read of another part may find the broker down.
        while not done.wait(min(_POLL, max(0.0, end - time.monotonic()))):
            if time.monotonic() >= end or self._given_up.is_set():
                return False, None
        return True, result[0] if result else None


def _known_celery_status(settings: Settings) -> Optional[CeleryStatus]:
    """The workers' status from files; None when the broker must be asked."""
    try:
        return celery_status_from_files(settings)
    except Exception as error:  # a status report must not raise
        return CeleryStatus(state=CeleryState.ERROR, detail=str(error))


def _asked_celery_status(settings: Settings, wait: BrokerWait) -> CeleryStatus:
    """Ask the broker, within the wait."""
    started = time.monotonic()
    until = wait.until()
    answered, status = wait.run(
        celery_status_from_broker,
        settings,
        BROKER_WAIT,
        BROKER_WAIT,
        until,
        until=until,
    )
    if not answered:
        wait.give_up()
        return broker_silent_status(settings, time.monotonic() - started)
    if status is None:  # celery_status_from_broker does not raise
        return CeleryStatus(state=CeleryState.ERROR, detail="Could not ask the broker.")
    if broker_unreachable(status):
        wait.give_up()  # the queue depth would only wait for it too
    return status


def _load(settings: Settings) -> Optional[Any]:
    """The loaded program, or None when it cannot be loaded."""
    if not is_configured(settings):
        return None
    try:
        # Its Celery app is built only if a read needs the broker (a queue
        # depth on RabbitMQ): reading files needs no Celery.
        return load_program(settings, defer_celery=True)
    except Exception:  # loading the program may fail any way
        logger.debug("Could not load the program", exc_info=True)
        return None


def _program_state(
    program: Optional[Any], wait: BrokerWait
) -> tuple[ProgramState, Optional[int], Optional[str]]:
    """Check the program, measure its detection backlog and its pending files."""
    if program is None:
        return ProgramState.ERROR, None, None
    # Every status runs the check: the software's self-tests (a model on a
    # synthetic signal) are for `acoupi check` and deployment start.
    state = check_program(program, self_tests=False)
    from acoupi.runtime.backlog import get_backlog

    _, backlog = wait.run(get_backlog, program)
    from acoupi.runtime.pending import pending_recordings

    pending = pending_recordings(program)
    return state, backlog, None if pending is None else pending.describe()


def _running(settings: Settings, services: ServicesStatus) -> Running:
    from acoupi.system.foreground_runs import find_run
    from acoupi.system.pidfiles import owned_processes

    processes = owned_processes(Path(settings.run_dir))
    if services.acoupi == ServiceStatus.ACTIVE:
        return Running(mode=RunMode.SERVICES, processes=processes)
    run = find_run(settings)
    if run is not None:
        return Running(mode=RunMode.FOREGROUND, pid=run.pid, processes=processes)
    if not processes:
        return Running(mode=RunMode.STOPPED)
    return Running(mode=RunMode.DETACHED, processes=processes)


def _program_part(
    settings: Settings, deployment: Optional[Deployment], wait: BrokerWait
) -> tuple[
    ProgramState,
    Optional[int],
    Optional[str],
    Optional[ScheduleOutlook],
    Optional[Activity],
    List[DiskUsage],
    Optional[str],
]:
    """Everything that needs the loaded program (it is loaded once)."""
    from acoupi.system.activity import read_activity
    from acoupi.system.disk import disk_usage, storage_folders
    from acoupi.system.outlook import program_timezone, schedule_outlook

    program = _load(settings)
    state, backlog, pending = _program_state(program, wait)
    folders = [Path(settings.home)]
    if program is None:
        return state, backlog, pending, None, None, disk_usage(folders), None
    activity: Optional[Activity] = None
    outlook: Optional[ScheduleOutlook] = None
    try:
        activity = read_activity(program, program_timezone(program))
    except Exception:  # a status report must not raise
        logger.debug("Could not read today's activity", exc_info=True)
    try:
        outlook = schedule_outlook(
            program,
            deployment,
            last_recording=activity.last_recording if activity else None,
        )
    except Exception:  # a condition may fail any way
        logger.debug("Could not work out the schedule", exc_info=True)
    folders.extend(storage_folders(program))
    from acoupi.components.disk_guard import storage_problem_of

    storage = storage_problem_of(program)
    return state, backlog, pending, outlook, activity, disk_usage(folders), storage


def _nothing_runs(
    outlook: Optional[ScheduleOutlook], running: Optional[Running]
) -> Optional[ScheduleOutlook]:
    """The outlook, corrected when no process runs to follow the schedule.

    The schedule alone says "recording now" after a crash or a power cut,
    when nothing records; the technician must be told the truth.
    """
    if outlook is None or running is None or running.mode != RunMode.STOPPED:
        return outlook
    if not outlook.recording_now:
        return outlook
    return outlook.model_copy(
        update={
            "recording_now": False,
            "next_recording": None,
            "reason": "nothing is running: start it with `acoupi deployment "
            "start` (services) or `acoupi run` (foreground)",
        }
    )


def _deployment(settings: Settings) -> Optional[Deployment]:
    try:
        return get_current_deployment(settings)
    except Exception:  # no or broken deployment: none running
        return None


def get_status(settings: Settings) -> AcoupiStatus:
    """Return the current state of services, workers, program and deployment.

    Never raises: a part that cannot be read is reported as ``UNKNOWN``
    (services), ``ERROR`` (Celery, program) or ``None`` (deployment).

    Parameters
    ----------
    settings
        The acoupi settings.

    Returns
    -------
    AcoupiStatus
        The state of every part.
    """
    # One wait for the broker, from here: its reads run beside the rest.
    wait = BrokerWait()
    deployment = _deployment(settings)
    known = _known_celery_status(settings)
    if known is None:
        try:
            # Before the threads start: the program's thread may import
            # Celery too (see import_broker_client).
            import_broker_client()
        except Exception as error:  # a status report must not raise
            known = CeleryStatus(state=CeleryState.ERROR, detail=str(error))
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="acoupi-status") as pool:
        celery = (
            None
            if known is not None
            else pool.submit(_asked_celery_status, settings, wait)
        )
        program = pool.submit(_program_part, settings, deployment, wait)
        services = pool.submit(_services_status, settings)
        program_state, backlog, pending, outlook, activity, disk, storage = (
            program.result()
        )
        services_status = services.result()
        try:
            running: Optional[Running] = _running(settings, services_status)
        except Exception:  # a status report must not raise
            logger.debug("Could not tell how acoupi runs", exc_info=True)
            running = None
        return AcoupiStatus(
            services=services_status,
            celery=known if celery is None else celery.result(),
            program=program_state,
            deployment=deployment,
            backlog=backlog,
            running=running,
            outlook=_nothing_runs(outlook, running),
            activity=activity,
            disk=disk,
            pending=pending,
            storage=storage,
        )
