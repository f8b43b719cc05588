"""``acoupi run --lean``: beat as a thread of the supervisor."""

import pytest
from click.testing import CliRunner

from acoupi.cli.run import run
from acoupi.runtime.beat_plan import write_beat_plan
from acoupi.runtime.embedded_beat import EmbeddedBeat
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program

pytestmark = [pytest.mark.celery, pytest.mark.slow]


def test_lean_run_schedules_tasks_from_its_own_thread(settings: Settings) -> None:
    setup_program(settings, "acoupi.programs.test")

    result = CliRunner().invoke(
        run,
        ["--lean", "--duration", "14", "--no-live", "--stop-timeout", "10"],
        obj={"settings": settings},
        catch_exceptions=False,
    )

    assert result.exit_code == 0, result.output
    beat_log = (settings.log_dir / "beat.log").read_text()
    # Written by the supervisor's beat thread, not by a beat child.
    assert "INFO/beat] Scheduler: Sending due task test_task" in beat_log
    assert "succeeded" in (settings.log_dir / "acoupi.log").read_text()
    assert not (settings.run_dir / "beat.pid").exists()


def test_a_dead_beat_thread_is_restarted(settings: Settings) -> None:
    setup_program(settings, "acoupi.programs.test")
    write_beat_plan(load_program(settings).app, settings.run_dir)
    beat = EmbeddedBeat(settings)
    beat.start()
    try:
        assert beat.alive
        beat._service.stop()  # the thread ends as if it had crashed
        beat._service.join(timeout=10)
        assert not beat.alive

        assert beat.ensure_running()
        assert beat.alive and beat.restarts == 1
        assert not beat.ensure_running()
    finally:
        beat.stop()
    assert not beat.alive
