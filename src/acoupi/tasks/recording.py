"""The recording task: record when the conditions allow, and store it."""

import logging
from typing import Callable, List, Optional

from acoupi import data
from acoupi.components import types

__all__ = ["generate_recording_task"]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


def generate_recording_task(
    recorder: types.AudioRecorder,
    store: types.Store,
    logger: logging.Logger = logger,
    recording_conditions: Optional[List[types.RecordingCondition]] = None,
) -> Callable[[], Optional[data.Recording]]:
    """Build the ``recording_task``.

    Parameters
    ----------
    recorder
        Records audio into a temporary file.
    store
        Keeps the recording's metadata.
    logger
        Task logger.
    recording_conditions
        All must allow recording (checked in order, stopping at the first
        refusal); none means always record.

    Returns
    -------
    Callable[[], Optional[data.Recording]]
        The task. It returns the stored recording, or None when the
        conditions refused (so callbacks such as detection only run on real
        recordings).
    """
    conditions = list(recording_conditions or [])

    def recording_task() -> Optional[data.Recording]:
        if not all(condition.should_record() for condition in conditions):
            logger.info("Recording conditions not met.")
            return None
        deployment = store.get_current_deployment()
        recording = recorder.record(deployment)
        store.store_recording(recording)
        logger.info("Recorded %s (%s).", recording.path, recording.id)
        return recording

    return recording_task
