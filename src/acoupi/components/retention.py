"""Retention: delete old kept recordings so the disk never fills up.

Applied by the file management task when the program's ``storage`` settings
ask for it. Rules, in order:

* only WAV files under the recordings folder that this user owns and that
  the store knows are candidates; the ``quarantine`` folder is for people;
* a recording named in a message not yet sent is never deleted (its
  detections are still on their way);
* recordings older than ``max_age_days`` go first;
* then, while less than ``keep_free`` bytes are free, the oldest recordings
  without detections, and (only if ``delete_detected``) then the oldest
  with detections.

The database row stays (the recording happened; its detections remain):
only the audio file is deleted, and every deletion is logged.
"""

import datetime
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from acoupi import data
from acoupi.components import types
from acoupi.system.disk import disk_usage, format_bytes
from acoupi.system.files import is_own_wav

__all__ = ["RetentionReport", "apply_retention"]

logger = logging.getLogger(__name__)

QUARANTINE = "quarantine"


@dataclass
class RetentionReport:
    """What one retention pass deleted, and what it could not do."""

    deleted: List[Path] = field(default_factory=list)
    freed: int = 0
    protected: int = 0
    """Recordings spared because a message about them is unsent."""
    shortfall: Optional[str] = None
    """Why the free space target is still not met, if it is not."""

    def describe(self) -> str:
        """One line for the log."""
        line = (
            f"Retention deleted {len(self.deleted)} recording(s), freed "
            f"{format_bytes(self.freed)}; {self.protected} spared (unsent messages)"
        )
        return line + (f"; {self.shortfall}" if self.shortfall else "")


def _free(folder: Path) -> Optional[int]:
    usages = disk_usage([folder])
    return usages[0].free if usages else None


def _has_detections(outputs: Sequence[data.ModelOutput]) -> bool:
    return any(output.detections or output.tags for output in outputs)


def _candidates(
    recordings_dir: Path, store: types.Store
) -> List[Tuple[data.Recording, bool, Path]]:
    """(recording, has detections, file) for every stored kept recording."""
    files = [
        path
        for path in recordings_dir.rglob("*")
        if QUARANTINE not in path.relative_to(recordings_dir).parts and is_own_wav(path)
    ]
    if not files:
        return []
    found = []
    for recording, outputs in store.get_recordings_by_path(files):
        if recording.path is not None and Path(recording.path).exists():
            found.append((recording, _has_detections(outputs), Path(recording.path)))
    return found


def apply_retention(
    store: types.Store,
    recordings_dir: Path,
    keep_free: Optional[int] = None,
    max_age_days: Optional[float] = None,
    delete_detected: bool = False,
    message_store: Optional[types.MessageStore] = None,
    now: Optional[datetime.datetime] = None,
) -> RetentionReport:
    """Delete kept recordings as the retention settings say.

    Parameters
    ----------
    store
        The metadata store.
    recordings_dir
        Where kept recordings are filed.
    keep_free
        Bytes to keep free on the recordings' disk; None: no size limit.
    max_age_days
        Delete recordings older than this; None: no age limit.
    delete_detected
        Allow deleting recordings with detections too (by age, or for
        space once every recording without detections is gone).
    message_store
        Outbox; recordings named in unsent messages are kept.
    now
        The current time (tests).

    Returns
    -------
    RetentionReport
    """
    report = RetentionReport()
    if keep_free is None and max_age_days is None:
        return report
    now = now or datetime.datetime.now(datetime.timezone.utc)
    unsent = ""
    if message_store is not None:
        unsent = "\n".join(
            m.content.decode(errors="replace")
            if isinstance(m.content, bytes)
            else m.content
            for m in message_store.get_unsent_messages()
        )

    entries = sorted(_candidates(recordings_dir, store), key=lambda e: e[0].created_on)
    allowed = []
    for recording, detected, path in entries:
        if str(recording.id) in unsent:
            report.protected += 1
        elif detected and not delete_detected:
            continue
        else:
            allowed.append((recording, detected, path))

    def delete(recording: data.Recording, path: Path, why: str) -> None:
        try:
            size = path.stat().st_size
            path.unlink()
        except OSError as error:
            logger.warning("Retention could not delete %s: %s", path, error)
            return
        report.deleted.append(path)
        report.freed += size
        logger.info("Retention deleted %s (%s).", path, why)

    remaining = []
    for recording, detected, path in allowed:
        age = now - recording.created_on
        if max_age_days is not None and age > datetime.timedelta(days=max_age_days):
            delete(recording, path, f"older than {max_age_days:g} days")
        else:
            remaining.append((recording, detected, path))

    if keep_free is not None:
        # Without detections first, oldest first within each group.
        remaining.sort(key=lambda e: (e[1], e[0].created_on))
        for recording, _, path in remaining:
            free = _free(recordings_dir)
            if free is None or free >= keep_free:
                break
            delete(recording, path, f"less than {format_bytes(keep_free)} free")
        free = _free(recordings_dir)
        if free is not None and free < keep_free:
            report.shortfall = (
                f"only {format_bytes(free)} free on {recordings_dir}, below the "
                f"{format_bytes(keep_free)} to keep free, and nothing more may "
                "be deleted"
            )
    if report.deleted or report.shortfall:
        logger.warning("%s", report.describe())
    return report
