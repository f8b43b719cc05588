"""The recording task: record when the conditions allow, and store it."""

import logging
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import acoupi
from acoupi import data, devices
from acoupi.components import types

__all__ = ["add_guano_metadata", "generate_recording_task", "recording_guano"]

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


def recording_guano(recording: data.Recording) -> Dict[str, Any]:
    """Return the GUANO fields describing a recording and its deployment."""
    from acoupi.audio.guano import NAMESPACE

    deployment = recording.deployment
    fields: Dict[str, Any] = {
        "Timestamp": recording.created_on,
        "Samplerate": recording.samplerate,
        "Length": round(recording.duration, 6),
        "TE": getattr(recording, "time_expansion", 1),
        "Make": "acoupi",
        "Firmware Version": acoupi.__version__,
        "Serial": devices.get_device_id(),
        f"{NAMESPACE}|Deployment ID": deployment.id,
        f"{NAMESPACE}|Deployment Name": deployment.name,
    }
    if deployment.latitude is not None and deployment.longitude is not None:
        fields["Loc Position"] = (deployment.latitude, deployment.longitude)
    return fields


def add_guano_metadata(recording: data.Recording) -> None:
    """Write the recording's GUANO metadata into its WAV file (acoupi 0.8).

    acoupi's own recorders already do this while writing; this is for
    recorders of plugins. Fields already in the file that are not
    recording fields (detections, gaps) are kept; the file is rewritten
    atomically.

    Raises
    ------
    ValueError
        If the recording has no path.
    wave.Error
        If the file is not a 16-bit PCM WAV.
    """
    from acoupi.audio.wav import update_guano

    if recording.path is None:
        raise ValueError(f"Recording {recording.id} has no file to annotate.")
    update_guano(Path(recording.path), recording_guano(recording))
