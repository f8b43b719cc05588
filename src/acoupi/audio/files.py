"""Save a clip as a named WAV + GUANO file (naming, metadata, atomic write)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

from acoupi.audio.clip import Clip
from acoupi.audio.guano import clip_guano
from acoupi.audio.naming import (
    DEFAULT_TEMPLATE,
    TZ,
    recording_filename,
    with_suffix_on_collision,
)
from acoupi.audio.wav import write_wav

__all__ = ["expanded_samplerate", "save_clip"]


def expanded_samplerate(samplerate: int, time_expansion: float) -> int:
    """Return the WAV header rate of a recording slowed ``time_expansion`` times.

    Raises
    ------
    ValueError
        When ``time_expansion`` is not positive.
    """
    if time_expansion <= 0:
        raise ValueError(f"time_expansion must be greater than 0, not {time_expansion}")
    return max(1, round(samplerate / time_expansion))


def save_clip(
    clip: Clip,
    directory: Path,
    *,
    template: str = DEFAULT_TEMPLATE,
    tz: TZ = None,
    deployment: Any = None,
    detections: Optional[Any] = None,
    guano: Optional[Mapping[str, Any]] = None,
    fields: Optional[Mapping[str, Any]] = None,
    time_expansion: float = 1,
) -> Path:
    """Write ``clip`` into ``directory``; return the path written.

    The name is :func:`~acoupi.audio.naming.recording_filename` of the
    clip's start time (``_1``, ``_2``… when taken). The GUANO chunk is
    :func:`~acoupi.audio.guano.clip_guano` (deployment, detections) plus
    ``guano`` overrides, with ``Original Filename`` set to the name.

    Parameters
    ----------
    clip
        The clip.
    directory
        Destination folder (created if missing).
    template, tz
        File name pattern and timezone.
    deployment
        ``acoupi.data.Deployment`` for location and ids.
    detections
        Detections to embed.
    guano
        Extra or overriding GUANO fields.
    fields
        Extra ``str.format`` fields for the template (e.g. ``id``).
    time_expansion
        Factor the file is slowed by: the WAV header says
        ``samplerate / time_expansion`` and GUANO ``TE`` the factor, as bat
        detectors write time-expanded recordings. The samples are unchanged.
    """
    metadata = clip_guano(
        clip,
        deployment=deployment,
        detections=detections,
        time_expansion=time_expansion,
    )
    header_rate = expanded_samplerate(clip.samplerate, time_expansion)
    metadata.update(guano or {})

    def name_for(index: int) -> str:
        return recording_filename(
            clip.created_on, template, tz, index=index, **dict(fields or {})
        )

    def write(path: Path) -> Path:
        return write_wav(
            path,
            clip.frames,
            header_rate,
            {**metadata, "Original Filename": path.name},
        )

    return with_suffix_on_collision(name_for, write, Path(directory))
