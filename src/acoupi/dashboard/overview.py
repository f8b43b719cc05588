"""The overview: is it recording, what did it hear, is anything wrong.

One function assembles everything as JSON-ready values; the overview page,
``/api/overview`` and ``/metrics`` all read it, so they cannot disagree.
"""

import datetime
from typing import Any, Dict, List, Optional

from acoupi.dashboard import health, queries
from acoupi.dashboard.state import Dashboard

__all__ = ["build_overview", "chart_series", "recording_state"]

# Status fields other parts of acoupi may add (next recording, why none is
# due); shown when present.
_STATUS_EXTRAS = (
    "next_recording",
    "no_recording_reason",
    "why_no_recording",
    "last_recording",
)


def recording_state(
    last_end: Optional[datetime.datetime],
    now: datetime.datetime,
    interval: Optional[float],
    duration: Optional[float],
) -> Dict[str, Any]:
    """Say whether recordings are coming in as configured.

    A recording is overdue when the last one ended more than two intervals
    (plus one duration, the time it takes to be stored) ago.
    """
    if last_end is None:
        return {"recording": False, "age_s": None, "text": "No recording yet."}
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
    return {"recording": recording, "age_s": round(age, 1), "text": text}


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
    services = status.get("services") or {}
    summary.update(
        services=services,
        workers_state=celery.get("state"),
        workers=celery.get("workers") or celery.get("worker_names") or [],
        workers_detail=celery.get("detail"),
        program=status.get("program"),
        backlog=status.get("backlog"),
        deployment=(status.get("deployment") or {}).get("name"),
    )
    for key in _STATUS_EXTRAS:
        if key in status:
            summary[key] = status[key]
    return summary


def build_overview(dashboard: Dashboard) -> Dict[str, Any]:
    """Return everything the overview shows, as JSON-ready values."""
    now = dashboard.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with dashboard.connection() as connection:
        totals = queries.totals(connection)
        today_tags = queries.detections_by_tag(
            connection, queries.DetectionQuery(since=today)
        )
        all_tags = dashboard.tag_counter.counts(connection)
        latest = queries.list_recordings(connection, limit=4).rows
    last = totals.last_recording
    schedule = dashboard.recording_schedule()
    last_end = (
        None if last is None else last.time + datetime.timedelta(seconds=last.duration)
    )
    messages = health.message_counts(dashboard.sources)
    return {
        "now": now.isoformat(),
        "recording": recording_state(
            last_end, now, schedule["interval"], schedule["duration"]
        ),
        "last_recording": None if last is None else last.as_json(),
        "totals": {
            "recordings": totals.recordings,
            "detections": totals.detections,
            "deployments": totals.deployments,
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
        "status": _status_summary(dashboard),
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
        "last_error": health.last_error(dashboard.sources),
    }


def chart_series(dashboard: Dashboard, hours: int) -> Dict[str, Any]:
    """Return detections per hour and tag over the last ``hours`` hours.

    ``x`` holds each hour's start (Unix seconds), one series per tag, with
    zeros for hours without detections, as uPlot draws them.
    """
    now = dashboard.now()
    end = now.replace(minute=0, second=0, microsecond=0) + datetime.timedelta(hours=1)
    start = end - datetime.timedelta(hours=hours)
    with dashboard.connection() as connection:
        rows = queries.count_by_bucket(
            connection, queries.DetectionQuery(since=start), "hour"
        )
    hours_list = [start + datetime.timedelta(hours=index) for index in range(hours)]
    index = {hour.strftime("%Y-%m-%dT%H:00Z"): i for i, hour in enumerate(hours_list)}
    series: Dict[str, List[int]] = {}
    for stamp, _, value, count in rows:
        position = index.get(stamp)
        if position is None:
            continue
        series.setdefault(value, [0] * hours)[position] += count
    return {
        "x": [int(hour.timestamp()) for hour in hours_list],
        "series": [{"tag": tag, "counts": series[tag]} for tag in sorted(series)],
    }
