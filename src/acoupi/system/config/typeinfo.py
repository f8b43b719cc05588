"""Look through field annotations: ``Annotated``, ``Optional`` and generics."""

import types
from typing import Annotated, Any, List, Optional, Type, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = ["annotated_metadata", "item_annotation", "model_class", "unwrap"]

_UNION_TYPES: tuple = (Union, types.UnionType)


def unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``Optional`` from an annotation.

    Of a union of several types the first one that is not ``None`` is kept:
    command line values are parsed as that type.
    """
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in _UNION_TYPES:
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            annotation = members[0] if members else type(None)
        else:
            return annotation


def annotated_metadata(annotation: Any) -> List[Any]:
    """Collect ``Annotated`` metadata found anywhere in an ``Optional`` chain."""
    found: List[Any] = []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            found.extend(extra)
        elif origin in _UNION_TYPES:
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if not members:
                return found
            annotation = members[0]
        else:
            return found


def model_class(annotation: Any) -> Optional[Type[BaseModel]]:
    """Return the model class an annotation stands for, if any."""
    inner = unwrap(annotation)
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        return inner
    return None


def item_annotation(annotation: Any, index: int = 0) -> Any:
    """Annotation of item ``index`` of a list, set or tuple annotation.

    Returns ``Any`` when the annotation says nothing about its items.
    """
    inner = unwrap(annotation)
    args = get_args(inner)
    if not args:
        return Any
    if get_origin(inner) is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return args[index] if index < len(args) else Any
    return args[0]
