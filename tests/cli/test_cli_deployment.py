"""``acoupi deployment start|stop|status`` and the status view."""

import datetime
import io
import json
import sys
from typing import Any, Callable

import pytest
from rich.console import Console

from acoupi.cli.status_view import format_local_time, render_status
from acoupi.data import Deployment
from acoupi.system.constants import Settings

PROGRAM = "acoupi.programs.test"


def _no_user_session() -> bool:
    from acoupi.system.services import has_systemd_user_session

    return not has_systemd_user_session()


# ---------------------------------------------------------------------------
# start


@pytest.mark.skipif(
    not _no_user_session(), reason="needs a machine without a systemd user session"
)
@pytest.mark.parametrize("check", ["--check", "--no-check"])
def test_start_without_systemd_explains_and_leaves_nothing(
    invoke: Callable[..., Any],
    clean_failure: Callable[..., None],
    set_up: Settings,
    check: str,
) -> None:
    result = invoke("deployment", "start", "--name", "site", check)
    clean_failure(result.output, result.exit_code, "systemd user session")
    assert not set_up.deployment_file.exists()
    # QA F20: found before the checks, which cannot help, and said once.
    assert "health checks" not in result.output
    assert result.output.count("systemd user session") == 1, result.output
    assert "--foreground" in result.output


@pytest.mark.parametrize(
    ("option", "value"), [("--latitude", "100"), ("--longitude", "-181")]
)
def test_start_rejects_coordinates_out_of_range(
    invoke: Callable[..., Any],
    clean_failure: Callable[..., None],
    set_up: Settings,
    option: str,
    value: str,
) -> None:
    result = invoke("deployment", "start", "--name", "site", option, value)
    clean_failure(result.output, result.exit_code, option, value)
    assert not set_up.deployment_file.exists()


def test_start_needs_a_name_without_a_terminal(
    invoke: Callable[..., Any], clean_failure: Callable[..., None], set_up: Settings
) -> None:
    result = invoke("deployment", "start")
    clean_failure(result.output, result.exit_code, "No deployment name", "--name")
    assert not set_up.deployment_file.exists()


def test_start_twice_is_refused(
    invoke: Callable[..., Any], clean_failure: Callable[..., None], set_up: Settings
) -> None:
    from acoupi.system.deployments import start_deployment

    start_deployment(set_up, "first")
    before = set_up.deployment_file.read_text()
    result = invoke("deployment", "start", "--name", "second")
    clean_failure(
        result.output, result.exit_code, "already been deployed", "deployment stop"
    )
    assert set_up.deployment_file.read_text() == before


def test_corrupt_deployment_file(
    invoke: Callable[..., Any], clean_failure: Callable[..., None], set_up: Settings
) -> None:
    set_up.deployment_file.parent.mkdir(parents=True, exist_ok=True)
    set_up.deployment_file.write_text("{oops")
    for args in (["deployment", "start", "--name", "x"], ["deployment", "stop"]):
        result = invoke(*args)
        clean_failure(result.output, result.exit_code, "corrupt")


# ---------------------------------------------------------------------------
# stop


def test_stop_without_deployment(
    invoke: Callable[..., Any], clean_failure: Callable[..., None], set_up: Settings
) -> None:
    result = invoke("deployment", "stop")
    clean_failure(result.output, result.exit_code, "No deployment is running")


def test_stop_ends_the_deployment(
    invoke: Callable[..., Any], settings: Settings, rabbitmq_url: str
) -> None:
    from acoupi.system.deployments import start_deployment

    setup = invoke(
        "setup", "--program", PROGRAM, "--no-prompt", "--broker_url", rabbitmq_url
    )
    assert setup.exit_code == 0, setup.output
    start_deployment(settings, "site")
    result = invoke("deployment", "stop")
    assert result.exit_code == 0, result.output
    assert "Acoupi stopped." in result.output
    ended = json.loads(settings.deployment_file.read_text())
    assert "ended_on" in ended


# ---------------------------------------------------------------------------
# status


