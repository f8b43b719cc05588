"""The installed ``acoupi`` console script, run as a user would."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from acoupi import __version__

PROGRAM = "acoupi.programs.test"


def test_cli_import_stays_light() -> None:
    """``acoupi --help`` must not import Celery, Rich or other heavy modules."""
    heavy = ["celery", "kombu", "rich", "numpy", "pygments", "pydantic_settings"]
    code = f"import sys, acoupi.cli; print([m for m in {heavy!r} if m in sys.modules])"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_python_dash_m(cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "acoupi", "--version"],
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert result.stdout == f"acoupi {__version__}\n"


def test_mistakes_exit_cleanly(
    run_acoupi: Callable[..., Any], clean_failure: Callable[..., None]
) -> None:
    result = run_acoupi("config", "get")
    clean_failure(result.stderr, result.returncode, "Acoupi is not set up")
    result = run_acoupi("setup", "--program", "acoupi.programs.nope", "--no-prompt")
    clean_failure(result.stderr, result.returncode, "not found")
    result = run_acoupi("deployment", "nope")
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.fixture
def workers_stopped(run_acoupi: Callable[..., Any]) -> Iterator[None]:
    """Stop any worker a test started, even when it fails half-way."""
    yield
    run_acoupi("workers", "stop", timeout=120)


@pytest.mark.celery
def test_done_when_flow(
    run_acoupi: Callable[..., Any],
    clean_failure: Callable[..., None],
    rabbitmq_url: str,
    isolated_home: Path,
    workers_stopped: None,
) -> None:
    """The whole first-use flow, each step exiting 0 with readable output."""

    def ok(*args: str) -> str:
        result = run_acoupi(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
        return str(result.stdout)

    assert ok("--version") == f"acoupi {__version__}\n"
    assert "Next" in ok(
        "setup", "--program", PROGRAM, "--no-prompt", "--broker_url", rabbitmq_url
    )
    assert "Health checks passed." in ok("check")
    assert json.loads(ok("config", "get")) == {"name": "test_program"}
    assert 'Set name = "other"' in ok("config", "set", "--field", "name", "other")
    assert json.loads(ok("config", "get", "--field", "name")) == "other"
    assert "test_task" in ok("task", "list")
    assert "Task executed" in ok("task", "run", "test_task")
    assert "Workers started." in ok("workers", "start")

    status = ok("deployment", "status")
    assert "Celery" in status and "available" in status
    celery = json.loads(ok("deployment", "status", "--json"))["celery"]
    workers = celery["workers"]
    assert workers, (status, celery["detail"])
    for worker in workers:
        assert worker["worker_name"].split("@")[0] in status

    assert "Workers stopped." in ok("workers", "stop")

    # Without a systemd user session a deployment cannot start: a clear
    # message, and no deployment left behind.
    from acoupi.system.services import has_systemd_user_session

    if not has_systemd_user_session():
        result = run_acoupi("deployment", "start", "--name", "site", "--no-check")
        clean_failure(result.stderr, result.returncode, "systemd user session")
        assert not (isolated_home / ".acoupi" / "config" / "deployment.json").exists()
