"""Callbacks routed to another queue run on that queue's worker."""

from pathlib import Path

import pytest

from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program

pytestmark = pytest.mark.celery


def test_callback_runs_on_its_own_queue(
    settings: Settings,
    isolated_home: Path,
    rabbitmq_url: str,
    programs_on_path,
    running_workers,
    wait_for,
) -> None:
    out_dir = isolated_home / "out"
    out_dir.mkdir()
    setup_program(
        settings,
        "callback_pkg",
        args=["--out_dir", str(out_dir), "--broker_url", rabbitmq_url],
    )
    program = load_program(settings)
    assert program.app.conf.task_routes == {
        "produce": {"queue": "produce"},
        "consume": {"queue": "consume"},
    }
    running_workers()
    assert program.tasks["produce"].delay().get(timeout=30) == "hello"
    consumed = out_dir / "consumed.txt"
    wait_for(consumed.exists)
    value, worker, _ = consumed.read_text().split()
    assert value == "hello"
    assert worker.startswith("consumer@")
