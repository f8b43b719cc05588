"""The file management task: keep or delete temporary recordings.

Recordings wait in the temporary folder until every management condition
accepts them (by default: every required model has processed them, see
:class:`ProcessedByRequiredModels`). Then the saving filters decide whether
to keep each one, and the first saving manager that accepts it chooses where
it goes. Conditions only see which models ran (``ModelOutputInfo``); full
outputs are loaded only for the recordings that are ready.

Recordings must never vanish by accident, so:

* only files the store knows are touched; unknown files are left alone;
* a recording is deleted only when the filters reject it, or when every
  manager declines it (upstream behaviour, logged as a warning);
* any error (a filter, a manager, the disk) leaves the file where it is,
  for the next run;
* filing is crash-safe. The stored path is set to the destination *before*
  the file moves (the database then records the intent), and the move
  itself is durable (:func:`acoupi.system.files.move_recording`). If the
  process dies in between, the next run finds the file in the temporary
  folder, matches it to its recording through the id in its name, and
  either completes the move or, when an identical copy is already at the
  destination, removes the temporary duplicate. A file already at the
  destination while the stored path is still the temporary one (a move
  from an older version interrupted before the path update) is detected
  too: the identical copy is kept and the path updated.

A power cut empties the in-memory temporary folder: recordings still there
are lost, as in upstream acoupi. One caught between the path update and the
move keeps a stored path to a file that was never written.
"""

import filecmp
import logging
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

from acoupi import data
from acoupi.components import types
from acoupi.components.recording_files import recording_id_from_path
from acoupi.system.files import (
    TEMP_PATH,
    delete_recording,
    get_temp_files,
    move_recording,
)

__all__ = [
    "ProcessedByRequiredModels",
    "RecordingManagementCondition",
    "generate_file_management_task",
    "manage_recording",
]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

RecordingManagementCondition = Callable[
    [data.Recording, Sequence[data.ModelOutputInfo]], bool
]
"""Decides whether a recording is ready to be kept or deleted now; False
leaves it in the temporary folder until the next run."""


class ProcessedByRequiredModels:
    """Ready once every named model has an output for the recording.

    Parameters
    ----------
    required_model_names
        Names (``ModelOutput.name_model``) of the models that must have run.
    """

    def __init__(self, required_model_names: Sequence[str]):
        self.required_model_names = set(required_model_names)

    def __call__(
        self,
        recording: data.Recording,
        model_outputs: Sequence[data.ModelOutputInfo],
    ) -> bool:
        """Return True when no required model is missing."""
        done = {output.name_model for output in model_outputs}
        return self.required_model_names <= done

    def __repr__(self) -> str:
        return f"ProcessedByRequiredModels({sorted(self.required_model_names)!r})"


def _same_content(first: Path, second: Path) -> bool:
    try:
        return first.samefile(second) or filecmp.cmp(first, second, shallow=False)
    except OSError:
        return False


def _same_entry(first: Path, second: Path) -> bool:
    """Return whether two paths name the same directory entry.

    Unlike ``samefile`` this is False for two hard links to one file, where
    removing one name is safe.
    """
    return first.resolve() == second.resolve()


