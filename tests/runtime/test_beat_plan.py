"""Beat of `acoupi run` runs a bare app from the plan, not the program."""

import datetime
import json
import subprocess
import sys
from pathlib import Path

from acoupi.runtime.beat_plan import PLAN_FILE, build_beat_app, write_beat_plan
from acoupi.runtime.environment import child_environment
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program


def _triggered(settings: Settings, home: Path) -> None:
    setup_program(
        settings,
        "acoupi.programs.triggered",
        args=[
            "--microphone.device_name", "simulated",
            "--microphone.samplerate", "256000",
            "--paths.tmp_audio", str(home / "tmp"),
        ],
    )  # fmt: skip


def test_plan_gives_beat_the_program_schedule_and_routes(
    settings: Settings, isolated_home: Path
) -> None:
    _triggered(settings, isolated_home)
    program = load_program(settings)

    assert write_beat_plan(program.app, settings.run_dir)
    app = build_beat_app(settings)

    expected = program.app.conf.beat_schedule
    assert {n: e["task"] for n, e in app.conf.beat_schedule.items()} == {
        n: e["task"] for n, e in expected.items()
    }
    for name, entry in expected.items():
        assert app.conf.beat_schedule[name]["schedule"] == entry["schedule"]
    assert app.conf.task_routes == program.app.conf.task_routes
    assert app.conf.broker_url == program.app.conf.broker_url
    # Beat routes by name: the recording still goes to its own queue.
    assert app.amqp.router.route({}, "recording_task")["queue"].name == "recording"


def test_beat_child_imports_no_program_modules(
    settings: Settings, isolated_home: Path
) -> None:
    _triggered(settings, isolated_home)
    write_beat_plan(load_program(settings).app, settings.run_dir)
    code = (
        "import sys, acoupi.runtime.beat_app; "
        "print(sorted(m for m in ('numpy', 'acoupi.programs.triggered', "
        "'acoupi.components.stores') if m in sys.modules))"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        env=child_environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_plan_for_a_schedule_it_cannot_write(
    settings: Settings, isolated_home: Path
) -> None:
    from celery.schedules import crontab

    _triggered(settings, isolated_home)
    program = load_program(settings)
    (settings.run_dir / PLAN_FILE).parent.mkdir(parents=True, exist_ok=True)
    (settings.run_dir / PLAN_FILE).write_text(json.dumps({"old": True}))
    program.app.conf.beat_schedule = {
        **program.app.conf.beat_schedule,
        "nightly": {"task": "file_management_task", "schedule": crontab(hour=3)},
    }

    assert not write_beat_plan(program.app, settings.run_dir)
    assert not (settings.run_dir / PLAN_FILE).exists()
    # Without a plan beat falls back to the program's own app.
    app = build_beat_app(settings)
    assert "recording_task" in app.tasks
    assert app.conf.beat_schedule["recording_task"]["schedule"] == (
        datetime.timedelta(seconds=10)
    )


def test_supervisor_imports_no_numpy_for_a_program_without_audio(
    settings: Settings,
) -> None:
    # The run supervisor of the test program carried numpy (~10 MB) only
    # because recovery imported the WAV module for a file-name suffix.
    setup_program(settings, "acoupi.programs.test")
    code = (
        "import sys; import acoupi.runtime.foreground, acoupi.cli.run; "
        "from acoupi.system.programs import load_program; "
        "from acoupi.system.constants import Settings; "
        "load_program(Settings()); print('numpy' in sys.modules)"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        env=child_environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
