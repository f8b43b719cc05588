"""What a deployment has done today: recordings, detections, messages.

Read straight from the program's SQLite files, read-only and with a short
timeout; tag counts and the outbox use the live view's queries
(:mod:`acoupi.runtime.metrics`, :mod:`acoupi.runtime.run_counts`), so both
always agree. "Today" counts use the time indexes of the store.
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


def _connect_ro(path: Path) -> sqlite3.Connection:
    # Read-only with a short timeout: a status never holds up a writer.
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.5)


def _db_path(component: Any) -> Optional[Path]:
    path = getattr(component, "db_path", None)
    return Path(path) if path is not None else None


_TODAY = (
    "SELECT"
    " (SELECT COUNT(*) FROM recording WHERE datetime >= :since),"
    " (SELECT COUNT(*) FROM model_output WHERE created_on >= :since),"
    " (SELECT COUNT(*) FROM model_output m CROSS JOIN detection d"
    "   ON d.model_output_id = m.id WHERE m.created_on >= :since),"
    " (SELECT MAX(datetime) FROM recording)"
)


def _store(activity: Activity, database: Path) -> None:
    from acoupi.components.sqlite_db import datetime_from_db, datetime_to_db
    from acoupi.runtime.metrics import detections_by_tag

    with closing(_connect_ro(database)) as connection:
        row = connection.execute(
            _TODAY, {"since": datetime_to_db(activity.since)}
        ).fetchone()
    activity.recordings_today, activity.processed_today = int(row[0]), int(row[1])
    activity.detections_today = int(row[2])
    activity.last_recording = datetime_from_db(row[3]) if row[3] else None
    activity.detections_by_tag = detections_by_tag(database, activity.since)


def _outbox(activity: Activity, database: Path) -> None:
    from acoupi.runtime.run_counts import OutboxCounts

    outbox = OutboxCounts()
    with closing(_connect_ro(database)) as connection:
        outbox.update(connection)
    activity.messages_pending, activity.messages_sent = outbox.pending, outbox.sent


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
    from acoupi.components.sqlite_errors import explain_error

    activity = Activity(
        since=start_of_day(now or now_utc(), timezone),
        messages_destination=message_destination(getattr(program, "messenger", None)),
    )
    for label, read, database in (
        ("store", _store, _db_path(getattr(program, "store", None))),
        ("messages", _outbox, _db_path(getattr(program, "message_store", None))),
    ):
        if database is None or not database.exists():
            continue
        try:
            read(activity, database)
        except Exception as error:  # locked or foreign database: unknown
            activity.problems.append(f"{label}: {explain_error(database, error)}")
    return activity
