"""Tests of acoupi.system.state: every part reported, none raising."""

import os
import time
from pathlib import Path

import pytest

from acoupi.system.celery import CeleryState
from acoupi.system.constants import Settings
from acoupi.system.deployments import end_deployment, start_deployment
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import ProgramState
from acoupi.system.services import ServiceStatus
from acoupi.system.state import AcoupiStatus, get_status, is_configured

DEAD_BROKER = "pyamqp://guest@127.0.0.1:1//"


@pytest.fixture
def systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fake ``systemctl`` on PATH: ``session`` and the ``is-active`` answer."""
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)

    def install(session: bool = True, state: str = "active") -> None:
        bin_dir = tmp_path / "fake-bin"
        bin_dir.mkdir(exist_ok=True)
        script = bin_dir / "systemctl"
        script.write_text(
            "#!/bin/sh\n"
            'case "$2" in\n'
            f"  show-environment) exit {0 if session else 1};;\n"
            f"  is-active) echo {state}; exit 3;;\n"
            "esac\n"
            "exit 0\n"
        )
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")

    return install


@pytest.fixture
def configured(settings: Settings, systemctl) -> Settings:
    """The test program set up against a dead broker: no network waits."""
    systemctl(session=False)
    setup_program(settings, "acoupi.programs.test", args=["--broker_url", DEAD_BROKER])
    return settings


def test_is_configured_needs_all_three_files(settings: Settings) -> None:
    assert not is_configured(settings)
    files = [
        settings.program_config_file,
        settings.program_file,
        settings.program_name_file,
    ]
    for path in files[:-1]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
        assert not is_configured(settings)
    files[-1].write_text("x")
    assert is_configured(settings)


def test_is_configured_after_setup(configured: Settings) -> None:
    assert is_configured(configured)


def test_status_of_an_empty_home_does_not_raise(settings: Settings, systemctl) -> None:
    systemctl(session=False)

    status = get_status(settings)

    assert isinstance(status, AcoupiStatus)
    assert status.services.acoupi == ServiceStatus.UNINSTALLED
    assert status.services.beat == ServiceStatus.UNINSTALLED
    assert status.celery.state == CeleryState.UNAVAILABLE
    assert status.program == ProgramState.ERROR
    assert status.deployment is None


def test_status_of_a_configured_home(configured: Settings, systemctl) -> None:
    deployment = start_deployment(configured, "site", latitude=1.0, longitude=2.0)

    started = time.monotonic()
    status = get_status(configured)

    assert time.monotonic() - started < 5
    assert status.program == ProgramState.OK
    assert status.deployment == deployment
    assert status.celery.state == CeleryState.UNAVAILABLE
    # Units installed, but no session: the state is unknown, not "inactive",
    # and status says why instead of a bare "unknown".
    assert status.services.acoupi == ServiceStatus.UNKNOWN
    assert status.services.beat == ServiceStatus.UNKNOWN
    assert status.services.detail is not None
    assert "no systemd user session" in status.services.detail


def test_status_reads_the_services(configured: Settings, systemctl) -> None:
    systemctl(session=True, state="failed")

    status = get_status(configured)

    assert status.services.acoupi == ServiceStatus.FAILED
    assert status.services.beat == ServiceStatus.FAILED
    assert status.services.detail is None


def test_ended_deployment_is_not_current(configured: Settings) -> None:
    start_deployment(configured, "site")
    end_deployment(configured)

    assert get_status(configured).deployment is None


def test_unhealthy_program(configured: Settings) -> None:
    configured.program_config_file.write_text('{"name": "other"}')

    assert get_status(configured).program == ProgramState.UNHEALTHY


@pytest.mark.parametrize(
    ("path_of", "content"),
    [
        (lambda s: s.program_name_file, "acoupi.programs.does_not_exist"),
        (lambda s: s.program_config_file, "{broken"),
        (lambda s: s.celery_config_file, "[]"),
    ],
)
def test_broken_parts_are_reported_not_raised(
    configured: Settings, path_of, content: str
) -> None:
    path_of(configured).write_text(content)

    status = get_status(configured)

    assert status.program == ProgramState.ERROR


def test_broken_celery_config_is_a_celery_error(configured: Settings) -> None:
    configured.celery_config_file.write_text("[]")

    assert get_status(configured).celery.state == CeleryState.ERROR


def test_corrupt_deployment_is_no_deployment(configured: Settings) -> None:
    configured.deployment_file.write_text("{not json")

    status = get_status(configured)

    assert status.deployment is None
    assert status.program == ProgramState.OK


@pytest.mark.celery
def test_status_with_a_live_broker_and_no_workers(
    settings: Settings, rabbitmq_url: str, systemctl
) -> None:
    systemctl(session=False)
    setup_program(settings, "acoupi.programs.test", args=["--broker_url", rabbitmq_url])

    status = get_status(settings)

    assert status.celery.state == CeleryState.UNAVAILABLE
    assert status.celery.detail == "No Celery worker is running."
    assert status.program == ProgramState.OK


def test_status_is_serialisable(configured: Settings) -> None:
    status = get_status(configured)

    assert AcoupiStatus.model_validate_json(status.model_dump_json()) == status


def test_broker_wait_gives_up_a_read_that_hangs() -> None:
    import socket
    import time

    from acoupi.system.state import LEAST_BROKER_WAIT, BrokerWait

    # A read blocked for good: receiving from a peer that never sends.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = socket.create_connection(server.getsockname())
        wait = BrokerWait(0.0)

        started = time.monotonic()
        answered, value = wait.run(client.recv, 1)
        elapsed = time.monotonic() - started
        client.close()

    assert (answered, value) == (False, None)
    assert LEAST_BROKER_WAIT <= elapsed < 3
    assert wait.run(lambda: 42) == (True, 42)
    assert wait.run(lambda: 1 / 0) == (True, None)  # failed: unknown, not zero


def test_a_broker_given_up_is_not_waited_for_again() -> None:
    import socket
    import threading
    import time

    from acoupi.system.state import BrokerWait

    wait = BrokerWait(30.0)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = socket.create_connection(server.getsockname())
        # Another part finds the broker down while this read waits.
        threading.Timer(0.2, wait.give_up).start()

        started = time.monotonic()
        answered, _ = wait.run(client.recv, 1)
        elapsed = time.monotonic() - started
        client.close()

    assert not answered and elapsed < 10  # not the 30 s of the wait
    assert wait.run(lambda: 42) == (False, None)  # nor asked again


def test_a_silent_broker_is_named_in_the_status(configured: Settings) -> None:
    from acoupi.system.celery import broker_silent_status

    status = broker_silent_status(configured, 0.43)

    assert status.state == CeleryState.UNAVAILABLE
    assert status.detail is not None
    assert status.detail == (
        "The Celery broker at pyamqp://***@127.0.0.1:1// did not answer within 0.4 s."
    )
