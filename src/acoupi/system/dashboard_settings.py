"""Settings of the dashboard of an installation: ``<home>/config/dashboard.json``.

Written only by the command line (``acoupi dashboard password|enable|
disable``), atomically and readable by its owner only, since it holds the
password hash and the key that signs session cookies.
"""

import secrets
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, Field, ValidationError

from acoupi.system.atomic import atomic_write_text
from acoupi.system.constants import Settings
from acoupi.system.exceptions import ConfigurationError

__all__ = ["DashboardConfig", "config_path", "load_config", "save_config"]

DEFAULT_PORT = 8000


class DashboardConfig(BaseModel):
    """How the dashboard is served."""

    enabled: bool = False
    """Start the dashboard with the deployment (a third systemd unit)."""

    host: str = "127.0.0.1"
    """Address to listen on; anything but loopback needs a password."""

    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)

    time_expansion: float = Field(default=10.0, ge=1, le=100)
    """Playback of ultrasonic recordings is slowed down this many times."""

    ultrasonic_from_hz: int = Field(default=96000, ge=1)
    """Recordings at or above this sample rate are played time-expanded."""

    password_hash: Optional[str] = None
    """scrypt hash of the password (see :mod:`acoupi.dashboard.auth`)."""

    session_key: str = Field(default_factory=lambda: secrets.token_hex(32))
    """Signs session cookies; replaced when the password changes."""


def config_path(settings: Settings) -> Path:
    """Return where the dashboard settings of ``settings.home`` live."""
    return Path(settings.home) / "config" / "dashboard.json"


def load_config(settings: Settings) -> DashboardConfig:
    """Read the dashboard settings; defaults when the file does not exist.

    Raises
    ------
    ConfigurationError
        If the file exists but is not valid.
    """
    path = config_path(settings)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return DashboardConfig()
    try:
        return DashboardConfig.model_validate_json(text)
    except ValidationError as error:
        raise ConfigurationError(
            f"The dashboard settings in {path} are not valid: "
            f"{error.errors()[0]['msg']}.",
            help=f"Delete {path} to go back to the defaults, then set a "
            "password again with `acoupi dashboard password`.",
        ) from error


def save_config(settings: Settings, config: DashboardConfig) -> Path:
    """Write the dashboard settings atomically (mode 0600)."""
    path = config_path(settings)
    atomic_write_text(path, config.model_dump_json(indent=2) + "\n", mode=0o600)
    return path
