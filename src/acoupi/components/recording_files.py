"""Names and contents of recording files.

Temporary recordings are named ``<YYYYmmdd_HHMMSS>_<recording id>.wav``: the
time for people, the id so that the file management task can always match
a stray file back to its stored recording (crash recovery), even when the
stored path has already been changed.
"""

import datetime
from pathlib import Path
from typing import Optional, Union
from uuid import UUID

__all__ = [
    "FILENAME_TEMPLATE",
    "recording_filename",
    "recording_id_from_path",
]


FILENAME_TEMPLATE = "{time:%Y%m%d_%H%M%S}_{id}"
"""AudioMoth-style time (UTC), then the recording id."""


def recording_filename(created_on: datetime.datetime, recording_id: UUID) -> str:
    """Return the default file name of a recording (naive times are UTC)."""
    from acoupi.audio.naming import recording_filename as format_name

    return format_name(created_on, FILENAME_TEMPLATE, id=recording_id)


def recording_id_from_path(path: Union[str, Path]) -> Optional[UUID]:
    """Return the recording id in a file name, or None if it has none.

    Accepts ``<id>.wav`` and ``<anything>_<id>.wav``.
    """
    candidate = Path(path).stem.rsplit("_", 1)[-1]
    try:
        return UUID(candidate)
    except ValueError:
        return None
