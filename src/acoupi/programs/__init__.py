"""acoupi programs: the base class, worker settings and built-in programs."""

from acoupi.programs.core.base import AcoupiProgram, NoUserPrompt, ProgramConfig
from acoupi.programs.core.workers import (
    DEFAULT_WORKER_CONFIG,
    AcoupiWorker,
    WorkerConfig,
)

__all__ = [
    "DEFAULT_WORKER_CONFIG",
    "AcoupiProgram",
    "AcoupiWorker",
    "NoUserPrompt",
    "ProgramConfig",
    "WorkerConfig",
]
