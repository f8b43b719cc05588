"""``acoupi config``: show and change the program's configuration."""

import json
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import click

from acoupi.cli.base import acoupi
from acoupi.cli.context import get_settings, needs_setup
from acoupi.cli.errors import (
    AcoupiGroup,
    CliError,
    CliUsageError,
    describe_validation_error,
)
from acoupi.cli.output import print_json

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["config", "config_get", "config_set", "config_show"]

F = TypeVar("F", bound=Callable[..., Any])

# Errors ``get_config_field``/``set_config_field`` raise for a bad field path
# or value (pydantic's ValidationError is a ValueError).
_FIELD_ERRORS = (AttributeError, IndexError, KeyError, TypeError, ValueError)

_SHOW_HELP = "See all fields and their values with `acoupi config show`."


@acoupi.group(cls=AcoupiGroup, invoke_without_command=True)
@click.pass_context
def config(ctx: click.Context) -> None:
    """Show or change the program's configuration."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())
        ctx.exit(0)


def _output_options(func: F) -> F:
    """Options shared by ``config get`` and ``config show``."""
    func = click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print compact, uncoloured JSON for scripts.",
    )(func)
    func = click.option(
        "--show-secrets",
        is_flag=True,
        help="Show passwords and other secrets instead of masking them.",
    )(func)
    func = click.option(
        "-i",
        "--indent",
        type=click.IntRange(min=0),
        default=2,
        show_default=True,
        help="Indentation of the JSON.",
    )(func)
    func = click.option(
        "--color/--no-color",
        default=True,
        show_default=True,
        help="Highlight the JSON (only on a terminal).",
    )(func)
    return func


def _load_config(ctx: click.Context) -> "BaseModel":
    """Load the configuration of the program acoupi is set up with."""
    from acoupi import system

    settings = get_settings(ctx)
    schema = system.load_config_schema(settings)
    if schema is None:
        raise CliError(
            "The configured program has no configuration.",
            "Nothing to show or change.",
        )
    return system.load_config(settings.program_config_file, schema)


def _to_jsonable(value: Any, show_secrets: bool = False) -> Any:
    """Convert a config value to plain JSON data, secrets masked by default."""
    from acoupi.system.config.serialization import config_to_jsonable

    return config_to_jsonable(value, reveal_secrets=show_secrets)


def _get_field(config_value: "BaseModel", field: str) -> Any:
    from acoupi import system

    try:
        return system.get_config_field(config_value, field)
    except _FIELD_ERRORS as exc:
        raise CliUsageError(
            f"Unknown configuration field {field!r}: {exc}", _SHOW_HELP
        ) from exc


def _print_value(
    value: Any, color: bool, indent: int, as_json: bool, show_secrets: bool
) -> None:
    data = _to_jsonable(value, show_secrets)
    if as_json:
        click.echo(json.dumps(data))
        return
    print_json(json.dumps(data, indent=indent), color=color, indent=indent)


@config.command("get")
@click.option(
    "--field",
    default="",
    help="Dot path of the field, e.g. `recording.duration`. "
    "Leave out for the whole configuration.",
)
@_output_options
@click.pass_context
@needs_setup
def config_get(
    ctx: click.Context,
    field: str,
    color: bool,
    indent: int,
    show_secrets: bool,
    as_json: bool,
) -> None:
    """Print the configuration, or one field of it, as JSON.

    Secrets such as passwords are masked unless --show-secrets is given.
    """
    value = _get_field(_load_config(ctx), field)
    _print_value(value, color, indent, as_json, show_secrets)


@config.command("show")
@_output_options
@click.pass_context
@needs_setup
def config_show(
    ctx: click.Context,
    color: bool,
    indent: int,
    show_secrets: bool,
    as_json: bool,
) -> None:
    """Print the whole configuration as JSON (same as `config get`)."""
    _print_value(_load_config(ctx), color, indent, as_json, show_secrets)


def _check_json(value: str) -> None:
    try:
        json.loads(value)
    except ValueError as exc:
        raise CliUsageError(
            f"VALUE is not valid JSON: {exc}.",
            "Quote it for the shell, e.g. "
            '`acoupi config set --json --field a.list \'["x", "y"]\'`.',
        ) from exc


def _invalid_field_or_value(field: str, exc: Exception) -> CliError:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        reason = describe_validation_error(exc)
    else:
        reason = str(exc) or type(exc).__name__
    target = f"field {field!r}" if field else "the configuration"
    return CliUsageError(f"Invalid value for {target}: {reason}", _SHOW_HELP)


def _deployment_is_running(ctx: click.Context) -> bool:
    from acoupi import system
    from acoupi.system.exceptions import DeploymentError

    try:
        system.get_current_deployment(get_settings(ctx))
    except DeploymentError:
        return False
    return True


@config.command("set")
@click.option(
    "--field",
    default="",
    help="Dot path of the field, e.g. `recording.duration`. Leave out to "
    "replace the whole configuration with VALUE (JSON).",
)
@click.option(
    "--json",
    "is_json",
    is_flag=True,
    help='Parse VALUE as JSON, e.g. for lists: \'["a", "b"]\'.',
)
@click.argument("value")
@click.pass_context
@needs_setup
def config_set(ctx: click.Context, field: str, is_json: bool, value: str) -> None:
    """Set a configuration field to VALUE.

    \b
    Examples:
      acoupi config set --field recording.duration 5
      acoupi config set --field recording.schedule_start 10:00:00
      acoupi config set --json --field name '"site-1"'
      acoupi config set "$(cat program.json)"
    """  # noqa: D301 - \b is click's "keep this paragraph as is" marker
    from acoupi import system

    settings = get_settings(ctx)
    current = _load_config(ctx)
    # A whole configuration can only be given as JSON.
    is_json = is_json or not field
    if is_json:
        _check_json(value)
    try:
        updated = system.set_config_field(current, field, value, is_json=is_json)
    except _FIELD_ERRORS as exc:
        raise _invalid_field_or_value(field, exc) from exc
    system.write_config(updated, settings.program_config_file)

    if field:
        shown = json.dumps(_to_jsonable(_get_field(updated, field)))
        click.secho(f"Set {field} = {shown}", fg="green")
    else:
        click.secho("Configuration replaced.", fg="green")
    if _deployment_is_running(ctx):
        click.echo(
            "A deployment is running: restart the workers with "
            "`acoupi workers restart` to use the new configuration."
        )
