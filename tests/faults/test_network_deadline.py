"""Defect 1: a trickling or hanging HTTP receiver must not hold a worker.

httpx's timeout applies per network read, so an answer arriving one byte at
a time never tripped it; every request now has one overall deadline.
"""

import json
import time
from pathlib import Path

import pytest

from acoupi import data
from acoupi.components.message_stores import SqliteMessageStore
from acoupi.components.messengers import HTTPMessenger
from acoupi.system.exceptions import HealthCheckError
from acoupi.tasks.messaging import generate_send_messages_task
from fault_support import FaultTable, FaultyReceiver, elapsed, integrity_ok

TIMEOUT = 0.5
"""Deadline given to the messenger; each trickle below lasts far longer."""


@pytest.mark.parametrize("mode", ["trickle", "trickle_headers", "hang"])
def test_send_ends_by_its_deadline(mode: str) -> None:
    # 0.1 s per byte: the answer would take > 20 s to arrive in full.
    with FaultyReceiver(mode, interval=0.1) as receiver:  # type: ignore[arg-type]
        messenger = HTTPMessenger(receiver.url, timeout=TIMEOUT)
        start = time.monotonic()
        response = messenger.send_message(data.Message(content='{"a": 1}'))
        took = elapsed(start)
        messenger.close()
    assert response.status == data.ResponseStatus.TIMEOUT
    assert took < TIMEOUT + 1.0, f"send took {took:.1f} s with a {TIMEOUT} s deadline"
    assert f"within {TIMEOUT} s" in (response.content or "")


def test_check_ends_by_its_deadline() -> None:
    with FaultyReceiver("trickle", interval=0.1) as receiver:
        messenger = HTTPMessenger(receiver.url, timeout=TIMEOUT)
        start = time.monotonic()
        with pytest.raises(HealthCheckError):
            messenger.check()
        assert elapsed(start) < TIMEOUT + 1.0


def test_deadline_is_per_request_not_per_messenger() -> None:
    """A fast answer after a timed-out one still succeeds (fresh deadline)."""
    with FaultyReceiver("hang") as receiver:
        messenger = HTTPMessenger(receiver.url, timeout=0.5)
        first = messenger.send_message(data.Message(content="{}"))
        receiver.mode = "ok"
        second = messenger.send_message(data.Message(content="{}"))
        messenger.close()
    assert first.status == data.ResponseStatus.TIMEOUT
    assert second.status == data.ResponseStatus.SUCCESS


def test_trickling_receiver_scenario(tmp_path: Path, fault_table: FaultTable) -> None:
    """The outbox against a trickling receiver: bounded, then all delivered."""
    store = SqliteMessageStore(tmp_path / "messages.db")
    sent = [data.Message(content=json.dumps({"n": n})) for n in range(3)]
    for message in sent:
        store.store_message(message)
    with FaultyReceiver("trickle", interval=0.1) as receiver:
        messenger = HTTPMessenger(receiver.url, timeout=TIMEOUT)
        task = generate_send_messages_task(store, [messenger], backoff_base=0)
        start = time.monotonic()
        task()
        outage_run = elapsed(start)
        receiver.mode = "ok"
        task()
        messenger.close()
        bodies = [json.loads(body) for body in receiver.received]
    delivered = {body["n"] for body in bodies}
    unsent = store.get_unsent_messages()
    # Every timed-out request had reached the receiver: it gets it again,
    # with the same Idempotency-Key, to drop.
    repeats = len(bodies) - len(delivered)
    assert unsent == [] and delivered == {0, 1, 2}
    assert outage_run < 3 * (TIMEOUT + 1)
    fault_table.add(
        "HTTP receiver trickles",
        "answer at 1 byte/0.1 s, then recovers",
        messages_lost=f"{3 - len(delivered)} / {repeats} resent (same key)",
        databases_intact=integrity_ok(tmp_path / "messages.db"),
        visible=f"TIMEOUT stored per message; outage run {outage_run:.1f} s",
    )
