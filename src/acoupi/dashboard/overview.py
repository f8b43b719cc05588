"""The overview: is it recording, what did it hear, is anything wrong.

One function assembles everything as JSON-ready values; the overview page,
``/api/overview`` and ``/metrics`` all read it, so they cannot disagree.
"""

import datetime
from typing import Any, Dict, List, Optional

from acoupi.dashboard import health, queries
from acoupi.dashboard.state import Dashboard

__all__ = ["build_overview", "chart_series", "recording_state"]


def recording_state(
    last_end: Optional[datetime.datetime],
    now: datetime.datetime,
    interval: Optional[float],
    duration: Optional[float],
) -> Dict[str, Any]:
    """Say whether recordings are coming in as configured.

    A recording is overdue when the last one ended more than two intervals
    (plus one duration, the time it takes to be stored) ago. ``level`` is
    the banner's colour: good, warn or bad.
    """
    if last_end is None:
        return {
            "recording": False,
            "age_s": None,
            "text": "No recording yet.",
            "level": "warn",
        }
    age = max(0.0, (now - last_end).total_seconds())
    expected = 2 * (interval or 60.0) + (duration or 0.0)
    recording = age <= expected
    when = _age_text(age)
    if recording:
        text = f"Recording: the last recording ended {when} ago."
    else:
        text = f"No new recording for {when}" + (
            f" (one is expected every {interval:g} s)." if interval else "."
        )
    return {
        "recording": recording,
        "age_s": round(age, 1),
        "text": text,
        "level": "good" if recording else "bad",
    }


def _age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _status_summary(dashboard: Dashboard) -> Dict[str, Any]:
    status, error, age = dashboard.status.get()
    summary: Dict[str, Any] = {
        "available": status is not None,
        "error": error,
        "age_s": None if age is None else round(age, 1),
    }
    if status is None:
        return summary
    celery = status.get("celery") or {}
    outlook = status.get("outlook") or {}
    running = status.get("running") or {}
    summary.update(
        services=status.get("services") or {},
        workers_state=celery.get("state"),
        workers=celery.get("workers") or celery.get("worker_names") or [],
        workers_detail=celery.get("detail"),
        running=running.get("mode"),
        processes=sorted((running.get("processes") or {}).keys()),
        program=status.get("program"),
        backlog=status.get("backlog"),
        pending=status.get("pending"),
        deployment=(status.get("deployment") or {}).get("name"),
        recording_now=outlook.get("recording_now"),
        next_recording=outlook.get("next_recording"),
        no_recording_reason=outlook.get("reason"),
    )
    return summary


def build_overview(dashboard: Dashboard) -> Dict[str, Any]:
    """Return everything the overview shows, as JSON-ready values."""
    now = dashboard.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    counters = dashboard.counters
    with dashboard.connection() as connection:
        recordings = counters.recordings(connection)
        detections = counters.detections(connection)
        all_tags = counters.tags(connection)
        today_hours = counters.hourly(connection, _hours(today, now))
        latest = queries.list_recordings(connection, limit=4).rows
        deployments = connection.execute("SELECT count(*) FROM deployment").fetchone()
    today_tags: Dict[str, int] = {}
    for counts in today_hours.values():
        for (_, value), count in counts.items():
            today_tags[value] = today_tags.get(value, 0) + count
    today_tags = dict(sorted(today_tags.items(), key=lambda item: -item[1]))
    last = latest[0] if latest else None
    schedule = dashboard.recording_schedule()
    last_end = (
        None if last is None else last.time + datetime.timedelta(seconds=last.duration)
    )
    messages = health.message_counts(dashboard.sources)
    status = _status_summary(dashboard)
    last_error = health.last_error(dashboard.sources, now)
    recording = recording_state(
        last_end, now, schedule["interval"], schedule["duration"]
    )
    if status.get("recording_now") is False and status.get("no_recording_reason"):
        # The schedule knows better than the files: e.g. the run just ended.
        recording["recording"] = False
        recording["text"] = f"Not recording: {status['no_recording_reason']}."
        recording["level"] = "warn"
    elif recording["level"] == "bad" and not (status["available"] or status["error"]):
        # The first status is on its way: no alarm before it says whether
        # anything should be recording now.
        recording["text"] = (
            recording["text"].rstrip(".") + "; checking whether a deployment is active."
        )
        recording["level"] = "warn"
    return {
        "now": now.isoformat(),
        "recording": recording,
        "last_recording": None if last is None else last.as_json(),
        "totals": {
            "recordings": recordings,
            "detections": detections,
            "deployments": deployments[0],
        },
        "today": {
            "since": today.isoformat(),
            "detections": sum(today_tags.values()),
            "by_tag": today_tags,
        },
        "all_time_by_tag": [
            {"key": key, "tag": value, "count": count}
            for (key, value), count in sorted(
                all_tags.items(), key=lambda item: -item[1]
            )
        ],
        "latest_recordings": [row.as_json() for row in latest],
        "status": status,
        "disk": [
            {
                "label": space.label,
                "path": str(space.path),
                "free_bytes": space.free_bytes,
                "total_bytes": space.total_bytes,
                "free_fraction": round(space.free_fraction, 4),
            }
            for space in health.disk_space(dashboard.sources)
        ],
        "messages": None
        if messages is None
        else {"sent": messages.sent, "pending": messages.pending},
        "last_error": None if last_error is None else last_error.as_json(),
    }


def chart_series(dashboard: Dashboard, hours: int) -> Dict[str, Any]:
    """Return detections per hour and tag over the last ``hours`` hours.

    ``x`` holds each hour's start (Unix seconds), one series per tag, with
    zeros for hours without detections, as uPlot draws them.
    """
    now = dashboard.now()
    end = now.replace(minute=0, second=0, microsecond=0) + _HOUR
    hours_list = _hours(end - hours * _HOUR, end)
    with dashboard.connection() as connection:
        counts = dashboard.counters.hourly(connection, hours_list)
    tags = sorted({value for bucket in counts.values() for _, value in bucket})
    series = {tag: [0] * len(hours_list) for tag in tags}
    for position, bucket in enumerate(counts.values()):
        for (_, value), count in bucket.items():
            series[value][position] += count
    return {
        "x": [int(hour.timestamp()) for hour in hours_list],
        "series": [{"tag": tag, "counts": series[tag]} for tag in tags],
    }


_HOUR = datetime.timedelta(hours=1)


def _hours(
    since: datetime.datetime, until: datetime.datetime
) -> List[datetime.datetime]:
    """Return the starts of the whole hours from ``since`` up to ``until``."""
    hour = since.replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < until:
        hours.append(hour)
        hour += _HOUR
    return hours
