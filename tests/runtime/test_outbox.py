"""No messenger, no endless outbox: only the newest unsent messages stay.

The trap: with no messenger configured, "pending" grew by one message
(about 2 KB) per recording, forever, unexplained.
"""

import sqlite3
from contextlib import closing
from typing import Any, Callable, List

import pytest

from acoupi.programs.templates import outbox
from acoupi.runtime.foreground import _message_lines
from acoupi.runtime.metrics import MetricsCollector
from acoupi.system.constants import Settings
from acoupi.system.programs import load_program
from acoupi.timeutil import now_utc


def _record_and_detect(program: Any) -> Any:
    recording = program.recorder.record(program.store.get_current_deployment())
    program.store.store_recording(recording)
    program.tasks["detection_task"].apply((recording,))
    return recording


def _messages(program: Any) -> List[str]:
    database = program.config.messaging.messages_db
    if not database.exists():
        return []
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT content FROM message ORDER BY rowid")
        return [str(row[0]) for row in rows]


def test_without_a_messenger_only_the_newest_messages_are_kept(
    slow_program: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "UNSENT_LIMIT", 2)
    program = load_program(slow_program())
    collector = MetricsCollector(program, now_utc(), [])
    recordings = [_record_and_detect(program) for _ in range(4)]
    snapshot = collector.collect()
    assert snapshot.model_outputs == 4  # the detections are all kept
    kept = _messages(program)
    assert len(kept) == 2
    assert str(recordings[-1].id) in kept[-1] and str(recordings[-2].id) in kept[0]
    assert snapshot.messenger is False and snapshot.messages_pending == 2
    assert _message_lines(snapshot) == [
        "Messages: none sent (no messenger configured); 2 waiting, of which "
        "only the newest 2 are kept."
    ]


def test_with_a_messenger_every_message_waits_to_be_sent(
    slow_program: Callable[..., Settings],
    mqtt_broker: tuple,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "UNSENT_LIMIT", 2)
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
    for _ in range(3):
        _record_and_detect(program)
    assert len(_messages(program)) == 3
    snapshot = MetricsCollector(program, now_utc(), []).collect()
    assert snapshot.messenger is True and snapshot.messages_pending == 3
