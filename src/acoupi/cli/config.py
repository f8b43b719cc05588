"""``acoupi config``: show and change the program's configuration."""

import difflib
import json
import re
from typing import TYPE_CHECKING, Any, Callable, Optional, Tuple, TypeVar

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

__all__ = [
    "check_saved_config",
    "config",
    "config_get",
    "config_set",
    "config_show",
]

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


def _load_for_set(
    ctx: click.Context, field: str, value: str, is_json: bool
) -> "BaseModel":
    """Load the configuration to change, repairing the field being set.

    The advice for an invalid ``program.json`` is `acoupi config set FIELD
    VALUE`; that must work although the file does not validate. The new
    value is put into the file's raw data first; the result must then
    validate (another invalid field is still reported).
    """
    from pydantic import ValidationError

    from acoupi import system
    from acoupi.system.config.operations import describe_validation_error
    from acoupi.system.exceptions import ConfigurationError

    try:
        return _load_config(ctx)
    except ConfigurationError:
        if not field:
            raise
        settings = get_settings(ctx)
        try:
            raw = json.loads(settings.program_config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise  # not JSON at all: the original error says how to fix it
        schema = system.load_config_schema(settings)
        assert schema is not None  # _load_config raised for a schema-less one
        *parents, last = field.split(".")
        node = raw
        for part in parents:
            node = (
                node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
            )
        new = json.loads(value) if is_json else value
        if isinstance(node, list):
            node[int(last)] = new
        else:
            node[last] = new
        try:
            return schema.model_validate(raw, by_name=True)
        except ValidationError as error:
            raise ConfigurationError(
                f"Invalid configuration in {settings.program_config_file} "
                f"even with {field} set:\n{describe_validation_error(error)}",
                help="Set each listed field with `acoupi config set FIELD "
                "VALUE`, or re-run `acoupi setup`.",
            ) from None


def check_saved_config(ctx: click.Context) -> None:
    """Refuse a saved configuration that cannot work (see ``checks``).

    Used before running: values edited by hand, or saved by an older
    version, are caught here instead of failing every recording.
    """
    from acoupi import system
    from acoupi.system.config.checks import check_config

    schema = system.load_config_schema(get_settings(ctx))
    if schema is not None:
        check_config(_load_config(ctx))


def _to_jsonable(value: Any, show_secrets: bool = False) -> Any:
    """Convert a config value to plain JSON data, secrets masked by default."""
    from acoupi.system.config.serialization import config_to_jsonable

    return config_to_jsonable(value, reveal_secrets=show_secrets)


def _check_field_name(config_value: "BaseModel", field: str) -> None:
    """Refuse a misspelt FIELD with the closest names (exit status 2)."""
    from acoupi.system.config.options import check_known_field

    if field:
        check_known_field(field, type(config_value))


def _get_field(config_value: "BaseModel", field: str) -> Any:
    from acoupi import system

    _check_field_name(config_value, field)
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


def _field_options(func: F) -> F:
    """``[FIELD]`` and ``--field FIELD``: the same thing, typed either way."""
    func = click.argument("field_arg", metavar="[FIELD]", required=False)(func)
    func = click.option(
        "--field",
        default="",
        help="Dot path of the field, e.g. `recording.duration` (or give it "
        "as FIELD). Leave out for the whole configuration.",
    )(func)
    return func


def _one_field(field: str, field_arg: Optional[str]) -> str:
    if field_arg is not None and field and field_arg != field:
        raise CliUsageError(
            f"Two fields given: {field_arg!r} and --field {field!r}.",
            "Give one, e.g. `acoupi config get recording.duration`.",
        )
    return field_arg if field_arg is not None else field


@config.command("get")
@_field_options
@_output_options
@click.pass_context
@needs_setup
def config_get(
    ctx: click.Context,
    field: str,
    field_arg: Optional[str],
    color: bool,
    indent: int,
    show_secrets: bool,
    as_json: bool,
) -> None:
    """Print the configuration, or one FIELD of it, as JSON.

    \b
    Examples:
      acoupi config get
      acoupi config get recording.duration

    Secrets such as passwords are masked unless --show-secrets is given.
    """  # noqa: D301 - \b is click's "keep this paragraph as is" marker
    value = _get_field(_load_config(ctx), _one_field(field, field_arg))
    _print_value(value, color, indent, as_json, show_secrets)


@config.command("show")
@_field_options
@_output_options
@click.pass_context
@needs_setup
def config_show(
    ctx: click.Context,
    field: str,
    field_arg: Optional[str],
    color: bool,
    indent: int,
    show_secrets: bool,
    as_json: bool,
) -> None:
    """Print the whole configuration, or one FIELD, as JSON (same as `get`)."""
    value = _get_field(_load_config(ctx), _one_field(field, field_arg))
    _print_value(value, color, indent, as_json, show_secrets)


def _check_json(value: str) -> None:
    try:
        json.loads(value)
    except ValueError as exc:
        raise CliUsageError(
            f"VALUE is not valid JSON: {exc}.",
            "Quote it for the shell, e.g. "
            '`acoupi config set --json a.list \'["x", "y"]\'`.',
        ) from exc


def _invalid_field_or_value(field: str, exc: Exception) -> CliError:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        reason = describe_validation_error(exc)
    else:
        reason = str(exc) or type(exc).__name__
    target = f"field {field!r}" if field else "the configuration"
    return CliUsageError(f"Invalid value for {target}: {reason}", _SHOW_HELP)


_NUMBER = re.compile(r"^-(\d|\.\d)")
_SET_OPTIONS = ["--field", "--json", "--help"]


def _split_set_args(field: str, values: Tuple[str, ...]) -> Tuple[str, str]:
    """Return (field, value) from ``[FIELD] VALUE`` and ``--field``.

    Unknown options reach here as values (so that ``-5`` is a value, not an
    option); anything that looks like an option but is not a number is
    refused as click would.
    """
    for word in values:
        if word.startswith("-") and len(word) > 1 and not _NUMBER.match(word):
            close = difflib.get_close_matches(word.split("=")[0], _SET_OPTIONS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise CliUsageError(
                f"No such option: {word}{hint}.",
                "See `acoupi config set --help`. A value starting with '-' "
                "goes after `--`, e.g. `acoupi config set name -- -x`.",
            )
    expected = 1 if field else 2
    if len(values) == expected:
        return (field, values[0]) if field else (values[0], values[1])
    if not field and len(values) == 1:
        return "", values[0]  # the whole configuration, as JSON
    raise CliUsageError(
        f"Expected {'VALUE' if field else 'FIELD VALUE'}, got {len(values)} "
        f"argument(s): {' '.join(values) or 'none'}.",
        "For example `acoupi config set recording.duration 10`; quote a "
        "value that has spaces.",
    )


def _check_meaning(updated: "BaseModel", field: str) -> None:
    """Refuse values that cannot work; show warnings about doubtful ones."""
    from acoupi.system.config.checks import ConfigProblemsError, check_config

    # Opening the microphone takes a moment: only when its settings change.
    probe = not field or field.split(".")[0] == "microphone"
    try:
        check_config(updated, probe_device=probe)
    except ConfigProblemsError as error:
        # `config set` changes one field at a time: when the rule ties it to
        # another, that one must change first (interval before duration).
        others = [
            other
            for problem in error.problems
            if field in problem.fields
            for other in problem.fields
            if other != field
        ]
        if others:
            first = list(dict.fromkeys(others))
            error.help = (
                f"Set {' and '.join(first)} first (`acoupi config set "
                f"{first[0]} VALUE`), then {field}: `config set` changes one "
                "field at a time."
            )
        raise


def _restart_advice(ctx: click.Context) -> Optional[str]:
    """How to make a running acoupi use the new configuration, if it runs."""
    from acoupi.cli.running import FOREGROUND_RESTART, describe_running

    running = describe_running(get_settings(ctx))
    if running == "foreground":
        return f"{FOREGROUND_RESTART} to use the new configuration."
    if running == "workers":
        return (
            "A deployment is running: restart the workers with "
            "`acoupi workers restart` to use the new configuration."
        )
    return None


@config.command(
    "set",
    context_settings={"ignore_unknown_options": True},
)
@click.option(
    "--field",
    default="",
    help="Dot path of the field, e.g. `recording.duration` (or give it as "
    "FIELD). Leave out, with a single VALUE, to replace the whole "
    "configuration with VALUE (JSON).",
)
@click.option(
    "--json",
    "is_json",
    is_flag=True,
    help='Parse VALUE as JSON, e.g. for lists: \'["a", "b"]\'.',
)
@click.argument("values", metavar="[FIELD] VALUE", nargs=-1)
@click.pass_context
@needs_setup
def config_set(
    ctx: click.Context, field: str, is_json: bool, values: Tuple[str, ...]
) -> None:
    """Set a configuration FIELD to VALUE.

    The value is checked before it is saved: one that cannot work (a
    negative duration, a sample rate no microphone has) is refused.

    \b
    Examples:
      acoupi config set recording.duration 5
      acoupi config set detector.min_level_db -70
      acoupi config set recording.schedule_start 10:00:00
      acoupi config set --json name '"site-1"'
      acoupi config set "$(cat program.json)"
    """  # noqa: D301 - \b is click's "keep this paragraph as is" marker
    from acoupi import system

    field, value = _split_set_args(field, values)
    settings = get_settings(ctx)
    # A whole configuration can only be given as JSON.
    is_json = is_json or not field
    current = _load_for_set(ctx, field, value, is_json)
    _check_field_name(current, field)
    if is_json:
        _check_json(value)
    try:
        updated = system.set_config_field(current, field, value, is_json=is_json)
    except _FIELD_ERRORS as exc:
        raise _invalid_field_or_value(field, exc) from exc
    _check_meaning(updated, field)
    system.write_config(updated, settings.program_config_file)

    if field:
        shown = json.dumps(_to_jsonable(_get_field(updated, field)))
        click.secho(f"Set {field} = {shown}", fg="green")
    else:
        click.secho("Configuration replaced.", fg="green")
    advice = _restart_advice(ctx)
    if advice:
        click.echo(advice)
