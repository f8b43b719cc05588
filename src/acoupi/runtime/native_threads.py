"""No native thread pool in the process that forks the workers.

A program module that imports numpy (as model plugins do) makes
``acoupi run`` import it too, and numpy's OpenBLAS starts a thread per
core as it loads (MKL and OpenMP start theirs when they first compute).
The run never forks while another thread runs (see
:mod:`acoupi.runtime.forker`), so every worker was then started as a
program, sharing none of the run's memory. A lean run therefore holds
these pools at one thread, which is the calling thread: nothing is
started. Each library reads its variable once, when it loads, so the cap
must be in place before the run first loads the program.

The cap is the run's alone: its children start from the environment as it
was before, and the detection worker applies ``detections.model_threads``
(see :mod:`acoupi.system.model_threads`). A variable already set is left
as it is, in the run too: set above 1, it starts a pool there, and the
workers are started as programs.
"""

import os
from contextlib import contextmanager
from typing import Dict, Iterator

from acoupi.system.model_threads import THREAD_VARIABLES

__all__ = ["single_thread_pools"]


@contextmanager
def single_thread_pools() -> Iterator[Dict[str, str]]:
    """Cap at one thread the native pools this process starts in the block.

    Sets each of :data:`~acoupi.system.model_threads.THREAD_VARIABLES`
    that is unset to ``1`` in ``os.environ`` (which libraries read when
    they load) and removes them again at the end of the block.

    Yields
    ------
    dict of str to str
        The environment as it was before: the one children start from.
    """
    before = dict(os.environ)
    added = [name for name in THREAD_VARIABLES if name not in before]
    for name in added:
        os.environ[name] = "1"
    try:
        yield before
    finally:
        for name in added:
            os.environ.pop(name, None)
