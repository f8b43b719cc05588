"""``acoupi run``: run acoupi in the foreground, with a live view.

``acoupi deployment start --foreground`` runs the same code through
:func:`run_in_foreground`.
"""

import os
from contextlib import nullcontext
from typing import Any, ContextManager, Dict, Mapping, Optional

import click

from acoupi.cli.base import run_health_checks
from acoupi.cli.context import get_settings, needs_setup
from acoupi.cli.output import make_console, stdout_is_terminal
from acoupi.cli.params import LATITUDE, LONGITUDE

__all__ = ["recover", "run", "run_in_foreground"]


@click.command(short_help="Run acoupi in the foreground with a live view.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds and print a summary. "
    "Without it, run until Ctrl-C or SIGTERM.",
)
@click.option(
    "--live/--no-live",
    default=None,
    help="Show the live view (the default in a terminal) or only print "
    "events, as for a log.",
)
@click.option("--name", help="Name of the deployment to start if none is active.")
@click.option(
    "--latitude",
    type=LATITUDE,
    help="Latitude of the deployment to start (optional).",
)
@click.option(
    "--longitude",
    type=LONGITUDE,
    help="Longitude of the deployment to start (optional).",
)
@click.option(
    "--end-deployment/--keep-deployment",
    default=None,
    help="End the deployment when the run stops. By default it is ended "
    "only if this run started it.",
)
@click.option(
    "--stop-timeout",
    type=click.FloatRange(min=0),
    default=15.0,
    show_default=True,
    help="Seconds running tasks get to finish when stopping.",
)
@click.option(
    "--lean/--no-lean",
    default=True,
    show_default=True,
    help="Run the scheduler (beat) in this process and fork the workers "
    "from it, so that they share its memory: about half the memory of "
    "separate programs. Workers stay separate processes, so recording is "
    "never held up by detection. --no-lean starts beat and each worker as "
    "a program of its own.",
)
@click.option(
    "--dashboard",
    is_flag=True,
    help="Also serve the web dashboard (see `acoupi dashboard`) while running.",
)
@click.pass_context
@needs_setup
def run(
    ctx: click.Context,
    dashboard: bool,
    duration: Optional[float],
    live: Optional[bool],
    name: Optional[str],
    latitude: Optional[float],
    longitude: Optional[float],
    end_deployment: Optional[bool],
    stop_timeout: float,
    lean: bool,
) -> None:
    """Run the configured program in the foreground until stopped.

    Starts a deployment if none is active, processes recordings a crash
    left behind, then runs every worker and the scheduler as child
    processes, restarting any that crashes. Ctrl-C (or SIGTERM) stops them
    all; nothing keeps running afterwards.
    """
    run_in_foreground(
        ctx,
        dashboard=dashboard,
        duration=duration,
        live=live,
        name=name,
        latitude=latitude,
        longitude=longitude,
        end_deployment=end_deployment,
        stop_timeout=stop_timeout,
        embedded_beat=lean,
    )


def run_in_foreground(
    ctx: click.Context,
    *,
    live: Optional[bool] = None,
    dashboard: bool = False,
    health_checks: bool = False,
    embedded_beat: bool = True,
    **options: Any,
) -> None:
    """Run the program in the foreground, then print the run's summary.

    Shared by ``acoupi run`` and ``acoupi deployment start --foreground``
    (which asks for the ``health_checks`` first); ``embedded_beat`` and
    ``options`` go to :func:`acoupi.runtime.foreground.run_foreground`.
    """
    from acoupi.cli.config import check_saved_config
    from acoupi.runtime.foreground import run_foreground
    from acoupi.runtime.plain_console import PlainConsole

    # From before the program is first loaded (the checks load it): a lean
    # run forks its workers, which a thread pool in it would prevent.
    with _children_environment(embedded_beat) as environment:
        if health_checks:
            run_health_checks(ctx)
        check_saved_config(ctx)  # a run that cannot record must not start
        live = stdout_is_terminal() if live is None else live
        # Rich only for the live view: a headless run saves its ~4 MB.
        console = make_console() if live else PlainConsole()
        settings = get_settings(ctx)
        with _maybe_dashboard(settings, dashboard, environment):
            summary = run_foreground(
                settings,
                live=live,
                console=console,
                embedded_beat=embedded_beat,
                environment=environment,
                **options,
            )
    console.print()
    for line in summary.lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if summary.exit_code:
        ctx.exit(summary.exit_code)


def _children_environment(lean: bool) -> ContextManager[Dict[str, str]]:
    """Give the environment the run's children start from, as the user set it.

    A lean run forks its workers from itself, so meanwhile it caps its own
    native thread pools (see :mod:`acoupi.runtime.native_threads`).
    """
    if not lean:
        return nullcontext(dict(os.environ))
    from acoupi.runtime.native_threads import single_thread_pools

    return single_thread_pools()


def _maybe_dashboard(
    settings: Any, enabled: bool, environment: Mapping[str, str]
) -> Any:
    """Serve the dashboard beside the run when asked (checked before starting)."""
    if not enabled:
        return nullcontext()
    from acoupi.dashboard.child import dashboard_process
    from acoupi.dashboard.server import check_bind
    from acoupi.system.dashboard_settings import load_config

    config = load_config(settings)
    check_bind(config.host, config)
    click.echo(f"Dashboard on http://{config.host}:{config.port}")
    return dashboard_process(settings, environment=environment)


@click.command(short_help="Process recordings a crash left behind.")
@click.pass_context
@needs_setup
def recover(ctx: click.Context) -> None:
    """Process the recordings left in the temporary folder by a crash.

    Complete recordings are stored (if the crash came before that) and
    queued for detection or filing; half-written files are moved to a
    quarantine folder. Nothing is deleted. The systemd service runs this
    before starting the workers; `acoupi run` does it by itself.
    """
    from acoupi.runtime.recovery import recover as recover_recordings
    from acoupi.system.programs import load_program

    report = recover_recordings(load_program(get_settings(ctx)))
    click.echo(f"Recovery: {report.describe()}.")
    for failure in report.failed:
        click.secho(f"  could not recover {failure}", fg="yellow", err=True)
