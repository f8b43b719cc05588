"""Bound the threads a detection model may use in its worker.

Torch, OpenBLAS, MKL and OpenMP each start one thread per core by default.
On a Raspberry Pi that starves the recording worker (lost audio) for little
gain. The detection worker calls :func:`limit_model_threads` before its
first model run: the environment variables reach libraries imported later
(plugins import torch lazily, on the first recording), and libraries already
loaded are capped through their own calls.
"""

import logging
import os
import sys
from typing import Optional

__all__ = ["THREAD_VARIABLES", "default_model_threads", "limit_model_threads"]

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
"""Environment variables that cap native thread pools."""

_applied: Optional[int] = None


def default_model_threads() -> int:
    """Return the default cap: every core but one (for recording), 1 to 4."""
    return max(1, min(4, (os.cpu_count() or 1) - 1))


def limit_model_threads(threads: int, logger: Optional[logging.Logger] = None) -> bool:
    """Cap the model's thread pools at ``threads`` in this process.

    Parameters
    ----------
    threads
        Most threads a model may compute with (>= 1).
    logger
        Where to say what was done (once per process and value).

    Returns
    -------
    bool
        True when this call changed the cap, False when it was already set.
    """
    global _applied
    if threads < 1:
        raise ValueError(f"threads must be 1 or more, not {threads}")
    if _applied == threads:
        return False
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(threads)
    _applied = threads
    (logger or logging.getLogger(__name__)).info(
        "Detection model limited to %d thread(s) (torch, OpenBLAS, MKL, OpenMP).",
        threads,
    )
    return True
