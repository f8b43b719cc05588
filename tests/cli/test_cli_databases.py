"""Damaged databases and wrong paths from the command line.

Every message names the file, says what to do, and never "looks like a bug";
`acoupi db reset` moves a damaged file aside (keeping it) so work goes on.
"""

from pathlib import Path

from acoupi.components.stores import SqliteStore

GARBAGE = b"not a database, a text file copied over it by mistake\n" * 20
BUG = "looks like a bug"


def setup_triggered(invoke, home: Path, *options: str) -> None:
    result = invoke(
        "setup", "--program", "acoupi.programs.triggered", "--no-prompt",
        "--microphone.device_name", "simulated",
        "--microphone.samplerate", "48000",
        "--recording.duration", "1",
        "--paths.tmp_audio", str(home / "tmp"),
        *options,
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def output(result) -> str:
    return result.output


def test_corrupt_metadata_is_named_and_reset(invoke, isolated_home: Path):
    setup_triggered(invoke, isolated_home)
    database = isolated_home / "storages" / "metadata.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    database.write_bytes(GARBAGE)

    check = invoke("check")
    record = invoke("task", "run", "recording_task")

    for result in (check, record):
        assert result.exit_code != 0
        assert str(database) in output(result)
        assert "acoupi db reset" in output(result)
        assert BUG not in output(result) and "Traceback" not in output(result)

    reset = invoke("db", "reset", "metadata")
    assert reset.exit_code == 0, output(reset)
    [kept] = database.parent.glob("metadata.db.damaged-*")
    assert kept.read_bytes() == GARBAGE
    assert not database.exists()
    assert invoke("db", "status").exit_code == 0


def test_corrupt_outbox_is_reported_but_recording_goes_on(invoke, isolated_home: Path):
    setup_triggered(invoke, isolated_home)
    outbox = isolated_home / "storages" / "messages.db"
    outbox.parent.mkdir(parents=True, exist_ok=True)
    outbox.write_bytes(GARBAGE)

    record = invoke("task", "run", "recording_task")
    check = invoke("check")
    status = invoke("db", "status")

    assert record.exit_code == 0, output(record)
    assert list((isolated_home / "tmp").glob("*.wav"))
    for result in (check, status):
        assert result.exit_code == 1
        assert str(outbox) in output(result)
        assert "acoupi db reset" in output(result)
        assert BUG not in output(result)
    assert "Recording goes on" in output(check)
    status_view = invoke("deployment", "status", "--json")
    assert str(outbox) in output(status_view), output(status_view)
    assert "metadata" in status.output and ": ok" in status.output


def test_healthy_database_is_not_reset_without_force(invoke, isolated_home):
    setup_triggered(invoke, isolated_home)
    SqliteStore(isolated_home / "storages" / "metadata.db").close()

    refused = invoke("db", "reset", "metadata")

    assert refused.exit_code == 1
    assert "healthy" in output(refused) and "--force" in output(refused)
    assert (isolated_home / "storages" / "metadata.db").exists()


def test_wrong_paths_get_a_specific_message(invoke, isolated_home: Path):
    blocker = isolated_home / "a-file"
    blocker.write_text("not a folder")
    folder_db = isolated_home / "folder.db"
    folder_db.mkdir()

    setup_triggered(invoke, isolated_home, "--paths.recordings", str(blocker))
    file_for_folder = invoke("check")
    setup_triggered(invoke, isolated_home, "--paths.db_metadata", str(folder_db))
    folder_for_file = invoke("check")
    recording = invoke("task", "run", "recording_task")

    assert str(blocker) in output(file_for_folder)
    assert "is a file where acoupi needs a folder" in output(file_for_folder)
    for result in (folder_for_file, recording):
        assert result.exit_code == 1
        assert f"{folder_db} is a folder, not a file" in output(result)
    for result in (file_for_folder, folder_for_file, recording):
        assert BUG not in output(result) and "Traceback" not in output(result)