def test_status_json(invoke: Callable[..., Any], set_up: Settings) -> None:
    result = invoke("deployment", "status", "--json")
    assert result.exit_code == 0, result.output
    status = json.loads(result.stdout)
    assert set(status) >= {"services", "celery", "program", "deployment"}
    assert status["program"] == "ok"
    assert status["deployment"] is None
    assert status["celery"]["state"] == "unavailable"


def test_status_readable(invoke: Callable[..., Any], set_up: Settings) -> None:
    from acoupi.system.deployments import start_deployment

    start_deployment(set_up, "meadow", latitude=51.5, longitude=-0.25)
    result = invoke("deployment", "status")
    assert result.exit_code == 0, result.output
    for text in ("Services", "Celery", "Program", "Deployment", "meadow", "51.5"):
        assert text in result.output
    assert "-0.25" in result.output
    assert "\x1b[" not in result.output  # no colour when not a terminal


def _status(**changes: Any) -> Any:
    from acoupi.system.celery import (
        CeleryState,
        CeleryStatus,
        WorkerState,
        WorkerStatus,
    )
    from acoupi.system.programs import ProgramState
    from acoupi.system.services import ServiceStatus
    from acoupi.system.state import AcoupiStatus, ServicesStatus

    values: dict[str, Any] = {
        "services": ServicesStatus(
            acoupi=ServiceStatus.ACTIVE, beat=ServiceStatus.FAILED
        ),
        "celery": CeleryStatus(
            state=CeleryState.AVAILABLE,
            workers=[
                WorkerStatus(worker_name="recording@pi-7", state=WorkerState.OK),
                WorkerStatus(worker_name="default@pi-7", state=WorkerState.NOTOK),
            ],
        ),
        "program": ProgramState.UNHEALTHY,
        "deployment": Deployment(
            name="site",
            latitude=1.5,
            started_on=datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc),
        ),
    }
    values.update(changes)
    return AcoupiStatus(**values)


def _render(status: Any) -> str:
    buffer = io.StringIO()
    render_status(status, Console(file=buffer, width=100, color_system=None))
    return buffer.getvalue()


def test_status_view_shows_every_section() -> None:
    text = _render(_status())
    assert "active" in text and "failed" in text
    assert "recording" in text and "default" in text
    assert "@pi-7" not in text  # host names are dropped
    assert "unhealthy" in text and "acoupi check" in text
    assert "site" in text and "1.5" in text and "not set" in text
    started = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.timezone.utc)
    assert format_local_time(started) in text


def test_status_view_without_deployment_or_workers() -> None:
    from acoupi.system.celery import CeleryState, CeleryStatus

    text = _render(
        _status(
            deployment=None,
            celery=CeleryStatus(state=CeleryState.UNAVAILABLE, workers=[]),
        )
    )
    assert "inactive" in text
    assert "deployment start" in text
    assert "none running" in text


def test_local_time_shows_zone() -> None:
    moment = datetime.datetime(2024, 1, 2, 3, 4, tzinfo=datetime.timezone.utc)
    assert format_local_time(moment).startswith(
        moment.astimezone().strftime("%A %d %B %Y")
    )


def test_start_asks_for_missing_values_in_a_terminal(
    invoke: Callable[..., Any],
    set_up: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[tuple[Any, ...]] = []

    def fake_start(settings: Settings, *args: Any) -> None:
        started.append(args)

    # ``acoupi.cli.deployment`` is the click group; patch the module.
    module = sys.modules["acoupi.cli.deployment"]
    monkeypatch.setattr(module, "stdin_is_interactive", lambda: True)
    monkeypatch.setattr("acoupi.system.start_program", fake_start, raising=False)
    # systemd cannot exist here; start refuses early without it.
    monkeypatch.setattr("acoupi.system.services.has_systemd_user_session", lambda: True)
    # Latitude 100 is re-asked; an empty longitude means "not given".
    result = invoke("deployment", "start", "--no-check", input="meadow\n100\n45.5\n\n")
    assert result.exit_code == 0, result.output
    assert "Enter the name of the deployment" in result.output
    assert "100 is not a latitude" in result.output
    assert started == [("meadow", 45.5, None)]
    assert "Acoupi started" in result.output
