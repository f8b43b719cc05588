"""The data behind each page, as JSON-ready values.

Pages render these with templates and ``/api/`` returns them as they are,
so the JSON API always holds everything the pages show.
"""

import json
import re
from typing import Any, Dict, List, Optional

from starlette.exceptions import HTTPException
from starlette.requests import Request

from acoupi.dashboard import health, queries
from acoupi.dashboard.requests import detection_query, page_of, uuid_param
from acoupi.dashboard.state import Dashboard
from acoupi.system.redact import MASK, redact_text

__all__ = [
    "detections_view",
    "recording_view",
    "recordings_view",
    "settings_view",
    "summary_view",
]

# Setting names that hold secrets: "password", "mqtt_password", "api_key",
# "token"... but not "tag_key".
_SECRET_NAME = re.compile(
    r"(^|_)(pass(word)?|passwd|secret|token|api_?key|private_key|credentials?)($|_)",
    re.IGNORECASE,
)


def _query_string(request: Request, **changes: Any) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    params += [(k, str(v)) for k, v in changes.items() if v is not None]
    from urllib.parse import urlencode

    return urlencode(params)


def detections_view(dashboard: Dashboard, request: Request) -> Dict[str, Any]:
    """One page of filtered detections, with links to the neighbour pages."""
    query = detection_query(request)
    page, per_page = page_of(request)
    with dashboard.connection() as connection:
        result = queries.list_detections(
            connection,
            query,
            limit=per_page,
            offset=(page - 1) * per_page,
            counts=dashboard.counters.tags(connection) if query.tags else None,
        )
        tags = _known_tags(connection)
        deployments = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM deployment ORDER BY started_on DESC LIMIT 50"
            )
        ]
    rows = []
    for row in result.rows:
        item = row.as_json()
        expanded = dashboard.plays_expanded(row.samplerate)
        item["expanded_playback"] = expanded
        # Where the player starts: a little before the sound, on the
        # playback's (slowed) time scale.
        start = max(0.0, (item["start_time"] or 0.0) - 0.05)
        factor = dashboard.config.time_expansion if expanded else 1.0
        item["playback_start"] = round(start * factor, 3)
        rows.append(item)
    return {
        "filters": {
            "tag": query.tags or [],
            "min_score": query.min_score,
            "since": request.query_params.get("since") or None,
            "until": request.query_params.get("until") or None,
            "deployment": query.deployment,
        },
        "page": page,
        "per_page": per_page,
        "has_more": result.has_more,
        "next": _query_string(request, page=page + 1) if result.has_more else None,
        "previous": _query_string(request, page=page - 1) if page > 1 else None,
        "detections": rows,
        "known_tags": tags,
        "deployments": deployments,
        "time_expansion": dashboard.config.time_expansion,
    }


def _known_tags(connection: Any) -> List[str]:
    # DISTINCT over the whole tag table would scan it; tags of the latest
    # thousand detections are enough to fill the filter's suggestions.
    rows = connection.execute(
        "SELECT DISTINCT value FROM (SELECT value FROM predicted_tag"
        " ORDER BY id DESC LIMIT 1000) ORDER BY value"
    )
    return [row[0] for row in rows]


def summary_view(dashboard: Dashboard, request: Request) -> Dict[str, Any]:
    """Detections per tag per day or hour, filtered like the detections."""
    bucket = request.query_params.get("by", "day")
    if bucket not in ("day", "hour"):
        raise HTTPException(400, f"by must be 'day' or 'hour', not {bucket!r}.")
    query = detection_query(request)
    with dashboard.connection() as connection:
        rows = queries.count_by_bucket(connection, query, bucket)  # type: ignore[arg-type]
    return {
        "by": bucket,
        "counts": [
            {"bucket": stamp, "key": key, "tag": value, "count": count}
            for stamp, key, value, count in rows
        ],
    }


def recordings_view(dashboard: Dashboard, request: Request) -> Dict[str, Any]:
    """One page of recordings, newest first."""
    page, per_page = page_of(request)
    query = detection_query(request)
    with dashboard.connection() as connection:
        result = queries.list_recordings(
            connection,
            since=query.since,
            until=query.until,
            deployment=query.deployment,
            limit=per_page,
            offset=(page - 1) * per_page,
        )
    return {
        "page": page,
        "per_page": per_page,
        "has_more": result.has_more,
        "recordings": [row.as_json() for row in result.rows],
    }


def recording_view(dashboard: Dashboard, recording_id: str) -> Dict[str, Any]:
    """A recording, its detections and its GUANO metadata."""
    uuid = uuid_param(recording_id, "recording")
    with dashboard.connection() as connection:
        recording = queries.get_recording(connection, uuid)
        if recording is None:
            raise HTTPException(404, f"There is no recording with id {uuid}.")
        detections = queries.list_detections(
            connection, queries.DetectionQuery(recording_id=uuid), limit=None
        ).rows
    return {
        "recording": recording.as_json(),
        "detections": sorted(
            (row.as_json() for row in detections),
            key=lambda item: item["start_time"] or 0.0,
        ),
        "guano": _guano(recording),
        "expanded_playback": dashboard.plays_expanded(recording.samplerate),
        "time_expansion": dashboard.config.time_expansion,
    }


def _guano(recording: queries.RecordingRow) -> Optional[Dict[str, Any]]:
    if not recording.file_exists or recording.path is None:
        return None
    from acoupi.audio.wav import read_guano

    try:
        fields = read_guano(recording.path)
    except Exception:  # a damaged file must not break the page
        return None
    return {key: _plain(value) for key, value in fields.items()}


def _plain(value: Any) -> Any:
    """Return a GUANO value as text people can read (JSON for structures)."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _mask(value: Any, key: str = "") -> Any:
    """Mask secrets in a configuration read as plain JSON.

    Without the program's model the secret fields are known by their names
    only; URLs anywhere lose their user info and query values (the shared
    redactor, as in logs).
    """
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(item, key) for item in value]
    if value and _SECRET_NAME.search(key):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    return value


def settings_view(dashboard: Dashboard) -> Dict[str, Any]:
    """Deployment, program configuration (secrets masked) and log tails."""
    deployment: Optional[Dict[str, Any]] = None
    try:
        deployment = json.loads(dashboard.settings.deployment_file.read_text())
    except (OSError, ValueError):
        deployment = None
    try:
        program = dashboard.settings.program_name_file.read_text().strip()
    except OSError:
        program = None
    return {
        "program": program,
        "home": str(dashboard.settings.home),
        "deployment": deployment,
        "config": _mask(dashboard.sources.program_config),
        "dashboard": {
            "host": dashboard.config.host,
            "port": dashboard.config.port,
            "enabled": dashboard.config.enabled,
            "password_set": dashboard.config.password_hash is not None,
            "time_expansion": dashboard.config.time_expansion,
        },
        "logs": health.log_tail(dashboard.sources),
    }
