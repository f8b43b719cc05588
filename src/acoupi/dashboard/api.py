"""The JSON API under ``/api/``: everything the pages show.

``GET /api`` lists the endpoints with their parameters (the API's own
documentation, also in ``docs/dashboard.md``).
"""

from typing import Any, Dict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from acoupi.dashboard import views
from acoupi.dashboard.overview import build_overview, chart_series
from acoupi.dashboard.requests import integer
from acoupi.dashboard.state import Dashboard

__all__ = ["API_DOC", "Api"]

_FILTERS = {
    "tag": "tag value (bat) or key:value; repeat or comma-separate for several",
    "min_score": "lowest detection score, 0 to 1",
    "since": "earliest recording start: 2024-05-01, 2024-05-01T21:00 (UTC), "
    "today, or an age (90m, 24h, 7d)",
    "until": "recordings started before this time (same forms as since)",
    "deployment": "deployment name or id",
}
_PAGES = {"page": "page number from 1", "per_page": "rows per page, 1 to 200"}

API_DOC: Dict[str, Any] = {
    "GET /api/overview": {
        "returns": "recording state, totals, today's detections by tag, "
        "all-time counts by tag, latest recordings, workers, backlog, disk, "
        "messages, last error"
    },
    "GET /api/chart": {
        "params": {"hours": "hours back from now, 1 to 744 (default 24)"},
        "returns": "detections per hour per tag: x (Unix seconds), series",
    },
    "GET /api/detections": {
        "params": {**_FILTERS, **_PAGES},
        "returns": "one page of detections, newest first",
    },
    "GET /api/summary": {
        "params": {**_FILTERS, "by": "day or hour"},
        "returns": "detections per tag per day or hour (UTC)",
    },
    "GET /api/recordings": {
        "params": {
            "since": _FILTERS["since"],
            "until": _FILTERS["until"],
            "deployment": _FILTERS["deployment"],
            **_PAGES,
        },
        "returns": "one page of recordings with their detection counts",
    },
    "GET /api/recordings/{id}": {
        "returns": "one recording, its detections and GUANO metadata"
    },
    "GET /api/settings": {
        "returns": "deployment, program configuration (secrets masked), log tails"
    },
    "GET /media/recordings/{id}/spectrogram.png": {
        "params": {
            "detection": "detection id: a thumbnail around it, its box highlighted",
            "width": "pixels",
            "height": "pixels",
        },
        "returns": "PNG spectrogram with detections boxed",
    },
    "GET /media/recordings/{id}/audio.wav": {"returns": "the WAV file as stored"},
    "GET /media/recordings/{id}/playback.wav": {
        "returns": "the WAV to listen to, time-expanded when ultrasonic"
    },
    "GET /metrics": {"returns": "Prometheus text format"},
}


class Api:
    """API endpoints bound to one dashboard."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def index(self, request: Request) -> Response:
        """List the endpoints."""
        return JSONResponse({"endpoints": API_DOC})

    def overview(self, request: Request) -> Response:
        """Everything on the overview."""
        return JSONResponse(build_overview(self.dashboard))

    def chart(self, request: Request) -> Response:
        """Detections per hour and tag."""
        hours = integer(request, "hours", 24, 1, 744)
        return JSONResponse(chart_series(self.dashboard, hours))

    def detections(self, request: Request) -> Response:
        """One page of detections."""
        return JSONResponse(views.detections_view(self.dashboard, request))

    def summary(self, request: Request) -> Response:
        """Counts per tag per day or hour."""
        return JSONResponse(views.summary_view(self.dashboard, request))

    def recordings(self, request: Request) -> Response:
        """One page of recordings."""
        return JSONResponse(views.recordings_view(self.dashboard, request))

    def recording(self, request: Request) -> Response:
        """One recording."""
        return JSONResponse(
            views.recording_view(self.dashboard, request.path_params["recording_id"])
        )

    def settings(self, request: Request) -> Response:
        """Settings, deployment and logs."""
        return JSONResponse(views.settings_view(self.dashboard))
