"""Start, read and end the current deployment (``deployment.json``).

A deployment is *current* while its file exists and has no ``ended_on``.
Ending a deployment keeps the file (with ``ended_on`` set) as a record of
the last deployment until the next one starts.
"""

from pathlib import Path
from typing import Optional

from pydantic import ValidationError

from acoupi.data import Deployment
from acoupi.system.atomic import atomic_write_text
from acoupi.system.constants import Settings
from acoupi.system.exceptions import DeploymentError
from acoupi.timeutil import now_utc

__all__ = [
    "InvalidDeploymentError",
    "end_deployment",
    "get_current_deployment",
    "load_deployment_from_file",
    "start_deployment",
    "write_deployment_to_file",
]

_START_HELP = "Run `acoupi deployment start` to start one."


class InvalidDeploymentError(DeploymentError, ValueError):
    """Deployment data is invalid: bad user input or a corrupt file.

    A ``ValueError`` too, as upstream documents ``ValueError`` for invalid
    deployment data; a ``DeploymentError`` so the command line shows its
    message and help instead of a traceback.
    """


def _describe(error: ValidationError) -> str:
    """Turn a pydantic error into one plain sentence per invalid field."""
    parts = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"])
        cause = item.get("ctx", {}).get("error")
        # Our own validators already name the field; pydantic's built-in
        # messages ("Input should be a valid number") do not.
        if isinstance(cause, ValueError):
            text = str(cause)
        else:
            text = f"{field}: {item['msg']}" if field else item["msg"]
        parts.append(f"{text}, got {item['input']!r}")
    return "; ".join(parts)


def write_deployment_to_file(deployment: Deployment, path: Path) -> None:
    """Write ``deployment`` as JSON to ``path``, atomically.

    Parameters
    ----------
    deployment
        The deployment to write. Unset optional fields (``latitude``,
        ``longitude``, ``ended_on``) are left out of the file.
    path
        Destination file; its parent directory is created if missing.
    """
    atomic_write_text(Path(path), deployment.model_dump_json(exclude_none=True))


def load_deployment_from_file(path: Path) -> Deployment:
    """Load a deployment from the JSON file at ``path``.

    Parameters
    ----------
    path
        The deployment file.

    Returns
    -------
    Deployment
        The deployment stored in the file.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    InvalidDeploymentError
        If the file is not a valid deployment (also a ``ValueError``).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise _corrupt(path, "it is not text") from error
    try:
        return Deployment.model_validate_json(text)
    except ValidationError as error:
        raise _corrupt(path, _describe(error)) from error


def _corrupt(path: Path, reason: str) -> InvalidDeploymentError:
    return InvalidDeploymentError(
        f"The deployment file {path} is corrupt: {reason}.",
        help=f"Delete {path} and run `acoupi deployment start` to start a new "
        "deployment (stop the services first with `acoupi deployment stop` "
        "if they are running).",
    )


def get_current_deployment(settings: Settings) -> Deployment:
    """Return the deployment that is currently running.

    Parameters
    ----------
    settings
        The acoupi settings (``deployment_file`` is read).

    Returns
    -------
    Deployment
        The current deployment.

    Raises
    ------
    DeploymentError
        If no deployment was started, the last one has ended, or the
        deployment file is corrupt (then an ``InvalidDeploymentError``).
    """
    try:
        deployment = load_deployment_from_file(settings.deployment_file)
    except FileNotFoundError:
        raise DeploymentError(
            "Acoupi has not been deployed yet.", help=_START_HELP
        ) from None
    if deployment.ended_on is not None:
        raise DeploymentError(
            "Acoupi deployment has already ended "
            f"(on {deployment.ended_on:%Y-%m-%d %H:%M:%S %Z}).",
            help=_START_HELP,
        )
    return deployment


def start_deployment(
    settings: Settings,
    name: str,
    latitude: Optional[float] = None,
    longitude: Optional[float] = None,
) -> Deployment:
    """Start a new deployment and write it to ``deployment_file``.

    Parameters
    ----------
    settings
        The acoupi settings.
    name
        Name of the deployment, for example the site name.
    latitude
        Latitude of the site in degrees, between -90 and 90.
    longitude
        Longitude of the site in degrees, between -180 and 180.

    Returns
    -------
    Deployment
        The new deployment.

    Raises
    ------
    DeploymentError
        If a deployment is already running.
    InvalidDeploymentError
        If the name, latitude or longitude is invalid (also a
        ``ValueError``), or the existing deployment file is corrupt.
    """
    try:
        current: Optional[Deployment] = get_current_deployment(settings)
    except InvalidDeploymentError:
        raise
    except DeploymentError:
        current = None
    if current is not None:
        raise DeploymentError(
            f"Acoupi has already been deployed (deployment {current.name!r} "
            f"started on {current.started_on:%Y-%m-%d %H:%M:%S %Z}).",
            help="Run `acoupi deployment stop` first to end the current "
            "deployment, then start the new one.",
        )

    if not name or not name.strip():
        raise InvalidDeploymentError(
            "The deployment name must not be empty.",
            help="Give a name, for example `--name my-site`.",
        )
    try:
        deployment = Deployment(
            name=name,
            started_on=now_utc(),
            latitude=latitude,
            longitude=longitude,
        )
    except ValidationError as error:
        raise InvalidDeploymentError(
            _describe(error),
            help="Latitude must be between -90 and 90 and longitude between "
            "-180 and 180, in decimal degrees.",
        ) from error
    write_deployment_to_file(deployment, settings.deployment_file)
    return deployment


def end_deployment(settings: Settings) -> Deployment:
    """End the current deployment and record its end time.

    Parameters
    ----------
    settings
        The acoupi settings.

    Returns
    -------
    Deployment
        The ended deployment (``ended_on`` set to now).

    Raises
    ------
    DeploymentError
        If no deployment is running.
    """
    try:
        deployment = get_current_deployment(settings)
    except InvalidDeploymentError:
        raise
    except DeploymentError as error:
        raise DeploymentError(
            f"No deployment is running: {error.message}",
            help="Nothing to stop. Run `acoupi deployment status` to see the "
            "state of acoupi.",
        ) from None
    ended = deployment.model_copy(update={"ended_on": now_utc()})
    write_deployment_to_file(ended, settings.deployment_file)
    return ended
