"""Saving filters: keep or delete, in the right timezone and place."""

import datetime
import logging
import zoneinfo

import pytest

from acoupi import data
from acoupi.components.saving_filters import (
    After_DawnDuskTimeInterval,
    Before_DawnDuskTimeInterval,
    DetectionTags,
    DetectionTagValue,
    FrequencySchedule,
    SaveIfInInterval,
    SavingThreshold,
)
from acoupi.components.suntimes import (
    DEFAULT_LATITUDE,
    DEFAULT_LONGITUDE,
    sun_event_time,
)
from audio_support import make_deployment, make_recording

UTC = datetime.timezone.utc
T = datetime.time
MINUTE = datetime.timedelta(minutes=1)
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
TOKYO_LAT, TOKYO_LON = 35.68, 139.69


def output(recording, tags=(), detections=()):
    return data.ModelOutput(
        name_model="m",
        recording=recording,
        tags=list(tags),
        detections=list(detections),
    )


def ptag(value, score, key="species"):
    return data.PredictedTag(tag=data.Tag(key=key, value=value), confidence_score=score)


def detection(score, *tags):
    return data.Detection(detection_score=score, tags=list(tags))


REC = make_recording(datetime.datetime(2024, 5, 1, 12, 0, tzinfo=UTC))


def test_save_if_in_interval_converts_to_its_timezone():
    interval = data.TimeInterval(start=T(20), end=T(4))  # a night, Tokyo time
    # 12:00 UTC is 21:00 in Tokyo: inside. Upstream compared 12:00: outside.
    assert SaveIfInInterval(interval, TOKYO).should_save_recording(REC)
    assert not SaveIfInInterval(interval, UTC).should_save_recording(REC)


def test_save_if_in_interval_reads_naive_times_as_utc():
    naive = REC.model_copy(update={"created_on": datetime.datetime(2024, 5, 1, 12)})
    interval = data.TimeInterval(start=T(21), end=T(21))
    assert SaveIfInInterval(interval, TOKYO).should_save_recording(naive)


@pytest.mark.parametrize(
    ("minute", "second", "kept"),
    [(0, 0, True), (4, 59, True), (5, 0, False), (9, 59, False), (10, 0, True)],
)
def test_frequency_schedule(minute, second, kept):
    recording = make_recording(
        datetime.datetime(2024, 5, 1, 12, minute, second, tzinfo=UTC)
    )
    assert (
        FrequencySchedule(duration=5, frequency=10).should_save_recording(recording)
        is kept
    )


def test_frequency_must_be_positive():
    with pytest.raises(ValueError):
        FrequencySchedule(duration=5, frequency=0)


def _tokyo_event(event, day=datetime.date(2024, 5, 1)):
    when = sun_event_time(event, day, TOKYO_LAT, TOKYO_LON, TOKYO)
    assert when is not None
    return when


@pytest.mark.parametrize("event", ["dawn", "dusk"])
def test_before_and_after_windows(event):
    deployment = make_deployment(latitude=TOKYO_LAT, longitude=TOKYO_LON)
    when = _tokyo_event(event)
    before = Before_DawnDuskTimeInterval(30, TOKYO)
    after = After_DawnDuskTimeInterval(30, TOKYO)

    def rec(offset):
        return make_recording(when + offset, deployment)

    assert before.should_save_recording(rec(-29 * MINUTE))
    assert before.should_save_recording(rec(0 * MINUTE))
    assert not before.should_save_recording(rec(-31 * MINUTE))
    assert not before.should_save_recording(rec(MINUTE))
    assert after.should_save_recording(rec(0 * MINUTE))
    assert after.should_save_recording(rec(29 * MINUTE))
    assert not after.should_save_recording(rec(-MINUTE))
    assert not after.should_save_recording(rec(31 * MINUTE))


