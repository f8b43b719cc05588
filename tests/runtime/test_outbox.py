"""No messenger, no pile-up: without a messenger the outbox is bounded.

The trap: with no messenger configured, "pending" grew by one message
(about 2 KB) per recording, forever, unexplained. Messages are still made
(0.3 plugins read them from the outbox) but only the newest are kept.
"""

import sqlite3
from contextlib import closing
from typing import Any, Callable

import pytest

from acoupi.programs.templates import detection
from acoupi.runtime.foreground import _message_lines
from acoupi.runtime.metrics import MetricsCollector
from acoupi.system.constants import Settings
from acoupi.system.programs import load_program
from acoupi.timeutil import now_utc


def _record_and_detect(program: Any) -> None:
    recording = program.recorder.record(program.store.get_current_deployment())
    program.store.store_recording(recording)
    program.tasks["detection_task"].apply((recording,))


def _messages(program: Any) -> int:
    database = program.config.messaging.messages_db
    if not database.exists():
        return 0
    with closing(sqlite3.connect(database)) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM message").fetchone()[0])


def test_without_a_messenger_only_the_newest_messages_are_kept(
    slow_program: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(detection, "UNSENT_KEPT_WITHOUT_MESSENGER", 2)
    program = load_program(slow_program())
    collector = MetricsCollector(program, now_utc(), [])
    for _ in range(3):
        _record_and_detect(program)
    snapshot = collector.collect()
    assert snapshot.model_outputs == 3
    assert _messages(program) == 2
    newest = program.message_store.get_unsent_messages(order="newest_first")
    assert len(newest) == 2
    assert snapshot.messenger is False
    assert _message_lines(snapshot) == [
        "Messages: none sent (no messenger configured); the newest 2 are kept, 2 now."
    ]


def test_with_a_messenger_messages_wait_to_be_sent(
    slow_program: Callable[..., Settings], mqtt_broker: tuple
) -> None:
    host, port = mqtt_broker
    program = load_program(
        slow_program(
            **{
                "messaging.mqtt.host": host,
                "messaging.mqtt.port": port,
                "messaging.mqtt.username": "acoupi",
            }
        )
    )
    _record_and_detect(program)
    assert _messages(program) == 1
    snapshot = MetricsCollector(program, now_utc(), []).collect()
    assert snapshot.messenger is True and snapshot.messages_pending == 1
