"""Questions asked about model outputs by several components.

``SavingThreshold`` and ``SaveRecordingManager`` both need "does this output
contain a prediction at least this confident?"; ``DetectionTagValue`` and
``DetectionTags`` ask about tags. Keeping the rules here means they cannot
drift apart.
"""

from typing import Collection, Iterable

from acoupi import data

__all__ = [
    "has_confident_prediction",
    "has_confident_tag",
    "has_tag_value",
]


def has_confident_prediction(model_output: data.ModelOutput, threshold: float) -> bool:
    """Return whether any prediction scores at least ``threshold``.

    A prediction is a recording-level tag (its confidence score) or a
    detection (its detection score).
    """
    return any(tag.confidence_score >= threshold for tag in model_output.tags) or any(
        detection.detection_score >= threshold for detection in model_output.detections
    )


def has_tag_value(model_output: data.ModelOutput, values: Collection[str]) -> bool:
    """Return whether any detection carries a tag whose value is in ``values``.

    Scores are ignored, as upstream.
    """
    return any(
        predicted.tag.value in values
        for detection in model_output.detections
        for predicted in detection.tags
    )


def _contains_confident(
    predicted_tags: Iterable[data.PredictedTag],
    tags: Collection[data.Tag],
    threshold: float,
) -> bool:
    return any(
        predicted.tag in tags and predicted.confidence_score >= threshold
        for predicted in predicted_tags
    )


def has_confident_tag(
    model_output: data.ModelOutput,
    tags: Collection[data.Tag],
    threshold: float,
) -> bool:
    """Return whether one of ``tags`` is predicted with enough confidence.

    Either a recording-level tag in ``tags`` scores at least ``threshold``,
    or a detection scoring at least ``threshold`` holds a tag in ``tags``
    that also scores at least ``threshold``.
    """
    if _contains_confident(model_output.tags, tags, threshold):
        return True
    return any(
        detection.detection_score >= threshold
        and _contains_confident(detection.tags, tags, threshold)
        for detection in model_output.detections
    )
