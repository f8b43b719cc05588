"""Set up a program, start a deployment and stop it.

Each step either completes or leaves the previous state in place:
``setup_program`` validates everything before writing any file, and
``start_program`` undoes its deployment when a later step fails, so a
failed start never leaves a deployment that looks active.
"""

import logging
from pathlib import Path
from typing import Any, Optional, Sequence

from acoupi.data import Deployment
from acoupi.system import deployments, programs, services
from acoupi.system.atomic import atomic_write_text
from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.exceptions import ServiceError

__all__ = ["check_setup_args", "setup_program", "start_program", "stop_program"]

logger = logging.getLogger(__name__)


def check_setup_args(
    program_name: str,
    args: Sequence[str] = (),
    extra_options: Sequence[str] = (),
) -> Any:
    """Load the program class and check that every option names a field.

    Cheap and without side effects: callers run it before announcing or
    prompting anything, so a typo is the first and only thing reported.

    Returns
    -------
    type
        The program class.

    Raises
    ------
    ProgramNotFoundError, InvalidProgramError
        If the program cannot be loaded.
    UnknownOptionError
        If an option names no configuration field.
    """
    from acoupi.system.config.options import check_known_options

    program_class = programs.load_program_class(program_name)
    schema = getattr(program_class, "config_schema", None)
    schemas = [CeleryConfig] if schema is None else [schema, CeleryConfig]
    check_known_options(args, schemas, extra=extra_options)
    return program_class


def setup_program(
    settings: Settings,
    program_name: str,
    args: Optional[Sequence[str]] = None,
    prompt: bool = False,
    *,
    extra_options: Sequence[str] = (),
) -> None:
    """Set up ``program_name`` in the acoupi home.

    Every input is validated first (program class, program config, Celery
    config, worker config, celery executable); only then are the files
    written, so a failed setup leaves the previous setup intact.

    Parameters
    ----------
    settings
        The acoupi settings.
    program_name
        Module holding the program class, e.g. ``acoupi.programs.test``.
    args
        Command line arguments with config values, for example
        ``["--name", "x", "--broker_url", "redis://..."]``; they fill both
        the program config and the Celery config.
    prompt
        Ask for program config values that are not given in ``args``.
    extra_options
        Options the caller itself reads from ``args`` (without ``--``);
        they are not configuration fields but are not unknown either.

    Raises
    ------
    ProgramNotFoundError, InvalidProgramError
        If the program cannot be loaded.
    ParameterError
        If a config value is invalid, or an option in ``args`` names no
        configuration field (``UnknownOptionError``, with suggestions).
    ConfigurationError
        If the configuration cannot work (see ``acoupi.system.config.checks``);
        warnings are issued as ``ConfigWarning``.
    """
    from acoupi.system.config import parse_config_from_args, write_config
    from acoupi.system.config.checks import check_config
    from acoupi.system.scripts import get_celery_bin, write_scripts

    args = list(args or [])
    # Before any prompt: a misspelt option must not cost the answers.
    program_class = check_setup_args(program_name, args, extra_options)
    schema = getattr(program_class, "config_schema", None)
    program_config = (
        parse_config_from_args(schema, args, prompt=prompt)
        if schema is not None
        else None
    )
    if program_config is not None:
        check_config(program_config, probe_device=True)
    celery_config = parse_config_from_args(CeleryConfig, args, prompt=False)
    worker_config = program_class.get_worker_config()
    celery_bin = get_celery_bin()

    # Units first: rendering them is the last check (unit names, paths),
    # and it happens before anything else is written.
    services.install_services(settings)
    for directory in (settings.run_dir, settings.log_dir):
        Path(directory).mkdir(parents=True, exist_ok=True)
    write_config(celery_config, settings.celery_config_file)
    write_scripts(worker_config, settings, celery_bin=celery_bin)
    if program_config is not None:
        write_config(program_config, settings.program_config_file)
    atomic_write_text(Path(settings.program_name_file), program_name)
    # The app module last: together with the two files above it makes the
    # home count as configured.
    programs.write_program_file(program_name, settings)


