"""Defect 4 (summary): coverage ignored the silence at the end of a run.

A 300 s run whose recording stopped after 55 s (disk full) reported
"Coverage: 50.0 s of 50.0 s (100.00 %)".
"""

import datetime

from acoupi.runtime.coverage import measure_coverage

T0 = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc)


def _tiles(count: int, seconds: float) -> list[tuple[datetime.datetime, float]]:
    return [
        (T0 + datetime.timedelta(seconds=seconds * i), seconds) for i in range(count)
    ]


def test_trailing_outage_counts_as_a_gap() -> None:
    run_end = T0 + datetime.timedelta(seconds=300)
    coverage = measure_coverage(_tiles(10, 5.0), 5.0, until=run_end)
    assert coverage.span == 300
    assert coverage.recorded == 50
    assert coverage.gaps == 1
    assert coverage.largest_gap == 250
    assert abs(coverage.fraction - 50 / 300) < 1e-9
    assert "nothing recorded in its last 250.0 s" in coverage.describe()


def test_clip_in_progress_at_the_stop_is_not_an_outage() -> None:
    run_end = T0 + datetime.timedelta(seconds=52)  # 2 s into the 11th clip
    coverage = measure_coverage(_tiles(10, 5.0), 5.0, until=run_end)
    assert coverage.span == 50
    assert coverage.gaps == 0
    assert coverage.fraction == 1.0
