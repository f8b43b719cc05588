"""The send-messages task: ordered, acknowledged, store-and-forward delivery.

Real parts only: a SQLite outbox file, a stdlib HTTP server and Mosquitto
processes on loopback.
"""

import datetime
import json
import logging
import random
import uuid
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from acoupi import data
from acoupi.components import types
from acoupi.components.message_stores import SqliteMessageStore
from acoupi.components.messengers import HTTPMessenger, MQTTMessenger
from acoupi.tasks.messaging import Backoff, generate_send_messages_task
from messaging_support import (
    PrivateMosquitto,
    RecordedRequest,
    RecordingHTTPServer,
    Subscriber,
    free_port,
)

T0 = datetime.datetime(2025, 6, 1, tzinfo=datetime.timezone.utc)


class LimitSpyStore(SqliteMessageStore):
    """The real store, noting the batch sizes the task asks for."""

    def __init__(self, db_path: Path) -> None:
        super().__init__(db_path)
        self.limits: List[Optional[int]] = []

    def get_unsent_messages(self, limit=None, order="oldest_first"):  # type: ignore[no-untyped-def]
        self.limits.append(limit)
        return super().get_unsent_messages(limit=limit, order=order)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> LimitSpyStore:
    return LimitSpyStore(tmp_path / "messages.db")


@pytest.fixture
def server() -> Iterator[RecordingHTTPServer]:
    with RecordingHTTPServer() as running:
        yield running


def fill(store: SqliteMessageStore, count: int, start: int = 0) -> List[data.Message]:
    """Store ``count`` messages, numbered from ``start``, oldest first."""
    messages = [
        data.Message(
            content=json.dumps({"n": n}),
            created_on=T0 + datetime.timedelta(seconds=n),
        )
        for n in range(start, start + count)
    ]
    for message in messages:
        store.store_message(message)
    return messages


def numbers(bodies: List[str]) -> List[int]:
    return [json.loads(body)["n"] for body in bodies]


# -- ordering and bounded batches ---------------------------------------------


def test_backlog_drains_oldest_first_in_bounded_batches(
    store: LimitSpyStore, server: RecordingHTTPServer
) -> None:
    # Stored in shuffled order: the outbox order is created_on, not insertion.
    messages = [
        data.Message(
            content=json.dumps({"n": n}), created_on=T0 + datetime.timedelta(seconds=n)
        )
        for n in range(250)
    ]
    for message in random.Random(1).sample(messages, len(messages)):
        store.store_message(message)
    task = generate_send_messages_task(
        store, [HTTPMessenger(server.url)], batch_size=100, max_messages_per_run=120
    )
    assert task.__name__ == "send_messages_task"

    task()
    assert numbers(server.bodies()) == list(range(120))
    assert store.count_unsent() == 130
    assert all(limit is not None and limit <= 100 for limit in store.limits)

    task()
    task()
    assert numbers(server.bodies()) == list(range(250))
    assert store.count_unsent() == 0
    task()  # nothing left: no request
    assert len(server.requests) == 250


def test_failure_stops_the_run_and_the_next_run_resumes_in_order(
    store: LimitSpyStore, server: RecordingHTTPServer
) -> None:
    fill(store, 10)
    calls = {"count": 0}

    def fail_fifth(request: RecordedRequest) -> tuple[int, bytes, dict[str, str]]:
        calls["count"] += 1
        return (500, b"overloaded", {}) if calls["count"] == 5 else (200, b"ok", {})

    server.handler = fail_fifth
    task = generate_send_messages_task(
        store, [HTTPMessenger(server.url)], backoff_base=0
    )
    task()
    # Message 4 failed: nothing after it was sent (order kept).
    assert numbers(server.bodies()) == [0, 1, 2, 3, 4]
    assert store.count_unsent() == 6
    failed = store.get_responses(store.get_unsent_messages(limit=1)[0].id)
    assert [r.status for r in failed] == [data.ResponseStatus.ERROR]
    assert "HTTP 500" in (failed[0].content or "")

    task()
    assert numbers(server.bodies()) == [0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 9]
    assert store.count_unsent() == 0


def test_server_down_keeps_messages_and_backs_off(
    store: LimitSpyStore, caplog: pytest.LogCaptureFixture
) -> None:
    fill(store, 5)
    clock = FakeClock()
    port = free_port()
    messenger = HTTPMessenger(f"http://127.0.0.1:{port}/messages")
    task = generate_send_messages_task(
        store,
        [messenger],
        backoff_base=60,
        backoff_max=600,
        clock=clock,
        rng=random.Random(0),
    )
    caplog.set_level(logging.INFO)

    task()  # no exception: the outage is a FAILED response
    oldest = store.get_unsent_messages(limit=1)[0]
    assert store.count_unsent() == 5
    assert [r.status for r in store.get_responses(oldest.id)] == [
        data.ResponseStatus.FAILED
    ]

    task()  # still backing off: no attempt at all
    assert len(store.get_responses(oldest.id)) == 1
    assert "backing off" in caplog.text

    clock.now += 61  # first delay is within [30, 60]
    with RecordingHTTPServer() as server:
        messenger.base_url = server.url
        task()
        assert numbers(server.bodies()) == [0, 1, 2, 3, 4]
    assert store.count_unsent() == 0


