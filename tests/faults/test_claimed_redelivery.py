"""Defect 3: a message claimed by a worker that dies must come back, once.

The embedded broker used to delete a message as soon as a worker claimed
it: a worker killed while running the task lost it for good.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Dict

import pytest
from kombu import Connection

from acoupi.system.broker import broker_paths, celery_conf_for
from acoupi.system.claims import pending_messages
from acoupi.system.constants import CeleryConfig, Settings
from fault_support import FaultTable

CONSUMER = r"""
import json, sys, time
import pytest
from kombu import Connection
options = json.loads(sys.argv[1])
with Connection("filesystem://", transport="acoupi.system.broker:Transport",
                transport_options=options) as connection:
    queue = connection.SimpleQueue(sys.argv[2])
    message = queue.get(timeout=10)
    print(message.payload, flush=True)
    time.sleep(300)  # "running the task" until killed
"""


@pytest.fixture
def queue_name() -> str:
    """A queue name of this test's own.

    Kombu remembers declared exchanges per process, not per broker folder:
    a name reused by an earlier test (another home) would not be bound here.
    """
    return f"detection-{uuid.uuid4().hex[:8]}"


def _options(settings: Settings) -> Dict[str, Any]:
    conf = celery_conf_for(CeleryConfig(), settings)
    return dict(conf["broker_transport_options"])


def _connection(options: Dict[str, Any]) -> Connection:
    return Connection(
        "filesystem://",
        transport="acoupi.system.broker:Transport",
        transport_options=options,
    )


def test_message_of_a_killed_consumer_is_queued_again_once(
    settings: Settings, queue_name: str, fault_table: FaultTable
) -> None:
    options = _options(settings)
    paths = broker_paths(settings)
    with _connection(options) as connection:
        connection.SimpleQueue(queue_name).put({"recording": "r1"})

    consumer = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, json.dumps(options), queue_name],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert consumer.stdout is not None
        assert "r1" in consumer.stdout.readline()
        # Claimed, not deleted: it still counts as pending.
        assert len(pending_messages(paths.queue, paths.claimed, queue_name)) == 1
        assert list(paths.queue.glob("*.msg")) == []
    finally:
        consumer.send_signal(signal.SIGKILL)
        consumer.wait()

    with _connection(options) as connection:
        queue = connection.SimpleQueue(queue_name)
        message = queue.get(timeout=5)
        assert message.payload == {"recording": "r1"}
        message.ack()
        # Exactly once: nothing else waits.
        extra = queue.qsize()
        assert extra == 0
    assert pending_messages(paths.queue, paths.claimed, queue_name) == []
    fault_table.add(
        "worker killed holding a task",
        "kill -9 of the consumer after it claimed the message",
        messages_lost=f"0 / {extra} duplicated",
        visible="re-queued when a consumer next polls (logged); counted as "
        "pending meanwhile",
    )


def test_requeue_moves_the_message_back_without_a_copy(
    settings: Settings, queue_name: str
) -> None:
    options = _options(settings)
    paths = broker_paths(settings)
    with _connection(options) as connection:
        queue = connection.SimpleQueue(queue_name)
        queue.put({"recording": "r2"})
        message = queue.get(timeout=5)
        message.requeue()
        assert queue.qsize() == 1
        again = queue.get(timeout=5)
        assert again.payload == {"recording": "r2"}
        again.ack()
    assert pending_messages(paths.queue, paths.claimed, queue_name) == []


def test_unacked_message_returns_when_the_consumer_closes(
    settings: Settings, queue_name: str
) -> None:
    options = _options(settings)
    paths = broker_paths(settings)
    with _connection(options) as connection:
        queue = connection.SimpleQueue(queue_name)
        queue.put({"recording": "r3"})
        queue.get(timeout=5)  # never acknowledged
    names = [p.name for p in paths.queue.glob("*.msg")]
    assert len(names) == 1
    assert pending_messages(paths.queue, paths.claimed, queue_name)[0].name in names


def test_live_consumers_keep_their_claims(settings: Settings, queue_name: str) -> None:
    options = _options(settings)
    paths = broker_paths(settings)
    with _connection(options) as first, _connection(options) as second:
        first.SimpleQueue(queue_name).put({"recording": "r4"})
        held = first.SimpleQueue(queue_name).get(timeout=5)
        # A second consumer starting (same process: alive) takes nothing.
        assert second.SimpleQueue(queue_name).qsize() == 0
        time.sleep(0.1)
        held.ack()
    assert not any(paths.claimed.rglob("*.msg"))
    assert os.listdir(paths.queue) == []


def test_folders_and_messages_are_private_whatever_the_umask(
    settings: Settings, queue_name: str
) -> None:
    previous = os.umask(0)
    try:
        options = _options(settings)
        with _connection(options) as connection:
            connection.SimpleQueue(queue_name).put({"recording": "r5"})
    finally:
        os.umask(previous)
    paths = broker_paths(settings)
    for folder in (paths.root, *paths.all()):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    (message,) = paths.queue.glob("*.msg")
    assert message.stat().st_mode & 0o777 == 0o600


def test_queue_file_of_another_user_is_never_run(
    settings: Settings, queue_name: str, fault_table: FaultTable
) -> None:
    options = _options(settings)
    paths = broker_paths(settings)
    with _connection(options) as connection:
        queue = connection.SimpleQueue(queue_name)
        queue.put({"recording": "planted"})
        (planted,) = paths.queue.glob("*.msg")
        os.chown(planted, 65534, 65534)  # nobody
        assert queue.qsize() == 1
        try:
            queue.get(timeout=0.5)
            raise AssertionError("a message of another user was delivered")
        except queue.Empty:
            pass
    assert [p.name for p in paths.unreadable.iterdir()] == [planted.name]
    fault_table.add(
        "another user's queue file",
        "message file owned by 'nobody' dropped in the queue",
        visible="refused, kept in broker/unreadable, logged as an error",
    )


def test_claim_folder_of_reused_pid_is_orphaned(
    settings: Settings, queue_name: str
) -> None:
    """A claim folder whose PID now runs another process is put back."""
    paths = broker_paths(settings)
    options = _options(settings)
    with _connection(options) as connection:
        connection.SimpleQueue(queue_name).put({"recording": "r6"})
    (message,) = paths.queue.glob("*.msg")
    # Our own PID but another start time: the claimer died, the PID was reused.
    stale = paths.claimed / f"{os.getppid()}-1"
    stale.mkdir()
    message.rename(stale / message.name)
    with _connection(options) as connection:
        queue = connection.SimpleQueue(queue_name)
        got = queue.get(timeout=5)
        assert got.payload == {"recording": "r6"}
        got.ack()
    assert not stale.exists()


def test_pending_counts_files_in_every_folder(tmp_path: Path) -> None:
    queue, claimed = tmp_path / "q", tmp_path / "c"
    (claimed / "1-1").mkdir(parents=True)
    queue.mkdir()
    (queue / "1_a.detection.msg").write_text("{}")
    (claimed / "1-1" / "2_b.detection.msg").write_text("{}")
    (queue / "3_c.celery.msg").write_text("{}")
    assert len(pending_messages(queue, claimed, "detection")) == 2
