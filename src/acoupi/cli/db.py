"""``acoupi db``: see the program's database files and reset a damaged one."""

import click

from acoupi.cli.context import get_settings, needs_setup
from acoupi.cli.errors import AcoupiGroup, CliError

__all__ = ["db"]


@click.group(cls=AcoupiGroup, invoke_without_command=True)
@click.pass_context
def db(ctx: click.Context) -> None:
    """See the program's database files, or reset a damaged one."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@db.command()
@click.pass_context
@needs_setup
def status(ctx: click.Context) -> None:
    """List the database files and check each one (read-only)."""
    from acoupi.system.databases import database_states

    states = database_states(get_settings(ctx))
    if not states:
        click.echo("The configured program uses no database file.")
        return
    damaged = 0
    for state in states:
        if state.problem:
            damaged += 1
            click.secho(f"{state.name}: {state.path}: PROBLEM", fg="red")
            click.echo(f"  {state.problem.explain()}")
        elif state.exists:
            click.secho(f"{state.name}: {state.path}: ok", fg="green")
        else:
            click.echo(f"{state.name}: {state.path}: not created yet")
    if damaged:
        ctx.exit(1)


@db.command()
@click.argument("target")
@click.option(
    "--force",
    is_flag=True,
    help="Move the file aside even if it reads as healthy.",
)
@click.pass_context
def reset(ctx: click.Context, target: str, force: bool) -> None:
    """Move a damaged database aside and start a fresh one.

    TARGET is `metadata`, `messages` (the program's databases, see `acoupi
    db status`) or the path of a database file. The old file (and its -wal
    and -shm files) is renamed to `<name>.damaged-<time>` in the same
    folder; nothing is deleted. acoupi creates a fresh, empty file the next
    time it needs one; restart a running deployment afterwards.
    """
    from acoupi.components.sqlite_backup import move_aside
    from acoupi.components.sqlite_errors import (
        DatabaseDamagedError,
        diagnose_database,
    )
    from acoupi.system.databases import resolve_database

    path = resolve_database(get_settings(ctx), target)
    problem = diagnose_database(path)
    if problem is not None and not isinstance(problem, DatabaseDamagedError):
        raise problem  # a wrong path: moving it aside would not help
    if not path.exists():
        click.echo(f"{path} does not exist; a fresh one is created on first use.")
        return
    if problem is None and not force:
        raise CliError(
            f"{path} reads as a healthy database; nothing was moved.",
            f"Use `acoupi db reset --force {target}` to start a fresh one anyway.",
        )
    moved = move_aside(path, "damaged" if problem else "reset")
    click.secho(f"Moved {path} aside to {moved[0]}.", fg="green")
    for extra in moved[1:]:
        click.echo(f"  (and {extra.name})")
    click.echo(
        "A fresh database is created the next time acoupi uses it; restart "
        "a running deployment (`acoupi deployment stop` then `start`, or "
        "stop and start `acoupi run`) so every worker opens the new file."
    )
