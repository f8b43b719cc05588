"""One snapshot of acoupi's state: services, workers, program, deployment.

Every part fails soft: a part that cannot be determined is reported as
``UNKNOWN``/``ERROR``/``None`` instead of raising, so ``acoupi deployment
status`` always answers. The parts are gathered in parallel because the
slow ones (pinging workers, loading the program) do not depend on each
other.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Optional

from pydantic import BaseModel

from acoupi.data import Deployment
from acoupi.system.celery import CeleryState, CeleryStatus, get_celery_status
from acoupi.system.constants import Settings
from acoupi.system.deployments import get_current_deployment
from acoupi.system.programs import ProgramState, check_program, load_program
from acoupi.system.services import (
    ServiceStatus,
    get_acoupi_beat_service_status,
    get_acoupi_service_status,
)

__all__ = ["AcoupiStatus", "ServicesStatus", "get_status", "is_configured"]

logger = logging.getLogger(__name__)


class ServicesStatus(BaseModel):
    """State of the two systemd user units."""

    acoupi: ServiceStatus
    beat: ServiceStatus


class AcoupiStatus(BaseModel):
    """State of the whole acoupi system."""

    services: ServicesStatus
    celery: CeleryStatus
    program: ProgramState
    deployment: Optional[Deployment]
    backlog: Optional[int] = None
    """Recordings waiting for detection; None when unknown."""
    storage: Optional[str] = None
    """Why recording is paused for lack of disk space; None when it is not."""
    pending: Optional[str] = None
    """Recordings written but not yet filed, wherever they wait, and the age
    of the oldest (e.g. ``3 recording(s), oldest written 4.5 min ago``)."""


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

    return ServicesStatus(
        acoupi=state(get_acoupi_service_status),
        beat=state(get_acoupi_beat_service_status),
    )


def _celery_status(settings: Settings) -> CeleryStatus:
    try:
        return get_celery_status(settings)
    except Exception as error:  # a status report must not raise
        return CeleryStatus(state=CeleryState.ERROR, detail=str(error))


class _ProgramFacts(BaseModel):
    state: ProgramState
    backlog: Optional[int] = None
    pending: Optional[str] = None
    storage: Optional[str] = None


def _storage_problem(program: object) -> Optional[str]:
    problem = getattr(program, "storage_problem", None)
    if problem is None:
        return None
    try:
        return problem()
    except Exception as error:  # a status report must not raise
        return f"Disk space unknown: {error}"


def _program_state(settings: Settings) -> _ProgramFacts:
    """Check the program and measure its backlog and disk (one load)."""
    if not is_configured(settings):
        return _ProgramFacts(state=ProgramState.ERROR)
    try:
        program = load_program(settings)
    except Exception:  # loading the program may fail any way
        logger.debug("Could not load the program", exc_info=True)
        return _ProgramFacts(state=ProgramState.ERROR)
    state = check_program(program)
    try:
        from acoupi.runtime.backlog import get_backlog

        backlog: Optional[int] = get_backlog(program)
    except Exception:  # broker down: the backlog is unknown, not zero
        logger.debug("Could not measure the backlog", exc_info=True)
        backlog = None
    from acoupi.runtime.pending import pending_recordings

    pending = pending_recordings(program)
    return _ProgramFacts(
        state=state,
        backlog=backlog,
        pending=None if pending is None else pending.describe(),
        storage=_storage_problem(program),
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
    # Celery replaces its own module while it is first imported; two threads
    # importing it at once can see it half-built ("cannot import name
    # 'Celery'"). Import it here, before the threads start.
    import celery  # noqa: F401

    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="acoupi-status") as pool:
        celery = pool.submit(_celery_status, settings)
        program = pool.submit(_program_state, settings)
        services = pool.submit(_services_status, settings)
        facts = program.result()
        return AcoupiStatus(
            services=services.result(),
            celery=celery.result(),
            program=facts.state,
            deployment=_deployment(settings),
            backlog=facts.backlog,
            pending=facts.pending,
            storage=facts.storage,
        )
