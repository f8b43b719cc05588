"""Defect 1: a trickling or hanging HTTP receiver must not hold a worker.

httpx's timeout applies per network read, so an answer arriving one byte at
a time never tripped it; every request now has one overall deadline.
"""

import time

import pytest

from acoupi import data
from acoupi.components.messengers import HTTPMessenger
from acoupi.system.exceptions import HealthCheckError
from fault_support import FaultyReceiver, elapsed

TIMEOUT = 1.0
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
