"""Tests of acoupi.system.lifecycle: setup, start and stop with real files.

systemd is simulated by a fake ``systemctl`` on PATH that records its
calls; the broker is the real local RabbitMQ.
"""

import json
import sys
from pathlib import Path
from typing import Callable, List, Sequence

import pytest

from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.deployments import (
    end_deployment,
    get_current_deployment,
    load_deployment_from_file,
    start_deployment,
)
from acoupi.system.exceptions import (
    CeleryUnavailableError,
    DeploymentError,
    ParameterError,
    ProgramNotFoundError,
    ServiceError,
)
from acoupi.system.lifecycle import setup_program, start_program, stop_program
from acoupi.system.state import is_configured

PROBE = "acoupi_lifecycle_probe"

PROBE_SOURCE = """
from pathlib import Path

from pydantic import BaseModel

from acoupi.programs.core.base import AcoupiProgram


class ProbeConfig(BaseModel):
    events_file: str
    fail_on: str = ""
    count: int = 1


class ProbeProgram(AcoupiProgram[ProbeConfig]):
    config_schema = ProbeConfig

    def _record(self, event):
        with open(self.config.events_file, "a") as handle:
            handle.write(event + "\\n")

    def on_start(self, deployment):
        self._record(f"start {deployment.name}")
        if self.config.fail_on == "start":
            raise RuntimeError("on_start failed")

    def on_end(self, deployment):
        self._record(f"end {deployment.name} ended={deployment.ended_on is not None}")
"""

SystemctlFactory = Callable[..., Path]


@pytest.fixture
def probe_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    package_dir = tmp_path / "programs"
    package_dir.mkdir()
    (package_dir / f"{PROBE}.py").write_text(PROBE_SOURCE)
    monkeypatch.syspath_prepend(str(package_dir))
    monkeypatch.delitem(sys.modules, PROBE, raising=False)
    return PROBE


@pytest.fixture
def events(tmp_path: Path) -> Path:
    return tmp_path / "events.txt"


def _events(path: Path) -> List[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SystemctlFactory:
    """Install a fake ``systemctl`` on PATH; returns its call log."""
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)

    def install(session: bool = True, fail: Sequence[str] = ()) -> Path:
        bin_dir = tmp_path / "fake-bin"
        bin_dir.mkdir(exist_ok=True)
        log = tmp_path / "systemctl.log"
        failing = "".join(
            f'if [ "$2" = "{verb}" ]; then echo "Failed to {verb} $3" >&2; exit 1; fi\n'
            for verb in fail
        )
        script = bin_dir / "systemctl"
        script.write_text(
            "#!/bin/sh\n"
            f'echo "$*" >> "{log}"\n'
            'case "$2" in\n'
            f"  show-environment) exit {0 if session else 1};;\n"
            "  is-active) echo active; exit 0;;\n"
            "esac\n"
            f"{failing}"
            "exit 0\n"
        )
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
        return log

    return install


def _verbs(log: Path) -> List[str]:
    """Unit-changing calls, e.g. ``enable acoupi.service``."""
    if not log.exists():
        return []
    calls = [line.split() for line in log.read_text().splitlines()]
    return [
        " ".join(call[1:])
        for call in calls
        if call[1] in {"enable", "disable", "start", "stop"}
    ]


@pytest.fixture
def probe_setup(
    settings: Settings, probe_module: str, events: Path, rabbitmq_url: str
) -> Callable[..., Settings]:
    def setup(*extra: str) -> Settings:
        setup_program(
            settings,
            probe_module,
            args=["--events_file", str(events), "--broker_url", rabbitmq_url, *extra],
        )
        return settings

    return setup


# --------------------------------------------------------------------------
# setup_program


def _unit_dir(settings: Settings) -> Path:
    return Path.home() / ".config" / "systemd" / "user"


def test_setup_writes_everything(
    settings: Settings, rabbitmq_url: str, systemctl: SystemctlFactory
) -> None:
    systemctl(session=False)
    assert not is_configured(settings)

    setup_program(settings, "acoupi.programs.test", args=["--broker_url", rabbitmq_url])

    assert is_configured(settings)
    assert settings.program_name_file.read_text() == "acoupi.programs.test"
    assert json.loads(settings.program_config_file.read_text()) == {
        "name": "test_program"
    }
    celery_config = CeleryConfig.model_validate_json(
        settings.celery_config_file.read_text()
    )
    assert celery_config.broker_url == rabbitmq_url
    assert "get_celery_app" in settings.program_file.read_text()
    for script in (
        settings.start_script_path,
        settings.stop_script_path,
        settings.restart_script_path,
        settings.beat_script_path,
    ):
        assert script.stat().st_mode & 0o111
    assert "acoupi" in settings.start_script_path.read_text()
    assert settings.run_dir.is_dir()
    assert settings.log_dir.is_dir()
    units = _unit_dir(settings)
    assert (units / settings.acoupi_service_file).is_file()
    assert (units / settings.acoupi_beat_service_file).is_file()


def _snapshot(settings: Settings) -> dict:
    files = [
        settings.program_name_file,
        settings.program_config_file,
        settings.celery_config_file,
        settings.program_file,
        settings.start_script_path,
    ]
    return {path: path.read_text() for path in files}


def test_failed_setup_keeps_the_previous_setup(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory
) -> None:
    systemctl(session=False)
    settings = probe_setup("--count", "3")
    before = _snapshot(settings)

    with pytest.raises(ParameterError):
        setup_program(
            settings, "acoupi.programs.test", args=["--task_time_limit", "soon"]
        )

    assert _snapshot(settings) == before


def test_setup_of_a_missing_program_writes_nothing(
    settings: Settings, systemctl: SystemctlFactory
) -> None:
    systemctl(session=False)

    with pytest.raises(ProgramNotFoundError):
        setup_program(settings, "acoupi.programs.does_not_exist")

    assert not settings.home.exists()


