"""Which names a configuration schema accepts, as options or as keys.

``acoupi setup`` reads configuration values from options named after the
dotted field paths (``--recording.duration 5``). A misspelt option would
otherwise be ignored without a word and its default used, so setup checks
every option against the schemas first and names the closest valid ones.
Likewise a key in a configuration file that the schema does not know
would be dropped silently; :func:`unknown_keys` finds them.
"""

import difflib
import re
from typing import Any, Iterable, List, Optional, Sequence, Set, Type, get_origin

from pydantic import BaseModel

from acoupi.system.config.typeinfo import item_annotation, model_class, unwrap
from acoupi.system.exceptions import ParameterError

__all__ = [
    "UnknownFieldError",
    "UnknownOptionError",
    "check_known_field",
    "check_known_options",
    "option_names",
    "unknown_keys",
    "unknown_options",
]

INDEX = "N"
"""Stands for a list position in option names: ``--bands.N.label``."""

_NUMBER = re.compile(r"^-\d|^-\.\d")
_POSITION = re.compile(r"(?<=\.)\d+(?=\.|$)")


class UnknownOptionError(ParameterError):
    """Options that match no configuration field.

    Attributes
    ----------
    unknown
        The options as given, e.g. ``["--recording.duraton"]``.
    valid
        Every option the schemas accept (list positions written ``N``).
    """

    def __init__(self, unknown: Sequence[str], valid: Sequence[str]):
        suggestions = [_suggest(option, valid) for option in unknown]
        lines = [
            f"{option} (did you mean {hint}?)" if hint else option
            for option, hint in zip(unknown, suggestions, strict=True)
        ]
        noun = "option" if len(unknown) == 1 else "options"
        super().__init__(
            value=unknown[0],
            message=f"Unknown {noun}: {'; '.join(lines)}.",
            help=_valid_listing(unknown[0], valid),
        )
        self.unknown = list(unknown)
        self.valid = list(valid)


class UnknownFieldError(ParameterError):
    """A dotted field path (``config get/set FIELD``) that names no field."""

    def __init__(self, field: str, valid: Sequence[str]):
        hint = _suggest(f"--{field}", valid, dash="")
        said = f" (did you mean {hint}?)" if hint else ""
        super().__init__(
            value=field,
            message=f"Unknown configuration field {field!r}{said}.",
            help=_valid_listing(f"--{field}", valid, dash="", noun="fields")
            + " `acoupi config show` shows them all with their values.",
        )


_MAX_LISTED = 10
"""Most names listed after an unknown one; a screenful helps nobody."""


def _valid_listing(
    option: str, valid: Sequence[str], dash: str = "--", noun: str = "options"
) -> str:
    """The names near ``option``: its section's, else the closest ones."""
    wanted = _pattern(option)
    section = wanted.rsplit(".", 1)[0] if "." in wanted else ""
    if section:
        members = [name for name in valid if name.startswith(f"{section}.")]
        if members:
            listing = ", ".join(f"{dash}{name}" for name in members)
            return f"{noun.capitalize()} of {section}: {listing}."
    listed = valid
    if len(valid) > _MAX_LISTED:
        # Every name ranked by likeness to the typo, the closest first.
        listed = difflib.get_close_matches(wanted, valid, n=_MAX_LISTED, cutoff=0)
    shown = ", ".join(f"{dash}{name}" for name in listed)
    more = len(valid) - len(listed)
    if more:
        return f"Closest valid {noun}: {shown} ({more} more)."
    return f"Valid {noun}: {shown}."


def _is_list(annotation: object) -> bool:
    inner = unwrap(annotation)
    return inner in (list, set) or get_origin(inner) in (list, set)


def option_names(schema: Type[BaseModel], prefix: str = "") -> List[str]:
    """Return the dotted option names of every field of ``schema``.

    Nested models give both their own name (an optional section may be
    turned on with ``--<name>``) and their fields' names. List items are
    written ``<name>.N`` (``<name>.N.<field>`` for lists of models).

    Parameters
    ----------
    schema
        The configuration model.
    prefix
        Dotted path of ``schema`` inside a larger configuration.

    Returns
    -------
    list of str
        Names without the leading ``--``, in field order.
    """
    names: List[str] = []
    for field_name, field in schema.model_fields.items():
        name = f"{prefix}.{field_name}" if prefix else field_name
        names.append(name)
        sub_model = model_class(field.annotation)
        if sub_model is not None:
            names.extend(option_names(sub_model, name))
        elif _is_list(field.annotation):
            item_model = model_class(item_annotation(field.annotation))
            indexed = f"{name}.{INDEX}"
            if item_model is None:
                names.append(indexed)
            else:
                names.extend(option_names(item_model, indexed))
    return names


