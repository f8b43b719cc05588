"""Convert configurations to JSON-able data, masking or revealing secrets."""

import json
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_core import to_jsonable_python

__all__ = ["SECRET_MASK", "PydanticJSONEncoder", "config_to_jsonable"]

SECRET_MASK = "**********"
"""What a secret looks like when shown to a user (pydantic's own mask)."""


def _secret(value: Any, reveal: bool) -> Any:
    if not reveal:
        return SECRET_MASK
    secret = value.get_secret_value()
    if isinstance(secret, bytes):
        return secret.decode("utf-8", errors="replace")
    return secret


def _overlay(value: Any, dumped: Any, reveal: bool) -> Any:
    """Put secrets found in ``value`` into pydantic's dump of it.

    pydantic has already applied every custom serializer; only secrets need
    our decision, and a custom serializer may have revealed one that must be
    masked (or masked one that must be written).
    """
    if isinstance(value, (SecretStr, SecretBytes)):
        return _secret(value, reveal)
    if isinstance(value, BaseModel) and isinstance(dumped, dict):
        for name in type(value).model_fields:
            if name in dumped:
                dumped[name] = _overlay(getattr(value, name), dumped[name], reveal)
        return dumped
    if isinstance(value, dict) and isinstance(dumped, dict):
        for key, item in value.items():
            json_key = str(key) if not isinstance(key, str) else key
            if json_key in dumped:
                dumped[json_key] = _overlay(item, dumped[json_key], reveal)
        return dumped
    if (
        isinstance(value, (list, tuple))
        and isinstance(dumped, list)
        and len(value) == len(dumped)
    ):
        pairs = zip(value, dumped, strict=True)
        return [_overlay(item, out, reveal) for item, out in pairs]
    return dumped


def config_to_jsonable(value: Any, reveal_secrets: bool = False) -> Any:
    """Convert a configuration (or any part of it) to JSON-able data.

    Parameters
    ----------
    value
        A pydantic model, a value taken from one (for example by
        :func:`get_config_field`), or a container of such values.
    reveal_secrets
        Write ``SecretStr`` values in clear. Only for files the owner alone
        can read; anything shown to a user keeps the default (masked).

    Returns
    -------
    Any
        Plain dicts, lists, strings, numbers, booleans and ``None``. Field
        names (not aliases) are used as keys, so the result loads back.
    """
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json", round_trip=True, by_alias=False)
        return _overlay(value, dumped, reveal_secrets)
    if isinstance(value, (SecretStr, SecretBytes)):
        return _secret(value, reveal_secrets)
    if isinstance(value, dict):
        return {
            to_jsonable_python(key): config_to_jsonable(item, reveal_secrets)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [config_to_jsonable(item, reveal_secrets) for item in value]
    return to_jsonable_python(value)


class PydanticJSONEncoder(json.JSONEncoder):
    """JSON encoder for pydantic models and the values inside them.

    Secrets are masked.
    """

    def default(self, o: Any) -> Any:
        """Encode what the standard encoder does not know."""
        return config_to_jsonable(o)
