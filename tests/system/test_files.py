"""Temporary recordings, durable moves and deletion."""

import datetime
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator
from uuid import UUID, uuid4

import pytest

from acoupi import data
from acoupi.system import files

DEPLOYMENT = data.Deployment(
    name="test", started_on=datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
)


def make_recording(path: Path | None) -> data.Recording:
    return data.Recording(duration=1, samplerate=8000, deployment=DEPLOYMENT, path=path)


def write_audio(path: Path, content: bytes = b"RIFF....WAVE") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# Temporary directory ----------------------------------------------------------


def test_temp_dir_in_memory_when_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shm = tmp_path / "shm"
    shm.mkdir()
    monkeypatch.setattr(files, "TEMP_PATH", shm)
    assert files.get_temp_dir() == shm


def test_temp_dir_falls_back_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "TEMP_PATH", tmp_path / "no-shm")
    monkeypatch.setattr(files, "FALLBACK_TEMP_PATH", tmp_path / "tmp" / "acoupi")
    with pytest.warns(UserWarning, match="not writable"):
        temp = files.get_temp_dir()
    assert temp == tmp_path / "tmp" / "acoupi"
    assert temp.is_dir()


def test_temp_dir_on_disk_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    monkeypatch.setattr(files, "TEMP_PATH", tmp_path)
    monkeypatch.setattr(files, "FALLBACK_TEMP_PATH", tmp_path / "disk")
    assert files.get_temp_dir(in_memory=False) == tmp_path / "disk"
    assert not recwarn.list


def test_temp_dir_last_resort_is_home_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(files, "FALLBACK_TEMP_PATH", blocker / "acoupi")
    assert files.get_temp_dir(in_memory=False) == isolated_home / "tmp"
    assert (isolated_home / "tmp").is_dir()


def test_constants() -> None:
    assert files.TEMP_PATH == Path("/run/shm/")
    assert files.DEFAULT_AUDIO_STORAGE.name == "audio"


# Temporary files ----------------------------------------------------------------


def test_get_temp_files_lists_wavs_sorted(tmp_path: Path) -> None:
    names = ["c.wav", "a.wav", "b.wav"]
    for name in names:
        write_audio(tmp_path / name)
    write_audio(tmp_path / "notes.txt")
    (tmp_path / "dir.wav").mkdir()
    assert files.get_temp_files(tmp_path) == [tmp_path / n for n in sorted(names)]
    assert files.get_temp_files(tmp_path / "missing") == []


def test_temp_file_helpers(tmp_path: Path) -> None:
    recording_id = uuid4()
    path = tmp_path / f"{recording_id}.wav"
    assert files.get_temp_file_id(path) == recording_id
    assert files.get_temp_file_id(str(path)) == recording_id
    assert files.get_temp_files_paths(path) == str(path)
    assert files.get_temp_file(path) == str(path)


def test_temp_file_id_rejects_other_names() -> None:
    with pytest.raises(ValueError, match="does not hold a recording id"):
        files.get_temp_file_id(Path("/tmp/recording.wav"))


# Moving -----------------------------------------------------------------------


def test_move_recording_creates_parents_and_keeps_recording(tmp_path: Path) -> None:
    source = write_audio(tmp_path / "tmp" / "rec.wav", b"audio")
    recording = make_recording(source)
    dest = tmp_path / "storage" / "2024" / "1" / "rec.wav"

    assert files.move_recording(recording, dest) == dest

    assert dest.read_bytes() == b"audio"
    assert not source.exists()
    assert recording.path == source  # not mutated
    assert os.listdir(dest.parent) == ["rec.wav"]  # no temp files left


def test_move_recording_into_directory(tmp_path: Path) -> None:
    source = write_audio(tmp_path / "rec.wav")
    storage = tmp_path / "storage"
    storage.mkdir()
    assert files.move_recording(make_recording(source), storage) == storage / "rec.wav"


def test_move_recording_copies_when_links_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    source = write_audio(tmp_path / "rec.wav", b"x" * 3_000_000)
    dest = tmp_path / "out" / "rec.wav"
    assert files.move_recording(make_recording(source), dest) == dest
    assert dest.read_bytes() == b"x" * 3_000_000
    assert not source.exists()
    assert os.listdir(dest.parent) == ["rec.wav"]


