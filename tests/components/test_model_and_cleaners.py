"""TestModel, TrivialProcessingFilter and ThresholdDetectionCleaner."""

import datetime
from pathlib import Path

from acoupi import data
from acoupi.components.model_template import TestModel
from acoupi.components.output_cleaners import ThresholdDetectionCleaner
from acoupi.components.processing_filters import TrivialProcessingFilter
from audio_support import make_recording

UTC = datetime.timezone.utc
REC = make_recording(datetime.datetime(2024, 1, 1, tzinfo=UTC), path=Path("/x.wav"))


def ptag(value, score):
    return data.PredictedTag(
        tag=data.Tag(key="species", value=value), confidence_score=score
    )


def test_test_model():
    model = TestModel()
    assert model.name == TestModel.name == "TestModel"
    output = model.run(REC)
    assert output.name_model == "TestModel"
    (detection,) = output.detections
    assert detection.detection_score == 0.9
    assert detection.location.coordinates == (0, 4000, 1, 8000)
    assert detection.tags == [ptag("scientific_name", 0.9)]
    empty = model.run(REC.model_copy(update={"path": None}))
    assert empty.detections == [] and empty.tags == []


def test_trivial_processing_filter():
    assert TrivialProcessingFilter().should_process_recording(REC)


def test_cleaner_keeps_identity_and_prunes():
    strong = data.Detection(detection_score=0.8, tags=[ptag("a", 0.9), ptag("b", 0.2)])
    weak = data.Detection(detection_score=0.3, tags=[ptag("c", 0.9)])
    bare = data.Detection(detection_score=0.5, tags=[ptag("d", 0.1)])
    original = data.ModelOutput(
        name_model="m",
        recording=REC,
        tags=[ptag("x", 0.5), ptag("y", 0.49)],
        detections=[strong, weak, bare],
        created_on=datetime.datetime(2024, 1, 1, 1, tzinfo=UTC),
    )
    cleaned = ThresholdDetectionCleaner(0.5).clean(original)
    # Same output, pruned (upstream gave it a new id and created_on).
    assert cleaned.id == original.id
    assert cleaned.created_on == original.created_on
    assert cleaned.tags == [ptag("x", 0.5)]
    kept = {d.id: d for d in cleaned.detections}
    assert set(kept) == {strong.id, bare.id}
    assert kept[strong.id].tags == [ptag("a", 0.9)]
    assert kept[strong.id].location == strong.location
    assert kept[bare.id].tags == []  # a kept detection may lose every tag
    # The original is untouched.
    assert len(original.detections) == 3


def test_cleaner_helpers():
    cleaner = ThresholdDetectionCleaner(0.5)
    assert cleaner.get_clean_tags([ptag("a", 0.5), ptag("b", 0.4)]) == [ptag("a", 0.5)]
    detection = data.Detection(detection_score=0.4)
    assert cleaner.get_clean_detections([detection]) == []
    assert cleaner.clean_detection(detection).id == detection.id
