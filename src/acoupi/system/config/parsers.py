"""Build a configuration from command line arguments and interactive prompts.

Every field of a schema is read from ``--<name> VALUE`` where ``<name>`` is
the dotted path of the field (``--recording.duration 5``). List items are
``--<name>.0 a --<name>.1 b``; tuples take several values
(``--<name> 1 2``). Arguments that match no field are ignored, because the
same list is read against several schemas (program and Celery settings).

With ``prompt=True`` the user confirms or types each simple value (fields
marked ``NoUserPrompt`` excepted); without it, a missing required value is
an error, and a missing optional one takes its default.
"""

import copy
import datetime
import re
from enum import Enum
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Callable,
    Dict,
    List,
    Literal,
    Optional,
    Protocol,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    get_origin,
    runtime_checkable,
)

import click
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_extra_types.timezone_name import TimeZoneName

from acoupi.programs.core.base import NoUserPrompt
from acoupi.system.config.checks import find_config_problems
from acoupi.system.config.converters import (
    TIME_FORMAT,
    cast_to_bool,
    choice_converter,
    converter_for,
    parse_date,
    parse_datetime,
    parse_time,
    to_float,
    to_int,
    to_path,
    to_secret,
)
from acoupi.system.config.errors import describe_validation_error, error_fields
from acoupi.system.config.serialization import SECRET_MASK
from acoupi.system.config.typeinfo import (
    annotated_metadata,
    item_annotation,
    model_class,
    unwrap,
)
from acoupi.system.exceptions import ParameterError

__all__ = ["parse_config_from_args"]

A = TypeVar("A", bound=BaseModel)


class FieldParser(Protocol):
    """Reads one field: from ``args``, its default, or the user."""

    def __call__(
        self,
        args: List[str],
        name: str,
        field: FieldInfo,
        dtype: Any,
        prompt: bool = True,
    ) -> Any:
        """Return the field value; ``name`` is the dotted argument name."""
        ...


@runtime_checkable
class CustomFieldParser(Protocol):
    """A model class that reads its own configuration.

    The parser calls ``setup`` instead of reading the model field by field
    (for example to let the user pick a microphone from a list).
    """

    @classmethod
    def setup(
        cls, args: List[str], prompt: bool = True, prefix: str = ""
    ) -> Optional[BaseModel]:
        """Return the configured model (or None to leave it unset)."""
        ...


# ---------------------------------------------------------------- fields


def get_field_default(field: FieldInfo) -> Any:
    """Return a field's default value (calling its factory), or None."""
    if field.default_factory is not None:
        if field.default_factory_takes_validated_data:
            return None
        return field.default_factory()  # type: ignore[call-arg]
    return None if field.default is PydanticUndefined else field.default


def get_field_dtype(field: FieldInfo) -> Any:
    """Return the type a field's command line value is read as.

    ``Annotated`` and ``Optional`` are stripped (of other unions the first
    member counts), generics give their origin (``list``, ``tuple``), and
    ``Literal[...]`` is returned as is.
    """
    inner = unwrap(field.annotation)
    origin = get_origin(inner)
    if origin is None or origin is Literal:
        return inner
    return origin


def should_prompt(field: FieldInfo, prompt: bool = True) -> bool:
    """Whether to ask the user for this field (never if ``NoUserPrompt``)."""
    if not prompt:
        return False
    metadata = [*field.metadata, *annotated_metadata(field.annotation)]
    return not any(
        item is NoUserPrompt or isinstance(item, NoUserPrompt) for item in metadata
    )


def _with_default(field: FieldInfo, default: Any) -> FieldInfo:
    """Copy of ``field`` whose default is ``default``."""
    changed = copy.copy(field)
    changed.default = default
    changed.default_factory = None
    return changed


def _missing(name: str, usage: Optional[str] = None) -> ParameterError:
    usage = usage or f"--{name} VALUE"
    return ParameterError(
        value=name,
        message=f"Missing value for {name}.",
        help=f"Pass it as {usage} or run setup with --prompt.",
    )


# ------------------------------------------------------- reading arguments


