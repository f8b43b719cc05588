"""Pause Python's cyclic garbage collector while a read builds its objects.

A summary's read builds thousands of objects (detections, boxes, tags,
each with its ``__dict__``). The collector runs a pass every ~700 container
objects allocated and still alive, so while a result is being built it
walks the growing result again and again, and every tenth pass the older
objects, and now and then the whole heap: measured on the store's reads,
those passes were 20-35 % of the time of a call. None of the objects built
form reference cycles, so pausing the collector during the call loses
nothing: it runs again afterwards (over the answer at most once, if the
caller still holds it).

The same technique as Mercurial's ``util.nogc``. The collector is
process-wide: a call only turns it back on if it was on when the call
started, so overlapping calls from several threads leave it as they found
it (at worst, one thread's call runs with it on), and a program that keeps
it off keeps it off.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off."""
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