def test_explicit_coordinates_override_the_deployment():
    elsewhere = make_deployment(latitude=-33.9, longitude=18.4)  # Cape Town
    when = _tokyo_event("dawn")
    recording = make_recording(when - 5 * MINUTE, elsewhere)
    assert not Before_DawnDuskTimeInterval(10, TOKYO).should_save_recording(recording)
    explicit = Before_DawnDuskTimeInterval(
        10, TOKYO, latitude=TOKYO_LAT, longitude=TOKYO_LON
    )
    assert explicit.should_save_recording(recording)


def test_default_location_when_nothing_known(caplog):
    london = zoneinfo.ZoneInfo("Europe/London")
    day = datetime.date(2024, 5, 1)
    dusk = sun_event_time("dusk", day, DEFAULT_LATITUDE, DEFAULT_LONGITUDE, london)
    recording = make_recording(dusk + 5 * MINUTE)  # deployment without position
    with caplog.at_level(logging.WARNING):
        assert After_DawnDuskTimeInterval(10, london).should_save_recording(recording)
    assert "default location" in caplog.text


def test_polar_day_has_no_dawn_or_dusk_window():
    svalbard = make_deployment(latitude=78.22, longitude=15.65)
    tz = zoneinfo.ZoneInfo("Arctic/Longyearbyen")
    midsummer = make_recording(
        datetime.datetime(2024, 6, 21, 1, 0, tzinfo=UTC), svalbard
    )
    assert not Before_DawnDuskTimeInterval(120, tz).should_save_recording(midsummer)
    assert not After_DawnDuskTimeInterval(120, tz).should_save_recording(midsummer)


def test_window_crossing_midnight_uses_the_neighbouring_day():
    # Late-May Helsinki dusk is close to midnight local time; a recording
    # just after midnight is still within 3 hours after the previous dusk.
    helsinki = zoneinfo.ZoneInfo("Europe/Helsinki")
    deployment = make_deployment(latitude=60.17, longitude=24.94)
    dusk = sun_event_time("dusk", datetime.date(2024, 5, 25), 60.17, 24.94, helsinki)
    assert dusk is not None
    after_midnight = dusk.astimezone(helsinki).replace(
        hour=0, minute=30
    ) + datetime.timedelta(days=1)
    assert after_midnight - dusk < datetime.timedelta(hours=3)
    recording = make_recording(after_midnight, deployment)
    assert After_DawnDuskTimeInterval(180, helsinki).should_save_recording(recording)


def test_saving_threshold():
    f = SavingThreshold(0.5)
    assert not f.should_save_recording(REC, None)
    assert not f.should_save_recording(REC, [])
    assert not f.should_save_recording(REC, [output(REC, detections=[detection(0.4)])])
    assert f.should_save_recording(REC, [output(REC, detections=[detection(0.5)])])
    assert f.should_save_recording(REC, [output(REC, tags=[ptag("a", 0.6)])])
    assert f.has_confident_model_output(output(REC, tags=[ptag("a", 0.5)]))


def test_detection_tag_value_ignores_scores():
    f = DetectionTagValue(["owl"])
    assert not f.should_save_recording(REC, None)
    low = output(REC, detections=[detection(0.01, ptag("owl", 0.01))])
    assert f.should_save_recording(REC, [low])
    assert not f.should_save_recording(
        REC, [output(REC, detections=[detection(1, ptag("bat", 1))])]
    )
    assert f.has_confident_tagvalues(low)


def test_detection_tags_need_confident_tag_and_detection():
    owl = data.Tag(key="species", value="owl")
    f = DetectionTags([owl], saving_threshold=0.5)
    assert not f.should_save_recording(REC, None)
    assert f.should_save_recording(REC, [output(REC, tags=[ptag("owl", 0.5)])])
    assert not f.should_save_recording(REC, [output(REC, tags=[ptag("owl", 0.4)])])
    good = output(REC, detections=[detection(0.9, ptag("owl", 0.6))])
    assert f.should_save_recording(REC, [good]) and f.has_confident_tag(good)
    weak_detection = output(REC, detections=[detection(0.4, ptag("owl", 0.9))])
    assert not f.should_save_recording(REC, [weak_detection])
    other_key = output(REC, detections=[detection(0.9, ptag("owl", 0.9, key="call"))])
    assert not f.should_save_recording(REC, [other_key])
