"""``acoupi run --lean``: beat in the supervisor's main loop."""

import logging
import os
import time

import pytest
from click.testing import CliRunner

from acoupi.cli.run import run
from acoupi.runtime.beat_plan import write_beat_plan
from acoupi.runtime.embedded_beat import MAX_SLEEP, RETRY_AFTER, EmbeddedBeat
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program

pytestmark = [pytest.mark.celery, pytest.mark.slow]


def test_lean_run_schedules_tasks_from_its_main_loop(settings: Settings) -> None:
    setup_program(settings, "acoupi.programs.test")

    result = CliRunner().invoke(
        run,
        ["--lean", "--duration", "14", "--no-live", "--stop-timeout", "10"],
        obj={"settings": settings},
        catch_exceptions=False,
    )

    assert result.exit_code == 0, result.output
    beat_log = (settings.log_dir / "beat.log").read_text()
    # Written by the supervisor's own beat, not by a beat child.
    assert "INFO/beat] Scheduler: Sending due task test_task" in beat_log
    assert "succeeded" in (settings.log_dir / "acoupi.log").read_text()
    assert not (settings.run_dir / "beat.pid").exists()


def test_a_failing_scheduler_is_rebuilt(settings: Settings) -> None:
    setup_program(settings, "acoupi.programs.test")
    write_beat_plan(load_program(settings).app, settings.run_dir)
    beat = EmbeddedBeat(settings)
    beat.start()
    try:
        assert beat.running
        # Its schedule file can no longer be written (as on a failing disk):
        # the first tick saves the schedule, and fails.
        beat._service.scheduler._store.close()
        assert beat.tick() == RETRY_AFTER
        assert beat.restarts == 1 and beat.running
        assert beat.tick() <= RETRY_AFTER  # not due yet: no second attempt
        time.sleep(RETRY_AFTER)
        assert 0 < beat.tick() <= MAX_SLEEP  # the new scheduler works
        assert beat.restarts == 1
    finally:
        beat.stop()
    assert not beat.running
    log = (settings.log_dir / "beat.log").read_text()
    assert "Beat failed; rebuilding its scheduler." in log
    assert log.count("beat: Starting...") == 2


def test_a_forked_worker_does_not_write_to_beats_log(settings: Settings) -> None:
    setup_program(settings, "acoupi.programs.test")
    write_beat_plan(load_program(settings).app, settings.run_dir)
    beat = EmbeddedBeat(settings)
    beat.start()
    try:
        pid = os.fork()
        if pid == 0:  # a worker forked from the supervisor
            named = logging.getLogger("celery.beat")
            files = [h for h in named.handlers if isinstance(h, logging.FileHandler)]
            os._exit(0 if not files and named.propagate else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        # Here, in the supervisor, beat still writes its log.
        handlers = logging.getLogger("celery.beat").handlers
        assert any(isinstance(h, logging.FileHandler) for h in handlers)
    finally:
        beat.stop()
