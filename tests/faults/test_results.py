"""Defect 4 (results): Celery result files accumulated until a daily cleanup."""

import uuid

from celery.app.trace import build_tracer

from acoupi.system.broker import broker_paths
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program


def test_tasks_leave_no_result_files(settings: Settings) -> None:
    setup_program(settings, "acoupi.programs.test")
    program = load_program(settings)
    task = program.tasks["test_task"]
    # The function a worker runs for each message, result storage included.
    trace = build_tracer(task.name, task, app=program.app, eager=False)
    for _ in range(3):
        task_id = str(uuid.uuid4())
        trace(task_id, (), {}, {"id": task_id, "delivery_info": {}})
    assert not any(broker_paths(settings).results.iterdir())
