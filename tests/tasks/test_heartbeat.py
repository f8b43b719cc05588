"""The heartbeat task, through a real broker and a real outbox."""

import json
import logging
import uuid
from pathlib import Path

import pytest

from acoupi import __version__, data, devices
from acoupi.components import types
from acoupi.components.message_stores import SqliteMessageStore
from acoupi.components.messengers import HTTPMessenger, MQTTMessenger
from acoupi.tasks.heartbeat import Heartbeat, generate_heartbeat_task
from acoupi.tasks.messaging import generate_send_messages_task
from messaging_support import RecordingHTTPServer, Subscriber, free_port


def test_heartbeat_fields_and_json_key_order() -> None:
    heartbeat = Heartbeat(device_id="abc")
    assert heartbeat.status == "OK"
    assert heartbeat.sent_on.tzinfo is not None
    assert list(json.loads(heartbeat.model_dump_json())) == [
        "sent_on",
        "device_id",
        "status",
        "acoupi_version",
        "detection_backlog",
    ]
    assert heartbeat.acoupi_version == __version__


@pytest.mark.mqtt
def test_heartbeat_reports_the_detection_backlog(mqtt_broker: tuple[str, int]) -> None:
    host, port = mqtt_broker
    topic = f"acoupi-test/{uuid.uuid4().hex}"
    messenger = MQTTMessenger(host=host, port=port, topic=topic)

    def broker_down() -> int:
        raise ConnectionError("broker down")

    with Subscriber(host, port, topic) as subscriber:
        generate_heartbeat_task([messenger], backlog=lambda: 7)()
        generate_heartbeat_task([messenger], backlog=broker_down)()
        first, second = subscriber.wait_for(2)
    assert Heartbeat.model_validate_json(first).detection_backlog == 7
    # An unmeasurable backlog is reported as unknown; the heartbeat still goes.
    assert Heartbeat.model_validate_json(second).detection_backlog is None


def test_no_messengers_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        generate_heartbeat_task([])
    with pytest.raises(ValueError):
        generate_heartbeat_task(None)  # type: ignore[arg-type]


@pytest.mark.mqtt
def test_heartbeat_arrives_through_mqtt(mqtt_broker: tuple[str, int]) -> None:
    host, port = mqtt_broker
    topic = f"acoupi-test/{uuid.uuid4().hex}"
    task = generate_heartbeat_task([MQTTMessenger(host=host, port=port, topic=topic)])
    assert task.__name__ == "heartbeat_task"
    with Subscriber(host, port, topic) as subscriber:
        task()
        (payload,) = subscriber.wait_for(1)
    heartbeat = Heartbeat.model_validate_json(payload)
    assert heartbeat.device_id == devices.get_device_id()
    assert heartbeat.status == "OK"


class RaisingMessenger(types.Messenger):
    def send_message(self, message: data.Message) -> data.Response:
        raise ConnectionError("boom")


def test_failures_are_logged_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    down = HTTPMessenger(f"http://127.0.0.1:{free_port()}/")
    with RecordingHTTPServer() as server:
        up = HTTPMessenger(server.url)
        generate_heartbeat_task([RaisingMessenger(), down, up])()
        # The working messenger still got its heartbeat.
        assert len(server.bodies()) == 1
    assert "Heartbeat not sent" in caplog.text


def test_without_store_nothing_is_kept(tmp_path: Path) -> None:
    store = SqliteMessageStore(tmp_path / "messages.db")
    down = HTTPMessenger(f"http://127.0.0.1:{free_port()}/")
    generate_heartbeat_task([down])()
    assert store.count_unsent() == 0


def test_with_store_a_missed_heartbeat_is_forwarded_later(tmp_path: Path) -> None:
    store = SqliteMessageStore(tmp_path / "messages.db")
    messenger = HTTPMessenger(f"http://127.0.0.1:{free_port()}/")
    generate_heartbeat_task([messenger], message_store=store)()

    (missed,) = store.get_unsent_messages()
    assert Heartbeat.model_validate_json(missed.content).status == "OK"
    (response,) = store.get_responses(missed.id)
    assert response.status == data.ResponseStatus.FAILED

    with RecordingHTTPServer() as server:
        messenger.base_url = server.url
        generate_heartbeat_task([messenger], message_store=store)()
        generate_send_messages_task(store, [messenger])()
        bodies = server.bodies()
    # The live heartbeat first, then the missed one from the outbox.
    assert len(bodies) == 2
    assert bodies[1] == missed.content
    assert store.count_unsent() == 0
