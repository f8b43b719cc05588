"""Convert command line text into field values.

Each converter accepts the text a user typed (or an already converted
value, which it returns unchanged) and raises :class:`ParameterError` with
the accepted formats when the text does not fit.
"""

import datetime
import re
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Dict, Literal, Optional, get_args, get_origin

from pydantic import SecretStr

from acoupi.system.exceptions import ParameterError

__all__ = [
    "CONVERTERS",
    "TIME_FORMAT",
    "cast_to_bool",
    "choice_converter",
    "converter_for",
    "parse_date",
    "parse_datetime",
    "parse_time",
    "to_float",
    "to_int",
    "to_path",
    "to_secret",
]

TIME_FORMAT = "%H:%M:%S"
"""How times are shown: 24-hour clock with seconds."""

_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}
_TIME = re.compile(r"(\d{1,2})(?::(\d{2})(?::(\d{2}))?)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Converter = Callable[[Any], Any]


def cast_to_bool(value: Any) -> bool:
    """Read yes/no words (``true``, ``t``, ``yes``, ``y``, ``1``, ``on``...).

    Raises
    ------
    ParameterError
        If the word is not a recognised yes or no.
    """
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ParameterError(
        value=str(value),
        message=f"{value!r} is not a valid yes/no value.",
        help="Use true/false, yes/no, y/n or 1/0.",
    )


def parse_time(value: Any) -> datetime.time:
    """Read a time of day written ``H``, ``HH:MM`` or ``HH:MM:SS``.

    Raises
    ------
    ParameterError
        If the text is not a time or is out of range.
    """
    if isinstance(value, datetime.time):
        return value
    text = str(value).strip()
    help = "Write times as H, HH:MM or HH:MM:SS on a 24-hour clock, e.g. 06:30."
    match = _TIME.fullmatch(text)
    if match is None:
        raise ParameterError(
            value=text, message=f"{text!r} is not a valid time.", help=help
        )
    hour, minute, second = (int(group or 0) for group in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise ParameterError(
            value=text,
            message=f"{text!r} is not a valid time: hours go up to 23, "
            "minutes and seconds up to 59.",
            help=help,
        )
    return datetime.time(hour, minute, second)


def parse_date(value: Any) -> datetime.date:
    """Read a date written ``YYYY-MM-DD``.

    Raises
    ------
    ParameterError
        If the text is not such a date.
    """
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    text = str(value).strip()
    try:
        if _DATE.fullmatch(text) is None:
            raise ValueError(text)
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            value=text,
            message=f"{text!r} is not a valid date.",
            help="Write dates as YYYY-MM-DD, e.g. 2024-05-31.",
        ) from None


def parse_datetime(value: Any) -> datetime.datetime:
    """Read an ISO 8601 date and time (``2024-05-31T06:30:00+00:00``).

    A date alone means midnight; a trailing ``Z`` means UTC.

    Raises
    ------
    ParameterError
        If the text is not such a datetime.
    """
    if isinstance(value, datetime.datetime):
        return value
    text = str(value).strip()
    # Python 3.10 does not read the "Z" suffix.
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        return datetime.datetime.fromisoformat(iso)
    except ValueError:
        raise ParameterError(
            value=text,
            message=f"{text!r} is not a valid date and time.",
            help="Write them in ISO 8601 form, e.g. 2024-05-31T06:30:00 "
            "or 2024-05-31T06:30:00+00:00.",
        ) from None


def to_int(value: Any) -> int:
    """Read a whole number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ParameterError(
            value=str(value),
            message=f"{value!r} is not a valid integer.",
            help="Write a whole number, e.g. 10.",
        ) from None


def to_float(value: Any) -> float:
    """Read a number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        comma = "," in str(value)
        raise ParameterError(
            value=str(value),
            message=f"{value!r} is not a valid number.",
            help="Write decimals with a point, e.g. 0.5."
            if comma
            else "Write a number, e.g. 0.5.",
        ) from None


def to_path(value: Any) -> Path:
    """Read a file system path (``~`` is expanded)."""
    return Path(value).expanduser()


def to_secret(value: Any) -> SecretStr:
    """Wrap text as a secret."""
    return value if isinstance(value, SecretStr) else SecretStr(str(value))


def _to_str(value: Any) -> str:
    return str(value)


def choice_converter(dtype: Any) -> Converter:
    """Build a converter for a ``Literal`` or an ``Enum`` type.

    Enum members are matched by value or by name.
    """
    if isinstance(dtype, type) and issubclass(dtype, Enum):
        options: Dict[str, Any] = {str(member.value): member for member in dtype}
        for member in dtype:
            options.setdefault(member.name, member)
        shown = [str(member.value) for member in dtype]
    else:
        choices = get_args(dtype)
        options = {str(choice): choice for choice in choices}
        shown = list(options)

    def convert(value: Any) -> Any:
        if not isinstance(value, str) and value in options.values():
            return value
        text = str(value).strip()
        if text in options:
            return options[text]
        raise ParameterError(
            value=text,
            message=f"{text!r} is not one of the choices: {', '.join(shown)}.",
            help=f"Choose one of: {', '.join(shown)}.",
        )

    convert.choices = shown  # type: ignore[attr-defined]
    return convert


CONVERTERS: Dict[type, Converter] = {
    bool: cast_to_bool,
    str: _to_str,
    int: to_int,
    float: to_float,
    # datetime before date: a datetime is a date, and must not lose its time.
    datetime.datetime: parse_datetime,
    datetime.date: parse_date,
    datetime.time: parse_time,
    Path: to_path,
    SecretStr: to_secret,
}
"""Converter of each simple type, checked in order with ``issubclass``."""


def converter_for(dtype: Any) -> Optional[Converter]:
    """Return the converter for a simple type, or None if there is none."""
    if get_origin(dtype) is Literal or (
        isinstance(dtype, type) and issubclass(dtype, Enum)
    ):
        return choice_converter(dtype)
    if isinstance(dtype, type):
        for kind, converter in CONVERTERS.items():
            if issubclass(dtype, kind):
                return converter
    return None
