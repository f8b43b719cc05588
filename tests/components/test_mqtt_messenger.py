"""MQTTMessenger against real Mosquitto brokers on loopback."""

import json
import logging
import os
import ssl
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr, ValidationError

from acoupi import data, devices
from acoupi.components.messengers import MQTTConfig, MQTTMessenger
from acoupi.system.exceptions import HealthCheckError
from messaging_support import (
    Certificates,
    PrivateMosquitto,
    Subscriber,
    free_port,
    make_certificates,
)

pytestmark = pytest.mark.mqtt

PASSWORD = "pw-" + uuid.uuid4().hex


@pytest.fixture
def topic() -> str:
    return f"acoupi-test/{uuid.uuid4().hex}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    mosquitto = PrivateMosquitto(tmp_path).start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def messages(count: int) -> list[data.Message]:
    return [data.Message(content=json.dumps({"n": n})) for n in range(count)]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- construction and configuration -------------------------------------------


def test_construction_makes_no_connection_and_sets_upstream_attributes() -> None:
    # An unresolvable host would fail at once if anything touched the network.
    messenger = MQTTMessenger(host="broker.invalid", topic="t", port=1, timeout=3)
    assert (messenger.host, messenger.port, messenger.topic) == (
        "broker.invalid",
        1,
        "t",
    )
    assert messenger.timeout == 3
    assert messenger.client_id == devices.get_device_id()
    assert not messenger.client.is_connected()


def test_client_is_built_with_callback_api_v2_and_persistent_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, object]] = []
    real_client = mqtt.Client

    def spy(**kwargs: object) -> mqtt.Client:
        calls.append(kwargs)
        return real_client(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mqtt, "Client", spy)
    messenger = MQTTMessenger(host="localhost", topic="t", username="u", password="p")
    assert calls == []  # the client (and paho) wait for the first use

    assert not messenger.client.is_connected()
    assert len(calls) == 1
    assert calls[0]["callback_api_version"] == CallbackAPIVersion.VERSION2
    assert calls[0]["client_id"] == devices.get_device_id()
    assert calls[0]["clean_session"] is False


def test_anonymous_broker_needs_no_credentials() -> None:
    config = MQTTConfig(host="127.0.0.1")
    assert (config.username, config.password, config.port) == (None, None, 1883)
    assert MQTTMessenger.from_config(config).username is None


def test_config_defaults_and_masked_password() -> None:
    config = MQTTConfig(host="h", username="u", password=PASSWORD)
    assert (config.topic, config.port, config.timeout) == ("acoupi", 1883, 5)
    assert (config.use_tls, config.ca_certs, config.protocol) == (False, None, "3.1.1")
    assert isinstance(config.password, SecretStr)
    assert PASSWORD not in config.model_dump_json()
    assert PASSWORD not in repr(config)
    messenger = MQTTMessenger.from_config(config)
    assert messenger.username == "u"
    assert PASSWORD not in repr(messenger)


def test_config_refuses_certificates_without_tls() -> None:
    with pytest.raises(ValidationError, match="use_tls"):
        MQTTConfig(host="h", username="u", ca_certs=Path("/ca.pem"))


# -- delivery on the shared broker --------------------------------------------


def test_messages_arrive_in_order_exactly_once(
    mqtt_broker: tuple[str, int], topic: str
) -> None:
    host, port = mqtt_broker
    messenger = MQTTMessenger(host=host, port=port, topic=topic, timeout=5)
    batch = messages(20)
    with Subscriber(host, port, topic) as subscriber:
        responses = [messenger.send_message(m) for m in batch]
        messenger.close()
        assert subscriber.wait_for(20) == [m.content for m in batch]
        assert len(subscriber.settle()) == 20
    assert [r.status for r in responses] == [data.ResponseStatus.SUCCESS] * 20
    assert responses[0].content == "MQTT_ERR_SUCCESS"
    assert responses[0].message == batch[0]


