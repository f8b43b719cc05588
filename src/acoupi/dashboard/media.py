"""Files of recordings, served by recording id only.

Paths never come from the request: the id is looked up in the store and
only the file the store names is served (or rendered from).
"""

from pathlib import Path
from typing import Tuple

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from acoupi.dashboard import queries
from acoupi.dashboard.playback import time_expanded_wav
from acoupi.dashboard.requests import integer, uuid_param
from acoupi.dashboard.state import Dashboard

__all__ = ["audio", "playback", "spectrogram"]

_CACHE_HEADERS = {"Cache-Control": "private, max-age=86400"}


def _recording_file(
    dashboard: Dashboard, request: Request
) -> Tuple[queries.RecordingRow, Path]:
    uuid = uuid_param(request.path_params.get("recording_id"), "recording")
    with dashboard.connection() as connection:
        recording = queries.get_recording(connection, uuid)
    if recording is None:
        raise HTTPException(404, f"There is no recording with id {uuid}.")
    if recording.path is None or not recording.file_exists:
        raise HTTPException(
            404, f"The file of recording {uuid} was not kept (or was deleted)."
        )
    return recording, recording.path


def spectrogram(dashboard: Dashboard, request: Request) -> Response:
    """PNG spectrogram; ``?detection=ID`` for that detection's thumbnail."""
    # numpy and Pillow load on the first image, not with the server: an
    # idle dashboard stays small.
    from acoupi.dashboard.spectrogram import (
        SpectrogramRequest,
        render_spectrogram,
        thumbnail_window,
    )

    recording, path = _recording_file(dashboard, request)
    with dashboard.connection() as connection:
        rows = queries.list_detections(
            connection, queries.DetectionQuery(recording_id=recording.id), limit=None
        ).rows
    boxes = tuple(row.box for row in rows if row.box is not None)
    detection_id = request.query_params.get("detection")
    if detection_id:
        uuid = uuid_param(detection_id, "detection")
        matches = [row for row in rows if row.id == uuid]
        if not matches:
            raise HTTPException(
                404, f"Recording {recording.id} has no detection {uuid}."
            )
        start, end = thumbnail_window(matches[0].box, recording.duration)
        spec = SpectrogramRequest(
            width=integer(request, "width", 240, 60, 2000),
            height=integer(request, "height", 120, 40, 1000),
            start=start,
            end=end,
            boxes=boxes,
            highlight=matches[0].box,
        )
    else:
        spec = SpectrogramRequest(
            width=integer(request, "width", 1000, 60, 4000),
            height=integer(request, "height", 300, 40, 1000),
            boxes=boxes,
        )
    cached = dashboard.cache.get_or_render(
        "spectrograms",
        ".png",
        path,
        [spec.cache_key()],
        lambda: render_spectrogram(path, spec),
    )
    return FileResponse(cached, media_type="image/png", headers=_CACHE_HEADERS)


def audio(dashboard: Dashboard, request: Request) -> Response:
    """The recording's WAV file as stored, to download."""
    _, path = _recording_file(dashboard, request)
    return FileResponse(path, media_type="audio/wav", filename=path.name)


def playback(dashboard: Dashboard, request: Request) -> Response:
    """The WAV to listen to: time-expanded when the recording is ultrasonic."""
    recording, path = _recording_file(dashboard, request)
    if not dashboard.plays_expanded(recording.samplerate):
        return FileResponse(path, media_type="audio/wav", headers=_CACHE_HEADERS)
    factor = dashboard.config.time_expansion
    cached = dashboard.cache.get_or_render(
        "playback", ".wav", path, [factor], lambda: time_expanded_wav(path, factor)
    )
    return FileResponse(cached, media_type="audio/wav", headers=_CACHE_HEADERS)
