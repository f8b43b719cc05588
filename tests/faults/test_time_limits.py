"""Defect 1 (time limits): Celery's limits do not apply under ``threads``.

A stuck task held a thread of the default worker for minutes. Runs a real
worker with the threads pool on the embedded broker.
"""

import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from acoupi.system.broker import broker_paths
from acoupi.system.celery import get_celery_bin
from acoupi.system.claims import pending_messages, requeue_orphans
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program
from acoupi.system.time_limits import HARD_LIMIT_EXIT
from fault_support import FaultTable
from helpers import importable_everywhere, wait_until

FAULTS_DIR = Path(__file__).parent

pytestmark = pytest.mark.slow  # a real worker, ~8 s


@pytest.fixture
def worker(
    settings: Settings, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator["subprocess.Popen[bytes]"]:
    importable_everywhere(monkeypatch, FAULTS_DIR)
    setup_program(
        settings,
        "stuck_pkg",
        args=[
            "--marker", str(isolated_home / "marker"),
            "--task_soft_time_limit", "1",
            "--task_time_limit", "3",
        ],
    )  # fmt: skip
    log = open(isolated_home / "worker.log", "wb")
    process = subprocess.Popen(
        [
            str(get_celery_bin()), "-A", "app", "worker", "-P", "threads",
            "-c", "2", "--loglevel=INFO", "-n", "stuck@%h",
        ],
        cwd=settings.home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    yield process
    process.kill()
    process.wait()
    log.close()


def test_soft_and_hard_limits_hold_under_threads(
    worker: "subprocess.Popen[bytes]",
    settings: Settings,
    isolated_home: Path,
    fault_table: FaultTable,
) -> None:
    program = load_program(settings)
    marker = isolated_home / "marker"

    program.tasks["spin_task"].apply_async()
    wait_until(marker.exists, timeout=20)  # worker start + 1 s soft limit
    assert marker.read_text() == "interrupted"

    start = time.monotonic()
    program.tasks["block_task"].apply_async()
    code = worker.wait(timeout=20)
    assert code == HARD_LIMIT_EXIT
    assert time.monotonic() - start < 10
    log = (isolated_home / "worker.log").read_text()
    assert "past its hard time limit of 3 s" in log
    # Set aside, not queued again: a restarted worker is not stopped again.
    paths = broker_paths(settings)
    assert len(list(paths.unreadable.iterdir())) == 1
    assert pending_messages(paths.queue, paths.claimed, "celery") == []
    requeue_orphans(paths.claimed, paths.queue)
    assert not list(paths.queue.glob("*.msg"))
    fault_table.add(
        "stuck tasks under threads",
        "a Python loop past 1 s, a C sleep past 3 s",
        visible="soft limit interrupts; hard limit: worker exit 70, logged, "
        "task set aside",
    )
