"""``acoupi programs``: list the programs that can be set up."""

import click

__all__ = ["programs"]


@click.command(short_help="List the programs that can be set up.")
def programs() -> None:
    """List the built-in and installed programs, one line each.

    Each line gives the short name (for `acoupi setup --program NAME`),
    what the program does, and its module and where it comes from.
    """
    from acoupi.system.program_catalog import list_programs

    entries = list_programs()
    width = max((len(entry.name) for entry in entries), default=0)
    for entry in entries:
        name = click.style(entry.name.ljust(width), bold=True)
        origin = (
            entry.module
            if entry.source == "built-in"
            else (f"{entry.module}, from {entry.source}")
        )
        click.echo(f"{name}  {entry.summary or '(no description)'} [{origin}]")
    click.echo("Set one up with `acoupi setup --program NAME`.")
