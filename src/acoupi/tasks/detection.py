"""The detection task: run the model on a recording and store the results.

Retries must not duplicate anything. The stored output and its messages get
ids derived from the recording, the model and the message factory, and both
stores ignore an id they already hold, so running the task again on the
same recording (a Celery retry, or a worker that died after storing the
output but before storing its messages) stores each thing exactly once.
"""

import logging
import uuid
from typing import Callable, List, Optional

from acoupi import data
from acoupi.components import types
from acoupi.components.message_lists import as_messages
from acoupi.components.sqlite_errors import DatabaseFileError

__all__ = ["generate_detection_task", "message_id", "model_output_id"]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

_NAMESPACE = uuid.UUID("4f0c6c1e-55c9-4d8b-a6de-2f4ac1e3b8a1")
"""Namespace of acoupi's derived ids (fixed forever: ids must be stable)."""


def model_output_id(recording_id: uuid.UUID, name_model: str) -> uuid.UUID:
    """Return the stable id of the output of ``name_model`` on a recording."""
    return uuid.uuid5(_NAMESPACE, f"model_output/{recording_id}/{name_model}")


def message_id(
    output_id: uuid.UUID, factory_index: int, factory_name: str
) -> uuid.UUID:
    """Return the stable id of the message a factory builds for an output."""
    return uuid.uuid5(_NAMESPACE, f"message/{output_id}/{factory_index}/{factory_name}")


def generate_detection_task(
    store: types.Store,
    model: types.Model,
    message_store: types.MessageStore,
    logger: logging.Logger = logger,
    output_cleaners: Optional[List[types.ModelOutputCleaner]] = None,
    processing_filters: Optional[List[types.ProcessingFilter]] = None,
    message_factories: Optional[List[types.MessageBuilder]] = None,
) -> Callable[[data.Recording], None]:
    """Build the ``detection_task``.

    Parameters
    ----------
    store
        Keeps the model output.
    model
        The detection model.
    message_store
        Outbox for the messages built from the output.
    logger
        Task logger.
    output_cleaners
        Applied in order to the model output before it is stored.
    processing_filters
        All must accept the recording for the model to run.
    message_factories
        Each may build one message, several (acoupi 0.8) or none from the
        (cleaned) output.

    Returns
    -------
    Callable[[data.Recording], None]
        The task, taking the recording to process.

    Notes
    -----
    The stored output's id is :func:`model_output_id` of the recording and
    model name, so one recording has at most one stored output per model.
    """
    cleaners = list(output_cleaners or [])
    filters = list(processing_filters or [])
    factories = list(message_factories or [])

    def detection_task(recording: data.Recording) -> None:
        if not all(f.should_process_recording(recording) for f in filters):
            logger.info("Recording %s not processed (filtered out).", recording.id)
            return

        model_output = model.run(recording)
        for cleaner in cleaners:
            model_output = cleaner.clean(model_output)
        model_output = model_output.model_copy(
            update={"id": model_output_id(recording.id, model_output.name_model)}
        )
        store.store_model_output(model_output)
        logger.info(
            "Stored output of %s for recording %s (%d detections).",
            model_output.name_model,
            recording.id,
            len(model_output.detections),
        )

        for index, factory in enumerate(factories):
            name = type(factory).__qualname__
            built = as_messages(factory.build_message(model_output))
            for position, message in enumerate(built):
                # The first keeps the id of 0.3's single message.
                key = name if position == 0 else f"{name}/{position}"
                message = message.model_copy(
                    update={"id": message_id(model_output.id, index, key)}
                )
                try:
                    message_store.store_message(message)
                except DatabaseFileError as error:
                    # The output is stored; a broken outbox must not fail (and
                    # retry) the detection, nor stop recording.
                    logger.error(
                        "Message %s not stored: %s", message.id, error.explain()
                    )

    return detection_task