class _FileManager:
    """One run of the file management task (state shared by its steps)."""

    def __init__(
        self,
        store: types.Store,
        file_managers: Sequence[types.RecordingSavingManager],
        logger: logging.Logger,
        file_filters: Sequence[types.RecordingSavingFilter],
        conditions: Sequence[RecordingManagementCondition] = (),
    ):
        self.store = store
        self.file_managers = file_managers
        self.logger = logger
        self.file_filters = file_filters
        self.conditions = conditions

    def ready(
        self, recording: data.Recording, infos: Sequence[data.ModelOutputInfo]
    ) -> bool:
        """Whether every management condition accepts the recording now."""
        for condition in self.conditions:
            if not condition(recording, infos):
                self.logger.debug(
                    "Recording %s waits: %r is not met.", recording.id, condition
                )
                return False
        return True

    # Recovery ---------------------------------------------------------------

    def recover(self, path: Path) -> None:
        """Repair a temporary file whose stored path is elsewhere.

        Only files named with a stored recording's id are touched.
        """
        recording_id = recording_id_from_path(path)
        if recording_id is None:
            self.logger.debug("Unknown file %s left alone.", path)
            return
        found = self.store.get_recordings([recording_id])
        if not found:
            self.logger.debug("File %s is not in the store; left alone.", path)
            return
        recording, _ = found[0]
        stored = recording.path
        if stored is None:
            self.logger.warning(
                "Recording %s has no stored path but its file is %s; left alone.",
                recording.id,
                path,
            )
            return
        stored = Path(stored)
        if _same_entry(path, stored):
            # Two spellings of one directory entry (symlinked folder):
            # nothing to repair, and unlinking would delete the recording.
            return
        if not stored.exists():
            # The path was updated but the move never happened: finish it.
            self.logger.warning(
                "Completing the interrupted move of recording %s to %s.",
                recording.id,
                stored,
            )
            self._move(recording, path, stored)
            return
        if _same_content(path, stored):
            # The move happened but the temporary copy survived.
            self.logger.warning(
                "Removing the temporary duplicate %s of recording %s (kept at %s).",
                path,
                recording.id,
                stored,
            )
            path.unlink()
            return
        self.logger.error(
            "Recording %s is stored at %s but a different file %s carries its "
            "id; both are left alone.",
            recording.id,
            stored,
            path,
        )

    # Normal filing ------------------------------------------------------------

    def manage(
        self, recording: data.Recording, outputs: List[data.ModelOutput]
    ) -> None:
        """Keep, file or delete one recording found in the temporary folder."""
        if recording.path is None:
            self.logger.error("Recording %s has no path; skipped.", recording.id)
            return
        source = Path(recording.path)

        if self.file_filters and not any(
            f.should_save_recording(recording, model_outputs=outputs)
            for f in self.file_filters
        ):
            self.logger.info(
                "Deleting recording %s (%s): rejected by the saving filters.",
                recording.id,
                source,
            )
            delete_recording(recording)
            return

        if not source.exists():
            self.logger.error(
                "The file of recording %s (%s) does not exist; skipped.",
                recording.id,
                source,
            )
            return

        destination = self._destination(recording, outputs)
        if destination is None:
            self.logger.warning(
                "Deleting recording %s (%s): every saving manager declined it.",
                recording.id,
                source,
            )
            delete_recording(recording)
            return

        _annotate(source, outputs, self.logger)
        destination = self._free_destination(recording, source, destination)
        # Intent first: once the stored path is the destination, a crash at
        # any later point is repaired by ``recover`` on the next run.
        self.store.update_recording_path(recording, destination)
        self._move(recording, source, destination)

    def _destination(
        self, recording: data.Recording, outputs: List[data.ModelOutput]
    ) -> Optional[Path]:
        for manager in self.file_managers:
            destination = manager.save_recording(recording, model_outputs=outputs)
            if destination is not None:
                return Path(destination)
        return None

    def _free_destination(
        self, recording: data.Recording, source: Path, destination: Path
    ) -> Path:
        """Return ``destination``, or a variant when it belongs to another file.

        An identical file already there is this recording, moved by an
        interrupted run: the destination is kept and the move completes.
        """
        if self._is_free_for(recording, source, destination):
            return destination
        alternative = destination.with_name(
            f"{destination.stem}_{recording.id}{destination.suffix}"
        )
        self.logger.warning(
            "%s is taken by another recording; filing recording %s as %s.",
            destination,
            recording.id,
            alternative,
        )
        return alternative

    def _is_free_for(
        self, recording: data.Recording, source: Path, destination: Path
    ) -> bool:
        owners = self.store.get_recordings_by_path([destination])
        if any(owner.id != recording.id for owner, _ in owners):
            return False
        return not destination.exists() or _same_content(source, destination)

    def _move(self, recording: data.Recording, source: Path, destination: Path) -> None:
        moving = recording.model_copy(update={"path": source})
        try:
            move_recording(moving, destination, logger=self.logger)
        except Exception:
            # Undo the intent so the recording is filed again next run.
            self.logger.exception(
                "Could not move recording %s from %s to %s; it stays in place.",
                recording.id,
                source,
                destination,
            )
            if source.exists():
                self.store.update_recording_path(recording, source)
            return
        if source.exists() and not _same_entry(source, destination):
            # A hard-linked move interrupted before the source was removed
            # leaves both names on one file; the destination holds the data.
            if _same_content(source, destination):
                source.unlink()
        self.logger.info("Recording %s filed at %s.", recording.id, destination)


