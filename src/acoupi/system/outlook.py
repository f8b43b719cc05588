"""When the next recording is due, or why none is.

The recording task runs on the beat schedule, but it records only while
every recording condition of the program holds (e.g. the daily time
window) and a deployment is active. :func:`schedule_outlook` answers, for
a loaded program, "is it recording, when is the next recording, and if
none is due, why not and until when" — for ``acoupi deployment status``,
the dashboard and the live view of ``acoupi run``.

Conditions are evaluated at future moments by giving a copy of each its
own clock (every condition of :mod:`acoupi.components.recording_conditions`
reads time through ``clock``), so any condition with a clock works, not
only time windows.
"""

import copy
import datetime
from typing import Any, Callable, List, Optional, Sequence

from pydantic import BaseModel

from acoupi.data import Deployment
from acoupi.timeutil import as_utc, now_utc

__all__ = [
    "RECORDING_TASK",
    "ScheduleOutlook",
    "program_timezone",
    "schedule_outlook",
    "schedule_seconds",
]

RECORDING_TASK = "recording_task"
"""Name of the task that records, in every recording program."""

HORIZON = datetime.timedelta(hours=48)
"""How far ahead to look for the next moment the conditions allow."""

_STEP = datetime.timedelta(minutes=5)
"""Coarse search step; the first allowed moment is then refined to 1 s."""


class ScheduleOutlook(BaseModel):
    """Whether the program records now, and when it next will.

    ``reason`` is set whenever nothing is being recorded, in plain words
    ("outside the recording window 06:00-22:30 (Europe/London) until
    06:00", "no deployment is active", ...).
    """

    records: bool
    """The program has a recording task at all."""

    recording_now: bool = False
    """A deployment is active and every recording condition holds now."""

    next_recording: Optional[datetime.datetime] = None
    """Start of the next recording (UTC), when one is expected."""

    reason: Optional[str] = None
    """Why nothing is recorded now; None while recording."""

    interval_s: Optional[float] = None
    """Seconds between two recordings on the beat schedule."""

    window: Optional[str] = None
    """The daily time window(s), e.g. ``"06:00-22:30 (Europe/London)"``."""

    timezone: Optional[str] = None
    """Timezone the program's times of day are written in."""


def schedule_seconds(schedule: Any) -> Optional[float]:
    """Seconds between runs of a beat schedule entry; None if not an interval.

    Programs give seconds, a ``timedelta`` or a Celery ``schedule``; a
    ``crontab`` (or anything else) has no single interval.
    """
    if isinstance(schedule, datetime.timedelta):
        return schedule.total_seconds()
    if isinstance(schedule, (int, float)) and not isinstance(schedule, bool):
        return float(schedule)
    run_every = getattr(schedule, "run_every", None)  # celery.schedules.schedule
    if isinstance(run_every, datetime.timedelta) and not hasattr(schedule, "hour"):
        return run_every.total_seconds()
    return None


def _interval_seconds(program: Any) -> Optional[float]:
    """Seconds between recordings from the program's beat schedule."""
    app = getattr(program, "app", None)
    schedule = getattr(getattr(app, "conf", None), "beat_schedule", None) or {}
    return schedule_seconds(schedule.get(RECORDING_TASK, {}).get("schedule"))


def _conditions(program: Any) -> List[Any]:
    get = getattr(program, "get_recording_conditions", None)
    config = getattr(program, "config", None)
    if get is None or config is None:
        return []
    return list(get(config))


def _at(conditions: Sequence[Any], moment: datetime.datetime) -> bool:
    """Whether every condition allows recording at ``moment``."""
    for condition in conditions:
        probe = copy.copy(condition)
        probe.clock = lambda moment=moment: moment
        if not probe.should_record():
            return False
    return True


def _window_starts(
    conditions: Sequence[Any], start: datetime.datetime
) -> List[datetime.datetime]:
    """Openings of the conditions' daily windows within the horizon.

    Probed besides the coarse grid so that a window shorter than the grid
    step is not stepped over.
    """
    openings = []
    for condition in conditions:
        zone = getattr(condition, "timezone", None)
        intervals = getattr(condition, "intervals", None)
        single = getattr(condition, "interval", None)
        if zone is None or not isinstance(zone, datetime.tzinfo):
            continue
        local_day = start.astimezone(zone).date()
        for interval in intervals or ([single] if single is not None else []):
            for days in range(HORIZON.days + 2):
                day = local_day + datetime.timedelta(days=days)
                local = datetime.datetime.combine(
                    day, interval.start.replace(tzinfo=None), tzinfo=zone
                )
                moment = local.astimezone(datetime.timezone.utc)
                if start < moment <= start + HORIZON:
                    openings.append(moment)
    return openings


