"""Install and drive acoupi's systemd user services.

Two user units run acoupi: one for the Celery workers (``acoupi.service``,
running the generated start/stop/restart scripts) and one for Celery beat
(``acoupi-beat.service``). Their names come from the settings.

Managing them needs a systemd *user* session. Containers and CI usually
have none; on a Raspberry Pi, ``loginctl enable-linger $USER`` keeps the
user manager running without a login, so acoupi starts at boot.
"""

import getpass
import logging
import os
import re
import shutil
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

from acoupi.system.atomic import atomic_write_text
from acoupi.system.constants import Settings
from acoupi.system.exceptions import ServiceError

__all__ = [
    "ServiceStatus",
    "dashboard_enabled",
    "disable_services",
    "enable_services",
    "ensure_linger",
    "get_acoupi_beat_service_status",
    "get_acoupi_service_status",
    "get_service_status",
    "get_user_unit_dir",
    "has_systemd_user_session",
    "install_services",
    "remove_dashboard_unit",
    "services_are_installed",
    "start_services",
    "status_services",
    "stop_services",
    "uninstall_services",
    "write_env_file",
]

logger = logging.getLogger(__name__)

SESSION_CHECK_TIMEOUT = 3.0
"""Seconds to wait for ``systemctl --user`` to answer the session probe."""

SYSTEMCTL_TIMEOUT = 300.0
"""Seconds a ``systemctl`` verb may take; starting workers on a Pi is slow."""

# Unit settings shared by both units.
UNIT_OPTIONS = {
    "restart_sec": 15,
    # 10 starts in 5 minutes: rides out a broker that is still starting at
    # boot, but a crash loop ends as "failed" for a human to look at.
    "start_limit_interval": 300,
    "start_limit_burst": 10,
    "timeout_start_sec": 300,
    "timeout_stop_sec": 120,
}

NO_SESSION_HELP = (
    "There is no systemd user session here (common in containers and CI), "
    "so acoupi cannot run as a service. Run it in the foreground instead "
    "with `acoupi deployment start --foreground` (or `acoupi run`). On a "
    "Raspberry Pi, run `loginctl enable-linger $USER` once (then log in "
    "again or reboot) so that user services run without a login session."
)

_UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\@-]+\.service$")


class ServiceStatus(str, Enum):
    """State of a systemd unit, as reported by ``systemctl is-active``."""

    UNINSTALLED = "uninstalled"
    ACTIVE = "active"
    INACTIVE = "inactive"
    FAILED = "failed"
    RELOADING = "reloading"
    ACTIVATING = "activating"
    DEACTIVATING = "deactivating"
    UNKNOWN = "unknown"


def get_user_unit_dir() -> Path:
    """Return the directory of the user's systemd units.

    ``$XDG_CONFIG_HOME/systemd/user`` when that variable holds an absolute
    path, else ``~/.config/systemd/user``.
    """
    config_home = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config_home) if os.path.isabs(config_home) else Path.home() / ".config"
    return base / "systemd" / "user"


def _systemctl() -> Optional[str]:
    return shutil.which("systemctl")


