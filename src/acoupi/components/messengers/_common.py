"""Helpers shared by the messengers: secrets, URLs and short texts."""

import logging
from typing import Optional, Union

from pydantic import SecretStr

from acoupi.system.redact import redact_text, redact_url
from acoupi.system.task_logs import task_logger

__all__ = [
    "MESSAGE_ID_PROPERTY",
    "default_logger",
    "redact_text",
    "redact_url",
    "reveal",
    "snippet",
    "to_secret",
]

MESSAGE_ID_PROPERTY = "acoupi-message-id"
"""Name under which a message's id travels next to its content.

Receivers use it to drop the duplicates that at-least-once delivery allows.
"""

SecretLike = Union[str, SecretStr]


def default_logger(name: str, logger: Optional[logging.Logger]) -> logging.Logger:
    """Return ``logger``, or the Celery task logger of module ``name``."""
    return logger if logger is not None else task_logger(name)


def to_secret(value: Optional[SecretLike]) -> Optional[SecretStr]:
    """Wrap a secret so that repr(), str() and pydantic dumps mask it."""
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value)


def reveal(value: Optional[SecretLike]) -> Optional[str]:
    """Return the clear text of a secret, only at the moment it is sent."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value


def snippet(text: str, limit: int = 200) -> str:
    """Shorten ``text`` for logs and stored responses."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[:limit] + "..."
