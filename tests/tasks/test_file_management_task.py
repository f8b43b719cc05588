"""The file management task never loses a recording.

Real WAV files, a real SqliteStore, and crashes simulated at each step.
"""

import datetime
import logging
import os
import shutil
from pathlib import Path

import pytest

from acoupi import data
from acoupi.components import types
from acoupi.components.saving_filters import SavingThreshold
from acoupi.components.saving_managers import DateFileManager, SaveRecordingManager
from acoupi.components.stores import SqliteStore
from acoupi.tasks import management
from acoupi.tasks.management import generate_file_management_task
from audio_support import record_wav, write_wav

UTC = datetime.timezone.utc
NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


class Crash(BaseException):
    """Stands for the process dying (not caught by ``except Exception``)."""


@pytest.fixture
def tmp_dir(tmp_path):
    directory = tmp_path / "shm"
    directory.mkdir()
    return directory


@pytest.fixture
def store(tmp_path):
    return SqliteStore(tmp_path / "metadata.db")


@pytest.fixture
def storage(tmp_path):
    return tmp_path / "recordings"


def new_recording(store, tmp_dir, seconds=0, frequency=1000.0):
    recording = record_wav(
        tmp_dir,
        NOW + datetime.timedelta(seconds=seconds),
        store.get_current_deployment(),
        frequency=frequency,
    )
    store.store_recording(recording)
    return recording


def stored_path(store, recording):
    ((found, _),) = store.get_recordings([recording.id])
    return found.path


def task_for(store, tmp_dir, managers, **kwargs):
    return generate_file_management_task(store, managers, tmp_path=tmp_dir, **kwargs)


def test_files_recordings_with_their_content(store, tmp_dir, storage):
    recording = new_recording(store, tmp_dir)
    content = recording.path.read_bytes()
    task = task_for(store, tmp_dir, [DateFileManager(storage)])
    assert task.__name__ == "file_management_task"
    task()
    destination = storage / "2024/5/1" / f"20240501_120000_{recording.id}.wav"
    assert destination.read_bytes() == content
    assert stored_path(store, recording) == destination
    assert list(tmp_dir.iterdir()) == []


def test_unknown_files_are_left_alone(store, tmp_dir, storage):
    stranger = write_wav(tmp_dir / "not-ours.wav")
    orphan = record_wav(tmp_dir, NOW, store.get_current_deployment())  # not stored
    task_for(
        store, tmp_dir, [DateFileManager(storage)], file_filters=[SavingThreshold(1)]
    )()
    assert stranger.exists() and orphan.path.exists()


def test_waits_for_required_models(store, tmp_dir, storage):
    recording = new_recording(store, tmp_dir)
    task = task_for(
        store, tmp_dir, [DateFileManager(storage)], required_models=["batdetect2"]
    )
    task()
    assert recording.path.exists()
    store.store_model_output(
        data.ModelOutput(name_model="batdetect2", recording=recording)
    )
    task()
    assert not recording.path.exists()
    assert stored_path(store, recording).is_relative_to(storage)


class Answer(types.RecordingSavingFilter):
    def __init__(self, answer):
        self.answer = answer

    def should_save_recording(self, recording, model_outputs=None):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_filters_are_ored_and_rejected_recordings_deleted(store, tmp_dir, storage):
    kept = new_recording(store, tmp_dir, 0)
    task_for(
        store,
        tmp_dir,
        [DateFileManager(storage)],
        file_filters=[Answer(False), Answer(True)],
    )()
    assert stored_path(store, kept).exists()

    rejected = new_recording(store, tmp_dir, 1)
    task_for(store, tmp_dir, [DateFileManager(storage)], file_filters=[Answer(False)])()
    assert not rejected.path.exists()
    assert not any(storage.rglob(f"*{rejected.id}*"))


def test_errors_keep_the_file_and_do_not_stop_the_run(store, tmp_dir, storage, caplog):
    first = new_recording(store, tmp_dir, 0)
    second = new_recording(store, tmp_dir, 1)

    class FailsOnFirst(DateFileManager):
        def save_recording(self, recording, model_outputs=None):
            if recording.id == first.id:
                raise RuntimeError("disk trouble")
            return super().save_recording(recording, model_outputs)

    with caplog.at_level(logging.ERROR):
        task_for(store, tmp_dir, [FailsOnFirst(storage)])()
    assert first.path.exists() and stored_path(store, first) == first.path
    assert not second.path.exists() and stored_path(store, second).exists()
    assert "disk trouble" in caplog.text

    # A failing filter keeps the file as well (no accidental deletion).
    task_for(
        store,
        tmp_dir,
        [DateFileManager(storage)],
        file_filters=[Answer(ValueError("x"))],
    )()
    assert first.path.exists()


class Decline(types.RecordingSavingManager):
    def save_recording(self, recording, model_outputs=None):
        return None


def test_first_accepting_manager_wins(store, tmp_dir, storage):
    recording = new_recording(store, tmp_dir)
    task_for(store, tmp_dir, [Decline(), DateFileManager(storage)])()
    assert stored_path(store, recording).is_relative_to(storage)


