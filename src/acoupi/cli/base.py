"""The ``acoupi`` root command and its top-level commands.

Only click and light acoupi modules are imported at module level: the
system functions (and with them Celery and the program's dependencies)
are imported inside the commands that use them, so ``acoupi --help``
starts quickly on a Raspberry Pi.
"""

from typing import Optional

import click

from acoupi import __version__
from acoupi.cli.context import get_settings, needs_setup, stdin_is_interactive
from acoupi.cli.errors import AcoupiGroup

__all__ = ["acoupi", "celery", "check", "run_health_checks", "setup"]

DEFAULT_PROGRAM = "acoupi.programs.test"


@click.group(
    cls=AcoupiGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(
    __version__,
    "--version",
    prog_name="acoupi",
    message="%(prog)s %(version)s",
    help="Show the acoupi version and exit.",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="ACOUPI_DEBUG",
    help="Show the full traceback when a command fails (or set ACOUPI_DEBUG=1).",
)
@click.pass_context
def acoupi(ctx: click.Context, debug: bool) -> None:
    """Acoupi: autonomous bioacoustic monitoring.

    \b
    Typical use:
      acoupi setup --program <program>   configure a program
      acoupi check                       run its health checks
      acoupi deployment start            start recording
      acoupi deployment status           see what is running
      acoupi deployment stop             stop recording
    """  # noqa: D301 - \b is click's "keep this paragraph as is" marker
    if ctx.invoked_subcommand is None:
        # A bare ``acoupi`` is a request for help, not a mistake.
        click.echo(ctx.get_help())
        ctx.exit(0)
    from acoupi.system.permissions import restrict_umask

    # Before anything is written or spawned: workers inherit it.
    restrict_umask()
    get_settings(ctx)


@acoupi.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.option(
    "--program",
    default=DEFAULT_PROGRAM,
    show_default=True,
    help="Python module of the program to run.",
)
@click.option(
    "--prompt/--no-prompt",
    default=None,
    help="Ask for each configuration value. [default: prompt only when "
    "run in a terminal]",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def setup(
    ctx: click.Context,
    program: str,
    prompt: Optional[bool],
    args: tuple[str, ...],
) -> None:
    """Set up acoupi to run a program.

    Any further options set configuration values, e.g. `--name foo`,
    `--recording.duration 5` or `--broker_url pyamqp://guest@host//`.
    """
    from acoupi import system

    settings = get_settings(ctx)
    if prompt is None:
        prompt = stdin_is_interactive()
    click.echo("Collecting program files. This can take a minute, be patient...")
    system.setup_program(settings, program, args=list(args), prompt=prompt)
    click.secho(f"Acoupi is set up to run {program}.", fg="green")
    click.echo(f"Its files are in {settings.home}.")
    click.echo(
        "Next: run `acoupi check`, then start recording with `acoupi deployment start`."
    )


def run_health_checks(ctx: click.Context) -> None:
    """Load the configured program and run its health checks.

    Raises
    ------
    HealthCheckError
        If a check fails; the command line shows its message.
    """
    from acoupi import system

    settings = get_settings(ctx)
    click.echo("Running health checks...")
    program = system.load_program(settings)
    program.check(program.config)
    click.secho("Health checks passed.", fg="green")


@acoupi.command()
@click.pass_context
@needs_setup
def check(ctx: click.Context) -> None:
    """Check that the program's configuration and devices work."""
    run_health_checks(ctx)


@acoupi.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "allow_interspersed_args": False,
    },
    # ``acoupi celery --help`` shows celery's help, and options such as
    # ``status --json`` reach celery instead of being rejected by click.
    add_help_option=False,
    short_help="Run a celery command on acoupi's app.",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
@needs_setup
def celery(ctx: click.Context, args: tuple[str, ...]) -> None:
    """Run a celery command on acoupi's app, e.g. `acoupi celery status --json`."""
    from acoupi import system

    result = system.run_celery_command(get_settings(ctx), list(args))
    ctx.exit(getattr(result, "returncode", 0) or 0)
