"""What a deployment has done today: recordings, detections, messages.

Read straight from the program's SQLite files, read-only and with a short
timeout, through the same queries as the live view of ``acoupi run``
(:mod:`acoupi.runtime.metrics`), so both always agree.
"""

import datetime
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Dict, Optional

from pydantic import BaseModel, Field

from acoupi.timeutil import now_utc

__all__ = ["Activity", "read_activity", "message_destination", "start_of_day"]


class Activity(BaseModel):
    """Today's work of the program; None where it could not be read."""

    since: datetime.datetime
    """Start of "today" (local midnight in the program's timezone), UTC."""

    last_recording: Optional[datetime.datetime] = None
    """Start of the latest stored recording (UTC), of any day."""

    recordings_today: Optional[int] = None
    processed_today: Optional[int] = None
    """Recordings the model processed today."""

    detections_today: Optional[int] = None
    detections_by_tag: Dict[str, int] = Field(default_factory=dict)
    """Today's detections per tag value, e.g. ``{"bat": 3}``."""

    messages_pending: Optional[int] = None
    """Messages stored but not yet delivered (all days)."""

    messages_sent: Optional[int] = None
    messages_destination: Optional[str] = None
    """Where messages go, e.g. ``mqtt://host:1883 topic t``; no secrets."""

    problems: list[str] = Field(default_factory=list)
    """Why a figure could not be read."""


def start_of_day(
    now: datetime.datetime, timezone: Optional[datetime.tzinfo]
) -> datetime.datetime:
    """Local midnight of ``now``'s day in ``timezone`` (UTC when None)."""
    local = now.astimezone(timezone or datetime.timezone.utc)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(datetime.timezone.utc)


def message_destination(messenger: Any) -> Optional[str]:
    """Where a messenger sends to, without credentials."""
    if messenger is None:
        return None
    base_url = getattr(messenger, "base_url", None)
    if base_url is not None:
        from acoupi.components.messengers.http import redact_url

        return redact_url(str(base_url))
    host = getattr(messenger, "host", None)
    if host is not None:
        port = getattr(messenger, "port", None)
        topic = getattr(messenger, "topic", None)
        where = f"mqtt://{host}" + (f":{port}" if port else "")
        return where + (f" topic {topic}" if topic else "")
    return type(messenger).__name__


def _last_recording(database: Path) -> Optional[datetime.datetime]:
    from acoupi.components.sqlite_db import datetime_from_db

    uri = f"file:{database}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=0.5)) as connection:
        row = connection.execute("SELECT MAX(datetime) FROM recording").fetchone()
    return datetime_from_db(row[0]) if row and row[0] else None


def read_activity(
    program: Any,
    timezone: Optional[datetime.tzinfo] = None,
    now: Optional[datetime.datetime] = None,
) -> Activity:
    """Read today's activity of a loaded program; never raises.

    Parameters
    ----------
    program
        A loaded acoupi program (a program without a store gives an
        activity with every count None).
    timezone
        Timezone whose calendar day counts as "today".
    now
        The current time (default: the clock).

    Returns
    -------
    Activity
        Today's figures, with ``problems`` naming what could not be read.
    """
    from acoupi.runtime.metrics import MetricsCollector, detections_by_tag

    since = start_of_day(now or now_utc(), timezone)
    activity = Activity(
        since=since,
        messages_destination=message_destination(getattr(program, "messenger", None)),
    )
    collector = MetricsCollector(program, since, queues=[])
    snapshot = collector.collect()
    activity.problems.extend(snapshot.problems)
    activity.recordings_today = snapshot.recordings
    activity.processed_today = snapshot.model_outputs
    activity.detections_today = snapshot.detections
    activity.messages_pending = snapshot.messages_pending
    activity.messages_sent = snapshot.messages_sent
    database = collector.store_db
    if database is not None and database.exists():
        try:
            activity.last_recording = _last_recording(database)
            activity.detections_by_tag = detections_by_tag(database, since)
        except Exception as error:  # locked or foreign database: unknown
            activity.problems.append(f"store: {error or type(error).__name__}")
    return activity
