"""Real Celery workers on the embedded broker wake when a task arrives.

Each test starts ``celery -A wake_app worker`` (threads pool, one thread,
acoupi's Celery settings: late acknowledgement, prefetch 1) with both
polling intervals at 60 s, lets it go idle, then sends tasks. Bounds are
generous (10 s) as the machine may be busy; what they tell apart is a
wake-up (well under a second) from a poll (60 s later).
"""

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest
from celery import Celery

from acoupi.system.broker import celery_conf_for, queue_depths
from acoupi.system.constants import CeleryConfig, Settings
from helpers import importable_everywhere, stop_process, wait_until

pytestmark = pytest.mark.celery

LONG = 60.0
"""Both polling intervals: far beyond every bound the tests wait."""

IDLE = 3.0
"""Seconds a started worker is left alone before a task is sent."""

StartWorker = Callable[..., Celery]


@pytest.fixture
def start_worker(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[StartWorker]:
    """Start a ``wake_app`` worker with the given transport options, go idle.

    Returns an app of this process on the same broker, to send tasks and
    read their results. The worker is always stopped afterwards.
    """
    importable_everywhere(monkeypatch, Path(__file__).parent)
    workers: list[subprocess.Popen[bytes]] = []

    def start(**options: Any) -> Celery:
        log = tmp_path / "worker.log"
        env = dict(os.environ, WAKE_TRANSPORT_OPTIONS=json.dumps(options))
        with open(log, "wb") as handle:
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "celery",
                        "-A",
                        "wake_app",
                        "worker",
                        "-n",
                        f"wake-{uuid.uuid4().hex[:6]}@%h",
                        "-P",
                        "threads",
                        "-c",
                        "1",
                        "--loglevel=INFO",
                    ],
                    env=env,
                    stdout=handle,
                    stderr=subprocess.STDOUT,
                )
            )
        wait_until(lambda: b" ready." in log.read_bytes(), timeout=90)
        time.sleep(IDLE)  # past its first look at the queue: idle, waiting
        app = Celery("wake_test")
        app.config_from_object(
            celery_conf_for(CeleryConfig(broker_transport_options=options), settings)
        )
        return app

    yield start
    for worker in workers:
        stop_process(worker, 30)


def _finished(app: Celery, *tasks: Any, within: float) -> list[float]:
    results = [app.send_task("wake_app.nap", args=(seconds,)) for seconds in tasks]
    return [float(result.get(timeout=within)) for result in results]


def test_idle_worker_takes_a_task_as_soon_as_it_is_sent(
    start_worker: StartWorker,
) -> None:
    app = start_worker(polling_interval=LONG, safety_poll_interval=LONG)
    sent = time.time()
    (done,) = _finished(app, 0.0, within=10)
    assert done - sent < 10


def test_acknowledgement_wakes_the_worker_for_the_next_task(
    start_worker: StartWorker,
) -> None:
    # Prefetch 1: the task taken second waits in the folder until the one
    # taken first is acknowledged (a second later, whichever it is), which
    # no file event in the queue folder announces.
    app = start_worker(polling_interval=LONG, safety_poll_interval=LONG)
    first, second = _finished(app, 1.0, 1.0, within=10)
    assert abs(second - first) >= 0.9  # one after the other: one thread


def test_worker_without_inotify_polls(start_worker: StartWorker) -> None:
    app = start_worker(inotify=False, polling_interval=0.5)
    _finished(app, 0.0, within=10)


def test_worker_without_inotify_waits_for_its_poll(start_worker: StartWorker) -> None:
    # The control: the same long interval, without the watch, leaves the
    # task waiting; so the first test's task was not fetched by a poll.
    app = start_worker(inotify=False, polling_interval=LONG)
    result = app.send_task("wake_app.nap", args=(0.0,))
    time.sleep(5)
    assert not result.ready()
    depths: Dict[str, int] = queue_depths(app, ["celery"])
    assert depths == {"celery": 1}
