"""``acoupi deployment``: start, stop and inspect a deployment."""

import contextlib
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

import click

from acoupi.cli.base import acoupi, run_health_checks
from acoupi.cli.context import get_settings, needs_setup, stdin_is_interactive
from acoupi.cli.errors import AcoupiGroup, CliUsageError
from acoupi.cli.output import make_console
from acoupi.cli.params import LATITUDE, LONGITUDE
from acoupi.system.exceptions import AcoupiError

if TYPE_CHECKING:
    from acoupi.system.constants import Settings

__all__ = ["deployment", "start", "status", "stop"]


@acoupi.group(
    cls=AcoupiGroup,
    invoke_without_command=True,
    short_help="Start, stop and inspect a deployment.",
)
@click.pass_context
def deployment(ctx: click.Context) -> None:
    """Start, stop and inspect a deployment (a recording session at a site)."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


def _optional(kind: click.ParamType, what: str) -> Callable[[str], Optional[float]]:
    """Prompt converter: empty answer means "not given"."""

    def convert(text: str) -> Optional[float]:
        if not str(text).strip():
            return None
        return kind.convert(text, None, None)

    return convert


def _ask_missing(
    name: Optional[str],
    latitude: Optional[float],
    longitude: Optional[float],
) -> tuple[str, Optional[float], Optional[float]]:
    """Ask for missing values in a terminal; require ``--name`` otherwise."""
    if not stdin_is_interactive():
        if name is None:
            raise CliUsageError(
                "No deployment name given.",
                "Pass one with --name, e.g. `acoupi deployment start --name "
                "my-site --latitude 51.5 --longitude -0.1` (latitude and "
                "longitude are optional).",
            )
        return name, latitude, longitude

    if name is None:
        name = click.prompt("Enter the name of the deployment", type=str)
    ask: dict[str, tuple[click.ParamType, Any]] = {
        "latitude": (LATITUDE, latitude),
        "longitude": (LONGITUDE, longitude),
    }
    answers: dict[str, Optional[float]] = {}
    for what, (kind, given) in ask.items():
        answers[what] = given
        if given is None:
            answers[what] = click.prompt(
                f"Enter the {what} of the deployment (empty to skip)",
                default="",
                show_default=False,
                value_proc=_optional(kind, what),
            )
    return str(name), answers["latitude"], answers["longitude"]


def _fail_if_running(ctx: click.Context) -> None:
    """Refuse early, before prompting, when a deployment already runs."""
    from acoupi import system
    from acoupi.system.deployments import InvalidDeploymentError
    from acoupi.system.exceptions import DeploymentError

    try:
        current = system.get_current_deployment(get_settings(ctx))
    except InvalidDeploymentError:
        raise  # a corrupt file: its own message says how to fix it
    except DeploymentError:
        return
    raise DeploymentError(
        f"Acoupi has already been deployed (deployment {current.name!r} is running).",
        help="Run `acoupi deployment stop` first, then start the new deployment.",
    )


@deployment.command()
@click.option(
    "--name",
    help="Name of the deployment, e.g. the site. Asked for in a terminal.",
)
@click.option(
    "--latitude",
    type=LATITUDE,
    help="Latitude of the site in decimal degrees (optional).",
)
@click.option(
    "--longitude",
    type=LONGITUDE,
    help="Longitude of the site in decimal degrees (optional).",
)
@click.option(
    "--check/--no-check",
    default=True,
    show_default=True,
    help="Run the health checks before starting.",
)
@click.option(
    "--foreground",
    is_flag=True,
    help="Run here, with a live view, until Ctrl-C instead of as systemd "
    "services (for machines without a systemd user session).",
)
@click.pass_context
@needs_setup
def start(
    ctx: click.Context,
    name: Optional[str],
    latitude: Optional[float],
    longitude: Optional[float],
    check: bool,
    foreground: bool,
) -> None:
    """Start a deployment: run the checks and start the acoupi services.

    In a terminal, missing values are asked for; otherwise --name is
    required.
    """
    from acoupi import system

    _fail_if_running(ctx)
    # Before the questions and the checks, which cannot help; a missing
    # --name (a usage error, raised by _ask_missing) is still told first.
    if not foreground and (name is not None or stdin_is_interactive()):
        from acoupi.system.services import require_user_session

        require_user_session()
    name, latitude, longitude = _ask_missing(name, latitude, longitude)
    if foreground:
        from acoupi.cli.run import run_in_foreground

        # The checks load the program: in the run, they are its first load.
        run_in_foreground(
            ctx,
            health_checks=check,
            name=name,
            latitude=latitude,
            longitude=longitude,
        )
        return
    if check:
        run_health_checks(ctx)
    click.echo("Starting acoupi...")
    system.start_program(get_settings(ctx), name, latitude, longitude)
    click.secho(f"Acoupi started: deployment {name!r} is running.", fg="green")
    from acoupi.system.services import ensure_linger

    warning = ensure_linger()
    if warning is not None:
        click.secho(f"Warning: {warning}", fg="yellow", err=True)
    click.echo("See how it is doing with `acoupi deployment status`.")


def _why_not_running(settings: "Settings") -> str:
    """Say in plain words why no deployment is running."""
    from acoupi.system.deployments import load_deployment_from_file

    try:
        last = load_deployment_from_file(settings.deployment_file)
    except (FileNotFoundError, AcoupiError):
        return "No deployment is running: none has been started yet."
    if last.ended_on is None:
        return "No deployment is running."
    return (
        f"No deployment is running: the last one, {last.name!r}, ended on "
        f"{last.ended_on:%Y-%m-%d at %H:%M} UTC."
    )


def _fail_if_not_running(ctx: click.Context) -> None:
    from acoupi import system
    from acoupi.system.deployments import InvalidDeploymentError
    from acoupi.system.exceptions import DeploymentError

    settings = get_settings(ctx)
    try:
        system.get_current_deployment(settings)
    except InvalidDeploymentError:
        raise  # a corrupt file: its own message says how to fix it
    except DeploymentError:
        raise DeploymentError(
            _why_not_running(settings),
            help="Nothing to stop. Start a deployment with `acoupi deployment "
            "start`; `acoupi deployment status` shows what acoupi is doing.",
        ) from None


@deployment.command()
@click.pass_context
@needs_setup
def stop(ctx: click.Context) -> None:
    """Stop the deployment and the acoupi services."""
    from acoupi import system
    from acoupi.system.exceptions import AcoupiError
    from acoupi.system.foreground_runs import find_run

    settings = get_settings(ctx)
    _fail_if_not_running(ctx)
    run = find_run(settings)
    if run is not None:
        click.echo(
            f"Stopping the foreground run (pid {run.pid}); it ends the "
            "deployment and prints its summary in its own terminal..."
        )
    else:
        click.echo("Stopping acoupi...")
    ended = system.stop_program(settings)
    if run is not None:
        click.secho(
            f"Acoupi stopped: deployment {ended.name!r} ended at "
            f"{ended.ended_on:%Y-%m-%d %H:%M:%S %Z}.",
            fg="green",
        )
        return
    try:
        system.purge_queues(settings)
    except AcoupiError as exc:
        # The deployment has ended; leftover queued tasks are harmless.
        click.secho(f"Warning: could not empty the task queues: {exc}", fg="yellow")
    click.secho("Acoupi stopped.", fg="green")


@deployment.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
@needs_setup
def status(ctx: click.Context, as_json: bool) -> None:
    """Show the services, workers, program health and deployment."""
    from acoupi import system

    # The status runs the program's health check, which may print; keep
    # stdout for the status itself so `--json` output stays parseable.
    with contextlib.redirect_stdout(sys.stderr):
        current = system.get_status(get_settings(ctx))
    if as_json:
        click.echo(current.model_dump_json(indent=2))
        return
    from acoupi.cli.status_view import render_status

    render_status(current, make_console())
