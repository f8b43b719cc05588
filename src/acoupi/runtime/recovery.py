"""Start-up recovery: recordings a crash left in the temporary folder.

Run before the workers start, so nothing is writing there. For each file:

* a complete WAV the store knows: if a required model has not processed
  it, detection is queued again; otherwise the file management task files
  it as usual;
* a complete WAV the store does not know (a crash between writing the file
  and storing its metadata): it is registered, its metadata read from the
  WAV header and its time from the file name, then treated as above;
* a partial or corrupt WAV (killed mid-write, or the recorder's hidden
  ``.<name>.wav.partial``): moved to ``<paths.recordings>/quarantine``,
  never deleted, for a person to look at.

Only files this installation wrote are touched, as a folder may be shared
(upstream's default was ``/run/shm`` for every installation): a WAV the
store knows by id; a WAV whose GUANO names one of the store's deployments;
and, in a folder marked as this installation's own
(:mod:`acoupi.system.folders`), any other WAV and stale partial file.
Everything else is left alone and counted in ``RecoveryReport.foreign``.
"""

import datetime
import logging
import os
import shutil
import sqlite3
import time
import wave
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional, Tuple
from uuid import UUID, uuid4

from acoupi import data
from acoupi.audio.guano import NAMESPACE
from acoupi.audio.wav import PARTIAL_SUFFIX, read_guano
from acoupi.components.recording_files import recording_id_from_path
from acoupi.components.sqlite_db import uuid_to_db
from acoupi.system.files import is_own_wav
from acoupi.system.folders import claim_folder, folder_owner, owner_id

__all__ = ["QUARANTINE_FOLDER", "RecoveryReport", "read_wav_info", "recover"]

logger = logging.getLogger(__name__)

QUARANTINE_FOLDER = "quarantine"
"""Folder under ``paths.recordings`` for partial or corrupt recordings."""


@dataclass
class RecoveryReport:
    """What start-up recovery did."""

    redispatched: List[Path] = field(default_factory=list)
    """Recordings whose detection was queued again."""

    registered: List[Path] = field(default_factory=list)
    """Recordings missing from the store, now stored (each is also in
    ``redispatched`` or ``left``)."""

    quarantined: List[Path] = field(default_factory=list)
    """Where partial or corrupt files were moved to."""

    left: List[Path] = field(default_factory=list)
    """Complete recordings left for the file management task."""

    pending: List[Path] = field(default_factory=list)
    """Recordings whose detection is already queued or running (not queued
    a second time)."""

    failed: List[str] = field(default_factory=list)
    """Files recovery could not handle (left in place), with the reason."""

    foreign: List[Path] = field(default_factory=list)
    """Files left alone: not known to be this installation's."""

    copies_removed: List[Path] = field(default_factory=list)
    """Copies cut short while filing, whose recording is intact elsewhere."""

    def describe(self) -> str:
        """One line for reports."""
        line = (
            f"{len(self.redispatched)} re-queued, {len(self.pending)} already "
            f"queued, {len(self.registered)} registered, {len(self.left)} left "
            "for filing, "
            f"{len(self.quarantined)} quarantined, {len(self.failed)} failed"
        )
        if self.copies_removed:
            line += (
                f"; {len(self.copies_removed)} unfinished copies of intact "
                "recordings removed"
            )
        if self.foreign:
            line += (
                f"; {len(self.foreign)} other files left alone (not written "
                "by this installation)"
            )
        return line

    @property
    def touched(self) -> int:
        """How many files recovery found."""
        return sum(
            len(items)
            for items in (
                self.redispatched,
                self.pending,
                self.quarantined,
                self.left,
                self.failed,
                self.copies_removed,
            )
        )


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says."""

    samplerate: int
    audio_channels: int
    duration: float


def read_wav_info(path: Path) -> Optional[WavInfo]:
    """Return the header of a complete WAV file, or None if it is not one.

    A file is complete when its header parses and all the frames it
    announces are present (a file cut short mid-write fails this).
    """
    try:
        with wave.open(str(path), "rb") as handle:
            frames = handle.getnframes()
            width = handle.getsampwidth() * handle.getnchannels()
            data_bytes = handle.readframes(frames)
            info = WavInfo(
                samplerate=handle.getframerate(),
                audio_channels=handle.getnchannels(),
                duration=frames / handle.getframerate(),
            )
    except (wave.Error, EOFError, OSError, ZeroDivisionError, ValueError):
        return None
    if frames == 0 or len(data_bytes) != frames * width:
        return None
    return info


def _time_from_name(path: Path) -> Optional[datetime.datetime]:
    """Read ``YYYYmmdd_HHMMSS`` at the start of a recording's file name (UTC)."""
    try:
        moment = datetime.datetime.strptime(path.name[:15], "%Y%m%d_%H%M%S")
    except ValueError:
        return None
    return moment.replace(tzinfo=datetime.timezone.utc)


