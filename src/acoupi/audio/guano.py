r"""GUANO 1.0 metadata text (https://guano-md.org) for acoupi recordings.

One ``Key: value`` per line, keys optionally namespaced (``acoupi|…``),
newlines in values escaped as ``\n``. Well-known fields are typed when
read back.
"""

from __future__ import annotations

import datetime
import json
from typing import Any, Dict, Mapping, Optional, Sequence

__all__ = [
    "GUANO_VERSION",
    "NAMESPACE",
    "clip_guano",
    "format_guano",
    "parse_guano",
]

GUANO_VERSION = "1.0"
NAMESPACE = "acoupi"

_KNOWN_MAKERS = (
    ("audiomoth", "Open Acoustic Devices", "AudioMoth"),
    ("ultramic", "Dodotronic", None),
)


def _value(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.isoformat()
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]} {value[1]}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def format_guano(fields: Mapping[str, Any]) -> str:
    """Return GUANO text: the version line, then ``fields`` in order.

    ``None`` values are left out; datetimes are ISO 8601 with offset
    (naive ones are taken as UTC); ``(lat, lon)`` tuples become
    ``"lat lon"``; lists and dicts become JSON.
    """
    lines = [f"GUANO|Version: {GUANO_VERSION}"]
    for key, value in fields.items():
        if value is None or key == "GUANO|Version":
            continue
        text = _value(value).replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"{key}: {text}")
    return "\n".join(lines) + "\n"


def _typed(key: str, text: str) -> Any:
    try:
        if key == "Timestamp":
            return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if key in ("Samplerate", "TE"):
            return int(text)
        if key == "Length":
            return float(text)
        if key == "Loc Position":
            lat, lon = text.split()
            return (float(lat), float(lon))
        if key in (f"{NAMESPACE}|Detections", f"{NAMESPACE}|Gaps"):
            return json.loads(text)
    except ValueError:
        pass
    return text


def parse_guano(text: str) -> Dict[str, Any]:
    """Return the fields of GUANO text (well-known ones typed).

    ``Timestamp`` → aware datetime, ``Samplerate``/``TE`` → int, ``Length``
    → float, ``Loc Position`` → ``(lat, lon)``, acoupi's JSON fields →
    lists; everything else stays a string.
    """
    fields: Dict[str, Any] = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, _, raw = line.partition(":")
        key = key.strip()
        value = raw.strip().replace("\\\\", "\x00").replace("\\n", "\n")
        value = value.replace("\x00", "\\")
        fields[key] = _typed(key, value)
    return fields


def _maker(device_name: str) -> tuple[Optional[str], str]:
    lowered = device_name.lower()
    for marker, make, model in _KNOWN_MAKERS:
        if marker in lowered:
            return make, model or device_name.split(":", 1)[0].strip()
    return None, device_name.split(":", 1)[0].strip()


def _jsonable(item: Any) -> Any:
    dump = getattr(item, "model_dump", None)
    return dump(mode="json") if callable(dump) else item


def clip_guano(
    clip: Any,
    *,
    deployment: Any = None,
    detections: Optional[Sequence[Any]] = None,
    time_expansion: float = 1,
    extra: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """Return the GUANO fields describing a clip.

    Parameters
    ----------
    clip
        A :class:`~acoupi.audio.clip.Clip`.
    deployment
        ``acoupi.data.Deployment`` (id, name, latitude, longitude), if any.
    detections
        Model outputs or detections (pydantic models or JSON-able dicts).
    time_expansion
        ``TE``: 1 for real-time recordings.
    extra
        More fields, added last (namespaced keys recommended).
    """
    make, model = _maker(clip.device_name)
    fields: Dict[str, Any] = {
        "Timestamp": clip.created_on,
        "Samplerate": clip.samplerate,
        "Length": round(clip.duration, 6),
        "TE": int(time_expansion)
        if time_expansion == int(time_expansion)
        else time_expansion,
        "Make": make,
        "Model": model or None,
        "Serial": clip.device_id,
    }
    latitude = getattr(deployment, "latitude", None)
    longitude = getattr(deployment, "longitude", None)
    if latitude is not None and longitude is not None:
        fields["Loc Position"] = (latitude, longitude)
    fields[f"{NAMESPACE}|Channels"] = clip.channels
    fields[f"{NAMESPACE}|Start Frame"] = clip.start_frame
    if deployment is not None:
        fields[f"{NAMESPACE}|Deployment ID"] = getattr(deployment, "id", None)
        fields[f"{NAMESPACE}|Deployment Name"] = getattr(deployment, "name", None)
    if clip.gaps:
        fields[f"{NAMESPACE}|Lost Frames"] = clip.lost_frames
        fields[f"{NAMESPACE}|Gaps"] = [
            {
                "offset": gap.start_frame - clip.start_frame,
                "frames": gap.n_frames,
                "reason": gap.reason,
                "estimated": gap.estimated,
            }
            for gap in clip.gaps
        ]
    if detections:
        fields[f"{NAMESPACE}|Detections"] = [_jsonable(d) for d in detections]
    fields.update(extra or {})
    return fields


def detections_guano(model_outputs: Sequence[Any]) -> Dict[str, Any]:
    """Return GUANO fields describing what models found in a recording.

    ``Species Auto ID`` (standard GUANO, shown by bat-call software) lists
    the distinct tag values, most confident first; ``acoupi|Detections``
    keeps every detection with its model, score, box and tags. Empty when
    no model found anything.
    """
    detections = []
    best: Dict[str, float] = {}
    for output in model_outputs:
        for detection in output.detections:
            tags = [
                {
                    "key": t.tag.key,
                    "value": t.tag.value,
                    "score": round(t.confidence_score, 4),
                }
                for t in detection.tags
            ]
            for tag in detection.tags:
                best[tag.tag.value] = max(
                    best.get(tag.tag.value, 0.0), tag.confidence_score
                )
            box = detection.location.coordinates if detection.location else None
            detections.append(
                {
                    "model": output.name_model,
                    "score": round(detection.detection_score, 4),
                    "box": list(box) if box else None,
                    "tags": tags,
                }
            )
    if not detections:
        return {}
    ranked = sorted(best, key=lambda value: (-best[value], value))
    return {
        "Species Auto ID": ", ".join(ranked),
        f"{NAMESPACE}|Detections": detections,
    }
