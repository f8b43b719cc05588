"""A damaged database or a wrong path is named with its fix, and contained.

A corrupt outbox (``messages.db``) must never stop recording or the storing
of detections: only the messaging steps fail, logged with the file named.
"""

import datetime
import logging
import os
import pwd
import sqlite3
import tempfile
from multiprocessing import get_context
from pathlib import Path

import pytest

from acoupi import data
from acoupi.components import types
from acoupi.components.message_factories import FullModelOutputMessageBuilder
from acoupi.components.message_stores import SqliteMessageStore
from acoupi.components.model_template import TestModel
from acoupi.components.sqlite_backup import move_aside
from acoupi.components.sqlite_errors import (
    DatabaseDamagedError,
    DatabasePathError,
    diagnose_database,
)
from acoupi.components.stores import SqliteStore
from acoupi.tasks.detection import generate_detection_task
from acoupi.tasks.recording import generate_recording_task
from acoupi.tasks.summary import generate_summariser_task
from audio_support import record_wav
from fault_support import FaultTable, integrity_ok

NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)

GARBAGE = b"this is not a database: a field laptop copied a text file here\n" * 20


class WavRecorder(types.AudioRecorder):
    """Writes a real short WAV per call (no microphone here)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def record(self, deployment: data.Deployment) -> data.Recording:
        return record_wav(self.directory, NOW, deployment)


def corrupt(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(GARBAGE)
    return GARBAGE


def test_corrupt_metadata_names_the_file_and_the_reset_command(tmp_path: Path):
    path = tmp_path / "storages" / "metadata.db"
    corrupt(path)

    with pytest.raises(DatabaseDamagedError) as info:
        SqliteStore(path)

    assert str(path) in info.value.message
    assert f"acoupi db reset {path}" in (info.value.help or "")
    assert path.read_bytes() == GARBAGE  # nothing written to it


def test_a_file_damaged_after_opening_is_named_too(tmp_path: Path):
    path = tmp_path / "metadata.db"
    store = SqliteStore(path)
    store.close()
    with open(path, "r+b") as handle:  # overwrite the header and schema page
        handle.write(b"\0" * 4096)

    with pytest.raises(DatabaseDamagedError, match=str(path)):
        store.get_current_deployment()


def test_corrupt_outbox_does_not_stop_recording_or_detections(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, fault_table: FaultTable
):
    store = SqliteStore(tmp_path / "storages" / "metadata.db")
    messages_path = tmp_path / "storages" / "messages.db"
    corrupt(messages_path)
    message_store = SqliteMessageStore(messages_path)  # opens lazily: no error
    record = generate_recording_task(WavRecorder(tmp_path), store)
    detect = generate_detection_task(
        store,
        TestModel(),
        message_store,
        message_factories=[FullModelOutputMessageBuilder()],
    )

    with caplog.at_level(logging.ERROR):
        recording = record()
        assert recording is not None
        detect(recording)

    ((stored, outputs),) = store.get_recordings([recording.id])
    assert stored.path == recording.path and len(outputs) == 1
    assert str(messages_path) in caplog.text
    assert "acoupi db reset" in caplog.text
    assert messages_path.read_bytes() == GARBAGE
    fault_table.add(
        "corrupt outbox",
        "messages.db overwritten with garbage before a recording",
        recordings_lost=0,
        messages_lost="the damaged file is kept as it was",
        databases_intact=integrity_ok(store.db_path),
        visible="check, status, live view, task log: file named + `acoupi db reset`",
    )


def test_corrupt_outbox_fails_the_summary_step_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    class OneMessage:
        def build_summary(self, now):
            return data.Message(content="{}")

    path = tmp_path / "messages.db"
    corrupt(path)
    task = generate_summariser_task(
        [OneMessage()],  # type: ignore[list-item]
        SqliteMessageStore(path),
        logger=logging.getLogger("summary-test"),
    )
    with caplog.at_level(logging.ERROR):
        task()
    assert str(path) in caplog.text


def test_a_folder_where_the_database_should_be(tmp_path: Path):
    path = tmp_path / "metadata.db"
    path.mkdir()

    with pytest.raises(DatabasePathError, match="is a folder, not a file"):
        SqliteStore(path)
    assert isinstance(diagnose_database(path), DatabasePathError)


def test_a_file_where_the_database_folder_should_be(tmp_path: Path):
    (tmp_path / "storages").write_text("not a folder")
    path = tmp_path / "storages" / "metadata.db"

    with pytest.raises(DatabasePathError) as info:
        SqliteStore(path)

    assert "is a file, not a folder" in info.value.message
    assert str(tmp_path / "storages") in info.value.message


def _open_as_nobody(path: str, queue) -> None:  # runs in a forked child
    nobody = pwd.getpwnam("nobody")
    if os.geteuid() == 0:
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)
    try:
        SqliteStore(Path(path))
        queue.put("opened")
    except DatabasePathError as error:
        queue.put(error.explain())
    except Exception as error:  # reported to the parent, which fails the test
        queue.put(f"{type(error).__name__}: {error}")


def test_an_unwritable_folder_is_named(tmp_path: Path):
    # Root ignores permissions, so the store is opened by `nobody`, in a
    # folder that user can reach but not write.
    base = Path(tempfile.mkdtemp(prefix="acoupi-ro-", dir="/tmp"))
    try:
        base.chmod(0o755)
        folder = base / "storages"
        folder.mkdir(mode=0o555)
        folder.chmod(0o555)
        context = get_context("fork")
        queue = context.Queue()
        child = context.Process(
            target=_open_as_nobody, args=(str(folder / "metadata.db"), queue)
        )
        child.start()
        answer = queue.get(timeout=30)
        child.join(30)
    finally:
        folder.chmod(0o755)
        for item in sorted(base.rglob("*"), reverse=True):
            item.rmdir() if item.is_dir() else item.unlink()
        base.rmdir()

    assert "Permission denied" in answer, answer
    assert str(folder / "metadata.db") in answer
    assert "writable" in answer


def test_move_aside_keeps_every_file(tmp_path: Path):
    path = tmp_path / "messages.db"
    store = SqliteMessageStore(path)
    store.count_unsent()  # creates the file, with its -wal and -shm
    sqlite3.connect(path).close()

    moved = move_aside(path)

    assert not path.exists()
    assert moved[0].name.startswith("messages.db.damaged-")
    assert all(p.exists() for p in moved)
