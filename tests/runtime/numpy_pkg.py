"""``slow_pkg``'s program from a module that imports numpy, as model plugins do.

Importing numpy starts OpenBLAS's thread pool (a thread per core) unless
its thread variables say otherwise: ``acoupi run`` imports this module
before it forks its workers. Each worker logs the thread variables it
started with, and the model those it runs with.
"""

import logging
import os

import numpy
from celery.signals import worker_ready
from slow_pkg import SlowConfig, SlowDetectionProgram, SlowModel

from acoupi import data
from acoupi.components import types
from acoupi.system.model_threads import THREAD_VARIABLES

logger = logging.getLogger(__name__)

_SQUARE = numpy.arange(4.0).reshape(2, 2)
"""Some BLAS work for the model, done in every worker that runs it."""


def thread_variables() -> str:
    """The thread variables of this process, as the test reads them."""
    return ", ".join(f"{name}={os.environ.get(name)}" for name in THREAD_VARIABLES)


@worker_ready.connect
def _log_start(**_: object) -> None:
    logger.warning("worker started with %s", thread_variables())


class NumpyModel(SlowModel):
    """The slow model, also multiplying matrices with numpy's BLAS."""

    def run(self, recording: data.Recording) -> data.ModelOutput:
        product = _SQUARE @ _SQUARE
        logger.warning("model ran (%s) with %s", product[1, 1], thread_variables())
        return super().run(recording)


class NumpyDetectionProgram(SlowDetectionProgram):
    """The slow detection program, its module importing numpy."""

    def configure_model(self, config: SlowConfig) -> types.Model:
        return NumpyModel(config.model_delay)
