"""A program read with a deferred Celery app is the program with a real one."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from celery import Celery

from acoupi.system.constants import Settings
from acoupi.system.deferred_app import CELERY_DEFAULTS, DeferredApp
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program


def _default_program(settings: Settings, home: Path) -> None:
    # Scheduled tasks, callbacks and queue routes: all a program sets up.
    setup_program(
        settings,
        "acoupi.programs.default",
        args=[
            "--microphone.device_name", "simulated",
            "--microphone.samplerate", "48000",
            "--paths.tmp_audio", str(home / "tmp"),
        ],
    )  # fmt: skip


def _schedule(app: Any) -> dict:
    return {
        name: (entry["task"], repr(entry["schedule"]))
        for name, entry in app.conf.beat_schedule.items()
    }


def test_the_defaults_are_celerys() -> None:
    app = Celery(set_as_current=False)
    for key, value in CELERY_DEFAULTS.items():
        assert app.conf[key] == value, key


def test_deferred_program_is_set_up_as_the_real_one(
    settings: Settings, isolated_home: Path
) -> None:
    _default_program(settings, isolated_home)
    real = load_program(settings)
    deferred = load_program(settings, defer_celery=True)

    assert isinstance(deferred.app, DeferredApp) and deferred.app.built is None
    assert sorted(deferred.tasks) == sorted(real.tasks)
    assert {n: t.name for n, t in deferred.tasks.items()} == {
        n: t.name for n, t in real.tasks.items()
    }
    assert _schedule(deferred.app) == _schedule(real.app) != {}
    assert deferred.app.conf.task_routes == real.app.conf.task_routes
    assert deferred.app.built is None  # reading all that needed no Celery

    # Anything else builds the real app, with the same settings and tasks.
    connection = deferred.app.connection_for_read()
    connection.release()
    built = deferred.app.built
    assert isinstance(built, Celery)
    assert deferred.app.conf is built.conf
    assert _schedule(built) == _schedule(real.app)
    assert built.conf.task_routes == real.app.conf.task_routes
    assert set(real.tasks) <= set(built.tasks)
    name = next(iter(deferred.tasks))
    assert deferred.tasks[name].delay.__self__.name == name


def test_unknown_settings_are_read_from_the_real_app() -> None:
    conf = {"timezone": "Europe/London"}

    def build() -> Celery:
        real = Celery(set_as_current=False)
        real.config_from_object(conf)
        return real

    app = DeferredApp(conf, build)
    app.conf.beat_schedule = {"tick": {"task": "tick", "schedule": 5}}

    assert app.conf.timezone == "Europe/London"
    assert app.built is None
    assert app.conf.task_default_queue == "celery"  # Celery's default
    assert app.built is not None
    assert app.conf.beat_schedule == {"tick": {"task": "tick", "schedule": 5}}
    assert app.conf.timezone == "Europe/London"


def test_task_logger_is_celerys() -> None:
    # In a fresh process: ours first, then Celery's for the same and for
    # another name; the same logger, parents and handlers either way.
    code = """
import json, logging
from acoupi.system.task_logs import task_logger

def shape(logger):
    return [logger.parent.name, [type(h).__name__ for h in logger.handlers]]

ours = task_logger("ProgramA")
before = [shape(ours), shape(logging.getLogger("celery.task")),
          shape(logging.getLogger("celery"))]
from celery.utils.log import get_task_logger
same = get_task_logger("ProgramA") is ours
theirs = get_task_logger("ProgramB")
after = [shape(theirs), shape(logging.getLogger("celery.task")),
         shape(logging.getLogger("celery"))]
print(json.dumps({"same": same, "before": before, "after": after}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["same"] is True
    assert found["before"] == found["after"]
    assert found["before"][0] == ["celery.task", ["NullHandler"]]