def has_systemd_user_session() -> bool:
    """Return whether a systemd user manager can be reached.

    False when ``systemctl`` is missing, the user bus is absent or the
    probe does not answer within ``SESSION_CHECK_TIMEOUT`` seconds.
    """
    systemctl = _systemctl()
    if systemctl is None:
        return False
    try:
        result = subprocess.run(
            [systemctl, "--user", "show-environment"],
            capture_output=True,
            timeout=SESSION_CHECK_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _loginctl(*args: str) -> Optional["subprocess.CompletedProcess[str]"]:
    loginctl = shutil.which("loginctl")
    if loginctl is None:
        return None
    try:
        return subprocess.run(
            [loginctl, *args],
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def ensure_linger() -> Optional[str]:
    """Make the user's services run without a login session, if possible.

    Without lingering, systemd stops user services at logout and does not
    start them at boot: a Pi left in the field would stop recording after
    its first reboot. Tries ``loginctl enable-linger`` when it is off.

    Returns
    -------
    str or None
        None when lingering is on; otherwise an instruction for the user.
    """
    user = getpass.getuser()
    instruction = (
        f"User services of {user!r} stop at logout and do not start at boot. "
        f"Run `sudo loginctl enable-linger {user}` once so that acoupi keeps "
        "recording after a reboot."
    )
    state = _loginctl("show-user", user, "--property=Linger", "--value")
    if state is not None and state.returncode == 0 and state.stdout.strip() == "yes":
        return None
    enabled = _loginctl("enable-linger", user)
    if enabled is not None and enabled.returncode == 0:
        logger.info("Enabled lingering for %s.", user)
        return None
    return instruction


def _require_session() -> str:
    systemctl = _systemctl()
    if systemctl is None or not has_systemd_user_session():
        raise ServiceError("No systemd user session is available.", NO_SESSION_HELP)
    return systemctl


def _unit_dir(path: Optional[Path]) -> Path:
    return Path(path) if path is not None else get_user_unit_dir()


def dashboard_enabled(settings: Settings) -> bool:
    """Whether the dashboard runs as a third unit (``acoupi dashboard enable``)."""
    from acoupi.system.dashboard_settings import config_path, load_config

    if not config_path(settings).is_file():
        return False
    return load_config(settings).enabled


def _unit_names(settings: Settings) -> List[str]:
    names = [settings.acoupi_service_file, settings.acoupi_beat_service_file]
    if dashboard_enabled(settings):
        names.append(settings.acoupi_dashboard_service_file)
    for name in names:
        if not _UNIT_NAME.match(name):
            raise ServiceError(
                f"{name!r} is not a valid systemd service name.",
                "Service names are made of letters, digits and `:_.@-` and "
                "end with `.service`; fix ACOUPI_ACOUPI_SERVICE_FILE or "
                "ACOUPI_ACOUPI_BEAT_SERVICE_FILE.",
            )
    return names


def _env_value(value: Any) -> str:
    text = str(value)
    if "\n" in text or "\r" in text:
        raise ServiceError(
            f"The setting value {text!r} contains a line break.",
            "Use paths and values without line breaks.",
        )
    for char in ("\\", '"', "$", "`"):
        text = text.replace(char, "\\" + char)
    return f'"{text}"'


def write_env_file(settings: Settings) -> Path:
    """Write ``settings.env_file``: every setting as ``ACOUPI_<NAME>="value"``.

    The units load it (``EnvironmentFile=``), so anything that builds
    ``Settings()`` inside the services sees this installation's settings.
    Values are double-quoted, with backslash, double quote, dollar and
    backtick escaped, which systemd and bash (``source``) read alike.

    Returns
    -------
    Path
        The file written (mode 0600).
    """
    lines = ["# acoupi settings, written by `acoupi setup`. DO NOT EDIT."]
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        lines.append(f"ACOUPI_{name.upper()}={_env_value(value)}")
    atomic_write_text(settings.env_file, "\n".join(lines) + "\n", mode=0o600)
    return settings.env_file


def _render_units(settings: Settings) -> dict[str, str]:
    # Imported here: status checks must not pay for loading jinja2.
    from acoupi.system.templates import render_template

    acoupi_unit, beat_unit, *dashboard_unit = _unit_names(settings)
    common = {
        "environment_file": settings.env_file.absolute(),
        "working_directory": settings.home.absolute(),
        "log_dir": settings.log_dir.absolute(),
        **UNIT_OPTIONS,
    }
    try:
        units = {
            acoupi_unit: render_template(
                "acoupi.service.jinja2",
                python=Path(sys.executable).absolute(),
                start_script=settings.start_script_path.absolute(),
                stop_script=settings.stop_script_path.absolute(),
                restart_script=settings.restart_script_path.absolute(),
                **common,
            ),
            beat_unit: render_template(
                "acoupi_beat.service.jinja2",
                beat_script=settings.beat_script_path.absolute(),
                acoupi_service=acoupi_unit,
                **common,
            ),
        }
        for name in dashboard_unit:
            units[name] = render_template(
                "acoupi_dashboard.service.jinja2",
                python=Path(sys.executable).absolute(),
                acoupi_service=acoupi_unit,
                **common,
            )
        return units
    except ValueError as error:
        raise ServiceError(
            f"Cannot write the systemd units: {error}",
            "Use an acoupi home whose path has no line breaks and does not "
            "end with a backslash.",
        ) from error


def install_services(settings: Settings, path: Optional[Path] = None) -> None:
    """Install the acoupi units and their environment file.

    Writes ``settings.env_file`` and both units (atomically) into ``path``
    (default :func:`get_user_unit_dir`), then runs ``systemctl --user
    daemon-reload`` when a user session exists, so that systemd sees the
    new units. Without a session the files are still written.

    Raises
    ------
    ServiceError
        If a unit name is invalid or a path cannot be written in a unit.
    """
    units = _render_units(settings)
    write_env_file(settings)
    unit_dir = _unit_dir(path)
    for name, text in units.items():
        atomic_write_text(unit_dir / name, text, mode=0o644)
    _daemon_reload()


def uninstall_services(settings: Settings, path: Optional[Path] = None) -> None:
    """Delete both unit files (missing ones are ignored) and reload systemd."""
    unit_dir = _unit_dir(path)
    for name in (
        settings.acoupi_service_file,
        settings.acoupi_beat_service_file,
        settings.acoupi_dashboard_service_file,
    ):
        (unit_dir / name).unlink(missing_ok=True)
    _daemon_reload()


def remove_dashboard_unit(settings: Settings, path: Optional[Path] = None) -> bool:
    """Stop, disable and delete the dashboard unit (``acoupi dashboard disable``).

    The two other units keep running. Without a systemd user session only
    the file is deleted. Returns whether a unit file was there.
    """
    unit = _unit_dir(path) / settings.acoupi_dashboard_service_file
    if not unit.exists():
        return False
    systemctl = _systemctl()
    if systemctl is not None and has_systemd_user_session():
        for verb in ("stop", "disable"):
            try:
                subprocess.run(
                    [systemctl, "--user", verb, unit.name],
                    capture_output=True,
                    timeout=SYSTEMCTL_TIMEOUT,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                logger.warning("systemctl --user %s %s: %s", verb, unit.name, error)
    unit.unlink(missing_ok=True)
    _daemon_reload()
    return True


def _daemon_reload() -> None:
    if not has_systemd_user_session():
        return
    systemctl = _systemctl()
    if systemctl is None:
        return
    # A failed reload is reported by the next start/enable; not fatal here.
    try:
        result = subprocess.run(
            [systemctl, "--user", "daemon-reload"],
            capture_output=True,
            text=True,
            timeout=SYSTEMCTL_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning("systemctl --user daemon-reload failed: %s", error)
        return
    if result.returncode != 0:
        logger.warning(
            "systemctl --user daemon-reload failed: %s", result.stderr.strip()
        )


def services_are_installed(settings: Settings, path: Optional[Path] = None) -> bool:
    """Return whether every unit file (two, three with the dashboard) exists."""
    unit_dir = _unit_dir(path)
    return all((unit_dir / name).exists() for name in _unit_names(settings))


def _run_verb(
    verb: str,
    settings: Settings,
    path: Optional[Path],
    beat_first: bool,
    **kwargs: Any,
) -> None:
    systemctl = _require_session()
    if not services_are_installed(settings, path):
        install_services(settings, path)
    units = _unit_names(settings)
    # Workers come up before beat queues anything; beat stops first.
    if beat_first:
        units.reverse()
    options: dict[str, Any] = {
        "capture_output": True,
        "text": True,
        "timeout": SYSTEMCTL_TIMEOUT,
    }
    options.update(kwargs)
    options["check"] = False
    for unit in units:
        command = [systemctl, "--user", verb, unit]
        try:
            result = subprocess.run(command, **options)
        except subprocess.TimeoutExpired as error:
            raise ServiceError(
                f"`systemctl --user {verb} {unit}` did not finish within "
                f"{error.timeout:g} s.",
                f"Check `journalctl --user -u {unit}` and the logs in "
                f"{settings.log_dir}.",
            ) from error
        if result.returncode != 0:
            detail = (
                (result.stderr or "").strip() if isinstance(result.stderr, str) else ""
            )
            raise ServiceError(
                f"`systemctl --user {verb} {unit}` failed "
                f"(exit code {result.returncode})" + (f": {detail}" if detail else "."),
                f"Check `systemctl --user status {unit}`, "
                f"`journalctl --user -u {unit}` and the logs in {settings.log_dir}.",
            )


def enable_services(
    settings: Settings, path: Optional[Path] = None, **kwargs: Any
) -> None:
    """Enable both units so they start with the user manager (at boot with linger).

    Units are installed first if missing. ``kwargs`` go to
    ``subprocess.run``.

    Raises
    ------
    ServiceError
        If there is no systemd user session or ``systemctl`` fails.
    """
    _run_verb("enable", settings, path, beat_first=False, **kwargs)


def disable_services(
    settings: Settings, path: Optional[Path] = None, **kwargs: Any
) -> None:
    """Disable both units (beat first).

    Raises
    ------
    ServiceError
        If there is no systemd user session or ``systemctl`` fails.
    """
    _run_verb("disable", settings, path, beat_first=True, **kwargs)


def start_services(
    settings: Settings, path: Optional[Path] = None, **kwargs: Any
) -> None:
    """Start the workers unit, then the beat unit.

    Raises
    ------
    ServiceError
        If there is no systemd user session or ``systemctl`` fails.
    """
    _run_verb("start", settings, path, beat_first=False, **kwargs)


def stop_services(
    settings: Settings, path: Optional[Path] = None, **kwargs: Any
) -> None:
    """Stop the beat unit, then the workers unit.

    Raises
    ------
    ServiceError
        If there is no systemd user session or ``systemctl`` fails.
    """
    _run_verb("stop", settings, path, beat_first=True, **kwargs)


def status_services(
    settings: Settings, path: Optional[Path] = None, **kwargs: Any
) -> List["subprocess.CompletedProcess[Any]"]:
    """Show ``systemctl --user status`` of both units.

    The output goes to the terminal unless ``kwargs`` (passed to
    ``subprocess.run``) capture it. A non-zero exit (e.g. inactive unit)
    is not an error.

    Raises
    ------
    ServiceError
        If there is no systemd user session.
    """
    systemctl = _require_session()
    options: dict[str, Any] = {"timeout": SYSTEMCTL_TIMEOUT, **kwargs, "check": False}
    return [
        subprocess.run([systemctl, "--user", "status", unit], **options)
        for unit in _unit_names(settings)
    ]


def get_service_status(service_name: str) -> ServiceStatus:
    """Return the state of a user unit (``systemctl --user is-active``).

    UNKNOWN when there is no user session or the answer is unrecognised.
    """
    systemctl = _systemctl()
    if systemctl is None or not has_systemd_user_session():
        return ServiceStatus.UNKNOWN
    try:
        result = subprocess.run(
            [systemctl, "--user", "is-active", service_name],
            capture_output=True,
            text=True,
            timeout=SESSION_CHECK_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ServiceStatus.UNKNOWN
    try:
        return ServiceStatus(result.stdout.strip())
    except ValueError:
        return ServiceStatus.UNKNOWN


def get_acoupi_service_status(
    settings: Settings, path: Optional[Path] = None
) -> ServiceStatus:
    """Return the state of the workers unit; UNINSTALLED without its file."""
    if not (_unit_dir(path) / settings.acoupi_service_file).exists():
        return ServiceStatus.UNINSTALLED
    return get_service_status(settings.acoupi_service_file)


def get_acoupi_beat_service_status(
    settings: Settings, path: Optional[Path] = None
) -> ServiceStatus:
    """Return the state of the beat unit; UNINSTALLED without its file."""
    if not (_unit_dir(path) / settings.acoupi_beat_service_file).exists():
        return ServiceStatus.UNINSTALLED
    return get_service_status(settings.acoupi_beat_service_file)
