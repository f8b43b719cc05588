"""Message builders turn model outputs into message contents."""

import json

import pytest

from acoupi import data
from acoupi.components.message_factories import (
    DetectionThresholdMessageBuilder,
    FullModelOutputMessageBuilder,
)


def tag(value: str, score: float = 0.8) -> data.PredictedTag:
    return data.PredictedTag(
        tag=data.Tag(key="species", value=value), confidence_score=score
    )


@pytest.fixture
def model_output() -> data.ModelOutput:
    recording = data.Recording(
        duration=1.0,
        samplerate=256000,
        deployment=data.Deployment(name="test"),
    )
    return data.ModelOutput(
        name_model="BatDetect2",
        recording=recording,
        tags=[tag("Myotis", 0.7)],
        detections=[
            data.Detection(detection_score=0.9, tags=[tag("Myotis")]),
            data.Detection(detection_score=0.5, tags=[tag("Pipistrellus")]),
            data.Detection(detection_score=0.6, tags=[tag("Nyctalus")]),
            data.Detection(detection_score=0.95, tags=[]),  # untagged
        ],
    )


def test_threshold_builder_keeps_confident_tagged_detections(
    model_output: data.ModelOutput,
) -> None:
    builder = DetectionThresholdMessageBuilder(detection_threshold=0.6)
    kept = builder.filter_detections(model_output.detections)
    assert sorted(d.detection_score for d in kept) == [0.6, 0.9]  # 0.6 inclusive

    message = builder.build_message(model_output)
    assert message is not None
    content = data.ModelOutput.model_validate_json(message.content)
    assert {d.id for d in content.detections} == {d.id for d in kept}
    assert content.name_model == model_output.name_model
    assert content.recording == model_output.recording
    assert content.tags == model_output.tags
    assert content.id != model_output.id  # a new model output


def test_threshold_builder_returns_none_when_nothing_survives(
    model_output: data.ModelOutput,
) -> None:
    assert DetectionThresholdMessageBuilder(0.99).build_message(model_output) is None
    empty = model_output.model_copy(update={"detections": []})
    assert DetectionThresholdMessageBuilder(0.0).build_message(empty) is None


def test_threshold_builder_content_has_model_output_key_order(
    model_output: data.ModelOutput,
) -> None:
    message = DetectionThresholdMessageBuilder(0.5).build_message(model_output)
    assert message is not None
    assert list(json.loads(message.content)) == [
        "id",
        "name_model",
        "recording",
        "tags",
        "detections",
        "created_on",
    ]


def test_full_builder_content_is_model_dump_json_exactly(
    model_output: data.ModelOutput,
) -> None:
    message = FullModelOutputMessageBuilder().build_message(model_output)
    assert message is not None
    assert message.content == model_output.model_dump_json()