def test_mqtt_v5_carries_the_message_id_as_user_property(
    mqtt_broker: tuple[str, int], topic: str
) -> None:
    host, port = mqtt_broker
    messenger = MQTTMessenger(host=host, port=port, topic=topic, protocol="5")
    message = data.Message(content='{"a": 1}')
    with Subscriber(host, port, topic, protocol=mqtt.MQTTv5) as subscriber:
        response = messenger.send_message(message)
        messenger.close()
        assert subscriber.wait_for(1) == ['{"a": 1}']
    assert response.status == data.ResponseStatus.SUCCESS
    assert subscriber.received[0].user_properties == {
        "acoupi-message-id": str(message.id)
    }


def test_check_passes_on_a_running_broker(mqtt_broker: tuple[str, int]) -> None:
    host, port = mqtt_broker
    MQTTMessenger(host=host, port=port, topic="t").check()


# -- failures -----------------------------------------------------------------


def test_connection_refused_is_failed_not_an_exception() -> None:
    messenger = MQTTMessenger(host="127.0.0.1", port=free_port(), topic="t")
    response = messenger.send_message(data.Message(content="x"))
    assert response.status == data.ResponseStatus.FAILED
    assert "unable to connect" in (response.content or "")


def test_unresolvable_host_is_failed_and_check_says_so() -> None:
    messenger = MQTTMessenger(host="no-such-broker.invalid", port=1883, topic="t")
    response = messenger.send_message(data.Message(content="x"))
    assert response.status == data.ResponseStatus.FAILED
    assert "resolve" in (response.content or "")
    with pytest.raises(HealthCheckError, match="resolve"):
        messenger.check()


def test_check_on_refused_port_raises_health_check_error() -> None:
    messenger = MQTTMessenger(host="127.0.0.1", port=free_port(), topic="t")
    with pytest.raises(HealthCheckError, match="unable to connect") as info:
        messenger.check()
    assert "Possible causes" in (info.value.help or "")


def test_broker_outage_and_return_with_the_same_messenger(
    broker: PrivateMosquitto, topic: str
) -> None:
    messenger = MQTTMessenger(
        host="127.0.0.1", port=broker.port, topic=topic, timeout=2
    )
    first, second, third = messages(3)
    assert messenger.send_message(first).status == data.ResponseStatus.SUCCESS

    broker.stop()
    response = messenger.send_message(second)
    assert response.status == data.ResponseStatus.FAILED

    broker.start()
    with Subscriber("127.0.0.1", broker.port, topic) as subscriber:
        assert messenger.send_message(second).status == data.ResponseStatus.SUCCESS
        assert messenger.send_message(third).status == data.ResponseStatus.SUCCESS
        assert subscriber.wait_for(2) == [second.content, third.content]
    messenger.close()


def test_missing_puback_is_a_timeout_after_the_configured_timeout(
    broker: PrivateMosquitto, topic: str
) -> None:
    messenger = MQTTMessenger(
        host="127.0.0.1", port=broker.port, topic=topic, timeout=1
    )
    assert messenger.send_message(data.Message(content="a")).status == (
        data.ResponseStatus.SUCCESS
    )
    broker.freeze()  # connection stays open, but no PUBACK will come
    try:
        started = time.monotonic()
        response = messenger.send_message(data.Message(content="b"))
        elapsed = time.monotonic() - started
    finally:
        broker.thaw()
    assert response.status == data.ResponseStatus.TIMEOUT
    assert 0.9 <= elapsed < 3
    messenger.close()


def test_missing_connack_fails_within_the_timeout(broker: PrivateMosquitto) -> None:
    messenger = MQTTMessenger(host="127.0.0.1", port=broker.port, topic="t", timeout=1)
    broker.freeze()  # the kernel accepts the TCP connection; nobody answers
    try:
        started = time.monotonic()
        response = messenger.send_message(data.Message(content="x"))
        elapsed = time.monotonic() - started
    finally:
        broker.thaw()
    assert response.status == data.ResponseStatus.FAILED
    assert "CONNACK" in (response.content or "")
    assert elapsed < 3


def test_failed_sends_do_not_leak_file_descriptors() -> None:
    messenger = MQTTMessenger(host="127.0.0.1", port=free_port(), topic="t")
    messenger.send_message(data.Message(content="warm-up"))
    before = open_fds()
    for _ in range(30):
        messenger.send_message(data.Message(content="x"))
    assert open_fds() <= before + 2