@pytest.fixture
def shm_dir() -> Iterator[Path]:
    if not os.access("/dev/shm", os.W_OK):
        pytest.skip("no writable /dev/shm")
    path = Path(tempfile.mkdtemp(prefix="acoupi-test-", dir="/dev/shm"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_move_recording_across_filesystems(shm_dir: Path, tmp_path: Path) -> None:
    if os.stat(shm_dir).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("/dev/shm is on the same filesystem as tmp_path")
    source = write_audio(shm_dir / "rec.wav", b"in memory")
    dest = tmp_path / "sd card" / "rec.wav"
    assert files.move_recording(make_recording(source), dest) == dest
    assert dest.read_bytes() == b"in memory"
    assert not source.exists()


def test_move_recording_refuses_to_overwrite(tmp_path: Path) -> None:
    source = write_audio(tmp_path / "rec.wav", b"new")
    dest = write_audio(tmp_path / "storage" / "rec.wav", b"old")
    with pytest.raises(FileExistsError, match="Nothing was overwritten"):
        files.move_recording(make_recording(source), dest)
    assert dest.read_bytes() == b"old"
    assert source.read_bytes() == b"new"


def test_move_recording_refuses_to_overwrite_when_copying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "link", lambda *a: (_ for _ in ()).throw(OSError(18, "")))
    source = write_audio(tmp_path / "rec.wav", b"new")
    dest = write_audio(tmp_path / "storage" / "rec.wav", b"old")
    with pytest.raises(FileExistsError):
        files.move_recording(make_recording(source), dest)
    assert dest.read_bytes() == b"old"
    assert source.exists()
    assert os.listdir(dest.parent) == ["rec.wav"]


def test_move_recording_completes_an_interrupted_move(tmp_path: Path) -> None:
    source = write_audio(tmp_path / "rec.wav", b"same")
    dest = write_audio(tmp_path / "storage" / "rec.wav", b"same")
    assert files.move_recording(make_recording(source), dest) == dest
    assert not source.exists()
    assert dest.read_bytes() == b"same"


def test_move_recording_onto_itself_is_a_no_op(tmp_path: Path) -> None:
    source = write_audio(tmp_path / "rec.wav", b"data")
    assert files.move_recording(make_recording(source), source) == source
    assert source.read_bytes() == b"data"


def test_move_recording_without_path_logs_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert files.move_recording(make_recording(None), tmp_path / "x.wav") is None
    assert "has no path" in caplog.text


def test_move_recording_uses_given_logger(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    custom = logging.getLogger("custom.mover")
    with caplog.at_level(logging.ERROR, logger="custom.mover"):
        files.move_recording(make_recording(None), tmp_path / "x.wav", logger=custom)
    assert [r.name for r in caplog.records] == ["custom.mover"]


def test_move_recording_missing_source(tmp_path: Path) -> None:
    recording = make_recording(tmp_path / "gone.wav")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        files.move_recording(recording, tmp_path / "dest.wav")
    assert not (tmp_path / "dest.wav").exists()


# Deleting -------------------------------------------------------------------------


def test_delete_recording(tmp_path: Path) -> None:
    source = write_audio(tmp_path / "rec.wav")
    files.delete_recording(make_recording(source))
    assert not source.exists()


def test_delete_recording_tolerates_missing_things(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        files.delete_recording(make_recording(None))
        files.delete_recording(make_recording(tmp_path / "gone.wav"))
    levels = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert levels[0][0] == "ERROR" and "no path" in levels[0][1]
    assert levels[1][0] == "WARNING" and "already deleted" in levels[1][1]


def test_temp_file_ids_round_trip(tmp_path: Path) -> None:
    recording = make_recording(tmp_path / "x.wav")
    path = write_audio(tmp_path / f"{recording.id}.wav")
    assert isinstance(files.get_temp_file_id(path), UUID)
    assert files.get_temp_file_id(path) == recording.id
