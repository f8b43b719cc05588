"""``acoupi run`` end to end: real workers and beat on each broker."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from runtime_support import acoupi_processes, wait_until

from acoupi.cli.run import run
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.state import RunMode, get_status

pytestmark = pytest.mark.celery


def _task_succeeded(settings: Settings) -> bool:
    log = settings.log_dir / "acoupi.log"
    return log.exists() and "succeeded" in log.read_text(errors="replace")


def _assert_nothing_left(settings: Settings) -> None:
    # Checked by pid through /proc, not by trusting pidfiles.
    assert acoupi_processes(settings.home) == {}
    assert sorted(settings.run_dir.glob("*.pid")) == []


def test_run_for_a_duration_on_the_embedded_broker(settings: Settings) -> None:
    setup_program(settings, "acoupi.programs.test")
    result = CliRunner().invoke(
        run,
        ["--duration", "12", "--live", "--name", "trial", "--stop-timeout", "10"],
        obj={"settings": settings},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert (
        "Tasks finished: 1\n" in result.output or "Tasks finished: 2\n" in result.output
    )
    assert "deployment 'trial' ended" in result.output
    assert "acoupi" in result.output and "beat" in result.output  # the live view
    deployment = json.loads(settings.deployment_file.read_text())
    assert deployment["name"] == "trial" and "ended_on" in deployment
    log = (settings.log_dir / "acoupi.log").read_text()
    assert "Task executed" in log
    # Plain logs: no start-up banner, no kombu warning at every connection.
    assert "[config]" not in log and "No hostname was supplied" not in log
    assert "acoupi is running: worker acoupi and the scheduler (beat)" in (
        result.output.replace("\n", " ")
    )
    assert (settings.home / "broker" / "queue").is_dir()
    _assert_nothing_left(settings)


def _run_until_a_task_ran(settings: Settings, signum: int) -> str:
    """Run ``acoupi run`` as a process; stop it with ``signum``."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from acoupi.cli.run import run; run(prog_name='acoupi run')",
            "--no-live",
            "--name",
            "site",
            "--stop-timeout",
            "10",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: _task_succeeded(settings), timeout=40)
        # The run and its worker; beat is a thread of the run (lean default).
        assert len(acoupi_processes(settings.home)) >= 2
        running = get_status(settings).running  # what `deployment status` says
        assert running is not None and running.mode == RunMode.FOREGROUND
        assert running.pid == process.pid
        process.send_signal(signum)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    return output


def test_sigterm_on_rabbitmq_leaves_nothing_running(
    settings: Settings, rabbitmq_url: str
) -> None:
    setup_program(settings, "acoupi.programs.test", args=["--broker_url", rabbitmq_url])
    output = _run_until_a_task_ran(settings, signal.SIGTERM)
    assert "Stopping acoupi" in output
    assert "deployment 'site' ended" in output
    assert "Connected to amqp://" in (settings.log_dir / "acoupi.log").read_text()
    _assert_nothing_left(settings)


def test_ctrl_c_on_redis_leaves_nothing_running(
    settings: Settings, redis_url: str
) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    setup_program(
        settings,
        "acoupi.programs.test",
        args=["--broker_url", redis_url, "--result_backend", redis_url],
    )
    output = _run_until_a_task_ran(settings, signal.SIGINT)
    assert "Tasks finished: 1\n" in output
    assert "Connected to redis://" in (settings.log_dir / "acoupi.log").read_text()
    _assert_nothing_left(settings)
    assert not Path(settings.home / "broker").exists()
