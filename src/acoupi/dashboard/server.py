"""Serving the dashboard with uvicorn, after the safety checks."""

import logging
from typing import Optional

from acoupi.dashboard.auth import is_loopback_only
from acoupi.system.constants import Settings
from acoupi.system.dashboard_settings import DashboardConfig
from acoupi.system.exceptions import ConfigurationError

__all__ = ["check_bind", "serve"]


def check_bind(host: str, config: DashboardConfig) -> None:
    """Refuse to serve beyond loopback without a password.

    Raises
    ------
    ConfigurationError
        If ``host`` is not loopback and no password is set.
    """
    if not is_loopback_only(host) and not config.password_hash:
        raise ConfigurationError(
            f"The dashboard would be reachable from the network on {host}, "
            "but no password is set.",
            help="Set one with `acoupi dashboard password`, or serve on "
            "127.0.0.1 only (the default).",
        )


def serve(
    settings: Settings,
    config: DashboardConfig,
    host: Optional[str] = None,
    port: Optional[int] = None,
) -> None:
    """Serve the dashboard in the foreground until interrupted.

    Parameters
    ----------
    settings
        The installation to show.
    config
        Dashboard settings.
    host, port
        Where to listen; default to the settings' own.
    """
    import uvicorn

    from acoupi.dashboard.app import create_app

    host = host or config.host
    port = port or config.port
    check_bind(host, config)
    app = create_app(settings, config, host=host)
    logging.getLogger("acoupi.dashboard").setLevel(logging.INFO)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        # One process, no reloader: the Pi's memory and CPU are for recording.
        workers=1,
        server_header=False,
    )
