"""Core of acoupi programs: the program base class and worker settings."""

from acoupi.programs.core.base import AcoupiProgram, NoUserPrompt
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
    "WorkerConfig",
]