def _option_values(args: Sequence[str], name: str) -> Optional[List[str]]:
    """Values after the last ``--name`` (or ``--name=value``); None if absent.

    Matching is exact: unlike argparse, no abbreviations are accepted.
    """
    flag = f"--{name}"
    found: Optional[List[str]] = None
    position = 0
    while position < len(args):
        arg = args[position]
        position += 1
        if arg.startswith(flag + "="):
            found = [arg[len(flag) + 1 :]]
        elif arg == flag:
            found = []
            while position < len(args) and not args[position].startswith("--"):
                found.append(args[position])
                position += 1
    return found


def _indices(args: Sequence[str], name: str) -> List[int]:
    """Positions ``N`` given as ``--name.N`` or ``--name.N.<sub-field>``."""
    pattern = re.compile(rf"--{re.escape(name)}\.(\d+)(?:[.=]|$)")
    return sorted(
        {int(match.group(1)) for arg in args if (match := pattern.match(arg))}
    )


def _has_args(args: Sequence[str], name: str) -> bool:
    flag = f"--{name}"
    return any(arg == flag or arg.startswith(flag + ".") for arg in args)


def _convert(converter: Callable[[Any], Any], value: Any, name: str) -> Any:
    """Apply a converter, naming the field in any error."""
    try:
        return converter(value)
    except ParameterError as error:
        raise ParameterError(
            value=name,
            message=f"Invalid value for {name}: {error.message}",
            help=error.help or f"Pass it as --{name} VALUE.",
        ) from None
    except (ValueError, TypeError) as error:
        raise ParameterError(
            value=name,
            message=f"Invalid value for {name}: {value!r} ({error}).",
            help=f"Pass it as --{name} VALUE.",
        ) from None


def parse_simple_field_from_args(
    args: List[str],
    name: str,
    field: FieldInfo,
    dtype: Callable[[Any], Any],
    raise_on_missing: bool = True,
) -> Any:
    """Read a single value from ``--name VALUE``, falling back to the default.

    Parameters
    ----------
    args
        Command line arguments.
    name
        Dotted field name.
    field
        The field (for its default).
    dtype
        Converter from text to the field's type (``int``, ``parse_time``...).
    raise_on_missing
        Raise if there is neither a value nor a default and the field is
        required. An optional field without a value gives None.

    Raises
    ------
    ParameterError
        If the value is missing or cannot be converted.
    """
    values = _option_values(args, name)
    if values is not None:
        if not values:
            raise ParameterError(
                value=name,
                message=f"Missing value after --{name}.",
                help=f"Pass it as --{name} VALUE.",
            )
        return _convert(dtype, values[0], name)
    default = get_field_default(field)
    if default is None and raise_on_missing and field.is_required():
        raise _missing(name)
    return default


# ------------------------------------------------------------- prompting


def _show(value: Any) -> str:
    """How a current value is shown in prompts (never a secret)."""
    if isinstance(value, SecretStr):
        return repr(SECRET_MASK)
    if isinstance(value, datetime.time):
        return value.strftime(TIME_FORMAT)
    if isinstance(value, (str, int, float)):
        return repr(value)
    return str(getattr(value, "value", value))