def _flags(args: Iterable[str]) -> List[str]:
    """The ``--option`` words of ``args`` (values and negative numbers skipped)."""
    return [
        arg.split("=", 1)[0]
        for arg in args
        if arg.startswith("--") and arg != "--" and not _NUMBER.match(arg[1:])
    ]


def _pattern(flag: str) -> str:
    """An option with its list positions written ``N``."""
    return _POSITION.sub(INDEX, flag[2:])


def unknown_options(args: Iterable[str], valid: Iterable[str]) -> List[str]:
    """Return the options of ``args`` that name none of ``valid``, in order."""
    known: Set[str] = set(valid)
    found: List[str] = []
    for flag in _flags(args):
        if _pattern(flag) not in known and flag not in found:
            found.append(flag)
    return found


def _suggest(option: str, valid: Sequence[str], dash: str = "--") -> str:
    """The closest valid options, as ``--a or --b``; empty if none is close."""
    wanted = _pattern(option)
    # The section of the typo itself is no suggestion ("recording.nope").
    candidates = [name for name in valid if not wanted.startswith(f"{name}.")]
    close = difflib.get_close_matches(wanted, candidates, n=2, cutoff=0.75)
    if not close:
        # A bare field name given without its section: ``--duration``.
        leaf = wanted.rsplit(".", 1)[-1]
        close = [name for name in valid if name.rsplit(".", 1)[-1] == leaf][:2]
    return " or ".join(f"{dash}{name}" for name in close)


def check_known_options(
    args: Sequence[str],
    schemas: Iterable[Type[BaseModel]],
    extra: Iterable[str] = (),
) -> None:
    """Raise unless every ``--option`` in ``args`` names a field.

    Parameters
    ----------
    args
        Command line arguments, e.g. ``["--recording.duration", "5"]``.
    schemas
        Every schema the arguments are read against.
    extra
        Other accepted option names (without ``--``), e.g. the command's
        own options, offered as suggestions too.

    Raises
    ------
    UnknownOptionError
        Naming each unknown option, the closest valid ones and all of them.
    """
    valid: List[str] = list(extra)
    for schema in schemas:
        valid.extend(name for name in option_names(schema) if name not in valid)
    unknown = unknown_options(args, valid)
    if unknown:
        raise UnknownOptionError(unknown, valid)


def check_known_field(field: str, schema: Type[BaseModel]) -> None:
    """Raise unless the dotted ``field`` names a field of ``schema``.

    A path into a free-form value (a mapping such as HTTP headers) counts
    as known: only its known prefix can be checked.

    Raises
    ------
    UnknownFieldError
        Naming the closest fields and those of the section.
    """
    valid = option_names(schema)
    wanted = _pattern(f"--{field}")
    if wanted in valid:
        return
    parts = wanted.split(".")
    for end in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in valid:
            is_section = any(name.startswith(f"{prefix}.") for name in valid)
            if not is_section:
                return  # inside a mapping or other free-form value
            break
    raise UnknownFieldError(field, valid)


def _field_by_key(schema: Type[BaseModel], key: str) -> Optional[Any]:
    field = schema.model_fields.get(key)
    if field is not None:
        return field
    return next(
        (
            f
            for f in schema.model_fields.values()
            if key in (f.alias, f.validation_alias)
        ),
        None,
    )


def unknown_keys(data: Any, schema: Type[BaseModel], prefix: str = "") -> List[str]:
    """Return the dotted paths of keys in ``data`` that ``schema`` does not have.

    Parameters
    ----------
    data
        Plain JSON data (as read from a configuration file).
    schema
        The model the data is read as; nested models and lists of models
        are followed.
    prefix
        Dotted path of ``data`` in the whole configuration.

    Returns
    -------
    list of str
        E.g. ``["microphone.time_expansion"]``; empty if every key is known.
    """
    if not isinstance(data, dict):
        return []
    found: List[str] = []
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        field = _field_by_key(schema, str(key))
        if field is None:
            found.append(path)
            continue
        sub_model = model_class(field.annotation)
        if sub_model is not None:
            found.extend(unknown_keys(value, sub_model, path))
        elif _is_list(field.annotation) and isinstance(value, list):
            item_model = model_class(item_annotation(field.annotation))
            if item_model is not None:
                for index, item in enumerate(value):
                    found.extend(unknown_keys(item, item_model, f"{path}.{index}"))
    return found