def test_declined_by_every_manager_is_deleted_with_a_warning(store, tmp_dir, caplog):
    recording = new_recording(store, tmp_dir)
    with caplog.at_level(logging.WARNING):
        task_for(store, tmp_dir, [Decline()])()
    assert not recording.path.exists()
    assert "every saving manager declined" in caplog.text


def test_same_second_names_never_overwrite(store, tmp_dir, storage):
    # SaveRecordingManager names files by the second they started in.
    one = new_recording(store, tmp_dir, 0.1, frequency=500)
    two = new_recording(store, tmp_dir, 0.6, frequency=2000)
    contents = {one.id: one.path.read_bytes(), two.id: two.path.read_bytes()}
    task_for(store, tmp_dir, [SaveRecordingManager(storage)])()
    paths = {r.id: stored_path(store, r) for r in (one, two)}
    assert len(set(paths.values())) == 2
    for recording_id, path in paths.items():
        assert path.read_bytes() == contents[recording_id]
    assert list(tmp_dir.iterdir()) == []


def test_failed_move_reverts_the_stored_path(store, tmp_dir, storage, monkeypatch):
    recording = new_recording(store, tmp_dir)

    def broken_move(recording, dest, logger=None):
        raise OSError("No space left on device")

    monkeypatch.setattr(management, "move_recording", broken_move)
    task_for(store, tmp_dir, [DateFileManager(storage)])()
    assert recording.path.exists()
    assert stored_path(store, recording) == recording.path
    monkeypatch.undo()
    task_for(store, tmp_dir, [DateFileManager(storage)])()
    assert not recording.path.exists() and stored_path(store, recording).exists()


# Crash recovery ---------------------------------------------------------------


def test_crash_between_path_update_and_move(store, tmp_dir, storage, monkeypatch):
    recording = new_recording(store, tmp_dir)
    content = recording.path.read_bytes()

    def die(*args, **kwargs):
        raise Crash()

    monkeypatch.setattr(management, "move_recording", die)
    with pytest.raises(Crash):
        task_for(store, tmp_dir, [DateFileManager(storage)])()
    destination = stored_path(store, recording)
    assert destination.is_relative_to(storage) and not destination.exists()
    assert recording.path.exists()  # the file waits in tmp

    monkeypatch.undo()  # the worker restarts
    task_for(store, tmp_dir, [DateFileManager(storage)])()
    assert destination.read_bytes() == content
    assert list(tmp_dir.iterdir()) == []
    assert stored_path(store, recording) == destination


@pytest.mark.parametrize("how", ["copy", "hardlink"])
def test_crash_after_move_before_tmp_removal(store, tmp_dir, storage, how):
    recording = new_recording(store, tmp_dir)
    destination = storage / "2024/5/1" / f"20240501_120000_{recording.id}.wav"
    destination.parent.mkdir(parents=True)
    # State left by a crash: path updated, file at destination, tmp copy alive.
    store.update_recording_path(recording.model_copy(), destination)
    if how == "copy":
        shutil.copyfile(recording.path, destination)
    else:
        os.link(recording.path, destination)
    task_for(store, tmp_dir, [DateFileManager(storage)])()
    assert destination.exists()
    assert not recording.path.exists()
    assert stored_path(store, recording) == destination


def test_file_moved_but_path_not_updated(store, tmp_dir, storage):
    # State left by move-then-update code crashing before the update, with
    # the temporary copy still present: the identical copy is adopted.
    recording = new_recording(store, tmp_dir)
    destination = storage / "2024/5/1" / f"20240501_120000_{recording.id}.wav"
    destination.parent.mkdir(parents=True)
    shutil.copyfile(recording.path, destination)
    task_for(store, tmp_dir, [DateFileManager(storage)])()
    assert stored_path(store, recording) == destination
    assert destination.exists() and not recording.path.exists()


def test_recovery_never_deletes_a_different_file(store, tmp_dir, storage, caplog):
    recording = new_recording(store, tmp_dir, frequency=500)
    elsewhere = write_wav(storage / "other.wav", frequency=3000)
    store.update_recording_path(recording.model_copy(), elsewhere)
    with caplog.at_level(logging.ERROR):
        task_for(store, tmp_dir, [DateFileManager(storage)])()
    assert recording.path.exists() and elsewhere.exists()
    assert "both are left alone" in caplog.text


def test_recovery_through_a_symlinked_tmp_dir_keeps_the_file(store, tmp_path, storage):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    recording = new_recording(store, real)
    # The store spells the path through the symlink; the task lists the
    # real folder: same entry, two spellings. Nothing must be deleted.
    store.update_recording_path(recording.model_copy(), link / recording.path.name)
    task_for(store, real, [DateFileManager(storage)])()
    assert recording.path.exists()


def test_destination_dir_is_on_another_path(store, tmp_dir, tmp_path):
    # Works with destinations anywhere, including nested new folders.
    recording = new_recording(store, tmp_dir)
    target = tmp_path / "a" / "b"

    class Nested(types.RecordingSavingManager):
        def save_recording(self, recording, model_outputs=None):
            return target / "deep" / f"{recording.id}.wav"

    task_for(store, tmp_dir, [Nested()])()
    assert stored_path(store, recording) == target / "deep" / f"{recording.id}.wav"
    assert Path(stored_path(store, recording)).exists()