def _as_default_text(value: Any) -> str:
    """Text that converts back to ``value`` when the user presses Enter."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(getattr(value, "value", value))


def _prompt_text(name: str, field: FieldInfo, converter: Any, extra: str = "") -> str:
    text = f"Please provide a value for {name}."
    choices = getattr(converter, "choices", None)
    if choices:
        text += f" [Choices: {', '.join(choices)}]"
    if extra:
        text += f" [{extra}]"
    if field.description:
        text += f" [Help: {field.description}]"
    return text


def _click_proc(
    converter: Callable[[Any], Any], allow_empty: bool
) -> Callable[[str], Any]:
    """Wrap a converter so click shows its errors and asks again."""

    def proc(raw: Any) -> Any:
        if allow_empty and raw == "":
            return None
        try:
            return converter(raw)
        except ParameterError as error:
            raise click.BadParameter(
                f"{error.message} {error.help or ''}".strip()
            ) from None
        except (ValueError, TypeError) as error:
            raise click.BadParameter(str(error)) from None

    return proc


def _ask(
    name: str,
    field: FieldInfo,
    converter: Callable[[Any], Any],
    value: Any,
    secret: bool = False,
    extra: str = "",
) -> Any:
    """Confirm the current value, or ask the user for a new one."""
    if value is not None and click.confirm(
        f"Would you like to set {name}={_show(value)}?", default=True
    ):
        return value
    allow_empty = value is None and not field.is_required()
    if value is not None:
        default: Optional[str] = _as_default_text(value)
    else:
        default = "" if allow_empty else None
    if allow_empty:
        extra = f"{extra}, " if extra else ""
        extra += "leave empty to skip"
    return click.prompt(
        _prompt_text(name, field, converter, extra),
        default=default,
        value_proc=_click_proc(converter, allow_empty),
        hide_input=secret,
        show_default=not secret and bool(default),
    )


# ---------------------------------------------------------- field parsers


def _timezone_hint(raw: Any) -> str:
    import difflib
    import zoneinfo

    close = difflib.get_close_matches(str(raw), zoneinfo.available_timezones(), n=1)
    return f" Did you mean {close[0]}?" if close else ""


def _checked(converter: Callable[[Any], Any], field: FieldInfo) -> Callable[[Any], Any]:
    """Wrap a converter so the value also meets the field's own rules.

    Types that validate themselves (a timezone name) and constraints
    (``Field(gt=0)``) are checked as soon as the value is read, so a
    prompt can ask again at once instead of failing after every question.
    """
    annotation: Any = field.annotation
    if field.metadata:
        annotation = Annotated[(annotation, *field.metadata)]  # type: ignore[valid-type]
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(annotation)
    except Exception:  # a type pydantic cannot check alone: the model will
        return converter
    is_timezone = isinstance(unwrap(field.annotation), type) and issubclass(
        unwrap(field.annotation), TimeZoneName
    )

    def convert(raw: Any) -> Any:
        value = converter(raw)
        if value is None:
            return value
        try:
            adapter.validate_python(value)
        except ValidationError as error:
            reason = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
            hint = _timezone_hint(raw) if is_timezone else ""
            raise ParameterError(
                value=str(raw),
                message=f"{raw!r} is not valid: {reason.rstrip('.')}.{hint}",
            ) from None
        return value

    # Prompts list the converter's choices (Literal and Enum fields).
    convert.choices = getattr(converter, "choices", None)  # type: ignore[attr-defined]
    return convert


def build_simple_field_parser(dtype: Callable[[Any], Any]) -> FieldParser:
    """Build a parser for a field read as one value.

    The value is checked against the field's type and constraints as soon
    as it is read (see ``_checked``).

    Parameters
    ----------
    dtype
        Converter from text to the value, such as ``int`` or ``parse_time``;
        it raises ``ParameterError`` or ``ValueError`` on bad text.
    """
    base_converter = dtype

    def parser(
        args: List[str],
        name: str,
        field: FieldInfo,
        dtype: Any,
        prompt: bool = True,
    ) -> Any:
        converter = _checked(base_converter, field)
        interactive = should_prompt(field, prompt)
        value = parse_simple_field_from_args(
            args, name, field, converter, raise_on_missing=not interactive
        )
        if not interactive:
            return value
        return _ask(name, field, converter, value)

    return parser


def parse_secret_str_field(
    args: List[str],
    name: str,
    field: FieldInfo,
    dtype: Any = SecretStr,
    prompt: bool = True,
) -> Optional[SecretStr]:
    """Read a secret; typed input is hidden and it is never shown."""
    value = parse_simple_field_from_args(
        args, name, field, to_secret, raise_on_missing=not should_prompt(field, prompt)
    )
    if value is not None:
        value = to_secret(value)
    if not should_prompt(field, prompt):
        return value
    return _ask(name, field, to_secret, value, secret=True)


def _parse_choice_field(
    args: List[str],
    name: str,
    field: FieldInfo,
    dtype: Any,
    prompt: bool = True,
) -> Any:
    """Read a ``Literal`` or ``Enum`` field, checking the choice."""
    parser = build_simple_field_parser(choice_converter(dtype))
    return parser(args, name, field, dtype, prompt)


def _pydantic_converter(annotation: Any) -> Callable[[Any], Any]:
    """Converter for types without a dedicated one.

    pydantic reads the text as the type (Decimal, UUID...) or, failing
    that, as JSON (dicts, sets).
    """
    adapter: TypeAdapter[Any] = TypeAdapter(annotation)

    def convert(value: Any) -> Any:
        try:
            return adapter.validate_python(value)
        except ValidationError as error:
            try:
                return adapter.validate_json(value)
            except (ValidationError, TypeError):
                raise ParameterError(
                    value=str(value),
                    message=f"{value!r} is not valid: {error.errors()[0]['msg']}.",
                    help="Write the value in the form the field expects "
                    "(JSON for collections).",
                ) from None

    return convert


def _parse_other_field(
    args: List[str],
    name: str,
    field: FieldInfo,
    dtype: Any,
    prompt: bool = True,
) -> Any:
    parser = build_simple_field_parser(_pydantic_converter(unwrap(field.annotation)))
    return parser(args, name, field, dtype, prompt)


def _item_converter(annotation: Any) -> Callable[[Any], Any]:
    converter = converter_for(unwrap(annotation))
    return converter if converter is not None else (lambda value: value)


def _ask_sequence(name: str, field: FieldInfo) -> List[Any]:
    def split(raw: str) -> List[Any]:
        items = [item.strip() for item in raw.split(",") if item.strip()]
        return [
            _item_converter(item_annotation(field.annotation, position))(item)
            for position, item in enumerate(items)
        ]

    return _ask(name, field, split, None, extra="separate values with commas")


def parse_list_field_from_args(
    args: List[str],
    name: str,
    field: FieldInfo,
    dtype: Any = list,
    prompt: bool = True,
    max_items: int = 20,
) -> Optional[List[Any]]:
    """Read a list given as ``--name.0 a --name.1 b ...``.

    Items that are models are read field by field
    (``--name.0.<sub-field> value``). Without items the default is used;
    a required list with no items is asked for or reported missing.
    """
    item_type = item_annotation(field.annotation)
    item_model = model_class(item_type)
    indices = _indices(args, name)
    if indices:
        expected = list(range(len(indices)))
        if indices != expected:
            gap = next(i for i in expected if i not in indices)
            raise ParameterError(
                value=name,
                message=f"List {name} has no item {gap}; items must be numbered "
                "0, 1, 2, ... without gaps.",
                help=f"Pass the items as --{name}.0 VALUE --{name}.1 VALUE ...",
            )
        if len(indices) > max_items:
            raise ParameterError(
                value=name,
                message=f"List {name} has {len(indices)} items; at most "
                f"{max_items} can be given on the command line.",
                help="Set longer lists with `acoupi config set`.",
            )
        if item_model is not None:
            return [
                _parse_model(item_model, args, prompt, f"{name}.{index}")
                for index in indices
            ]
        converter = _item_converter(item_type)
        return [
            parse_simple_field_from_args(
                args, f"{name}.{index}", FieldInfo(), converter
            )
            for index in indices
        ]
    if not field.is_required():
        return get_field_default(field)
    if should_prompt(field, prompt):
        return _ask_sequence(name, field)
    raise _missing(name, f"--{name}.0 VALUE --{name}.1 VALUE ...")


def parse_tuple_field_from_args(
    args: List[str],
    name: str,
    field: FieldInfo,
    dtype: Any = tuple,
    prompt: bool = True,
) -> Optional[tuple]:
    """Read a tuple given as ``--name v1 v2 ...``."""
    values = _option_values(args, name)
    if values:
        return tuple(
            _convert(_item_converter(item_annotation(field.annotation, i)), v, name)
            for i, v in enumerate(values)
        )
    if values is not None:
        raise ParameterError(
            value=name,
            message=f"Missing values after --{name}.",
            help=f"Pass them as --{name} VALUE VALUE ...",
        )
    if not field.is_required():
        return get_field_default(field)
    if should_prompt(field, prompt):
        return tuple(_ask_sequence(name, field))
    raise _missing(name, f"--{name} VALUE VALUE ...")


def _setup_hook(dtype: Type[BaseModel]) -> Optional[Callable[..., Any]]:
    """The model's own ``setup(args, prompt, prefix)`` classmethod, if any."""
    for klass in dtype.__mro__:
        attribute = vars(klass).get("setup")
        if isinstance(attribute, (classmethod, staticmethod)):
            return dtype.setup  # type: ignore[attr-defined]
        if attribute is not None:
            return None
    return None