def _first_allowed(
    allowed: Callable[[datetime.datetime], bool],
    start: datetime.datetime,
    extra: Sequence[datetime.datetime] = (),
) -> Optional[datetime.datetime]:
    """First whole second after ``start`` that ``allowed`` accepts.

    Probes a coarse grid plus the ``extra`` moments, then bisects between
    the last refused and the first allowed probe.
    """
    origin = start.replace(microsecond=0)
    step = int(_STEP.total_seconds())
    offsets = set(range(step, int(HORIZON.total_seconds()) + step, step))
    for moment in extra:
        delta = (moment - origin).total_seconds()
        offsets.add(int(delta) + (delta % 1 > 0))
    second = datetime.timedelta(seconds=1)
    refused = 0  # offsets in whole seconds from origin
    for offset in sorted(offsets):
        if not allowed(origin + offset * second):
            refused = offset
            continue
        low, high = refused, offset
        while high - low > 1:
            middle = (low + high) // 2
            if allowed(origin + middle * second):
                high = middle
            else:
                low = middle
        return origin + high * second
    return None


def _clock(time: datetime.time) -> str:
    return time.strftime("%H:%M:%S" if time.second else "%H:%M")


def _window(conditions: Sequence[Any]) -> Optional[str]:
    """Describe the daily windows of interval conditions, if there are any."""
    parts = []
    for condition in conditions:
        intervals = getattr(condition, "intervals", None)
        single = getattr(condition, "interval", None)
        for interval in intervals or ([single] if single is not None else []):
            parts.append(f"{_clock(interval.start)}-{_clock(interval.end)}")
        zone = getattr(condition, "timezone", None)
        if parts and zone is not None:
            return f"{', '.join(parts)} ({zone})"
    return ", ".join(parts) or None


def _local(moment: datetime.datetime, timezone: Optional[datetime.tzinfo]) -> str:
    local = moment.astimezone(timezone) if timezone is not None else moment
    today = datetime.datetime.now(local.tzinfo).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    return local.strftime("%a %d %b %H:%M")


def program_timezone(program: Any) -> Optional[datetime.tzinfo]:
    """The timezone of the program's config (None: none or unknown)."""
    name = getattr(getattr(program, "config", None), "timezone", None)
    if name is None:
        return None
    try:
        from acoupi.components.timewindows import as_tzinfo

        return as_tzinfo(str(name))
    except Exception:  # an unknown zone name: show UTC times
        return None


def schedule_outlook(
    program: Any,
    deployment: Optional[Deployment],
    now: Optional[datetime.datetime] = None,
    last_recording: Optional[datetime.datetime] = None,
) -> ScheduleOutlook:
    """Say whether ``program`` records now, when next, and why not.

    Parameters
    ----------
    program
        A loaded acoupi program.
    deployment
        The current deployment, or None when none is active.
    now
        The current time (default: the clock).
    last_recording
        Start of the latest stored recording, to place the next one on the
        schedule; without it the next recording is expected within one
        interval.

    Returns
    -------
    ScheduleOutlook
        Never raises for a condition that cannot be evaluated: the reason
        then says which condition is not met.
    """
    now = as_utc(now) if now is not None else now_utc()
    if RECORDING_TASK not in getattr(program, "tasks", {}):
        name = type(program).__module__
        return ScheduleOutlook(
            records=False,
            reason=f"the program ({name}) makes no recordings: it has no "
            "recording task",
        )
    interval = _interval_seconds(program)
    conditions = _conditions(program)
    zone = program_timezone(program)
    outlook = ScheduleOutlook(
        records=True,
        interval_s=interval,
        window=_window(conditions),
        timezone=str(zone) if zone is not None else None,
    )
    if deployment is None or deployment.ended_on is not None:
        outlook.reason = (
            "no deployment is active: start one with `acoupi deployment start` "
            "or `acoupi run`"
        )
        return outlook

    timed = [c for c in conditions if hasattr(c, "clock")]
    untimed = [c for c in conditions if not hasattr(c, "clock")]
    for condition in untimed:
        if not condition.should_record():
            outlook.reason = (
                f"the recording condition {type(condition).__name__} is not met"
            )
            return outlook

    if _at(timed, now):
        outlook.recording_now = True
        outlook.next_recording = _next_tick(now, interval, last_recording)
        return outlook

    start = _first_allowed(
        lambda moment: _at(timed, moment), now, _window_starts(timed, now)
    )
    where = (
        f"outside the recording window {outlook.window}"
        if outlook.window
        else "the recording conditions ("
        + ", ".join(type(c).__name__ for c in timed)
        + ") are not met"
    )
    if start is None:
        outlook.reason = f"{where} for at least the next {HORIZON.days * 24} hours"
        return outlook
    outlook.next_recording = start
    outlook.reason = f"{where} until {_local(start, zone)}"
    return outlook


def _next_tick(
    now: datetime.datetime,
    interval: Optional[float],
    last_recording: Optional[datetime.datetime],
) -> datetime.datetime:
    """Next start on the schedule: one interval after the last recording."""
    if interval is None or interval <= 0:
        return now
    step = datetime.timedelta(seconds=interval)
    if last_recording is not None:
        due = as_utc(last_recording) + step
        if due >= now:
            return due
    return now + step
