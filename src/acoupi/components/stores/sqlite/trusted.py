"""Build data objects from rows this store wrote, without validating again.

Every value in the file was validated when it was stored (or written by
upstream acoupi, whose rows are kept as they are), and the summaries read
thousands of detections and tags per call: running pydantic's validators
again on each of them cost more than the queries themselves. The reads
build objects with :func:`trusted` instead, which fills the fields directly
(as ``model_construct`` does, without its per-call overhead). Orderings the
validators would impose (tags by score, detections by id) are produced by
the queries' ``ORDER BY``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable, Dict, Sequence, Type, TypeVar

from pydantic import BaseModel

__all__ = ["trusted"]

T = TypeVar("T")

_IMMUTABLE = (str, int, float, bool, type(None), tuple, frozenset, Enum)
_new = object.__new__
_set = object.__setattr__


def trusted(cls: Type[T], fields: Sequence[str]) -> Callable[[Dict[str, Any]], T]:
    """Return a fast constructor of ``cls`` from a dict of ``fields``.

    Fields of ``cls`` not in ``fields`` get their default. When ``cls`` is
    not a plain pydantic model (a dataclass, a model with private
    attributes, or one where a missing field has no constant default), the
    constructor validates as usual instead.

    Parameters
    ----------
    cls
        The class to build.
    fields
        The names of the fields each call provides.
    """
    if not _plain(cls):
        return lambda state: cls(**state)
    model_fields = cls.model_fields  # type: ignore[attr-defined]
    defaults: Dict[str, Any] = {}
    for name, field in model_fields.items():
        if name in fields:
            continue
        if field.is_required() or not isinstance(field.default, _IMMUTABLE):
            return lambda state: cls(**state)
        defaults[name] = field.default
    # One set shared by every instance: it holds every field already, and
    # pydantic only ever adds a field name to it.
    names = set(model_fields)

    if defaults:

        def make_with_defaults(state: Dict[str, Any]) -> T:
            state.update(defaults)
            return make(state)

    def make(state: Dict[str, Any]) -> T:
        instance = _new(cls)
        _set(instance, "__dict__", state)
        # Every field counts as set, as after validating a complete row.
        _set(instance, "__pydantic_fields_set__", names)
        _set(instance, "__pydantic_extra__", None)
        _set(instance, "__pydantic_private__", None)
        return instance  # type: ignore[no-any-return]

    return make_with_defaults if defaults else make


def _plain(cls: type) -> bool:
    return (
        isinstance(cls, type)
        and issubclass(cls, BaseModel)
        and not cls.__private_attributes__
        and cls.model_config.get("extra") != "allow"
    )