def parse_pydantic_model_field_from_args(
    args: List[str],
    name: str,
    field: FieldInfo,
    dtype: Type[BaseModel],
    prompt: bool = True,
) -> Optional[BaseModel]:
    """Read a nested model, its fields named ``<name>.<sub-field>``.

    A model class with a ``setup`` classmethod reads itself. An optional
    model is read only if an argument starts with ``--<name>.`` or the user
    asks to set it; otherwise its default is kept. When the default is an
    instance, its values are the defaults of the sub-fields.
    """
    hook = _setup_hook(dtype)
    if hook is not None:
        result = hook(args, prompt=prompt, prefix=name)
        if result is not None and not isinstance(result, BaseModel):
            raise RuntimeError(
                f"{dtype.__name__}.setup returned a {type(result).__name__}; "
                "it must return a pydantic model or None."
            )
        return result
    default = get_field_default(field)
    if not field.is_required() and not _has_args(args, name):
        if not prompt or not click.confirm(
            f"Would you like to set {name}?", default=False
        ):
            return default
    base = default if isinstance(default, dtype) else None
    return _parse_model(dtype, args, prompt, name, base)


FIELD_PARSERS: Dict[type, FieldParser] = {
    BaseModel: parse_pydantic_model_field_from_args,  # type: ignore[dict-item]
    bool: build_simple_field_parser(cast_to_bool),
    str: build_simple_field_parser(str),
    int: build_simple_field_parser(to_int),
    float: build_simple_field_parser(to_float),
    list: parse_list_field_from_args,
    tuple: parse_tuple_field_from_args,
    # datetime before date: a datetime is a date, and must keep its time.
    datetime.datetime: build_simple_field_parser(parse_datetime),
    datetime.date: build_simple_field_parser(parse_date),
    datetime.time: build_simple_field_parser(parse_time),
    Path: build_simple_field_parser(to_path),
    SecretStr: parse_secret_str_field,
}
"""Parser of each field type, checked in order with ``issubclass``."""