def test_a_run_stops_starting_messages_after_max_run_seconds(
    store: LimitSpyStore, server: RecordingHTTPServer
) -> None:
    fill(store, 10)
    clock = FakeClock()

    def slow_link(request: RecordedRequest) -> tuple[int, bytes, dict[str, str]]:
        clock.now += 4  # every send "takes" 4 s
        return 200, b"ok", {}

    server.handler = slow_link
    task = generate_send_messages_task(
        store, [HTTPMessenger(server.url)], max_run_seconds=10, clock=clock
    )
    task()
    assert numbers(server.bodies()) == [0, 1, 2]
    task()
    task()
    task()
    assert numbers(server.bodies()) == list(range(10))


def test_backoff_grows_exponentially_with_jitter_and_resets() -> None:
    clock = FakeClock()
    backoff = Backoff(base=10, maximum=100, clock=clock, rng=random.Random(3))
    assert backoff.ready()
    delays = [backoff.failed() for _ in range(6)]
    for n, delay in enumerate(delays):
        ceiling = min(100, 10 * 2**n)
        assert ceiling / 2 <= delay <= ceiling
    assert not backoff.ready()
    assert backoff.remaining() == pytest.approx(delays[-1])
    clock.now += delays[-1]
    assert backoff.ready()
    backoff.succeeded()
    assert 5 <= backoff.failed() <= 10


def test_rejected_message_stops_blocking_the_queue_after_max_rejections(
    store: LimitSpyStore, server: RecordingHTTPServer
) -> None:
    messages = fill(store, 4)
    poison = messages[1]
    server.handler = lambda request: (
        (422, b"bad payload", {})
        if json.loads(request.body)["n"] == 1
        else (200, b"ok", {})
    )
    task = generate_send_messages_task(
        store, [HTTPMessenger(server.url)], backoff_base=0, max_rejections=2
    )
    task()
    task()  # second rejection: parked
    task()
    assert numbers(server.bodies()) == [0, 1, 1, 2, 3]
    assert [m.id for m in store.get_unsent_messages()] == [poison.id]


def test_without_messengers_messages_stay_unsent(
    store: LimitSpyStore, caplog: pytest.LogCaptureFixture
) -> None:
    fill(store, 3)
    caplog.set_level(logging.WARNING)
    generate_send_messages_task(store, None)()
    generate_send_messages_task(store, [])()
    assert store.count_unsent() == 3
    assert "No messengers" in caplog.text


class RaisingMessenger(types.Messenger):
    def send_message(self, message: data.Message) -> data.Response:
        raise RuntimeError("plugin bug")


def test_a_raising_messenger_is_recorded_as_failed(store: LimitSpyStore) -> None:
    (message,) = fill(store, 1)
    generate_send_messages_task(store, [RaisingMessenger()])()
    (response,) = store.get_responses(message.id)
    assert response.status == data.ResponseStatus.FAILED
    assert "plugin bug" in (response.content or "")


def test_any_messenger_acknowledging_marks_a_message_sent(
    store: LimitSpyStore, server: RecordingHTTPServer
) -> None:
    fill(store, 3)
    down = HTTPMessenger(f"http://127.0.0.1:{free_port()}/")
    generate_send_messages_task(store, [down, HTTPMessenger(server.url)])()
    assert numbers(server.bodies()) == [0, 1, 2]
    assert store.count_unsent() == 0


class PlainStore(types.MessageStore):
    """A store with only the 0.3 interface: no limit, no promised order."""

    def __init__(self, messages: List[data.Message]) -> None:
        self.messages = list(messages)
        self.sent: set[uuid.UUID] = set()

    def get_unsent_messages(self) -> List[data.Message]:
        return [m for m in reversed(self.messages) if m.id not in self.sent]

    def store_message(self, message: data.Message) -> None:
        self.messages.append(message)

    def store_response(self, response: data.Response) -> None:
        if response.status == data.ResponseStatus.SUCCESS:
            self.sent.add(response.message.id)


def test_plain_store_is_sorted_oldest_first(server: RecordingHTTPServer) -> None:
    messages = [
        data.Message(
            content=json.dumps({"n": n}), created_on=T0 + datetime.timedelta(seconds=n)
        )
        for n in range(5)
    ]
    store = PlainStore(messages)
    generate_send_messages_task(store, [HTTPMessenger(server.url)], batch_size=2)()
    assert numbers(server.bodies()) == [0, 1, 2, 3, 4]


def test_invalid_batch_size_is_refused(store: LimitSpyStore) -> None:
    with pytest.raises(ValueError):
        generate_send_messages_task(store, [], batch_size=0)


# -- MQTT broker outage, end to end -------------------------------------------


@pytest.mark.mqtt
def test_mqtt_broker_outage_delivers_everything_once_in_order(
    store: LimitSpyStore, tmp_path: Path
) -> None:
    broker = PrivateMosquitto(tmp_path).start()
    topic = f"acoupi-test/{uuid.uuid4().hex}"
    messenger = MQTTMessenger(
        host="127.0.0.1", port=broker.port, topic=topic, timeout=2
    )
    task = generate_send_messages_task(store, [messenger], backoff_base=0)
    try:
        with Subscriber("127.0.0.1", broker.port, topic) as before:
            fill(store, 10)
            task()
            assert numbers(before.wait_for(10)) == list(range(10))
            fill(store, 5, start=10)
            broker.stop()  # the broker dies mid-deployment
            task()  # no exception; nothing sent
            assert store.count_unsent() == 5
            first_payloads = before.settle()

        fill(store, 3, start=15)
        task()  # still down
        assert store.count_unsent() == 8

        broker.start()  # back, on the same port
        with Subscriber("127.0.0.1", broker.port, topic) as after:
            task()
            second_payloads = after.wait_for(8)
            second_payloads = after.settle()
    finally:
        broker.stop()

    assert numbers(first_payloads + second_payloads) == list(range(18))
    assert store.count_unsent() == 0
