"""``acoupi dashboard``: serve the local web dashboard, set its password."""

from typing import Optional

import click

from acoupi.cli.context import get_settings
from acoupi.cli.errors import AcoupiGroup

__all__ = ["dashboard"]


@click.group(
    cls=AcoupiGroup,
    invoke_without_command=True,
    short_help="Serve the web dashboard (detections, spectrograms, health).",
)
@click.option(
    "--host",
    help="Address to listen on [default: 127.0.0.1, this device only]. "
    "Any other address (e.g. 0.0.0.0 for the device's network) needs a "
    "password set with `acoupi dashboard password`.",
)
@click.option("--port", type=click.IntRange(1, 65535), help="Port [default: 8000].")
@click.option(
    "--time-expansion",
    type=click.FloatRange(1, 100),
    help="Slow ultrasonic recordings down this many times for listening [default: 10].",
)
@click.pass_context
def dashboard(
    ctx: click.Context,
    host: Optional[str],
    port: Optional[int],
    time_expansion: Optional[float],
) -> None:
    """Serve the dashboard in the foreground until Ctrl-C.

    \b
    Open http://127.0.0.1:8000 on the device (or, with --host 0.0.0.0 and
    a password, http://<device address>:8000 from a phone on its network).
    """  # noqa: D301 - \b keeps click from re-wrapping the lines
    if ctx.invoked_subcommand is not None:
        return
    from acoupi.dashboard.server import check_bind, check_port, serve
    from acoupi.system.dashboard_settings import load_config

    settings = get_settings(ctx)
    config = load_config(settings)
    if time_expansion:
        config.time_expansion = time_expansion
    bind_host = host or config.host
    bind_port = port or config.port
    check_bind(bind_host, config)
    # Before saying where it serves: a taken port must not follow that line.
    check_port(bind_host, bind_port)
    shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::") else bind_host
    click.echo(
        f"Dashboard of {settings.home} on http://{shown}:{bind_port} (Ctrl-C to stop)."
    )
    serve(settings, config, host=bind_host, port=bind_port)


@dashboard.command("password")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The new password (asked for when not given; at least 8 characters).",
)
@click.pass_context
def password_command(ctx: click.Context, password: str) -> None:
    """Set the password asked for when the dashboard is not on 127.0.0.1 only.

    Only a salted hash is stored; setting a new password logs everyone out.
    """
    import secrets

    from acoupi.dashboard.auth import hash_password
    from acoupi.system.dashboard_settings import load_config, save_config

    settings = get_settings(ctx)
    config = load_config(settings)
    try:
        config.password_hash = hash_password(password)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--password") from None
    config.session_key = secrets.token_hex(32)
    path = save_config(settings, config)
    click.echo(f"Dashboard password set (hash stored in {path}).")


def _set_enabled(
    ctx: click.Context,
    enabled: bool,
    host: Optional[str],
    port: Optional[int],
    time_expansion: Optional[float] = None,
) -> None:
    from acoupi.dashboard.server import check_bind
    from acoupi.system.dashboard_settings import load_config, save_config

    settings = get_settings(ctx)
    config = load_config(settings)
    config.enabled = enabled
    if host:
        config.host = host
    if port:
        config.port = port
    if time_expansion:
        config.time_expansion = time_expansion
    if enabled:
        check_bind(config.host, config)
    save_config(settings, config)


@dashboard.command("enable")
@click.option("--host", help="Address to listen on (default: 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: 8000).")
@click.option(
    "--time-expansion",
    type=click.FloatRange(1, 100),
    help="Slow ultrasonic recordings down this many times (default: 10).",
)
@click.pass_context
def enable_command(
    ctx: click.Context,
    host: Optional[str],
    port: Optional[int],
    time_expansion: Optional[float],
) -> None:
    """Start the dashboard with the deployment (as a third systemd service)."""
    _set_enabled(ctx, True, host, port, time_expansion)
    click.echo("The dashboard will start and stop with `acoupi deployment start/stop`.")


@dashboard.command("disable")
@click.pass_context
def disable_command(ctx: click.Context) -> None:
    """Stop starting the dashboard with the deployment (and stop its service)."""
    from acoupi.system.services import remove_dashboard_unit

    _set_enabled(ctx, False, None, None)
    if remove_dashboard_unit(get_settings(ctx)):
        click.echo("Stopped and removed the dashboard's service.")
    click.echo("The dashboard will no longer start with the deployment.")
