"""Helpers for the command-line tests: a CliRunner bound to the test's
settings, a home set up with the test program, and a runner for the
installed ``acoupi`` entry point."""

from typing import Callable, Optional

import pytest
from click.testing import CliRunner, Result

from acoupi.cli import acoupi
from acoupi.system.constants import Settings

Invoke = Callable[..., Result]

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
