"""Defect 7: heartbeats due during an outage were neither stored nor retried.

The server could not tell "device down" from "network down". Heartbeats are
now stored like any message and delivered by the send-messages task once
the receiver is back.
"""

import json
from pathlib import Path

import pytest

from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program
from fault_support import FaultTable, integrity_ok
from messaging_support import PrivateMosquitto, Subscriber, free_port

pytestmark = pytest.mark.mqtt


def test_heartbeat_during_outage_is_delivered_later(
    settings: Settings, isolated_home: Path, tmp_path: Path, fault_table: FaultTable
) -> None:
    port = free_port()  # nothing listens yet: the outage
    setup_program(
        settings,
        "acoupi.programs.connected",
        args=[
            "--microphone.device_name", "simulated",
            "--paths.tmp_audio", str(isolated_home / "tmp"),
            "--messaging.mqtt.host", "127.0.0.1",
            "--messaging.mqtt.port", str(port),
            "--messaging.mqtt.username", "acoupi",
            "--messaging.mqtt.topic", "acoupi/heartbeat-test",
            "--messaging.mqtt.timeout", "1",
        ],
    )  # fmt: skip
    program = load_program(settings)
    program.tasks["heartbeat_task"]()

    unsent = program.message_store.get_unsent_messages()
    assert len(unsent) == 1
    assert json.loads(unsent[0].content)["device_id"]

    broker = PrivateMosquitto(tmp_path, port=port).start()
    try:
        with Subscriber("127.0.0.1", port, "acoupi/heartbeat-test") as subscriber:
            program.tasks["send_messages_task"]()
            (payload,) = subscriber.wait_for(1, timeout=10)
    finally:
        broker.stop()
    assert json.loads(payload)["sent_on"] == json.loads(unsent[0].content)["sent_on"]
    assert program.message_store.get_unsent_messages() == []
    fault_table.add(
        "MQTT outage at heartbeat time",
        "broker down when the heartbeat is due, back later",
        messages_lost="0 / 0",
        databases_intact=integrity_ok(program.config.messaging.messages_db),
        visible="heartbeat pending in the outbox, then delivered",
    )