# -- credentials and TLS ------------------------------------------------------


@pytest.fixture
def auth_broker(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    password_file = tmp_path / "passwords"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(password_file), "sensor", PASSWORD],
        check=True,
        capture_output=True,
    )
    mosquitto = PrivateMosquitto(
        tmp_path,
        extra=(f"password_file {password_file}", "allow_anonymous false"),
    ).start()
    yield mosquitto
    mosquitto.stop()


def test_credentials_are_used_and_never_logged(
    auth_broker: PrivateMosquitto, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    logger = logging.getLogger("test.mqtt")
    good = MQTTMessenger(
        host="127.0.0.1",
        port=auth_broker.port,
        topic=topic,
        username="sensor",
        password=SecretStr(PASSWORD),
        logger=logger,
    )
    bad = MQTTMessenger(
        host="127.0.0.1",
        port=auth_broker.port,
        topic=topic,
        username="sensor",
        password="wrong-" + PASSWORD,
        logger=logger,
    )
    anonymous = MQTTMessenger(
        host="127.0.0.1", port=auth_broker.port, topic=topic, logger=logger
    )
    with Subscriber(
        "127.0.0.1", auth_broker.port, topic, username="sensor", password=PASSWORD
    ) as subscriber:
        assert good.send_message(data.Message(content="hi")).status == (
            data.ResponseStatus.SUCCESS
        )
        assert subscriber.wait_for(1) == ["hi"]
    refused = bad.send_message(data.Message(content="no"))
    assert refused.status == data.ResponseStatus.FAILED
    assert "refused" in (refused.content or "")
    assert anonymous.send_message(data.Message(content="no")).status == (
        data.ResponseStatus.FAILED
    )
    with pytest.raises(HealthCheckError) as info:
        bad.check()
    good.close()

    texts = [record.getMessage() for record in caplog.records]
    texts += [str(info.value), info.value.help or "", repr(good), repr(bad)]
    assert caplog.records, "expected failure logs"
    assert not [text for text in texts if PASSWORD in text]


@pytest.fixture
def tls_broker(
    tmp_path: Path, certificates: Certificates
) -> Iterator[PrivateMosquitto]:
    mosquitto = PrivateMosquitto(
        tmp_path,
        extra=(
            f"cafile {certificates.ca}",
            f"certfile {certificates.cert}",
            f"keyfile {certificates.key}",
        ),
    ).start()
    yield mosquitto
    mosquitto.stop()


def test_tls_with_private_ca(
    tls_broker: PrivateMosquitto, certificates: Certificates, topic: str
) -> None:
    config = MQTTConfig(
        host="127.0.0.1",
        port=tls_broker.port,
        username="",
        topic=topic,
        use_tls=True,
        ca_certs=certificates.ca,
    )
    messenger = MQTTMessenger.from_config(config)
    context = ssl.create_default_context(cafile=str(certificates.ca))
    with Subscriber("127.0.0.1", tls_broker.port, topic, tls=context) as subscriber:
        response = messenger.send_message(data.Message(content="secure"))
        assert response.status == data.ResponseStatus.SUCCESS
        assert subscriber.wait_for(1) == ["secure"]
    messenger.check()


def test_tls_rejects_an_untrusted_broker(tls_broker: PrivateMosquitto) -> None:
    # Without the private CA the system trust store must reject the broker.
    messenger = MQTTMessenger(
        host="127.0.0.1", port=tls_broker.port, topic="t", use_tls=True
    )
    response = messenger.send_message(data.Message(content="x"))
    assert response.status == data.ResponseStatus.FAILED
    assert "CERTIFICATE_VERIFY_FAILED" in (response.content or "")


def test_missing_ca_file_is_a_clear_failure(tmp_path: Path) -> None:
    messenger = MQTTMessenger(
        host="127.0.0.1",
        port=free_port(),
        topic="t",
        use_tls=True,
        ca_certs=tmp_path / "missing.pem",
    )
    response = messenger.send_message(data.Message(content="x"))
    assert response.status == data.ResponseStatus.FAILED
    assert "TLS certificates" in (response.content or "")
