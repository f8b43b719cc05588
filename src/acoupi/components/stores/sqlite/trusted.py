"""Build data objects from rows this store wrote, without validating again.

Every value in the file was validated when it was stored (or written by
upstream acoupi, whose rows are kept as they are), and the summaries read
thousands of detections and tags per call: running pydantic's validators
again on each of them cost more than the queries themselves. The reads
build objects with :func:`trusted` and :func:`trusted_many` instead, which
fill the fields directly, as ``model_construct`` does without its per-call
overhead. Orderings the validators would impose (tags by score, detections
by id) are produced by the queries' ``ORDER BY``.

An object built here behaves as a validated one (equality, ``model_dump``,
copies, pickling, ``repr``, assignment): it holds the same four slots
pydantic's own constructor sets, with every field counted as set (as after
validating a complete row). ``tests/components/test_trusted_reads.py``
compares them on the installed pydantic.
"""

from __future__ import annotations

from collections import deque
from enum import Enum
from itertools import repeat
from typing import Any, Callable, Dict, Iterable, List, Sequence, Type, TypeVar

from pydantic import BaseModel

__all__ = ["trusted", "trusted_many"]

T = TypeVar("T")

_IMMUTABLE = (str, int, float, bool, type(None), tuple, frozenset, Enum)
_new = object.__new__
# The slot setters of every pydantic model, called directly: cheaper than
# object.__setattr__, which looks the name up on each call.
_SLOTS = BaseModel.__dict__
_set_dict = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__


def trusted(cls: Type[T], fields: Sequence[str]) -> Callable[[Dict[str, Any]], T]:
    """Return a fast constructor of ``cls`` from a dict of ``fields``.

    The dict becomes the instance's ``__dict__`` (the caller must not reuse
    it). Fields of ``cls`` not in ``fields`` get their default. When ``cls``
    is not a plain pydantic model (a dataclass, a model with private
    attributes, or one where a missing field has no constant default), the
    constructor validates as usual instead.

    Parameters
    ----------
    cls
        The class to build.
    fields
        The names of the fields each call provides.
    """
    plan = _plan(cls, fields)
    if plan is None:
        return lambda state: cls(**state)
    names, defaults = plan

    def make(state: Dict[str, Any]) -> T:
        if defaults:
            state.update(defaults)
        instance = _new(cls)
        _set_dict(instance, state)
        _set_fields_set(instance, names)
        _set_extra(instance, None)
        _set_private(instance, None)
        return instance  # type: ignore[no-any-return]

    return make


def trusted_many(
    cls: Type[T], fields: Sequence[str]
) -> Callable[[Iterable[Dict[str, Any]]], List[T]]:
    """Return a fast constructor of a list of ``cls`` from dicts of ``fields``.

    As :func:`trusted` (same parameters), for many objects at once: each
    step runs over the whole list inside C loops (``map``), which matters
    for the thousands of tags a summary reads.
    """
    plan = _plan(cls, fields)
    if plan is None:
        return lambda states: [cls(**state) for state in states]
    names, defaults = plan

    def make_all(states: Iterable[Dict[str, Any]]) -> List[T]:
        if not isinstance(states, list):
            states = list(states)
        if defaults:
            for state in states:
                state.update(defaults)
        instances = list(map(_new, repeat(cls, len(states))))
        _run(map(_set_dict, instances, states))
        _run(map(_set_fields_set, instances, repeat(names)))
        _run(map(_set_extra, instances, repeat(None)))
        _run(map(_set_private, instances, repeat(None)))
        return instances

    return make_all


def _run(calls: Iterable[Any]) -> None:
    """Exhaust an iterator of calls (in C) without keeping the results."""
    deque(calls, maxlen=0)


def _plan(cls: type, fields: Sequence[str]) -> Any:
    """Return ``(fields set, defaults)`` to fill ``cls`` directly, or None."""
    if not _plain(cls):
        return None
    model_fields = cls.model_fields  # type: ignore[attr-defined]
    defaults: Dict[str, Any] = {}
    for name, field in model_fields.items():
        if name in fields:
            continue
        if field.is_required() or not isinstance(field.default, _IMMUTABLE):
            return None
        defaults[name] = field.default
    # One set shared by every instance: it holds every field already, and
    # pydantic only ever adds a field name to it.
    return set(model_fields), defaults


def _plain(cls: type) -> bool:
    return (
        isinstance(cls, type)
        and issubclass(cls, BaseModel)
        and not cls.__private_attributes__
        and cls.model_config.get("extra") != "allow"
    )
