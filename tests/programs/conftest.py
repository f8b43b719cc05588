"""Fixtures to run test program modules on real Celery workers."""

import os
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from acoupi.system.constants import Settings

PROGRAMS_DIR = Path(__file__).parent


@pytest.fixture
def programs_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make test program modules importable here and in worker processes."""
    monkeypatch.syspath_prepend(str(PROGRAMS_DIR))
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv(
        "PYTHONPATH",
        str(PROGRAMS_DIR) + (os.pathsep + pythonpath if pythonpath else ""),
    )


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

    def poll(predicate: Callable[[], object], timeout: float = 30) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        pytest.fail(f"condition not met within {timeout} s")

    return poll
