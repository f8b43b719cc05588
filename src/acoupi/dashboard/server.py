"""Serving the dashboard with uvicorn, after the safety checks."""

import logging
import socket
from typing import Optional

from acoupi.dashboard.auth import is_loopback_address, is_loopback_only
from acoupi.system.constants import Settings
from acoupi.system.dashboard_settings import DashboardConfig
from acoupi.system.exceptions import ConfigurationError

__all__ = ["check_bind", "check_port", "serve"]


def check_bind(host: str, config: DashboardConfig) -> None:
    """Refuse to serve beyond loopback without a password.

    Raises
    ------
    ConfigurationError
        If ``host`` is not loopback and no password is set.
    """
    if not is_loopback_only(host) and not config.password_hash:
        # 127.0.0.2 is not the network, but is refused alike: some setups
        # forward such addresses.
        where = (
            f"The dashboard would listen on an address other than 127.0.0.1 ({host}),"
            if is_loopback_address(host)
            else f"The dashboard would be reachable from the network on {host},"
        )
        raise ConfigurationError(
            f"{where} but no password is set.",
            help="Set one with `acoupi dashboard password`, or serve on "
            "127.0.0.1 only (the default).",
        )


def check_port(host: str, port: int) -> None:
    """Fail clearly when ``host:port`` cannot be listened on.

    Raises
    ------
    ConfigurationError
        If the port is taken or the address is not one of this machine's.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise ConfigurationError(
                f"The dashboard cannot listen on {host}:{port}: {error.strerror}.",
                help="Another program (or another dashboard) may use that port: "
                "choose another with --port, or check the address given "
                "with --host.",
            ) from None


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
    check_port(host, port)
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
