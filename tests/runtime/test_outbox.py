"""No messenger, no pile-up: messages are only kept when something sends them.

The trap: with no messenger configured, "pending" grew by one message
(about 2 KB) per recording, forever, unexplained.
"""

import sqlite3
from contextlib import closing
from typing import Any, Callable

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


def test_without_a_messenger_no_message_is_kept(
    slow_program: Callable[..., Settings],
) -> None:
    program = load_program(slow_program())
    since = now_utc()
    for _ in range(3):
        _record_and_detect(program)
    snapshot = MetricsCollector(program, since, []).collect()
    assert snapshot.model_outputs == 3
    assert _messages(program) == 0
    assert snapshot.messenger is False
    assert _message_lines(snapshot) == [
        "Messages: none sent or kept (no messenger configured)."
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
