"""The beat plan: what a lean beat child of ``acoupi run`` needs to know.

Beat only needs to know when to send which task name to which queue; it
never runs a task. Loading the whole program for that (as the workers do)
put the program's components into beat: numpy, the detection model's
modules, the stores. The supervisor, which loads the program anyway,
writes the schedule and routes to ``run_dir/beat-plan.json``
(:func:`write_beat_plan`); this module builds a bare app from the Celery
config and that plan. Without a plan (a schedule entry that is not a plain
interval) it falls back to the full program app.
"""

import datetime
import json
from pathlib import Path
from typing import Any, Dict

from acoupi.system.atomic import atomic_write_text
from acoupi.system.constants import Settings
from acoupi.system.outlook import schedule_seconds

__all__ = ["PLAN_FILE", "build_beat_app", "write_beat_plan"]

PLAN_FILE = "beat-plan.json"
"""File in ``run_dir`` with the schedule and routes of the running program."""


def write_beat_plan(app: Any, run_dir: Path) -> bool:
    """Write the beat plan of a program's app; False if it cannot be lean.

    Parameters
    ----------
    app
        The program's Celery app (schedule and routes registered).
    run_dir
        Where the plan goes.

    Returns
    -------
    bool
        True when every schedule entry is a plain interval and the plan
        was written; False (and any old plan removed) otherwise.
    """
    path = Path(run_dir) / PLAN_FILE
    entries: Dict[str, Dict[str, Any]] = {}
    for name, entry in (app.conf.beat_schedule or {}).items():
        seconds = schedule_seconds(entry.get("schedule"))
        if seconds is None or set(entry) - {"task", "schedule"}:
            path.unlink(missing_ok=True)
            return False
        entries[name] = {"task": entry["task"], "every_s": seconds}
    routes = app.conf.task_routes or {}
    if not isinstance(routes, dict):
        path.unlink(missing_ok=True)
        return False
    plan = {"schedule": entries, "routes": routes}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(plan, indent=2))
    return True


def build_beat_app(settings: Settings) -> Any:
    """The app beat runs: lean from the plan, else the full program's."""
    path = Path(settings.run_dir) / PLAN_FILE
    try:
        plan = json.loads(path.read_text())
    except (OSError, ValueError):
        from acoupi.system.programs import load_program

        return load_program(settings).app

    from celery import Celery

    from acoupi.system.broker import celery_conf_for
    from acoupi.system.config import load_config
    from acoupi.system.constants import CeleryConfig

    config = load_config(Path(settings.celery_config_file), CeleryConfig)
    app = Celery(set_as_current=False)
    app.config_from_object(celery_conf_for(config, settings))
    app.conf.task_routes = plan["routes"]
    app.conf.beat_schedule = {
        name: {
            "task": entry["task"],
            "schedule": datetime.timedelta(seconds=entry["every_s"]),
        }
        for name, entry in plan["schedule"].items()
    }
    return app
