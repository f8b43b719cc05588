"""Read, write, show and edit configuration files.

Configurations are pydantic models stored as compact JSON. Files are
written atomically and readable by their owner only, because they may hold
secrets (which are therefore stored in clear); whatever is shown to a user
masks them.
"""

import json
import logging
import warnings
from pathlib import Path
from typing import (
    Any,
    Iterable,
    List,
    Optional,
    Type,
    TypeVar,
    Union,
    get_args,
    get_origin,
)

from pydantic import BaseModel, ValidationError

from acoupi.system.atomic import atomic_write_text
from acoupi.system.config.checks import ConfigWarning
from acoupi.system.config.errors import describe_validation_error, error_fields
from acoupi.system.config.options import option_names, unknown_keys
from acoupi.system.config.serialization import (
    PydanticJSONEncoder,
    config_to_jsonable,
)
from acoupi.system.config.typeinfo import item_annotation, model_class, unwrap
from acoupi.system.exceptions import ConfigurationError, ParameterError

__all__ = [
    "PydanticJSONEncoder",
    "config_to_jsonable",
    "dump_config",
    "get_config_field",
    "load_config",
    "set_config_field",
    "write_config",
]

S = TypeVar("S", bound=BaseModel)

logger = logging.getLogger(__name__)

CONFIG_FILE_MODE = 0o600
"""Configuration files may hold secrets: owner read/write only."""

_SET_HELP = (
    "Check the field name and the type of the value; "
    "`acoupi config get` shows the current configuration."
)


def dump_config(config: Any, indent: Optional[int] = 2) -> str:
    """Render a configuration, or a value from one, as JSON for people.

    Parameters
    ----------
    config
        A pydantic model or any value taken from one.
    indent
        Indentation of the JSON text; ``None`` for a single line.

    Returns
    -------
    str
        The JSON text, with secrets masked as ``"**********"``.
    """
    return json.dumps(config_to_jsonable(config), indent=indent, ensure_ascii=False)


def write_config(config: Optional[BaseModel], path: Union[str, Path]) -> None:
    """Write a configuration to a file that only its owner can read.

    The file is replaced atomically and holds secrets in clear, so that
    :func:`load_config` gets them back. Nothing happens if ``config`` is None.

    Parameters
    ----------
    config
        The configuration to store.
    path
        Destination; missing parent folders are created.
    """
    if config is None:
        return
    text = json.dumps(
        config_to_jsonable(config, reveal_secrets=True),
        separators=(",", ":"),
        ensure_ascii=False,
    )
    atomic_write_text(Path(path), text, mode=CONFIG_FILE_MODE)


def _fix_help(fields: List[str]) -> str:
    example = next((name for name in fields if name), "<field>")
    return (
        "Correct the listed fields by editing the file or with "
        f"`acoupi config set {example} <value>`, or re-run "
        "`acoupi setup` to write a new configuration."
    )


