"""Celery schedules for acoupi tasks.

``aligned_schedule`` runs a task every interval on wall-clock boundaries
(:00, :10, :20, ... for ten seconds), not every interval after the previous
run: devices using it record at the same instants, and a late run does not
shift later ones.
"""

import datetime
from typing import Any, Callable, Optional, Tuple

from celery import Celery
from celery.schedules import BaseSchedule, schedstate

__all__ = ["aligned_schedule"]


class aligned_schedule(BaseSchedule):  # noqa: N801 (acoupi 0.8's name)
    """Run every ``run_every``, at clock-aligned slots plus ``offset_seconds``.

    Slots are counted from the Unix epoch, so they do not depend on the
    timezone or on when beat started. A task is due once per slot; slots
    missed while beat was stopped are not caught up (one run, then the
    schedule continues).

    Parameters
    ----------
    run_every
        Interval between slots; must be positive.
    offset_seconds
        Shift of every slot within the interval: with ten seconds and an
        offset of 5, runs are at :05, :15, :25, ... Must be at least 0 and
        smaller than the interval.
    nowfun
        Returns the current time (for tests); Celery's clock by default.
    app
        The Celery app (for its clock and timezone).

    Raises
    ------
    ValueError
        If the interval or the offset is out of range.

    Notes
    -----
    Beat sleeps at most ``beat_max_loop_interval`` seconds (1 by default in
    ``CeleryConfig``), so runs start within about a second of their slot.
    """

    def __init__(
        self,
        run_every: datetime.timedelta,
        offset_seconds: float = 0,
        nowfun: Optional[Callable[[], datetime.datetime]] = None,
        app: Optional[Celery] = None,
    ):
        if isinstance(run_every, (int, float)):
            run_every = datetime.timedelta(seconds=run_every)
        if run_every.total_seconds() <= 0:
            raise ValueError(f"run_every must be positive, got {run_every}.")
        if not 0 <= offset_seconds < run_every.total_seconds():
            raise ValueError(
                f"offset_seconds must be at least 0 and smaller than run_every "
                f"({run_every.total_seconds():g} s), got {offset_seconds}."
            )
        super().__init__(nowfun=nowfun, app=app)
        self.run_every = run_every
        self.offset_seconds = offset_seconds

    @property
    def seconds(self) -> float:
        """Interval between slots, in seconds."""
        return self.run_every.total_seconds()

    def slot(self, moment: datetime.datetime) -> int:
        """Return the index of the slot ``moment`` falls in."""
        timestamp = self.maybe_make_aware(moment).timestamp()
        return int((timestamp - self.offset_seconds) // self.seconds)

    def remaining_estimate(self, last_run_at: datetime.datetime) -> datetime.timedelta:
        """Return the time from now to the start of the next slot."""
        now = self.maybe_make_aware(self.now())
        start = (self.slot(now) + 1) * self.seconds + self.offset_seconds
        return datetime.timedelta(seconds=max(0.0, start - now.timestamp()))

    def is_due(self, last_run_at: datetime.datetime) -> Tuple[bool, float]:
        """Due when the current slot is later than the last run's slot."""
        now = self.now()
        if self.slot(now) > self.slot(last_run_at):
            return schedstate(is_due=True, next=self.seconds)
        wait = self.remaining_estimate(last_run_at).total_seconds()
        return schedstate(is_due=False, next=wait)

    def __reduce__(self) -> Tuple[Any, ...]:
        # Beat pickles its schedule; the clock and app are not kept.
        return (self.__class__, (self.run_every, self.offset_seconds))

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, aligned_schedule):
            return (self.run_every, self.offset_seconds) == (
                other.run_every,
                other.offset_seconds,
            )
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.run_every, self.offset_seconds))

    def __repr__(self) -> str:
        return (
            f"<aligned_schedule: every {self.seconds:g} s, "
            f"offset {self.offset_seconds:g} s>"
        )
