"""Saving managers compute destinations; they never move files."""

import datetime
import zoneinfo

import pytest

from acoupi import data
from acoupi.components.saving_managers import (
    BaseFileManager,
    DateFileManager,
    IDFileManager,
    SaveRecordingManager,
)
from audio_support import make_recording, write_wav

UTC = datetime.timezone.utc
CREATED = datetime.datetime(2023, 4, 5, 18, 9, 30, tzinfo=UTC)


@pytest.fixture
def recording(tmp_path):
    return make_recording(CREATED, path=write_wav(tmp_path / "tmp" / "r.wav"))


def output(recording, score):
    return data.ModelOutput(
        name_model="m",
        recording=recording,
        detections=[data.Detection(detection_score=score)],
    )


def test_save_recording_manager_sorts_by_confidence(tmp_path, recording):
    manager = SaveRecordingManager(tmp_path / "rec")
    for folder in ("rec", "rec/true_detections", "rec/false_detections"):
        assert (tmp_path / folder).is_dir()
    name = "20230405_180930.wav"
    assert manager.save_recording(recording) == tmp_path / "rec" / name
    assert manager.save_recording(recording, []) == tmp_path / "rec" / name
    assert (
        manager.save_recording(recording, [output(recording, 0.6)])
        == tmp_path / "rec/true_detections" / name
    )
    assert (
        manager.save_recording(recording, [output(recording, 0.3)])
        == tmp_path / "rec/false_detections" / name
    )
    assert manager.save_recording(recording, [output(recording, 0.29)]) is None
    # The file is not touched.
    assert recording.path.exists()


def test_save_recording_manager_custom_dirs_and_errors(tmp_path, recording):
    manager = SaveRecordingManager(
        tmp_path / "a",
        dirpath_true=tmp_path / "yes",
        dirpath_false=tmp_path / "no",
        timeformat="%H%M",
        detection_threshold=0.9,
        saving_threshold=0.1,
    )
    assert manager.save_recording(recording, [output(recording, 0.5)]) == (
        tmp_path / "no" / "1809.wav"
    )
    with pytest.raises(ValueError, match="no path"):
        manager.save_recording(recording.model_copy(update={"path": None}))


def test_date_file_manager_layout(tmp_path, recording):
    manager = DateFileManager(tmp_path / "store")
    destination = manager.save_recording(recording)
    name = f"20230405_180930_{recording.id}.wav"  # acoupi 0.8's dated name
    assert destination == tmp_path / "store/2023/4/5" / name
    assert destination.parent.is_dir()
    assert not destination.exists()


def test_date_file_manager_local_timezone(tmp_path, recording):
    manager = DateFileManager(tmp_path, timezone=zoneinfo.ZoneInfo("Asia/Tokyo"))
    assert manager.get_file_path(recording).parts[:3] == ("2023", "4", "6")


def test_id_file_manager_and_missing_files(tmp_path, recording):
    manager = IDFileManager(tmp_path / "ids")
    assert manager.save_recording(recording) == tmp_path / "ids" / f"{recording.id}.wav"
    recording.path.unlink()
    with pytest.raises(FileNotFoundError):
        manager.save_recording(recording)
    with pytest.raises(ValueError):
        manager.save_recording(recording.model_copy(update={"path": None}))


def test_base_file_manager_is_abstract(tmp_path):
    with pytest.raises(TypeError):
        BaseFileManager(tmp_path)  # type: ignore[abstract]
