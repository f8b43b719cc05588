"""Fixtures to run test program modules on real Celery workers."""

import time
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest

from acoupi.system.constants import Settings
from helpers import importable_everywhere, wait_until
from messaging_support import Subscriber

PROGRAMS_DIR = Path(__file__).parent


@pytest.fixture
def programs_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make test program modules importable here and in worker processes."""
    importable_everywhere(monkeypatch, PROGRAMS_DIR)


@pytest.fixture
def running_workers(settings: Settings) -> Iterator[Callable[[], None]]:
    """Start the configured program's workers; always stop them afterwards."""
    from acoupi.system.celery import (
        CeleryState,
        get_celery_status,
        start_workers,
        stop_workers,
    )

    started = False

    def start() -> None:
        nonlocal started
        start_workers(settings)
        started = True
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = get_celery_status(settings)
            if status.state == CeleryState.AVAILABLE and status.workers:
                return
            time.sleep(0.5)
        pytest.fail("Celery workers did not come up within 60 s")

    yield start
    if started:
        stop_workers(settings)


@pytest.fixture
def wait_for() -> Callable[..., object]:
    """Return a poller: ``wait_for(predicate, timeout=30)``."""
    return wait_until


@pytest.fixture
def subscriber(mqtt_broker: tuple[str, int]) -> Iterator[tuple[str, Subscriber]]:
    """A QoS 1 subscriber on a fresh topic of the local Mosquitto."""
    topic = f"acoupi-test/{uuid.uuid4().hex}"
    with Subscriber(*mqtt_broker, topic) as subscriber:
        yield topic, subscriber