def load_config(path: Union[str, Path], schema: Type[S]) -> S:
    """Load a configuration file and validate it against a schema.

    Parameters
    ----------
    path
        The JSON file, as written by :func:`write_config`.
    schema
        The pydantic model the file must match.

    Returns
    -------
    S
        The validated configuration.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ConfigurationError
        If the file is not JSON or does not match the schema; the message
        names the file and each invalid field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigurationError(
            f"The configuration file {path} is not text: it may be corrupted "
            f"({error.reason} at byte {error.start}).",
            help="Restore the file or re-run `acoupi setup` to write a new one.",
        ) from None
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(
            f"The configuration file {path} is not valid JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno}).",
            help="Fix the JSON syntax in the file, or re-run `acoupi setup` "
            "to write a new configuration.",
        ) from None
    try:
        config = schema.model_validate_json(text, by_name=True)
    except ValidationError as error:
        raise ConfigurationError(
            f"Invalid configuration in {path}:\n{describe_validation_error(error)}",
            help=_fix_help(error_fields(error)),
        ) from None
    _warn_unknown_keys(path, json.loads(text), schema)
    return config


def _warn_unknown_keys(path: Path, data: Any, schema: Type[BaseModel]) -> None:
    """Say which keys of a saved file are ignored (pydantic drops them)."""
    unknown = unknown_keys(data, schema)
    if not unknown:
        return
    message = (
        f"{path} has settings this version of acoupi does not know; they are "
        f"ignored: {', '.join(unknown)}. They may be misspelt or come from "
        "another acoupi version; `acoupi config show` shows the settings in "
        "effect, and the next `acoupi config set` removes them from the file."
    )
    logger.warning(message)
    warnings.warn(message, ConfigWarning, stacklevel=3)


def _unknown_field_message(name: str, parent: str, valid: Iterable[str]) -> str:
    base = f"{parent}." if parent else ""
    listing = "".join(f"\n\t - {base}{option}" for option in valid)
    return (
        f"Field '{name}' is not part of the configuration schema.\n"
        f"Valid fields are:{listing}"
    )


def _join(parent: str, part: str) -> str:
    return f"{parent}.{part}" if parent else part


def _index(part: str, length: int, parent: str, field: str, append: bool) -> int:
    if not (part.isascii() and part.isdigit()):
        raise ValueError(
            f"Field is not an index. '{part}' in '{field}' must be a position "
            f"(0, 1, ...) because '{parent}' is a list."
        )
    index = int(part)
    if index > length or (index == length and not append):
        raise IndexError(
            f"Index {index} is out of range in '{field}': '{parent}' has "
            f"{length} item(s)."
        )
    return index


def get_config_field(config: BaseModel, field: Optional[str]) -> Any:
    """Get a value from a configuration by its dotted path.

    Parameters
    ----------
    config
        The configuration.
    field
        Dot-separated path such as ``"recording.duration"``; list and tuple
        items are addressed by position (``"tags.0"``). Empty or None
        returns the whole configuration.

    Returns
    -------
    Any
        The value at that path.

    Raises
    ------
    AttributeError
        If a name is not a field, or a section on the path is not set.
    ValueError
        If a list is addressed by something other than a position.
    IndexError
        If a position is out of range.

    Examples
    --------
    >>> from pydantic import BaseModel
    >>> class Config(BaseModel):
    ...     a: list[int]
    >>> get_config_field(Config(a=[1, 2]), "a.1")
    2
    """
    if not field:
        return config
    current: Any = config
    parent = ""
    for part in field.split("."):
        name = _join(parent, part)
        if isinstance(current, BaseModel):
            fields = type(current).model_fields
            if part not in fields:
                raise AttributeError(_unknown_field_message(name, parent, fields))
            current = getattr(current, part)
        elif isinstance(current, (list, tuple)):
            current = current[_index(part, len(current), parent, field, False)]
        elif isinstance(current, dict):
            if part not in current:
                raise AttributeError(_unknown_field_message(name, parent, current))
            current = current[part]
        elif current is None:
            raise AttributeError(
                f"Cannot get '{field}': the section '{parent}' is not set. "
                f"Set it first with `acoupi config set {parent} <json>`."
            )
        else:
            raise AttributeError(
                f"Cannot get '{field}': '{parent}' is a "
                f"{type(current).__name__}, it has no field '{part}'."
            )
        parent = name
    return current


def _to_data(value: Any) -> Any:
    """Copy a model into plain containers, keeping leaf values as they are.

    Unlike ``model_dump`` this keeps ``SecretStr`` objects and excluded
    fields, and leaves out computed fields, so the data validates back to
    an equal model.
    """
    if isinstance(value, BaseModel):
        data = {
            name: _to_data(getattr(value, name)) for name in type(value).model_fields
        }
        for name, extra in (value.model_extra or {}).items():
            data[name] = _to_data(extra)
        return data
    if isinstance(value, list):
        return [_to_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_to_data(item) for item in value)
    if isinstance(value, dict):
        return {key: _to_data(item) for key, item in value.items()}
    return value


def _empty_node(annotation: Any, field: str, parent: str) -> Any:
    """Start a section that is ``None`` so that a sub-field can be set."""
    inner = unwrap(annotation)
    kind = get_origin(inner) or inner
    if model_class(annotation) is not None or kind is dict:
        return {}
    if kind in (list, tuple):
        return []
    raise ParameterError(
        value=field,
        message=f"Cannot set '{field}': '{parent}' is not set and is not a section.",
        help=_SET_HELP,
    )


def _structured(value: Any, annotation: Any) -> Any:
    if not isinstance(value, str):
        return value
    inner = unwrap(annotation)
    kind = get_origin(inner) or inner
    if model_class(annotation) is None and kind not in (list, tuple, dict, set):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        # Left as text: validation then says what the field expects.
        return value


def _with_value(
    node: Any,
    annotation: Any,
    parts: List[str],
    value: Any,
    parent: str,
    field: str,
    from_text: bool = False,
) -> Any:
    """Return ``node`` with ``value`` placed at the path ``parts``.

    With ``from_text``, a string aimed at a section, list or mapping (which a
    string can never be) is read as JSON.
    """
    if not parts:
        return _structured(value, annotation) if from_text else value
    part, rest = parts[0], parts[1:]
    if node is None:
        node = _empty_node(annotation, field, parent)
    name = _join(parent, part)
    if isinstance(node, dict):
        model = model_class(annotation)
        if model is not None:
            fields = model.model_fields
            if part not in fields and model.model_config.get("extra") != "allow":
                raise ParameterError(
                    value=field,
                    message=_unknown_field_message(name, parent, fields),
                    help=_SET_HELP,
                )
            child = fields[part].annotation if part in fields else Any
        else:
            args = get_args(unwrap(annotation))
            child = args[1] if len(args) == 2 else Any
        node[part] = _with_value(
            node.get(part), child, rest, value, name, field, from_text
        )
        return node
    if isinstance(node, (list, tuple)):
        index = _index(part, len(node), parent, field, append=not rest)
        items = list(node)
        if index == len(items):
            items.append(None)
        child = item_annotation(annotation, index)
        items[index] = _with_value(
            items[index], child, rest, value, name, field, from_text
        )
        return tuple(items) if isinstance(node, tuple) else items
    raise ParameterError(
        value=field,
        message=f"Cannot set '{field}': '{parent}' is a {type(node).__name__}, "
        f"it has no field '{part}'.",
        help=_SET_HELP,
    )


def _replace_whole(
    schema: Type[S],
    value: Any,
    strict: bool,
    from_attributes: bool,
) -> S:
    if isinstance(value, schema):
        return value
    try:
        if isinstance(value, (str, bytes, bytearray)):
            try:
                _refuse_unknown_keys(json.loads(value), schema)
            except json.JSONDecodeError as error:
                raise ParameterError(
                    value="",
                    message=f"The new configuration is not valid JSON: {error.msg} "
                    f"(line {error.lineno}, column {error.colno}).",
                    help="Pass the whole configuration as a JSON object, for "
                    "example the output of `acoupi config get`.",
                ) from None
            return schema.model_validate_json(value, strict=strict, by_name=True)
        _refuse_unknown_keys(value, schema)
        return schema.model_validate(
            value, strict=strict, from_attributes=from_attributes, by_name=True
        )
    except ValidationError as error:
        fields = error_fields(error)
        raise ParameterError(
            value=next((name for name in fields if name), ""),
            message=f"Invalid configuration:\n{describe_validation_error(error)}",
            help=_SET_HELP,
        ) from None


def _refuse_unknown_keys(data: Any, schema: Type[BaseModel]) -> None:
    unknown = unknown_keys(data, schema)
    if unknown:
        valid = ", ".join(name for name in option_names(schema) if ".N" not in name)
        raise ParameterError(
            value=unknown[0],
            message=f"The new configuration has keys that are not part of it: "
            f"{', '.join(unknown)}.",
            help=f"Remove or correct them. Valid keys: {valid}.",
        )


def set_config_field(
    config: S,
    field: str,
    value: Any,
    is_json: bool = False,
    strict: bool = False,
    from_attributes: bool = False,
) -> S:
    """Return a copy of a configuration with one field changed.

    Parameters
    ----------
    config
        The configuration; it is left untouched.
    field
        Dot-separated path (``"recording.duration"``, ``"tags.0"``). Setting
        a position equal to a list's length appends. Setting inside an unset
        optional section creates that section. Empty replaces the whole
        configuration: ``value`` may then be an instance, a dict or a JSON
        string (a string is always read as JSON here).
    value
        The new value; strings are converted by pydantic (``"5"`` to an
        int, ``"10:00:00"`` to a time) unless ``strict``. A string aimed at
        a section, list, tuple or mapping is read as JSON.
    is_json
        Parse ``value`` as JSON first, whatever the field (for example
        ``"null"`` to unset an optional field).
    strict
        Disable pydantic's type conversion.
    from_attributes
        Read models from object attributes (see pydantic's
        ``model_validate``).

    Returns
    -------
    S
        A new, validated configuration. Secrets are kept.

    Raises
    ------
    ParameterError
        If the field does not exist, or the value (or the resulting
        configuration) is invalid; the message says which and why.
    ValueError
        If a list is addressed by something other than a position.
    IndexError
        If a position is beyond the end of a list.

    Examples
    --------
    >>> from pydantic import BaseModel
    >>> class Config(BaseModel):
    ...     a: int
    >>> set_config_field(Config(a=1), "a", "3").a
    3
    """
    schema = type(config)
    if not field:
        return _replace_whole(schema, value, strict, from_attributes)
    if is_json:
        try:
            value = json.loads(value)
        except (TypeError, json.JSONDecodeError) as error:
            raise ParameterError(
                value=field,
                message=f"The value for {field} is not valid JSON: {error}.",
                help='Write JSON, for example 5, "text", [1, 2] or {"key": 1}.',
            ) from None
    data = _with_value(
        _to_data(config), schema, field.split("."), value, "", field, not is_json
    )
    try:
        return schema.model_validate(
            data, strict=strict, from_attributes=from_attributes, by_name=True
        )
    except ValidationError as error:
        raise ParameterError(
            value=field,
            message=f"Invalid value for {field}:\n{describe_validation_error(error)}",
            help=_SET_HELP,
        ) from None
