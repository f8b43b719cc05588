"""Coverage statistics of recording series."""

import datetime

from acoupi.runtime.coverage import measure_coverage

T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def test_exact_tiling_is_full_coverage() -> None:
    spans = [(at(10 * i), 10.0) for i in range(6)]
    coverage = measure_coverage(spans, interval=10)
    assert (coverage.gaps, coverage.overlaps, coverage.largest_gap) == (0, 0, 0.0)
    assert coverage.span == 60 and coverage.fraction == 1.0


def test_continuous_gap_and_overlap_are_counted() -> None:
    spans = [(at(0), 10.0), (at(10.5), 10.0), (at(20.2), 10.0)]
    coverage = measure_coverage(spans, interval=10)
    assert coverage.gaps == 1 and coverage.overlaps == 1
    assert abs(coverage.largest_gap - 0.5) < 1e-9
    assert abs(coverage.recorded - 29.7) < 1e-9  # the overlap counts once


def test_duty_cycle_pauses_are_not_gaps_but_missed_slots_are() -> None:
    spans = [(at(0), 3.0), (at(10.05), 3.0), (at(30), 3.0)]
    coverage = measure_coverage(spans, interval=10)
    assert coverage.gaps == 1  # the slot at 20 s was missed
    assert abs(coverage.largest_gap - 9.95) < 1e-9  # beyond the designed pause


def test_no_recordings() -> None:
    assert measure_coverage([], interval=10).fraction == 1.0
