"""``acoupi workers``: manage the Celery workers by hand.

During a deployment the systemd services manage the workers; these
commands are for trying a program out and for debugging.
"""

from typing import TYPE_CHECKING, Any, Optional

import click

from acoupi.cli.base import acoupi
from acoupi.cli.context import get_settings, needs_setup
from acoupi.cli.errors import AcoupiGroup, CliError

if TYPE_CHECKING:
    from acoupi.cli.running import RunningMode

__all__ = ["workers", "purge", "restart", "start", "stop"]


@acoupi.group(
    cls=AcoupiGroup,
    invoke_without_command=True,
    short_help="Start, stop or restart the Celery workers.",
)
@click.pass_context
def workers(ctx: click.Context) -> None:
    """Start, stop and restart the Celery workers, or empty their queues."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


def _check_result(result: Any, action: str) -> None:
    """Fail when the ``celery multi`` process reported an error.

    The system functions may return the ``CompletedProcess`` of the celery
    command; a non-zero exit status means the action did not happen.
    """
    code = getattr(result, "returncode", 0)
    if code:
        raise CliError(
            f"Could not {action} the workers (celery exited with code {code}).",
            "Check that the broker (RabbitMQ) is running and see the worker "
            "logs in ~/.acoupi/log.",
        )


def _refuse_during_foreground_run(
    ctx: click.Context, action: str
) -> Optional["RunningMode"]:
    """Refuse to manage the workers that an ``acoupi run`` supervises.

    The run starts them and restarts any that stops; ``celery multi`` would
    only fight it (or fail for an unrelated reason).

    Returns
    -------
    "workers" or None
        Whether detached workers are running.
    """
    from acoupi.cli.running import FOREGROUND_RESTART, describe_running

    running = describe_running(get_settings(ctx))
    if running == "foreground":
        raise CliError(
            f"Cannot {action} the workers: the foreground run owns them.",
            f"{FOREGROUND_RESTART} to restart them.",
        )
    return running


@workers.command()
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=30,
    show_default=True,
    help="Seconds to wait for every worker to answer; 0 to not wait.",
)
@click.pass_context
@needs_setup
def start(ctx: click.Context, wait_seconds: float) -> None:
    """Start the workers in the background."""
    from acoupi import system

    _refuse_during_foreground_run(ctx, "start")
    click.echo("Starting workers...")
    result = system.start_workers(get_settings(ctx), timeout=wait_seconds or None)
    _check_result(result, "start")
    click.secho("Workers started.", fg="green")


@workers.command()
@click.pass_context
@needs_setup
def stop(ctx: click.Context) -> None:
    """Stop the workers, waiting for running tasks to finish."""
    from acoupi import system

    running = _refuse_during_foreground_run(ctx, "stop")
    click.echo("Stopping workers...")
    # Also when none runs: it clears pidfiles left by a crash or a reboot.
    _check_result(system.stop_workers(get_settings(ctx)), "stop")
    if running is None:
        click.echo("No workers were running.")
    else:
        click.secho("Workers stopped.", fg="green")


@workers.command()
@click.pass_context
@needs_setup
def restart(ctx: click.Context) -> None:
    """Restart the workers, e.g. after `acoupi config set`."""
    from acoupi import system

    _refuse_during_foreground_run(ctx, "restart")
    click.echo("Restarting workers...")
    _check_result(system.restart_workers(get_settings(ctx)), "restart")
    click.secho("Workers restarted.", fg="green")


@workers.command()
@click.pass_context
@needs_setup
def purge(ctx: click.Context) -> None:
    """Delete all tasks waiting in the program's queues."""
    from acoupi import system

    click.echo("Purging task queues...")
    purged = system.purge_queues(get_settings(ctx)) or {}
    for queue, count in purged.items():
        click.echo(f"  {queue}: {count} task(s) deleted")
    click.secho("Task queues purged.", fg="green")