def _unique(destination: Path) -> Path:
    candidate, number = destination, 1
    while candidate.exists():
        candidate = destination.with_name(
            f"{destination.stem}.{number}{destination.suffix}"
        )
        number += 1
    return candidate


def quarantine(path: Path, folder: Path) -> Path:
    """Move ``path`` into ``folder`` under a free name; return the new path."""
    folder.mkdir(parents=True, exist_ok=True)
    destination = _unique(folder / path.name.lstrip("."))
    shutil.move(str(path), destination)
    return destination


def _candidates(tmp_dir: Path) -> Tuple[List[Path], List[Path]]:
    """Return the complete-looking WAVs and the recorder's partial files."""
    wavs, partials = [], []
    for path in sorted(tmp_dir.iterdir()):
        if not path.is_file():
            continue
        if path.name.startswith(".") and path.name.endswith(PARTIAL_SUFFIX):
            if path.stat().st_uid == os.geteuid():  # another user's: not ours
                partials.append(path)
        elif is_own_wav(path):
            wavs.append(path)
    return wavs, partials


PARTIAL_MIN_AGE = 10.0
"""Seconds after which a partial file is a leftover: writing one takes far
less, so a younger one may be a running recorder's (``acoupi recover`` run
by hand while the services record)."""


class _Recovery:
    def __init__(self, program: Any, report: RecoveryReport, tmp_dir: Path) -> None:
        self.program = program
        self.store = program.store
        self.report = report
        self.quarantine_dir = Path(program.config.paths.recordings) / QUARANTINE_FOLDER
        self.required = list(self._required_models())
        self.detect = program.tasks.get("detection_task")
        self.tmp_dir = tmp_dir
        self.folder_is_ours = False
        self._pending = self._pending_detections()

    def claim(self, wavs: List[Path], partials: List[Path]) -> None:
        """Decide whether the folder is this installation's own.

        A marked folder is whoever marked it. An unmarked one is claimed
        only while it holds nothing of unknown origin.
        """
        db_path = getattr(self.store, "db_path", None)
        owner = owner_id(Path(db_path)) if db_path is not None else None
        if owner is None:
            return
        current = folder_owner(self.tmp_dir)
        if current is None and (partials or not all(map(self._known, wavs))):
            return
        self.folder_is_ours = claim_folder(self.tmp_dir, owner)

    def _known(self, path: Path) -> bool:
        return self._find(path)[0] is not None or bool(self._in_our_deployment(path))

    def _in_our_deployment(self, path: Path) -> Optional[bool]:
        """Whether the file's GUANO names one of our deployments (None: no GUANO)."""
        try:
            deployment_id = read_guano(path).get(f"{NAMESPACE}|Deployment ID")
            deployment = UUID(str(deployment_id)) if deployment_id else None
        except Exception:  # no or unreadable GUANO: unknown origin
            return None
        if deployment is None:
            return None
        return _store_has_deployment(self.store, deployment)

    def partial(self, path: Path) -> None:
        if not self.folder_is_ours:
            self.report.foreign.append(path)
            return
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            return  # gone meanwhile: it was being written
        if age < PARTIAL_MIN_AGE:
            return
        self._quarantine(path, "left half-written")

    def _pending_detections(self) -> Optional[List[str]]:
        """Arguments of the detection tasks not yet finished (None: unknown)."""
        if self.detect is None:
            return None
        from acoupi.system.broker import pending_task_arguments

        route = getattr(self.program, "get_recording_callback_queue", None)
        try:
            queue = (route(self.program.config) if route else None) or "celery"
            return pending_task_arguments(self.program.app, queue)
        except Exception as error:  # unknown: queue again rather than lose it
            logger.warning("Could not list the queued detections: %s", error)
            return None

    def _required_models(self) -> List[str]:
        getter = getattr(self.program, "get_required_models", None)
        return list(getter(self.program.config)) if getter is not None else []

    def handle(self, path: Path) -> None:
        info = read_wav_info(path)
        if info is None:
            if not self.folder_is_ours and self._find(path)[0] is None:
                self.report.foreign.append(path)
                return
            self._quarantine(path, "not a complete WAV file")
            return
        recording, outputs = self._find(path)
        if recording is None:
            ours = self._in_our_deployment(path)
            if ours is False or (ours is None and not self.folder_is_ours):
                self.report.foreign.append(path)
                return
            recording = self._register(path, info)
            outputs = []
        elif recording.path is not None and Path(recording.path) != path:
            # An interrupted move: the file management task completes it.
            self.report.left.append(path)
            return
        done = {output.name_model for output in outputs}
        if self.detect is not None and any(m not in done for m in self.required):
            if self._already_pending(recording):
                self.report.pending.append(path)
                return
            self.detect.apply_async((recording,))
            self.report.redispatched.append(path)
            logger.info("Detection queued again for %s.", path)
        else:
            self.report.left.append(path)

    def _already_pending(self, recording: data.Recording) -> bool:
        """Whether detection of ``recording`` is queued or running already."""
        if self._pending is None:
            return False
        return any(str(recording.id) in arguments for arguments in self._pending)

    def _find(
        self, path: Path
    ) -> Tuple[Optional[data.Recording], List[data.ModelOutput]]:
        recording_id = recording_id_from_path(path)
        found = self.store.get_recordings([recording_id]) if recording_id else []
        if not found:
            found = self.store.get_recordings_by_path([path])
        if not found:
            return None, []
        recording, outputs = found[0]
        return recording, list(outputs)

    def _register(self, path: Path, info: WavInfo) -> data.Recording:
        recording_id: UUID = recording_id_from_path(path) or uuid4()
        created_on = _time_from_name(path) or datetime.datetime.fromtimestamp(
            path.stat().st_mtime, datetime.timezone.utc
        )
        recording = data.Recording(
            id=recording_id,
            created_on=created_on,
            duration=info.duration,
            samplerate=info.samplerate,
            audio_channels=info.audio_channels,
            deployment=self.store.get_current_deployment(),
            path=path,
        )
        self.store.store_recording(recording)
        self.report.registered.append(path)
        logger.warning(
            "Registered %s: a crash had left it on disk but not in the store.", path
        )
        return recording

    def _quarantine(self, path: Path, reason: str) -> None:
        destination = quarantine(path, self.quarantine_dir)
        self.report.quarantined.append(destination)
        logger.warning("Moved %s (%s) to %s.", path, reason, destination)