def _annotate(path: Path, outputs: List[data.ModelOutput], log: logging.Logger) -> None:
    """Write the models' detections into the kept file's GUANO metadata.

    Done before filing, in the temporary folder; it is idempotent, so a run
    repairing an interrupted filing compares identical files. A file that
    cannot be annotated (not 16-bit WAV) is filed as it is.
    """
    from acoupi.audio.guano import detections_guano
    from acoupi.audio.wav import update_guano

    fields = detections_guano(outputs)
    if not fields:
        return
    try:
        update_guano(path, fields)
    except Exception as error:  # metadata must never stop a recording being kept
        log.warning("Could not add detections to %s's metadata: %s", path, error)


def manage_recording(
    recording: data.Recording,
    model_outputs: List[data.ModelOutput],
    store: types.Store,
    file_managers: List[types.RecordingSavingManager],
    logger: logging.Logger = logger,
    file_filters: Optional[List[types.RecordingSavingFilter]] = None,
) -> None:
    """Keep, file or delete one temporary recording now (acoupi 0.8).

    What the file management task does for each ready recording: delete it
    if the filters reject it or every manager declines it, else file it
    where the first accepting manager says, crash-safely. Conditions are not
    checked here.

    Raises
    ------
    Exception
        Whatever a filter, manager or the disk raised; the file then stays
        where it is.
    """
    run = _FileManager(store, list(file_managers), logger, list(file_filters or []))
    run.manage(recording, model_outputs)


def generate_file_management_task(
    store: types.Store,
    file_managers: List[types.RecordingSavingManager],
    logger: logging.Logger = logger,
    file_filters: Optional[List[types.RecordingSavingFilter]] = None,
    required_models: Optional[List[str]] = None,
    tmp_path: Path = TEMP_PATH,
    management_conditions: Optional[List[RecordingManagementCondition]] = None,
) -> Callable[[], None]:
    """Build the ``file_management_task``.

    Parameters
    ----------
    store
        Metadata store; only recordings it knows are managed.
    file_managers
        Tried in order; the first returning a path decides the destination.
    logger
        Task logger.
    file_filters
        Keep a recording when at least one says so; none means keep all.
    required_models
        Names of the models whose output must be stored before a recording
        is managed; until then it stays in the temporary folder. Shorthand
        for a :class:`ProcessedByRequiredModels` condition, checked first.
    tmp_path
        The temporary folder.
    management_conditions
        More conditions (acoupi 0.8), each called with the recording and
        the ``ModelOutputInfo`` of its outputs; all must return True for it
        to be managed. One that raises is logged and the recording waits.

    Returns
    -------
    Callable[[], None]
        The task.
    """
    managers = list(file_managers)
    filters = list(file_filters or [])
    conditions: List[RecordingManagementCondition] = list(management_conditions or [])
    if required_models:
        conditions.insert(0, ProcessedByRequiredModels(required_models))

    def file_management_task() -> None:
        run = _FileManager(store, managers, logger, filters, conditions)
        paths = get_temp_files(tmp_path)
        if not paths:
            return
        known = store.get_recordings_info_by_path(paths)
        known_paths = {str(recording.path) for recording, _ in known}
        for path in paths:
            if str(path) not in known_paths:
                _guarded(logger, run.recover, path)
        ready = [
            recording
            for recording, infos in known
            if _guarded(logger, run.ready, recording, infos)
        ]
        if not ready:
            return
        outputs = store.get_recordings_model_outputs(ready)
        for recording in ready:
            _guarded(logger, run.manage, recording, outputs.get(recording.id, []))

    return file_management_task


def _guarded(log: logging.Logger, step: Callable[..., Any], *args: object) -> Any:
    # One bad recording must not stop the others from being managed; the
    # failed one stays where it is and is retried next run (None: not ready).
    try:
        return step(*args)
    except Exception:
        log.exception("File management of %s failed; will retry.", args[0])
        return None
