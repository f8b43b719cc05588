"""Turn pydantic validation errors into lines a user can act on."""

from typing import Any, List, Sequence, Union

from pydantic import ValidationError

__all__ = ["describe_validation_error", "error_fields"]

_MAX_INPUT_CHARS = 60


def _join_loc(prefix: str, loc: Sequence[Union[int, str]]) -> str:
    parts = [prefix] if prefix else []
    parts.extend(str(part) for part in loc)
    return ".".join(parts)


def _show_input(value: Any) -> str:
    # Containers are noise here: the message already says what is wrong.
    if isinstance(value, (dict, list, tuple, set)):
        return ""
    text = repr(value)
    if len(text) > _MAX_INPUT_CHARS:
        text = text[: _MAX_INPUT_CHARS - 3] + "..."
    return f" (got {text})"


_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")
"""What pydantic puts before a validator's own message; noise to a user."""


def _plain(message: str) -> str:
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    return message


def error_fields(error: ValidationError, prefix: str = "") -> List[str]:
    """Return the dotted name of each invalid field, in error order.

    Parameters
    ----------
    error
        The pydantic error.
    prefix
        Dotted path of the model that was validated, prepended to each name.

    Returns
    -------
    list of str
        One name per error; a model-level error gives ``prefix`` (or ``""``).
    """
    return [_join_loc(prefix, item["loc"]) for item in error.errors()]


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """Describe each problem of a validation error on its own line.

    Parameters
    ----------
    error
        The pydantic error.
    prefix
        Dotted path of the model that was validated, prepended to each name.

    Returns
    -------
    str
        Lines like ``"  - recording.duration: Input should be a valid
        integer (got 'abc')"``.
    """
    lines = []
    for item in error.errors(include_url=False):
        name = _join_loc(prefix, item["loc"]) or "(whole configuration)"
        shown = "" if item["type"] == "missing" else _show_input(item.get("input"))
        lines.append(f"  - {name}: {_plain(item['msg'])}{shown}")
    return "\n".join(lines)
