"""Summarisers against a real SqliteStore."""

import datetime
import json

import pytest

from acoupi import data
from acoupi.components.stores import SqliteStore
from acoupi.components.summariser import (
    StatisticsDetectionsSummariser,
    ThresholdsDetectionsSummariser,
)
from audio_support import make_recording

UTC = datetime.timezone.utc
NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    return SqliteStore(tmp_path / "metadata.db")


def add_output(store, minutes_ago, scores):
    """Store one output with one detection per (species, score)."""
    created = NOW - datetime.timedelta(minutes=minutes_ago)
    recording = make_recording(created)
    detections = [
        data.Detection(
            detection_score=score,
            tags=[
                data.PredictedTag(
                    tag=data.Tag(key="species", value=species), confidence_score=score
                )
            ],
        )
        for species, score in scores
    ]
    store.store_model_output(
        data.ModelOutput(
            name_model="m",
            recording=recording,
            detections=detections,
            created_on=created,
        )
    )


def test_statistics_summary(store):
    add_output(store, 10, [("owl", 0.2), ("owl", 0.6), ("bat", 0.9)])
    add_output(store, 30, [("owl", 0.7)])
    add_output(store, 90, [("owl", 0.1)])  # outside the hour
    message = StatisticsDetectionsSummariser(store).build_summary(NOW)
    content = json.loads(message.content)
    assert content["owl"] == {"mean": 0.5, "min": 0.2, "max": 0.7, "count": 3}
    assert content["bat"] == {"mean": 0.9, "min": 0.9, "max": 0.9, "count": 1}
    assert content["timeinterval"] == {
        "starttime": (NOW - datetime.timedelta(hours=1)).isoformat(),
        "endtime": NOW.isoformat(),
    }
    assert list(content)[-1] == "timeinterval"


def test_interval_as_timedelta_and_empty_window(store):
    summariser = StatisticsDetectionsSummariser(
        store, interval=datetime.timedelta(minutes=5)
    )
    content = json.loads(summariser.build_summary(NOW).content)
    assert list(content) == ["timeinterval"]


def test_threshold_bands_use_all_three_thresholds(store):
    add_output(
        store,
        5,
        [("owl", 0.05), ("owl", 0.1), ("owl", 0.3), ("owl", 0.5), ("owl", 0.95)],
    )
    summariser = ThresholdsDetectionsSummariser(
        store, low_band_threshold=0.1, mid_band_threshold=0.5, high_band_threshold=0.9
    )
    owl = json.loads(summariser.build_summary(NOW).content)["owl"]
    assert owl == {
        "count_low_threshold": 2,  # 0.1, 0.3 (0.05 is below every band)
        "count_mid_threshold": 1,  # 0.5
        "count_high_threshold": 1,  # 0.95
        "mean_low_threshold": 0.2,
        "mean_mid_threshold": 0.5,
        "mean_high_threshold": 0.95,
    }


def test_empty_band_gives_zero_and_null(store):
    add_output(store, 5, [("bat", 0.95)])
    bat = json.loads(ThresholdsDetectionsSummariser(store).build_summary(NOW).content)[
        "bat"
    ]
    assert bat["count_low_threshold"] == 0 and bat["mean_low_threshold"] is None
    assert bat["count_mid_threshold"] == 0 and bat["mean_mid_threshold"] is None
    assert bat["count_high_threshold"] == 1


def test_thresholds_must_increase(store):
    with pytest.raises(ValueError):
        ThresholdsDetectionsSummariser(
            store, low_band_threshold=0.6, mid_band_threshold=0.5
        )
