"""Message builders: turn a model output into a message to send.

The message content is JSON text of a :class:`acoupi.data.ModelOutput`;
subscribers parse it, so its shape is that of ``model_dump_json()``.
"""

from typing import List, Optional

from acoupi import data
from acoupi.components import types

__all__ = ["DetectionThresholdMessageBuilder", "FullModelOutputMessageBuilder"]


class DetectionThresholdMessageBuilder(types.MessageBuilder):
    """Send only the confident, tagged detections of a model output.

    Parameters
    ----------
    detection_threshold
        Minimum ``detection_score`` (inclusive) of a detection to be sent.
    """

    def __init__(self, detection_threshold: float):
        self.detection_threshold = detection_threshold

    def filter_detections(
        self, detections: List[data.Detection]
    ) -> List[data.Detection]:
        """Keep detections scoring at least the threshold and having tags.

        An untagged detection says nothing about what was heard, so it is
        not worth a message.
        """
        return [
            detection
            for detection in detections
            if detection.detection_score >= self.detection_threshold and detection.tags
        ]

    def build_message(self, model_output: data.ModelOutput) -> Optional[data.Message]:
        """Return a message with the kept detections, or None if none are kept.

        The content is a new model output (new id and creation time) with the
        same model name, recording and recording-level tags.
        """
        detections = self.filter_detections(model_output.detections)
        if not detections:
            return None
        filtered = data.ModelOutput(
            name_model=model_output.name_model,
            recording=model_output.recording,
            tags=model_output.tags,
            detections=detections,
        )
        return data.Message(
            content=filtered.model_dump_json(), message_type=data.MessageType.DETECTION
        )


class FullModelOutputMessageBuilder(types.MessageBuilder):
    """Send the whole model output, exactly as ``model_dump_json()`` writes it."""

    def build_message(self, model_output: data.ModelOutput) -> Optional[data.Message]:
        """Return a message whose content is the model output's JSON."""
        return data.Message(
            content=model_output.model_dump_json(),
            message_type=data.MessageType.DETECTION,
        )
