"""AudioMoth-style recording file names: ``20240501_123000.wav``.

Names come from the clip's start time (sample clock), in UTC unless a
timezone is given, as AudioMoth does by default. A template is either a
``strftime`` pattern (``"%Y%m%d_%H%M%S"``) or a ``str.format`` string with
a ``time`` field and any extra fields (``"{time:%Y%m%d_%H%M%S}_{id}"``).
Two clips starting in the same second get ``_1``, ``_2``… suffixes.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Callable, TypeVar, Union
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_TEMPLATE",
    "recording_filename",
    "with_suffix_on_collision",
]

DEFAULT_TEMPLATE = "%Y%m%d_%H%M%S"
MAX_COLLISIONS = 10_000

TZ = Union[datetime.tzinfo, str, None]
T = TypeVar("T")


def _zone(tz: TZ) -> datetime.tzinfo:
    if tz is None:
        return datetime.timezone.utc
    if isinstance(tz, str):
        return ZoneInfo(tz)
    return tz


def recording_filename(
    created_on: datetime.datetime,
    template: str = DEFAULT_TEMPLATE,
    tz: TZ = None,
    extension: str = ".wav",
    index: int = 0,
    **fields: Any,
) -> str:
    """Return the file name of a recording starting at ``created_on``.

    Parameters
    ----------
    created_on
        Start time (naive means UTC).
    template
        strftime pattern, or ``str.format`` string using ``{time:…}`` and
        ``fields``.
    tz
        Timezone of the name (``ZoneInfo``, IANA name, or None for UTC).
    extension
        Appended to the name.
    index
        Collision counter: ``0`` → no suffix, ``n`` → ``_n``.
    **fields
        Extra ``str.format`` fields (e.g. ``id=recording.id``).

    Examples
    --------
    >>> import datetime
    >>> t = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc)
    >>> recording_filename(t)
    '20240501_123000.wav'
    >>> recording_filename(t, "{time:%Y%m%d_%H%M%S}_{site}", site="A", index=2)
    '20240501_123000_A_2.wav'
    """
    if created_on.tzinfo is None:
        created_on = created_on.replace(tzinfo=datetime.timezone.utc)
    local = created_on.astimezone(_zone(tz))
    if "{" in template:
        stem = template.format(time=local, **fields)
    else:
        stem = local.strftime(template)
    if index:
        stem = f"{stem}_{index}"
    return f"{stem}{extension}"


def with_suffix_on_collision(
    name_for: Callable[[int], str], write: Callable[[Path], T], directory: Path
) -> T:
    """Call ``write(directory / name_for(i))`` for i = 0, 1, … until it succeeds.

    ``write`` must raise ``FileExistsError`` when the name is taken (as
    :func:`acoupi.audio.wav.write_wav` does, atomically).

    Raises
    ------
    FileExistsError
        After :data:`MAX_COLLISIONS` taken names.
    """
    for index in range(MAX_COLLISIONS):
        try:
            return write(Path(directory) / name_for(index))
        except FileExistsError:
            continue
    raise FileExistsError(f"{MAX_COLLISIONS} recordings share the name {name_for(0)}")
