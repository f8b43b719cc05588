"""Model output cleaners: prune predictions before they are stored."""

from typing import List

from acoupi import data
from acoupi.components.types import ModelOutputCleaner

__all__ = ["ThresholdDetectionCleaner"]


class ThresholdDetectionCleaner(ModelOutputCleaner):
    """Drop tags and detections scoring below a threshold.

    The cleaned output keeps the original's ``id`` and ``created_on``: it is
    the same output, pruned. (Upstream built a new output with a fresh id,
    so the stored output could not be matched with the model's.)

    Parameters
    ----------
    detection_threshold
        Minimum score (inclusive) for a tag or detection to be kept.
    """

    def __init__(self, detection_threshold: float):
        self.detection_threshold = detection_threshold

    def clean(self, model_output: data.ModelOutput) -> data.ModelOutput:
        """Return ``model_output`` without the low-scoring predictions."""
        return data.ModelOutput(
            id=model_output.id,
            name_model=model_output.name_model,
            recording=model_output.recording,
            tags=self.get_clean_tags(model_output.tags),
            detections=self.get_clean_detections(model_output.detections),
            created_on=model_output.created_on,
        )

    def get_clean_tags(self, tags: List[data.PredictedTag]) -> List[data.PredictedTag]:
        """Return the tags scoring at least the threshold."""
        return [tag for tag in tags if tag.confidence_score >= self.detection_threshold]

    def get_clean_detections(
        self, detections: List[data.Detection]
    ) -> List[data.Detection]:
        """Return the detections scoring at least the threshold, cleaned.

        A kept detection may end up with no tags.
        """
        return [
            self.clean_detection(detection)
            for detection in detections
            if detection.detection_score >= self.detection_threshold
        ]

    def clean_detection(self, detection: data.Detection) -> data.Detection:
        """Return ``detection`` minus its weak tags.

        Everything else (id, location, score, prediction type and the
        Detection subclass) is kept.
        """
        return detection.model_copy(
            update={"tags": self.get_clean_tags(detection.tags)}
        )
