"""An idle consumer of the embedded broker wakes when a message arrives.

The transport used to poll the queue folder every ``polling_interval``;
now it waits on an inotify watch of the folder (and a pipe its own
channels nudge), listing the folder only when woken or at the latest
every ``safety_poll_interval``. These tests set both intervals to 60 s, so
a message that arrives within seconds can only have come by the wake-up.
"""

import errno
import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict

import pytest
from kombu import Connection

from acoupi.system.broker import broker_paths, celery_conf_for
from acoupi.system.broker_wakeup import Wakeup
from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.inotify import IN_MOVED_TO, Inotify

LONG = 60.0
"""Both polling intervals: far beyond every bound the tests wait."""

PUTTER = r"""
import json, sys, time
from kombu import Connection
options = json.loads(sys.argv[1])
time.sleep(float(sys.argv[3]))
with Connection("filesystem://", transport="acoupi.system.broker:Transport",
                transport_options=options) as connection:
    connection.SimpleQueue(sys.argv[2]).put({"sent": time.time()})
"""


def _options(settings: Settings, **overrides: Any) -> Dict[str, Any]:
    config = CeleryConfig(broker_transport_options=overrides)
    return dict(celery_conf_for(config, settings)["broker_transport_options"])


def _connection(options: Dict[str, Any]) -> Connection:
    return Connection(
        "filesystem://",
        transport="acoupi.system.broker:Transport",
        transport_options=options,
    )


def _message_name(queue: str) -> str:
    return f"{int(time.time() * 1000)}_{uuid.uuid4()}.{queue}.msg"


def _publish(folder: Path, queue: str) -> None:
    """Put a message file in place as the transport does: hidden, then renamed."""
    name = _message_name(queue)
    partial = folder / f".{name}.part"
    partial.write_bytes(b"{}")
    os.replace(partial, folder / name)


def _everything(name: str) -> bool:
    return True


def test_waiting_consumer_gets_a_message_from_another_process_at_once(
    settings: Settings,
) -> None:
    queue_name = f"wake-{uuid.uuid4().hex[:8]}"
    options = _options(settings, polling_interval=LONG, safety_poll_interval=LONG)
    with _connection(options) as connection:
        queue = connection.SimpleQueue(queue_name)
        putter = subprocess.Popen(
            [sys.executable, "-c", PUTTER, json.dumps(options), queue_name, "1.0"]
        )
        try:
            started = time.monotonic()
            # Polling would list the folder now (empty), then sleep 30 s.
            message = queue.get(timeout=30)
            waited = time.monotonic() - started
            message.ack()
        finally:
            putter.wait(timeout=30)
        assert connection.transport._wakeup.watching
    assert "sent" in message.payload
    assert waited < 10, f"the message took {waited:.1f} s"


def test_consumer_without_inotify_still_polls(settings: Settings) -> None:
    queue_name = f"wake-{uuid.uuid4().hex[:8]}"
    options = _options(settings, inotify=False, polling_interval=0.2)
    with _connection(options) as connection:
        queue = connection.SimpleQueue(queue_name)
        putter = subprocess.Popen(
            [sys.executable, "-c", PUTTER, json.dumps(options), queue_name, "0.5"]
        )
        try:
            message = queue.get(timeout=30)
            message.ack()
        finally:
            putter.wait(timeout=30)
        assert not connection.transport._wakeup.watching
    assert "sent" in message.payload


def test_publishing_needs_no_watch(settings: Settings) -> None:
    # Beat, the supervisor and the command line only publish.
    with _connection(_options(settings)) as connection:
        connection.SimpleQueue("celery").put({"x": 1})
        assert connection.transport._wakeup is None


def test_only_wanted_arrivals_wake_the_wait(tmp_path: Path) -> None:
    wakeup = Wakeup(str(tmp_path))
    try:
        assert wakeup.watching
        assert not wakeup.wait(0.0, _everything)

        def detection_only(name: str) -> bool:
            return name.partition(".")[2] == "detection.msg"

        _publish(tmp_path, "recording")  # another worker's queue
        assert not wakeup.wait(0.3, detection_only)
        (tmp_path / ".half-written.part").write_bytes(b"x")
        assert not wakeup.wait(0.3, detection_only)
        _publish(tmp_path, "detection")
        assert wakeup.wait(5.0, detection_only)
        # Read once: the same arrival does not wake twice.
        assert not wakeup.wait(0.0, detection_only)
    finally:
        wakeup.close()


