r"""A task serializer that never runs code from the queue.

Celery's ``pickle`` (acoupi 0.3's default, kept for compatibility) runs
whatever code a message carries: anyone who can write to the queue can run
code as the acoupi user. The ``json`` serializer cannot, but knew nothing of
acoupi's data (recordings, model outputs...). :func:`register_data_types`
teaches kombu's JSON to carry every pydantic model of :mod:`acoupi.data` as
``{"__type__": "acoupi.Recording", "__value__": {...}}``; decoding only
validates data into one of those known classes, it never imports or calls
anything named by the message.

Choose it with::

    acoupi setup --program ... --task_serializer json \
        --result_serializer json --accept_content '["json"]'

Trust model of each broker (who can make a worker run a task):

* embedded (``filesystem://``): whoever can write to ``<home>/broker``. Its
  folders are 0700 and workers refuse queue files they do not own, so only
  the acoupi user (and root);
* RabbitMQ (``pyamqp://``): whoever holds the broker credentials of the
  vhost; the default ``guest`` account only works from localhost;
* Redis (``redis://``): whoever can connect to the Redis server (by default
  any local user, with no password): set ``requirepass`` and put the
  password in the URL, or prefer ``json``.

With ``json``, a message from an untrusted writer can at worst ask for a
task that exists with wrong arguments; with ``pickle`` it can run any code.
"""

import inspect
from typing import Any, Type

from pydantic import BaseModel

__all__ = ["TYPE_PREFIX", "register_data_types"]

TYPE_PREFIX = "acoupi."
"""Prefix of the type markers of acoupi's data in JSON messages."""

_registered = False


def _decoder(cls: Type[BaseModel]) -> Any:
    return cls.model_validate


def register_data_types() -> None:
    """Let kombu's JSON serializer carry :mod:`acoupi.data` models (once)."""
    global _registered
    if _registered:
        return
    from kombu.utils.json import register_type

    from acoupi import data

    models = [
        value
        for value in vars(data).values()
        if inspect.isclass(value)
        and issubclass(value, BaseModel)
        and value.__module__ == data.__name__
    ]
    # Subclasses first: kombu encodes with the first class that matches.
    models.sort(key=lambda cls: len(cls.__mro__), reverse=True)
    for cls in models:
        register_type(
            cls,
            f"{TYPE_PREFIX}{cls.__name__}",
            lambda model: model.model_dump(mode="json"),
            _decoder(cls),
        )
    _registered = True