def test_setup_program_config_error_writes_nothing(
    settings: Settings, probe_module: str, systemctl: SystemctlFactory
) -> None:
    systemctl(session=False)

    with pytest.raises(ParameterError):
        # events_file is required and prompting is off.
        setup_program(settings, probe_module, args=[])

    assert not settings.home.exists()


def test_setup_with_an_invalid_unit_name_writes_nothing(
    systemctl: SystemctlFactory,
) -> None:
    systemctl(session=False)
    settings = Settings(acoupi_service_file="not a unit")

    with pytest.raises(ServiceError):
        setup_program(settings, "acoupi.programs.test")

    assert not settings.home.exists()


# --------------------------------------------------------------------------
# start_program


def test_start_enables_and_starts_services(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory, events: Path
) -> None:
    settings = probe_setup()
    log = systemctl()

    deployment = start_program(settings, "site", latitude=10.0, longitude=20.0)

    assert get_current_deployment(settings) == deployment
    assert deployment.latitude == 10.0
    assert _events(events) == ["start site"]
    assert _verbs(log) == [
        "enable acoupi.service",
        "enable acoupi-beat.service",
        "start acoupi.service",
        "start acoupi-beat.service",
    ]


def test_start_twice_keeps_the_first_deployment(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory, events: Path
) -> None:
    settings = probe_setup()
    log = systemctl()
    first = start_program(settings, "first")
    calls = _verbs(log)

    with pytest.raises(DeploymentError) as info:
        start_program(settings, "second")

    assert info.value.help is not None
    assert "acoupi deployment stop" in info.value.help
    assert get_current_deployment(settings) == first
    assert _verbs(log) == calls
    assert _events(events) == ["start first"]


def test_start_without_session_changes_nothing(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory, events: Path
) -> None:
    settings = probe_setup()
    log = systemctl(session=False)

    with pytest.raises(ServiceError) as info:
        start_program(settings, "site")

    assert info.value.help
    assert not settings.deployment_file.exists()
    assert _verbs(log) == []
    assert _events(events) == []


def test_start_with_dead_broker_changes_nothing(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory, events: Path
) -> None:
    settings = probe_setup()
    settings.celery_config_file.write_text(
        CeleryConfig(broker_url="pyamqp://guest@127.0.0.1:1//").model_dump_json()
    )
    log = systemctl()

    with pytest.raises(CeleryUnavailableError):
        start_program(settings, "site")

    assert not settings.deployment_file.exists()
    assert _verbs(log) == []


def test_start_failing_in_on_start_leaves_no_deployment(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory, events: Path
) -> None:
    settings = probe_setup("--fail_on", "start")
    log = systemctl()

    with pytest.raises(RuntimeError, match="on_start failed"):
        start_program(settings, "site")

    assert not settings.deployment_file.exists()
    assert _verbs(log) == []


def test_start_failing_in_systemd_undoes_everything(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory
) -> None:
    settings = probe_setup()
    log = systemctl(fail=["start"])

    with pytest.raises(ServiceError) as info:
        start_program(settings, "site")

    assert "start" in info.value.message
    assert not settings.deployment_file.exists()
    # Services enabled before the failure are disabled again.
    verbs = _verbs(log)
    assert verbs[-2:] == ["disable acoupi-beat.service", "disable acoupi.service"]


def test_failed_start_restores_the_previous_ended_deployment(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory
) -> None:
    settings = probe_setup("--fail_on", "start")
    start_deployment(settings, "last-season")
    previous = end_deployment(settings)
    systemctl()

    with pytest.raises(RuntimeError):
        start_program(settings, "site")

    assert load_deployment_from_file(settings.deployment_file) == previous


def test_invalid_coordinates_are_rejected_before_anything_runs(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory, events: Path
) -> None:
    settings = probe_setup()
    log = systemctl()

    with pytest.raises(ValueError, match="latitude must be between -90 and 90"):
        start_program(settings, "site", latitude=200)

    assert not settings.deployment_file.exists()
    assert _verbs(log) == []
    assert _events(events) == []


# --------------------------------------------------------------------------
# stop_program


def test_stop_ends_the_deployment(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory, events: Path
) -> None:
    settings = probe_setup()
    log = systemctl()
    started = start_program(settings, "site")

    ended = stop_program(settings)

    assert ended.id == started.id
    assert ended.ended_on is not None
    assert load_deployment_from_file(settings.deployment_file) == ended
    assert _events(events) == ["start site", "end site ended=True"]
    assert _verbs(log)[-4:] == [
        "stop acoupi-beat.service",
        "stop acoupi.service",
        "disable acoupi-beat.service",
        "disable acoupi.service",
    ]


def test_stop_without_start_fails_with_help(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory, events: Path
) -> None:
    settings = probe_setup()
    systemctl()

    with pytest.raises(DeploymentError) as info:
        stop_program(settings)

    assert info.value.help
    assert _events(events) == []


def test_stop_without_session_still_ends_the_deployment(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory, events: Path
) -> None:
    settings = probe_setup()
    systemctl()
    start_program(settings, "site")
    log = systemctl(session=False)
    calls = _verbs(log)

    ended = stop_program(settings)

    assert ended.ended_on is not None
    assert _events(events) == ["start site", "end site ended=True"]
    assert _verbs(log) == calls


def test_start_again_after_stop(
    probe_setup: Callable[..., Settings], systemctl: SystemctlFactory
) -> None:
    settings = probe_setup()
    systemctl()
    start_program(settings, "first")
    stop_program(settings)

    second = start_program(settings, "second")

    assert get_current_deployment(settings) == second