def _store_has_deployment(store: Any, deployment_id: UUID) -> bool:
    """Whether ``store`` holds the deployment (SQLite read, else current)."""
    db_path = getattr(store, "db_path", None)
    if db_path is not None and Path(db_path).exists():
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
            row = db.execute(
                "SELECT 1 FROM deployment WHERE id = ?", (uuid_to_db(deployment_id),)
            ).fetchone()
        return row is not None
    try:
        return bool(store.get_current_deployment().id == deployment_id)
    except Exception:
        return False


def recover(program: Any) -> RecoveryReport:
    """Process the recordings left in the program's temporary folder.

    Programs without ``store`` and ``config.paths`` (such as the test
    program) have nothing to recover. No file is ever deleted; a file that
    cannot be handled stays where it is and is named in ``failed``.

    Parameters
    ----------
    program
        The loaded program; its Celery app must reach the broker, as
        detection may be queued.

    Returns
    -------
    RecoveryReport
        What was done to which file.
    """
    report = RecoveryReport()
    paths = getattr(getattr(program, "config", None), "paths", None)
    tmp_dir = getattr(paths, "tmp_audio", None)
    if tmp_dir is None or getattr(program, "store", None) is None:
        return report
    tmp_dir = Path(tmp_dir)
    if not tmp_dir.is_dir():
        return report
    recovery = _Recovery(program, report, tmp_dir)
    wavs, partials = _candidates(tmp_dir)
    recovery.claim(wavs, partials)
    for path in partials:
        try:
            recovery.partial(path)
        except Exception as error:
            report.failed.append(f"{path}: {error}")
    for path in wavs:
        try:
            recovery.handle(path)
        except Exception as error:  # one bad file must not stop the others
            logger.exception("Could not recover %s", path)
            report.failed.append(f"{path}: {error}")
    recordings = getattr(paths, "recordings", None)
    if recordings is not None:
        _remove_unfinished_copies(Path(recordings), tmp_dir, recovery, report)
    return report


def _copied_name(partial: Path) -> str:
    """``.<name>.<random>.partial`` -> ``<name>`` (see files.move_recording)."""
    return partial.name[1 : -len(PARTIAL_SUFFIX)].rsplit(".", 1)[0]


def _remove_unfinished_copies(
    folder: Path, tmp_dir: Path, recovery: "_Recovery", report: RecoveryReport
) -> None:
    """Deal with copies a kill cut short while filing into ``folder``.

    Filing across filesystems copies under a partial name and removes the
    original only once the copy is complete and renamed: a leftover copy's
    recording is still in ``tmp_dir`` or already filed beside it. Such a
    copy is removed (it used to reach the quarantine as a "half-written"
    recording); one whose recording is in neither place is quarantined.
    """
    if not folder.is_dir():
        return
    for path in folder.rglob(f".*{PARTIAL_SUFFIX}"):
        if QUARANTINE_FOLDER in path.relative_to(folder).parts:
            continue
        try:
            if time.time() - path.stat().st_mtime < PARTIAL_MIN_AGE:
                continue  # a filing in progress
            name = _copied_name(path)
            if (path.parent / name).is_file() or (tmp_dir / name).is_file():
                path.unlink()
                report.copies_removed.append(path)
            else:
                recovery.partial(path)
        except Exception as error:  # one bad file must not stop the others
            report.failed.append(f"{path}: {error}")
