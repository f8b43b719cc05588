"""The single error-rendering mechanism of the command line."""

import argparse
import subprocess

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel, field_validator

from acoupi.cli.errors import (
    NOT_SETUP_MESSAGE,
    AcoupiGroup,
    CliError,
    CliUsageError,
    to_cli_error,
)
from acoupi.system.exceptions import (
    CeleryUnavailableError,
    ConfigurationError,
    DeploymentError,
    HealthCheckError,
    NotConfiguredError,
    ParameterError,
    ProgramNotFoundError,
    ServiceError,
)


class _Site(BaseModel):
    latitude: float

    @field_validator("latitude")
    @classmethod
    def _range(cls, value: float) -> float:
        if not -90 <= value <= 90:
            raise ValueError("latitude must be between -90 and 90")
        return value


def _validation_error() -> Exception:
    try:
        _Site(latitude=100)
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("exc", "message", "help_text"),
    [
        (
            ProgramNotFoundError("acoupi.programs.nope"),
            "'acoupi.programs.nope' was not found",
            "installed",
        ),
        (
            ParameterError("recording.duration", "must be positive", "Use 5."),
            "Invalid value for 'recording.duration': must be positive",
            "Use 5.",
        ),
        (
            ConfigurationError("Invalid configuration in x.json", "Fix it."),
            "Invalid configuration in x.json",
            "Fix it.",
        ),
        (
            DeploymentError("Acoupi has already been deployed.", "Stop it."),
            "already been deployed",
            "Stop it.",
        ),
        (HealthCheckError("mic missing"), "Health check failed: mic missing", None),
        (NotConfiguredError(), NOT_SETUP_MESSAGE, None),
        (ServiceError("no systemd user session", "log in"), "systemd", "log in"),
        (CeleryUnavailableError("broker down", "start rabbitmq"), "broker", "rabbit"),
        (
            argparse.ArgumentError(None, "Missing value for name."),
            "Missing value for name.",
            "--<field> <value>",
        ),
        (
            subprocess.CalledProcessError(3, ["systemctl", "--user", "start"]),
            "`systemctl --user start` failed with exit code 3",
            "--debug",
        ),
    ],
)
def test_known_errors_become_messages_with_a_fix(
    exc: Exception, message: str, help_text: str
) -> None:
    error = to_cli_error(exc)
    assert message in error.message
    if help_text is not None:
        assert error.help is not None and help_text in error.help
    assert error.exit_code == 1


def test_validation_error_names_field_and_reason() -> None:
    error = to_cli_error(_validation_error())
    assert "latitude: latitude must be between -90 and 90" in error.message


def test_unexpected_error_points_at_debug() -> None:
    error = to_cli_error(ZeroDivisionError("division by zero"))
    assert "ZeroDivisionError" in error.message
    assert error.help is not None and "--debug" in error.help


def test_cli_errors_pass_through_unchanged() -> None:
    error = CliUsageError("bad", "good")
    assert to_cli_error(error) is error
    assert error.exit_code == 2


def _group_raising(exc: Exception) -> click.Group:
    @click.group(cls=AcoupiGroup)
    @click.option("--debug", is_flag=True)
    def root(debug: bool) -> None:
        pass

    @root.command()
    def boom() -> None:
        raise exc

    return root


def test_group_prints_error_and_help_without_traceback() -> None:
    root = _group_raising(DeploymentError("Not deployed.", help="Start one."))
    result = CliRunner().invoke(root, ["boom"])
    assert result.exit_code == 1
    assert result.stderr == "Error: Not deployed.\nStart one.\n"
    assert "Traceback" not in result.output


def test_group_debug_flag_shows_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    root = _group_raising(RuntimeError("kaput"))
    result = CliRunner().invoke(root, ["--debug", "boom"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert "Unexpected error (RuntimeError): kaput" in result.stderr


def test_debug_environment_variable_shows_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACOUPI_DEBUG", "1")
    result = CliRunner().invoke(_group_raising(RuntimeError("kaput")), ["boom"])
    assert "Traceback" in result.stderr


def test_click_usage_errors_keep_their_exit_code() -> None:
    root = _group_raising(RuntimeError("unused"))
    result = CliRunner().invoke(root, ["nope"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_cli_error_colours_only_on_request() -> None:
    root = _group_raising(CliError("plain"))
    result = CliRunner().invoke(root, ["boom"], color=True)
    assert "\x1b[31m" in result.stderr  # red


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("kind", ["http", "mqtt"])
def test_failed_messenger_check_says_health_check_failed_once(kind: str) -> None:
    """Real messengers checked against a closed loopback port (QA F7)."""
    from acoupi.components.messengers.http import HTTPMessenger
    from acoupi.components.messengers.mqtt import MQTTMessenger

    port = _closed_port()
    messenger = (
        HTTPMessenger(base_url=f"http://127.0.0.1:{port}/ingest", timeout=3)
        if kind == "http"
        else MQTTMessenger(host="127.0.0.1", port=port, topic="t", timeout=3)
    )
    with pytest.raises(HealthCheckError) as caught:
        messenger.check()
    message = to_cli_error(caught.value).message
    assert message.startswith("Health check failed: ")
    assert message.lower().count("health check failed") == 1, message


def test_a_prefixed_health_check_message_is_not_prefixed_again() -> None:
    """Plugins written for upstream may already say it."""
    error = to_cli_error(HealthCheckError("Health check failed: mic missing"))
    assert error.message == "Health check failed: mic missing"
