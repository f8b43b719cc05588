"""Recording conditions, the interval scheduler and the shared time rules."""

import datetime
import logging
import zoneinfo

import pytest

from acoupi import data
from acoupi.components.recording_conditions import (
    DawnTimeInterval,
    IsInInterval,
    IsInIntervals,
)
from acoupi.components.recording_schedulers import IntervalScheduler
from acoupi.components.suntimes import (
    DEFAULT_LATITUDE,
    DEFAULT_LONGITUDE,
    LocationResolver,
    sun_event_time,
)
from acoupi.components.timewindows import is_time_in_interval

UTC = datetime.timezone.utc
LONDON = zoneinfo.ZoneInfo("Europe/London")
SYDNEY = zoneinfo.ZoneInfo("Australia/Sydney")
T = datetime.time


def clock_at(moment: datetime.datetime):
    return lambda: moment


@pytest.mark.parametrize(
    ("start", "end", "time", "inside"),
    [
        (T(6), T(22), T(6), True),  # inclusive start
        (T(6), T(22), T(22), True),  # inclusive end
        (T(6), T(22), T(5, 59, 59), False),
        (T(6), T(22), T(22, 0, 1), False),
        (T(22), T(6), T(23), True),  # wraps midnight
        (T(22), T(6), T(0), True),
        (T(22), T(6), T(6), True),
        (T(22), T(6), T(12), False),
        (T(12), T(12), T(12), True),  # a single instant
        (T(12), T(12), T(12, 0, 1), False),
    ],
)
def test_interval_rule(start, end, time, inside):
    interval = data.TimeInterval(start=start, end=end)
    assert is_time_in_interval(time, interval) is inside


def test_is_in_interval_reads_time_in_its_timezone():
    interval = data.TimeInterval(start=T(6), end=T(7))
    # 05:30 UTC is 06:30 in London in summer (BST) but not in winter.
    summer = datetime.datetime(2024, 7, 1, 5, 30, tzinfo=UTC)
    winter = datetime.datetime(2024, 1, 1, 5, 30, tzinfo=UTC)
    assert IsInInterval(interval, LONDON, clock=clock_at(summer)).should_record()
    assert not IsInInterval(interval, LONDON, clock=clock_at(winter)).should_record()
    # A timezone may also be given by name.
    assert IsInInterval(
        interval, "Europe/London", clock=clock_at(summer)
    ).should_record()


def test_is_in_interval_wraps_midnight_in_local_time():
    interval = data.TimeInterval(start=T(22), end=T(6))
    # 13:00 UTC is 23:00 in Sydney in July (AEST, UTC+10).
    moment = datetime.datetime(2024, 7, 1, 13, 0, tzinfo=UTC)
    assert IsInInterval(interval, SYDNEY, clock=clock_at(moment)).should_record()
    assert not IsInInterval(interval, UTC, clock=clock_at(moment)).should_record()


def test_is_in_intervals_any_matches():
    intervals = [
        data.TimeInterval(start=T(5), end=T(6)),
        data.TimeInterval(start=T(20), end=T(21)),
    ]
    at = lambda h: clock_at(datetime.datetime(2024, 1, 1, h, 30, tzinfo=UTC))  # noqa: E731
    assert IsInIntervals(intervals, UTC, clock=at(5)).should_record()
    assert IsInIntervals(intervals, UTC, clock=at(20)).should_record()
    assert not IsInIntervals(intervals, UTC, clock=at(12)).should_record()
    assert not IsInIntervals([], UTC, clock=at(12)).should_record()


def test_default_clock_is_used_without_injection():
    everything = data.TimeInterval(start=T(0), end=T(23, 59, 59, 999999))
    assert IsInInterval(everything, UTC).should_record()


# Dawn ------------------------------------------------------------------------

OSLO = zoneinfo.ZoneInfo("Europe/Oslo")
OSLO_LAT, OSLO_LON = 59.91, 10.75


def test_dawn_uses_given_coordinates():
    day = datetime.date(2024, 3, 20)
    dawn = sun_event_time("dawn", day, OSLO_LAT, OSLO_LON, OSLO)
    assert dawn is not None
    greenwich = sun_event_time("dawn", day, DEFAULT_LATITUDE, DEFAULT_LONGITUDE, OSLO)
    assert greenwich is not None and abs(greenwich - dawn) > datetime.timedelta(
        minutes=30
    )
    condition = DawnTimeInterval(
        10, OSLO, latitude=OSLO_LAT, longitude=OSLO_LON, clock=clock_at(dawn)
    )
    assert condition.should_record()
    condition.clock = clock_at(dawn + datetime.timedelta(minutes=10))
    assert condition.should_record()
    condition.clock = clock_at(dawn - datetime.timedelta(minutes=11))
    assert not condition.should_record()


def test_dawn_falls_back_to_default_location_with_one_warning(caplog):
    day = datetime.date(2024, 3, 20)
    dawn = sun_event_time("dawn", day, DEFAULT_LATITUDE, DEFAULT_LONGITUDE, LONDON)
    condition = DawnTimeInterval(5, LONDON, clock=clock_at(dawn))
    with caplog.at_level(logging.WARNING):
        assert condition.should_record()
        assert condition.should_record()
    warnings = [r for r in caplog.records if "default location" in r.getMessage()]
    assert len(warnings) == 1


def test_dawn_in_polar_summer_and_winter_is_false_not_an_error():
    svalbard = zoneinfo.ZoneInfo("Arctic/Longyearbyen")
    for moment in (
        datetime.datetime(2024, 6, 21, 1, 0, tzinfo=UTC),
        datetime.datetime(2024, 12, 21, 9, 0, tzinfo=UTC),
    ):
        condition = DawnTimeInterval(
            60, svalbard, latitude=78.22, longitude=15.65, clock=clock_at(moment)
        )
        assert condition.should_record() is False


def test_location_needs_both_coordinates():
    with pytest.raises(ValueError):
        LocationResolver(latitude=10.0)
    with pytest.raises(ValueError):
        LocationResolver(latitude=100.0, longitude=0.0)


# Scheduler ---------------------------------------------------------------------


def test_scheduler_never_waits_less_than_the_interval():
    scheduler = IntervalScheduler(10)
    whole = datetime.datetime(2024, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert scheduler.time_until_next_recording(whole) == 10
    fractional = whole.replace(microsecond=500_000)
    # Next start is the whole second 12:00:11, 10.5 s away (upstream: 9).
    assert scheduler.time_until_next_recording(fractional) == 10.5
    assert scheduler.timeinterval == 10


def test_scheduler_defaults_to_now_and_validates():
    assert 10 <= IntervalScheduler(10).time_until_next_recording() <= 11
    with pytest.raises(ValueError):
        IntervalScheduler(0)
