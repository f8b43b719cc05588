"""Both SQLite stores under concurrent writers, lock waits and killed processes.

Writers run as real OS processes (``subprocess`` with this interpreter), as
Celery workers do, all on the same files.
"""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from acoupi import data
from acoupi.components import SqliteMessageStore, SqliteStore

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from acoupi import data
    from acoupi.components import SqliteMessageStore, SqliteStore

    folder, worker, count, start = Path(sys.argv[1]), int(sys.argv[2]), \\
        int(sys.argv[3]), Path(sys.argv[4])
    while not start.exists():  # all workers open the fresh files together
        time.sleep(0.001)
    store = SqliteStore(folder / "metadata.db")
    outbox = SqliteMessageStore(folder / "messages.db")
    deployment = store.get_current_deployment()
    for i in range(count):
        recording = data.Recording(
            duration=1, samplerate=8000, deployment=deployment,
            path=Path(f"/w{worker}/{i}.wav"),
        )
        store.store_recording(recording)
        store.store_model_output(data.ModelOutput(
            name_model=f"w{worker}", recording=recording,
            detections=[data.Detection(tags=[data.PredictedTag(
                tag=data.Tag(key="k", value="v"))]) for _ in range(5)],
        ))
        message = data.Message(content=f"{worker}/{i}")
        outbox.store_message(message)
        outbox.store_response(data.Response(
            message=message, status=data.ResponseStatus.FAILED))
    print(deployment.id)
    """
)

KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from acoupi import data
    from acoupi.components import SqliteMessageStore, SqliteStore

    folder = Path(sys.argv[1])
    store = SqliteStore(folder / "metadata.db")
    outbox = SqliteMessageStore(folder / "messages.db")
    deployment = store.get_current_deployment()
    while True:
        recording = data.Recording(duration=1, samplerate=8000, deployment=deployment)
        output = data.ModelOutput(
            name_model="m", recording=recording,
            detections=[data.Detection(tags=[data.PredictedTag(
                tag=data.Tag(key="species", value=str(t)), confidence_score=0.5)
                for t in range(3)]) for _ in range(40)],
        )
        store.store_model_output(output)
        print("output", output.id.hex, flush=True)
        message = data.Message(content=output.id.hex)
        outbox.store_message(message)
        print("message", message.id.hex, flush=True)
    """
)


def query(path: Path, sql: str) -> list:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def test_concurrent_processes_lose_nothing(tmp_path: Path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    start = tmp_path / "start"
    workers, count = 4, 40
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(tmp_path),
                str(w),
                str(count),
                str(start),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    time.sleep(0.5)  # let every interpreter import acoupi and wait
    start.touch()
    results = [p.communicate(timeout=90) for p in processes]

    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr
    # Racing get_current_deployment on an empty file creates one deployment.
    assert len({stdout.strip() for stdout, _ in results}) == 1
    metadata, messages = tmp_path / "metadata.db", tmp_path / "messages.db"
    total = workers * count
    assert query(metadata, "SELECT COUNT(*) FROM deployment") == [(1,)]
    assert query(metadata, "SELECT COUNT(*) FROM recording") == [(total,)]
    assert query(metadata, "SELECT COUNT(*) FROM model_output") == [(total,)]
    assert query(metadata, "SELECT COUNT(*) FROM detection") == [(5 * total,)]
    assert query(messages, "SELECT COUNT(*) FROM response") == [(total,)]
    assert SqliteMessageStore(messages).count_unsent() == total
    for path in (metadata, messages):
        assert query(path, "PRAGMA integrity_check") == [("ok",)]


def test_writer_waits_for_a_held_lock_instead_of_failing(tmp_path: Path):
    store = SqliteStore(tmp_path / "metadata.db")
    # Another writer holds the write lock for half a second.
    holder = sqlite3.connect(
        tmp_path / "metadata.db", isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()

    store.store_deployment(data.Deployment(name="waited"))

    assert time.monotonic() - started >= 0.4
    assert store.get_current_deployment().name == "waited"
    release.join()
    holder.close()


def test_killed_writer_never_corrupts_or_loses_committed_rows(tmp_path: Path):
    script = tmp_path / "killed_writer.py"
    script.write_text(KILLED_WRITER)
    committed: dict[str, set[str]] = {"output": set(), "message": set()}

    for round_ in range(5):
        process = subprocess.Popen(
            [sys.executable, str(script), str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        # Kill at a different point of the loop each round.
        for _ in range(12 + 7 * round_):
            kind, hex_id = process.stdout.readline().split()
            committed[kind].add(hex_id)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        for line in process.stdout:  # lines printed before the kill landed
            kind, hex_id = line.split()
            committed[kind].add(hex_id)
        assert process.returncode == -signal.SIGKILL

    metadata, messages = tmp_path / "metadata.db", tmp_path / "messages.db"
    for path in (metadata, messages):
        assert query(path, "PRAGMA integrity_check") == [("ok",)]
        assert query(path, "PRAGMA foreign_key_check") == []
    stored_outputs = {
        row[0] for row in query(metadata, "SELECT hex(id) FROM model_output")
    }
    assert {h.upper() for h in committed["output"]} <= stored_outputs
    stored_messages = {row[0] for row in query(messages, "SELECT hex(id) FROM message")}
    assert {h.upper() for h in committed["message"]} <= stored_messages
    # Every output is complete: a transaction is all or nothing.
    assert query(
        metadata,
        "SELECT COUNT(*) FROM model_output mo WHERE"
        " (SELECT COUNT(*) FROM detection d WHERE d.model_output_id = mo.id) != 40",
    ) == [(0,)]
    # And the files are still usable through the stores.
    store = SqliteStore(metadata)
    assert len(store.get_model_outputs(limit=3)) == 3
    assert SqliteMessageStore(messages).count_unsent() >= len(committed["message"])


@pytest.mark.parametrize(
    ("store_class", "synchronous"), [(SqliteStore, 1), (SqliteMessageStore, 2)]
)
def test_connection_settings(tmp_path: Path, store_class, synchronous: int):
    store = store_class(tmp_path / "store.db")
    connection = store.database.connection()

    def pragma(name: str):
        return connection.execute(f"PRAGMA {name}").fetchone()[0]

    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == synchronous  # 1 NORMAL, 2 FULL
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") == 10_000
    # The file itself stays in WAL mode for every later reader.
    assert query(tmp_path / "store.db", "PRAGMA journal_mode") == [("wal",)]


def test_foreign_keys_are_enforced(tmp_path: Path):
    store = SqliteStore(tmp_path / "metadata.db")
    with pytest.raises(sqlite3.IntegrityError):
        with store.database.write() as connection:
            connection.execute(
                "INSERT INTO model_output VALUES (x'00', 'm', x'01', '2024')"
            )


def test_recovers_a_connection_left_inside_a_transaction(tmp_path: Path):
    # As after an interrupt between BEGIN and the try block of a write.
    store = SqliteStore(tmp_path / "metadata.db")
    store.database.connection().execute("BEGIN IMMEDIATE")

    store.store_deployment(data.Deployment(name="after"))

    assert store.get_current_deployment().name == "after"
