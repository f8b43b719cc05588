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
from acoupi.cli.notices import show_plain_warnings

__all__ = ["acoupi", "celery", "check", "run_health_checks", "setup"]

DEFAULT_PROGRAM = "acoupi.programs.test"

_OWN = ("program", "prompt", "no-prompt")
"""Options of ``acoupi setup`` itself, suggested for misspelt ones."""


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
    show_plain_warnings()
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
    help="The program: a short name from `acoupi programs` (e.g. "
    "`triggered`) or its Python module.",
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
    `--recording.duration 5` or `--broker_url pyamqp://guest@host//`; an
    option that names no configuration field is an error. `acoupi
    programs` lists the programs.
    """
    from acoupi import system
    from acoupi.system.exceptions import ProgramNotFoundError
    from acoupi.system.program_catalog import describe_available, resolve_program_name

    settings = get_settings(ctx)
    if prompt is None:
        prompt = stdin_is_interactive()
    from acoupi.system.lifecycle import check_setup_args

    program = resolve_program_name(program)
    try:
        # Before the announcement: a typo must not read as a setup under way.
        check_setup_args(program, list(args), extra_options=_OWN)
        click.echo(f"Setting up {program}...")
        system.setup_program(
            settings, program, args=list(args), prompt=prompt, extra_options=_OWN
        )
    except ProgramNotFoundError as error:
        error.help = describe_available(program)
        raise
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
    from acoupi.system.config.checks import check_config
    from acoupi.system.databases import database_states
    from acoupi.system.exceptions import HealthCheckError

    settings = get_settings(ctx)
    click.echo("Running health checks...")
    # Before loading the program: a damaged database may stop it loading,
    # and the outbox is only opened when a message is stored.
    damaged = [state for state in database_states(settings) if state.problem]
    if damaged:
        outbox_only = all(state.name == "messages" for state in damaged)
        raise HealthCheckError(
            " ".join(state.describe_problem() for state in damaged),
            "Recording goes on meanwhile, but no message is stored or sent."
            if outbox_only
            else "Nothing can be stored until this is fixed.",
        )
    program = system.load_program(settings)
    if program.config is not None:
        check_config(program.config)  # the device itself: program.check
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
