"""Stop recording before the disk is full, and say so.

With the storage disk at 0 bytes free, recordings were written with no
database row, and nothing told the user. :class:`EnoughDiskSpace` is a
recording condition: below ``min_free`` bytes on any disk acoupi writes to
(temporary folder, recordings, databases) it refuses to record, so the last
bytes stay for the database and the messages. :meth:`EnoughDiskSpace.problem`
gives the same verdict as one plain sentence for ``acoupi check``, status and
the heartbeat.
"""

import logging
from pathlib import Path
from typing import List, Optional, Sequence

from acoupi.components import types
from acoupi.system.disk import disk_usage, format_bytes

__all__ = ["EnoughDiskSpace", "storage_problem_of"]

logger = logging.getLogger(__name__)


class EnoughDiskSpace(types.RecordingCondition):
    """Record only while every storage disk has at least ``min_free`` bytes.

    Parameters
    ----------
    folders
        Folders acoupi writes to (a database file counts by its folder).
    min_free
        Bytes that must stay free on each of their disks.
    """

    def __init__(self, folders: Sequence[Path], min_free: int):
        self.folders: List[Path] = [Path(folder) for folder in folders]
        self.min_free = int(min_free)

    def problem(self) -> Optional[str]:
        """Return why recording is paused, or None when there is room.

        Example: ``Recording paused: only 12.0 MB free on /data/recordings
        (at least 200.0 MB must stay free for the database).``
        """
        for usage in disk_usage(self.folders):
            if usage.free < self.min_free:
                return (
                    f"Recording paused: only {format_bytes(usage.free)} free on "
                    f"{usage.path} (at least {format_bytes(self.min_free)} must "
                    "stay free for the database and messages)."
                )
        return None

    def should_record(self) -> bool:
        """Return False (and log why) when a storage disk is nearly full."""
        problem = self.problem()
        if problem is None:
            return True
        logger.warning("%s", problem)
        return False


def storage_problem_of(program: object) -> Optional[str]:
    """Return why ``program``'s disk guard pauses recording, or None.

    For reports that must not fail (status, live view, run summary):
    programs without a guard have no problem, and a guard that cannot
    measure says so instead of raising.
    """
    problem = getattr(program, "storage_problem", None)
    if problem is None:
        return None
    try:
        return problem()
    except Exception as error:
        return f"Disk space unknown: {error}"
