"""The environment and Celery app of the processes acoupi starts."""

import os
from typing import TYPE_CHECKING, Dict, Mapping, Optional

from acoupi.system.constants import CeleryConfig, Settings

if TYPE_CHECKING:
    from acoupi.programs.core.base import AcoupiProgram

__all__ = ["apply_broker_conf", "child_environment", "load_runtime_program"]

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


def apply_broker_conf(program: "AcoupiProgram", settings: Settings) -> None:
    """Point the program's Celery app at this installation's broker.

    Idempotent: once :func:`acoupi.system.programs.load_program` applies
    :func:`acoupi.system.broker.celery_conf_for` itself this changes
    nothing. It must run before the app opens its first connection.
    """
    from acoupi.system.broker import celery_conf_for
    from acoupi.system.config import load_config

    config = load_config(settings.celery_config_file, CeleryConfig)
    conf = celery_conf_for(config, settings)
    program.app.conf.update(
        {
            key: conf[key]
            for key in (
                "broker_url",
                "broker_transport",
                "broker_transport_options",
                "result_backend",
            )
            if key in conf
        }
    )


def load_runtime_program(settings: Settings) -> "AcoupiProgram":
    """Load the configured program with the broker settings applied."""
    from acoupi.system.programs import load_program

    program = load_program(settings)
    apply_broker_conf(program, settings)
    return program