def test_notify_from_another_thread_ends_the_wait(tmp_path: Path) -> None:
    wakeup = Wakeup(str(tmp_path), use_inotify=False)
    try:
        assert not wakeup.watching
        timer = threading.Timer(0.5, wakeup.notify)
        timer.start()
        started = time.monotonic()
        assert wakeup.wait(LONG, _everything)
        assert time.monotonic() - started < 10
        timer.join()
        wakeup.clear()
        assert not wakeup.wait(0.0, _everything)
    finally:
        wakeup.close()
    wakeup.notify()  # after close: nothing written to a reused descriptor


def test_a_replaced_queue_folder_is_watched_again(tmp_path: Path) -> None:
    folder = tmp_path / "queue"
    folder.mkdir()
    wakeup = Wakeup(str(folder))
    try:
        folder.rename(tmp_path / "queue.old")
        folder.mkdir()
        assert wakeup.wait(5.0, _everything)  # the watched folder moved away
        assert not wakeup.watching
        wakeup.clear()
        assert wakeup.watching
        _publish(folder, "celery")
        assert wakeup.wait(5.0, _everything)
        # Nothing comes from the old folder's watch any more.
        _publish(tmp_path / "queue.old", "celery")
        assert not wakeup.wait(0.3, _everything)
    finally:
        wakeup.close()


def test_replacement_noticed_without_events(tmp_path: Path) -> None:
    # Events can be lost (queue overflow): each listing checks the folder.
    folder = tmp_path / "queue"
    folder.mkdir()
    wakeup = Wakeup(str(folder))
    try:
        folder.rename(tmp_path / "queue.old")
        folder.mkdir()
        # clear() without a wait() first: the move event is discarded, yet
        # the folder's identity shows it is no longer the watched one.
        wakeup.clear()
        assert wakeup.watching
        _publish(folder, "celery")
        assert wakeup.wait(5.0, _everything)
    finally:
        wakeup.close()


def test_unwatchable_folder_falls_back_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "queue"  # missing: the watch cannot be made
    with caplog.at_level(logging.WARNING, logger="acoupi.system.broker_wakeup"):
        wakeup = Wakeup(str(folder))
        try:
            assert not wakeup.watching
            wakeup.clear()  # retried at every listing, reported once
            assert not wakeup.watching
            warnings = [r for r in caplog.records if "Cannot watch" in r.getMessage()]
            assert len(warnings) == 1
            assert str(folder) in warnings[0].getMessage()
            folder.mkdir()
            wakeup.clear()
            assert wakeup.watching
            _publish(folder, "celery")
            assert wakeup.wait(5.0, _everything)
        finally:
            wakeup.close()


def test_inotify_reports_renames_by_name_and_missing_folders(tmp_path: Path) -> None:
    inotify = Inotify()
    try:
        with pytest.raises(OSError) as caught:
            inotify.add_watch(str(tmp_path / "missing"), IN_MOVED_TO)
        assert caught.value.errno == errno.ENOENT
        wd = inotify.add_watch(str(tmp_path), IN_MOVED_TO)
        assert inotify.read() == []
        names = [_message_name("celery") for _ in range(3)]
        for name in names:
            (tmp_path / "x").write_bytes(b"")
            os.replace(tmp_path / "x", tmp_path / name)
        events = inotify.read()
        assert [(e.wd, e.name) for e in events] == [(wd, n) for n in names]
        assert all(e.mask & IN_MOVED_TO for e in events)
    finally:
        inotify.close()


def test_messages_claimed_by_a_dead_consumer_still_come_back(
    settings: Settings,
) -> None:
    # A consumer that sleeps between arrivals still puts back the messages
    # of consumers that died, at its safety poll.
    queue_name = f"wake-{uuid.uuid4().hex[:8]}"
    options = _options(settings, polling_interval=LONG, safety_poll_interval=0.5)
    paths = broker_paths(settings)
    with _connection(options) as connection:
        queue = connection.SimpleQueue(queue_name)
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.2)  # now idle, watching
        queue.put({"orphan": True})
        (message_file,) = paths.queue.glob("*.msg")
        dead = subprocess.Popen(["true"])
        dead.wait()
        claims = paths.claimed / f"{dead.pid}-0"
        claims.mkdir()
        message_file.rename(claims / message_file.name)
        message = queue.get(timeout=30)
        message.ack()
    assert message.payload == {"orphan": True}
    assert not any(paths.claimed.rglob("*.msg"))
