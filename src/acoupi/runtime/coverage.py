"""How completely a series of recordings covers time.

In continuous mode (interval equal to duration) recordings should tile time
exactly, so any missing audio between two files is a gap (one sample of
tolerance aside) and any repeated audio an overlap. In duty-cycled mode the
pauses are by design; a gap is then a missed recording slot.
"""

import datetime
from dataclasses import dataclass
from itertools import pairwise
from typing import Optional, Sequence, Tuple

__all__ = ["Coverage", "Span", "measure_coverage"]

Span = Tuple[datetime.datetime, float]
"""A recording's start time and duration in seconds."""


@dataclass(frozen=True)
class Coverage:
    """Coverage of a series of recordings.

    Attributes
    ----------
    recordings
        Number of recordings.
    span
        Seconds from the first recording's start to the last one's end.
    recorded
        Seconds of audio recorded (overlaps counted once).
    gaps
        Missing stretches (continuous) or missed slots (duty-cycled).
    largest_gap
        Longest stretch without audio between two recordings, in seconds,
        beyond the designed pause.
    overlaps
        Pairs of recordings that repeat audio (continuous mode).
    """

    recordings: int
    span: float
    recorded: float
    gaps: int
    largest_gap: float
    overlaps: int
    trailing_outage: float = 0.0
    """Seconds with no recording between the last one's end and the run's
    end, when longer than one interval (then part of ``span``, and a gap)."""

    @property
    def fraction(self) -> float:
        """Fraction of the span that was recorded (1.0 when empty)."""
        return self.recorded / self.span if self.span > 0 else 1.0

    def describe(self) -> str:
        """One line for reports."""
        # Say what the span is: read alone, "20 s of 20 s" after a 15 s
        # run looked like a clock error.
        until = (
            f"the run's end (nothing recorded in its last {self.trailing_outage:.1f} s)"
            if self.trailing_outage
            else "the last one's end"
        )
        return (
            f"{self.recorded:.1f} s of audio in {self.recordings} "
            f"{'file' if self.recordings == 1 else 'files'}, "
            f"{100 * self.fraction:.2f} % of the {self.span:.1f} s from the "
            f"first recording's start to {until}; gaps: {self.gaps} "
            f"(largest {self.largest_gap:.3f} s); overlaps: {self.overlaps}"
        )


def measure_coverage(
    spans: Sequence[Span],
    interval: float,
    tolerance: float = 0.001,
    until: Optional[datetime.datetime] = None,
) -> Coverage:
    """Measure how ``spans`` cover time.

    Parameters
    ----------
    spans
        Start time and duration of each recording, in any order.
    interval
        Seconds between recording starts as configured; equal to the
        duration in continuous mode.
    tolerance
        Seconds of mismatch at a file boundary still counted as tiling
        (timestamps are rounded to the microsecond).
    until
        When the run ended. Silence after the last recording longer than
        one interval (recording stopped: disk full, microphone gone) then
        counts as a gap and as part of the span; the clip in progress at
        the end (shorter than an interval) does not.
    """
    ordered = sorted(spans)
    if not ordered:
        return Coverage(0, 0.0, 0.0, 0, 0.0, 0)
    first_start = ordered[0][0]
    end = max(start + datetime.timedelta(seconds=d) for start, d in ordered)
    span = (end - first_start).total_seconds()
    recorded = 0.0
    covered_until = first_start
    for start, duration in ordered:
        stop = start + datetime.timedelta(seconds=duration)
        if stop > covered_until:
            recorded += (stop - max(start, covered_until)).total_seconds()
            covered_until = stop

    gaps = overlaps = 0
    largest = 0.0
    for (a_start, a_duration), (b_start, b_duration) in pairwise(ordered):
        continuous = interval <= max(a_duration, b_duration) + tolerance
        pause = (b_start - a_start).total_seconds() - a_duration
        expected_pause = 0.0 if continuous else interval - a_duration
        missing = pause - expected_pause
        if continuous:
            if missing > tolerance:
                gaps += 1
            elif pause < -tolerance:
                overlaps += 1
        elif (b_start - a_start).total_seconds() > 1.5 * interval:
            gaps += 1
        largest = max(largest, missing if missing > tolerance else 0.0)
    trailing = 0.0
    if until is not None:
        tail = (until - end).total_seconds()
        if tail > interval + tolerance:
            trailing = tail
            span += tail
            gaps += 1
            largest = max(largest, tail)
    return Coverage(len(ordered), span, recorded, gaps, largest, overlaps, trailing)