def _find_parser(dtype: Any) -> FieldParser:
    if get_origin(dtype) is Literal:
        return _parse_choice_field
    if isinstance(dtype, type):
        if issubclass(dtype, Enum):
            return _parse_choice_field
        for kind, parser in FIELD_PARSERS.items():
            if issubclass(dtype, kind):
                return parser
    return _parse_other_field


# ---------------------------------------------------------------- models


def parse_field_from_args(
    field_name: str,
    field: FieldInfo,
    args: List[str],
    prompt: bool = True,
    prefix: str = "",
) -> Any:
    """Read one field of a schema.

    Parameters
    ----------
    field_name
        The field's name in its model.
    field
        The field (``Model.model_fields[field_name]``).
    args
        Command line arguments.
    prompt
        Ask the user for values (unless the field is ``NoUserPrompt``).
    prefix
        Dotted path of the model holding the field; the argument is then
        ``--<prefix>.<field_name>``.

    Returns
    -------
    Any
        The value, converted to the field's type where possible.

    Raises
    ------
    ParameterError
        If the value is missing or invalid.
    """
    name = f"{prefix}.{field_name}" if prefix else field_name
    dtype = get_field_dtype(field)
    parser = _find_parser(dtype)
    return parser(args, name, field, dtype, prompt=should_prompt(field, prompt))


def _build(model: Type[A], values: Dict[str, Any], prefix: str) -> A:
    try:
        return model.model_validate(values, by_name=True)
    except ValidationError as error:
        fields = error_fields(error, prefix)
        where = f" of {prefix}" if prefix else ""
        raise ParameterError(
            value=next((name for name in fields if name), prefix or model.__name__),
            message=f"Invalid configuration{where}:\n"
            f"{describe_validation_error(error, prefix)}",
            help="Correct the listed values (pass them as --<field> VALUE) "
            "and run setup again.",
        ) from None


