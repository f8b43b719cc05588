"""Recordings not yet fully processed, wherever they wait.

A recording stays in the program's temporary folder from the moment it is
written until the file management task files (or deletes) it: waiting in the
detection queue, held by a worker, stranded by a worker that died, or
waiting to be filed. Counting those files, and how old the oldest is, shows
a stuck pipeline that queue depths alone miss.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from acoupi.components.recording_files import recording_id_from_path

__all__ = ["PendingRecordings", "pending_recordings"]


@dataclass(frozen=True)
class PendingRecordings:
    """Recordings written but not yet filed."""

    count: int
    oldest_age: Optional[float]
    """Seconds since the oldest one was written; None when there is none."""

    def describe(self) -> str:
        """One line, e.g. ``3 recording(s), oldest 4.5 min ago``."""
        if not self.count or self.oldest_age is None:
            return "none"
        age = self.oldest_age
        when = f"{age:.0f} s" if age < 120 else f"{age / 60:.1f} min"
        return f"{self.count} recording(s), oldest written {when} ago"


def pending_recordings(program: Any) -> Optional[PendingRecordings]:
    """Count the program's recordings still in its temporary folder.

    Only files named like acoupi's recordings (with a recording id) count:
    the temporary folder may be shared.

    Parameters
    ----------
    program
        A loaded program; programs without ``config.paths.tmp_audio`` have
        no recordings (None).

    Returns
    -------
    PendingRecordings or None
    """
    paths = getattr(getattr(program, "config", None), "paths", None)
    tmp_dir = getattr(paths, "tmp_audio", None)
    if tmp_dir is None:
        return None
    count, oldest = 0, None
    now = time.time()
    try:
        entries = list(Path(tmp_dir).iterdir())
    except OSError:
        return PendingRecordings(0, None)
    for path in entries:
        if path.name.startswith(".") or path.suffix.lower() != ".wav":
            continue
        if recording_id_from_path(path) is None:
            continue
        try:
            written = path.stat().st_mtime
        except OSError:
            continue  # filed meanwhile
        count += 1
        oldest = written if oldest is None else min(oldest, written)
    return PendingRecordings(count, None if oldest is None else max(0.0, now - oldest))
