"""Normalise what message builders and summarisers return.

acoupi 0.3 builders return one message or None; acoupi 0.8 builders may
also return a list. Tasks handle all three through :func:`as_messages`.
"""

from typing import List, Sequence, Union

from acoupi import data

__all__ = ["as_messages"]


def as_messages(
    built: Union[None, data.Message, Sequence[data.Message]],
) -> List[data.Message]:
    """Return the built messages as a list (empty for None).

    Raises
    ------
    TypeError
        If ``built`` (or an item of it) is not a ``Message``: the builder is
        wrong, and saying so beats storing something unsendable.
    """
    if built is None:
        return []
    items = [built] if isinstance(built, data.Message) else list(built)
    for item in items:
        if not isinstance(item, data.Message):
            raise TypeError(
                f"A message builder returned {type(item).__name__}; expected an "
                "acoupi.data.Message, a list of them, or None."
            )
    return items
