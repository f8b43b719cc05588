"""``/metrics``: the overview in the Prometheus text format (version 0.0.4)."""

from typing import Any, Dict, List, Optional

from acoupi.dashboard.overview import build_overview
from acoupi.dashboard.state import Dashboard

__all__ = ["render_metrics"]

STATUS_WAIT_S = 8.0
"""How long a scrape waits for the first system status (Prometheus gives
up after 10 s by default)."""

UNKNOWN = float("nan")
"""A gauge whose value is not known now: exported as NaN, not left out, so
that its absence does not read as a broken exporter."""


def _number(value: float) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # counts and byte counts in full, not 6.8e+10
    if value != value:
        return "NaN"
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Writer:
    def __init__(self) -> None:
        self.lines: List[str] = []

    def metric(
        self,
        name: str,
        kind: str,
        help_text: str,
        samples: List[tuple[Dict[str, str], Optional[float]]],
    ) -> None:
        samples = [(labels, value) for labels, value in samples if value is not None]
        if not samples:
            return
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            suffix = f"{{{label_text}}}" if label_text else ""
            self.lines.append(f"{name}{suffix} {_number(value)}")  # type: ignore[arg-type]


def render_metrics(dashboard: Dashboard) -> str:
    """Return the metrics of the installation as Prometheus text."""
    dashboard.status.wait(STATUS_WAIT_S)
    data: Dict[str, Any] = build_overview(dashboard)
    out = _Writer()
    out.metric(
        "acoupi_recordings_total",
        "counter",
        "Recordings in the metadata store.",
        [({}, data["totals"]["recordings"])],
    )
    out.metric(
        "acoupi_detections_total",
        "counter",
        "Detections in the metadata store, by tag.",
        [
            ({"key": item["key"], "tag": item["tag"]}, item["count"])
            for item in data["all_time_by_tag"]
        ],
    )
    out.metric(
        "acoupi_detections_today",
        "gauge",
        "Detections in recordings started today (UTC), by tag.",
        [({"tag": tag}, count) for tag, count in data["today"]["by_tag"].items()],
    )
    out.metric(
        "acoupi_detection_backlog",
        "gauge",
        "Recordings waiting for detection (NaN while unknown).",
        [({}, _or_unknown(data["status"].get("backlog")))],
    )
    messages = data["messages"] or {}
    out.metric(
        "acoupi_messages_pending",
        "gauge",
        "Messages not yet sent.",
        [({}, messages.get("pending"))],
    )
    out.metric(
        "acoupi_messages_sent_total",
        "counter",
        "Messages sent and acknowledged.",
        [({}, messages.get("sent"))],
    )
    out.metric(
        "acoupi_disk_free_bytes",
        "gauge",
        "Free space of each storage folder.",
        [
            ({"folder": disk["label"], "path": disk["path"]}, disk["free_bytes"])
            for disk in data["disk"]
        ],
    )
    out.metric(
        "acoupi_seconds_since_last_recording",
        "gauge",
        "Seconds since the last recording ended.",
        [({}, data["recording"]["age_s"])],
    )
    return "\n".join(out.lines) + "\n"


def _or_unknown(value: Optional[float]) -> float:
    return UNKNOWN if value is None else value
