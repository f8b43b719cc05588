"""The environment and Celery app of the processes acoupi starts."""

import os
from typing import Dict, Mapping, Optional

from acoupi.system.constants import Settings

__all__ = ["child_environment"]

_PREFIX = "ACOUPI_"


def child_environment(
    settings: Settings, base: Optional[Mapping[str, str]] = None
) -> Dict[str, str]:
    """Return the environment of a worker or beat child process.

    Every settings field is exported as its ``ACOUPI_*`` variable, so the
    child rebuilds exactly these settings whatever its parent was given
    (tests pass settings in-process, not through the environment).

    Parameters
    ----------
    settings
        The settings the children must use.
    base
        Environment to start from; ``os.environ`` by default.

    Returns
    -------
    dict of str to str
        The child's environment.
    """
    env = dict(os.environ if base is None else base)
    for name in type(settings).model_fields:
        env[f"{_PREFIX}{name.upper()}"] = str(getattr(settings, name))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Celery refuses to run as root with pickle unless forced; acoupi
        # as root is the container/CI case (a Pi runs it as a user).
        env.setdefault("C_FORCE_ROOT", "1")
    # Children write logs to files: no colour codes in them.
    env.setdefault("NO_COLOR", "1")
    return env