def _problems(
    model: Type[BaseModel], values: Dict[str, Any], prefix: str
) -> Tuple[Optional[BaseModel], List[str], str]:
    """Build the model; return it or the invalid fields and why."""
    try:
        built = model.model_validate(values, by_name=True)
    except ValidationError as error:
        return (
            None,
            error_fields(error, prefix),
            describe_validation_error(error, prefix),
        )
    errors = [
        problem for problem in find_config_problems(built, prefix) if problem.error
    ]
    fields = [field for problem in errors for field in problem.fields]
    return (
        None if errors else built,
        fields,
        "\n".join(f"  - {problem.describe()}" for problem in errors),
    )


def _askable(field: FieldInfo) -> bool:
    """Whether asking this field again puts a question to the user.

    True for a simple value that is prompted for, or a section that asks
    for itself (such as the microphone). Lists, tuples and ``NoUserPrompt``
    fields are not asked again (they would keep their value silently, and
    the same problem would come back without end).
    """
    sub_model = model_class(field.annotation)
    if sub_model is not None:
        return _setup_hook(sub_model) is not None
    if get_field_dtype(field) in (list, tuple, set):
        return False
    return should_prompt(field)


def _own_fields(model: Type[BaseModel], fields: List[str], prefix: str) -> List[str]:
    """Fields of ``model`` to ask again for the dotted ``fields`` in error.

    A field inside a sub-section counts as that section's field of
    ``model`` when the section asks for itself. Fields that cannot be asked
    again are left out; [] means nothing can be asked to fix the problem.
    """
    start = f"{prefix}." if prefix else ""
    if prefix in fields:
        # A rule of the whole section (a model validator): ask it all again.
        fields = [
            start + name
            for name, field in model.model_fields.items()
            if model_class(field.annotation) is None
        ]
    names: List[str] = []
    for field in fields:
        name = field[len(start) :].split(".")[0] if field.startswith(start) else ""
        known = model.model_fields.get(name)
        if known is not None and _askable(known) and name not in names:
            names.append(name)
    return names


def _parse_model(
    model: Type[A],
    args: List[str],
    prompt: bool,
    prefix: str,
    base: Optional[BaseModel] = None,
) -> A:
    values: Dict[str, Any] = {}
    for field_name, field in model.model_fields.items():
        if base is not None:
            field = _with_default(field, getattr(base, field_name))
        value = parse_field_from_args(field_name, field, args, prompt, prefix)
        # Factories that need the other fields can only run inside pydantic.
        if value is None and field.default_factory_takes_validated_data:
            continue
        values[field_name] = value
    while prompt:
        # Values that only fail together (duration longer than interval) are
        # asked again here, at the end of their section, keeping the rest.
        built, fields, reason = _problems(model, values, prefix)
        if built is not None:
            return built  # type: ignore[return-value]
        names = _own_fields(model, fields, prefix)
        if not names:
            break
        click.secho(f"These values do not work together:\n{reason}", fg="red")
        for field_name in names:
            current = values.get(field_name)
            field = _with_default(model.model_fields[field_name], current)
            values[field_name] = parse_field_from_args(
                field_name, field, [], prompt, prefix
            )
    return _build(model, values, prefix)


def parse_config_from_args(
    schema: Type[A],
    args: Optional[List[str]] = None,
    prompt: bool = True,
) -> A:
    """Build a configuration from command line arguments and prompts.

    Parameters
    ----------
    schema
        The configuration model.
    args
        Arguments such as ``["--recording.duration", "5"]``; those that
        match no field are ignored.
    prompt
        Ask the user to confirm or enter values; if False, values come from
        ``args`` and defaults only.

    Returns
    -------
    A
        The validated configuration.

    Raises
    ------
    ParameterError
        If a required value is missing, a value cannot be read, or the
        configuration is invalid; the message names the field(s).
    """
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise TypeError(f"schema must be a pydantic model class, not {schema!r}.")
    return _parse_model(schema, list(args or []), prompt, "")