def _snapshot(path: Path) -> Optional[str]:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _restore(path: Path, previous: Optional[str]) -> None:
    if previous is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write_text(path, previous)


def start_program(
    settings: Settings,
    name: str,
    latitude: Optional[float] = None,
    longitude: Optional[float] = None,
) -> Deployment:
    """Start a deployment and the services that run the program.

    Parameters
    ----------
    settings
        The acoupi settings.
    name
        Name of the deployment.
    latitude
        Latitude of the site, in decimal degrees.
    longitude
        Longitude of the site, in decimal degrees.

    Returns
    -------
    Deployment
        The started deployment.

    Raises
    ------
    ServiceError
        If there is no systemd user session (nothing is changed) or the
        services cannot be enabled or started.
    CeleryUnavailableError
        If the broker cannot be reached (nothing is changed).
    DeploymentError
        If a deployment is already running or the values are invalid.
    """
    from acoupi.system.celery import check_broker

    # Checked before anything is written: without a session the services
    # cannot start, and without a broker the workers would crash-loop.
    services.require_user_session()
    check_broker(settings)

    deployment_file = Path(settings.deployment_file)
    previous = _snapshot(deployment_file)
    deployment = deployments.start_deployment(
        settings, name, latitude=latitude, longitude=longitude
    )
    enabled = False
    try:
        program = programs.load_program(settings)
        program.on_start(deployment)
        enabled = True
        services.enable_services(settings)
        services.start_services(settings)
    except BaseException:
        if enabled:
            _undo_services(settings)
        _restore(deployment_file, previous)
        raise
    return deployment


def _undo_services(settings: Settings) -> None:
    # Best effort: the original error is the one worth reporting.
    for step in (services.stop_services, services.disable_services):
        try:
            step(settings)
        except Exception:
            logger.warning("Could not undo %s", step.__name__, exc_info=True)


FOREGROUND_STOP_TIMEOUT = 120.0
"""Seconds a foreground run gets to stop its workers and end its deployment."""


def stop_program(
    settings: Settings, foreground_timeout: float = FOREGROUND_STOP_TIMEOUT
) -> Deployment:
    """Stop whatever runs the deployment, then end it.

    A foreground run (``acoupi run``) is asked to stop: it stops its
    workers, then ends the deployment and prints its summary in its own
    terminal. Otherwise the systemd services are stopped and disabled, the
    deployment ended and the program's ``on_end`` run. Without a systemd
    user session the services cannot be (and are not) running, so the
    deployment is still ended. Workers always stop before the deployment
    ends: no recording is stored under an ended deployment.

    Parameters
    ----------
    settings
        The acoupi settings.
    foreground_timeout
        Seconds to wait for a foreground run to finish.

    Returns
    -------
    Deployment
        The ended deployment.

    Raises
    ------
    DeploymentError
        If no deployment is running (the services are stopped anyway).
    ForegroundRunError
        If a foreground run did not stop in time or cannot be signalled;
        the deployment is then left running.
    """
    from acoupi.system import foreground_runs

    run = foreground_runs.find_run(settings)
    if run is not None:
        foreground_runs.request_stop(settings, run)
        if not foreground_runs.wait_for_exit(run, foreground_timeout):
            raise foreground_runs.ForegroundRunError(
                f"The foreground run (pid {run.pid}) did not stop within "
                f"{foreground_timeout:.0f} s; the deployment is still running.",
                help="Look at its terminal, or stop it with Ctrl-C there or "
                f"`kill {run.pid}`, then run `acoupi deployment stop` again.",
            )
        ended = deployments.load_deployment_from_file(settings.deployment_file)
        if ended.ended_on is not None:
            return ended
        # The run died before ending it: end it here, as for services.
    try:
        if services.has_systemd_user_session():
            services.stop_services(settings)
            services.disable_services(settings)
        else:
            logger.warning("No systemd user session: no services to stop.")
    except ServiceError as error:
        logger.warning("Services not stopped: %s", error.message)
    deployment = deployments.end_deployment(settings)
    program: Any = programs.load_program(settings)
    program.on_end(deployment)
    return deployment
