"""Helpers for the command-line tests: a CliRunner bound to the test's
settings, a home set up with the test program, and a runner for the
installed ``acoupi`` entry point."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional

import pytest
from click.testing import CliRunner, Result

from acoupi.cli import acoupi
from acoupi.system.constants import Settings

ACOUPI_BIN = Path(sys.executable).parent / "acoupi"

Invoke = Callable[..., Result]
RunAcoupi = Callable[..., "subprocess.CompletedProcess[str]"]

SETUP_PROGRAM = "acoupi.programs.test"
# Nothing listens on port 1: Celery status reports "unavailable" at once
# instead of touching a real broker.
UNREACHABLE_BROKER = "pyamqp://guest@127.0.0.1:1//"


@pytest.fixture
def invoke(settings: Settings) -> Invoke:
    """Run the CLI in-process with the test's settings injected."""
    runner = CliRunner()

    def _invoke(*args: str, input: Optional[str] = None) -> Result:
        return runner.invoke(
            acoupi, list(args), obj={"settings": settings}, input=input
        )

    return _invoke


@pytest.fixture
def set_up(invoke: Invoke, settings: Settings) -> Settings:
    """Acoupi set up with the test program and an unreachable broker."""
    result = invoke(
        "setup",
        "--program",
        SETUP_PROGRAM,
        "--no-prompt",
        "--broker_url",
        UNREACHABLE_BROKER,
    )
    assert result.exit_code == 0, result.output
    return settings


@pytest.fixture
def cli_env(isolated_home: Path) -> dict[str, str]:
    """Environment for a subprocess: the isolated home, no debug output."""
    env = os.environ.copy()
    env["HOME"] = str(isolated_home)
    env["ACOUPI_HOME"] = str(isolated_home / ".acoupi")
    env.pop("ACOUPI_DEBUG", None)
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture
def run_acoupi(cli_env: dict[str, str]) -> RunAcoupi:
    """Run the installed ``acoupi`` console script in the isolated home."""

    def _run(*args: str, timeout: float = 120) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [str(ACOUPI_BIN), *args],
            env=cli_env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )

    return _run


def _assert_clean_failure(output: str, exit_code: int, *expected: str) -> None:
    assert exit_code != 0, output
    assert "Traceback" not in output, output
    assert "Error:" in output, output
    for text in expected:
        assert text in output, output


@pytest.fixture
def clean_failure() -> Callable[..., None]:
    """Check a user mistake: non-zero exit, ``Error:`` line, no traceback.

    Call as ``clean_failure(output, exit_code, *expected_texts)``.
    """
    return _assert_clean_failure
