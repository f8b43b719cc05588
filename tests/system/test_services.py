"""systemd user units: generation, validity and the systemctl commands run.

Only ``systemctl`` itself is faked: a script on PATH that records its
arguments and answers according to environment variables.
"""

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from acoupi.programs.core.workers import AcoupiWorker, WorkerConfig
from acoupi.system import scripts, services
from acoupi.system.constants import Settings
from acoupi.system.exceptions import ServiceError
from acoupi.system.services import ServiceStatus

FAKE_SYSTEMCTL = r"""#!/bin/bash
printf '%s\n' "$*" >> "$FAKE_SYSTEMCTL_LOG"
case "$2" in
  show-environment)
    if [ -n "$FAKE_SLOW" ]; then exec sleep 5; fi
    if [ -n "$FAKE_SESSION" ]; then echo "HOME=/x"; exit 0; fi
    echo "Failed to connect to bus: No medium found" >&2; exit 1 ;;
  is-active)
    echo "${FAKE_IS_ACTIVE:-inactive}"; exit 3 ;;
  "$FAKE_FAIL_VERB")
    echo "Job for $3 failed." >&2; exit 1 ;;
esac
exit 0
"""


class FakeSystemctl:
    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch):
        self.path = directory / "systemctl"
        self.log = directory / "calls.log"
        directory.mkdir()
        self.path.write_text(FAKE_SYSTEMCTL)
        self.path.chmod(0o755)
        self.monkeypatch = monkeypatch
        monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("FAKE_SYSTEMCTL_LOG", str(self.log))
        for name in ("FAKE_SESSION", "FAKE_SLOW", "FAKE_IS_ACTIVE", "FAKE_FAIL_VERB"):
            monkeypatch.delenv(name, raising=False)

    def session(self, present: bool = True) -> None:
        if present:
            self.monkeypatch.setenv("FAKE_SESSION", "1")
        else:
            self.monkeypatch.delenv("FAKE_SESSION", raising=False)

    def calls(self, skip_probes: bool = True) -> list[str]:
        if not self.log.exists():
            return []
        lines = self.log.read_text().splitlines()
        if skip_probes:
            lines = [line for line in lines if line != "--user show-environment"]
        return lines


@pytest.fixture
def systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSystemctl:
    return FakeSystemctl(tmp_path / "fakebin", monkeypatch)


@pytest.fixture
def unit_dir(tmp_path: Path) -> Path:
    return tmp_path / "units"


# Unit directory --------------------------------------------------------------


def test_user_unit_dir(
    isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert services.get_user_unit_dir() == isolated_home / ".config/systemd/user"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert services.get_user_unit_dir() == tmp_path / "xdg/systemd/user"
    # The XDG spec says relative values are invalid and must be ignored.
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative")
    assert services.get_user_unit_dir() == isolated_home / ".config/systemd/user"


# Installing ---------------------------------------------------------------------


def test_install_writes_units_and_env_file(
    settings: Settings, unit_dir: Path, systemctl: FakeSystemctl
) -> None:
    assert not services.services_are_installed(settings, unit_dir)
    services.install_services(settings, unit_dir)
    assert services.services_are_installed(settings, unit_dir)

    main = (unit_dir / "acoupi.service").read_text()
    beat = (unit_dir / "acoupi-beat.service").read_text()
    assert "Type=forking" in main
    assert f"EnvironmentFile={settings.env_file}\n" in main
    assert f"WorkingDirectory={settings.home}\n" in main
    assert f"ExecStart={settings.start_script_path}\n" in main
    assert f"ExecStop={settings.stop_script_path}\n" in main
    assert f"ExecReload={settings.restart_script_path}\n" in main
    assert "Type=simple" in beat
    assert f"ExecStart={settings.beat_script_path}\n" in beat
    assert "After=network.target acoupi.service" in beat
    for unit in (main, beat):
        assert "Restart=on-failure" in unit
        assert "RestartSec=" in unit
        assert "StartLimitBurst=" in unit
        assert "StartLimitIntervalSec=" in unit
        assert "WantedBy=default.target" in unit
        assert "celery.json" not in unit
        assert "StandardOutput=journal" in unit

    assert stat.S_IMODE(settings.env_file.stat().st_mode) == 0o600
    assert f'ACOUPI_HOME="{settings.home}"' in settings.env_file.read_text()
    # No session: no daemon-reload attempted.
    assert systemctl.calls() == []


def test_install_reloads_systemd(
    settings: Settings, unit_dir: Path, systemctl: FakeSystemctl
) -> None:
    systemctl.session()
    services.install_services(settings, unit_dir)
    assert systemctl.calls() == ["--user daemon-reload"]


def test_install_defaults_to_the_user_unit_dir(
    settings: Settings, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    services.install_services(settings)
    assert (isolated_home / ".config/systemd/user/acoupi.service").exists()
    assert services.services_are_installed(settings)


def test_unit_names_come_from_settings(
    settings: Settings, unit_dir: Path, systemctl: FakeSystemctl
) -> None:
    settings = settings.model_copy(
        update={
            "acoupi_service_file": "bats.service",
            "acoupi_beat_service_file": "bats-beat.service",
        }
    )
    systemctl.session()
    services.start_services(settings, unit_dir)
    assert (unit_dir / "bats.service").exists()
    assert (
        "After=network.target bats.service"
        in (unit_dir / "bats-beat.service").read_text()
    )
    assert systemctl.calls() == [
        "--user daemon-reload",
        "--user start bats.service",
        "--user start bats-beat.service",
    ]


def test_invalid_unit_name(settings: Settings, unit_dir: Path) -> None:
    settings = settings.model_copy(update={"acoupi_service_file": "my acoupi"})
    with pytest.raises(ServiceError, match="not a valid systemd service name"):
        services.install_services(settings, unit_dir)
    assert not unit_dir.exists()


def test_uninstall(
    settings: Settings, unit_dir: Path, systemctl: FakeSystemctl
) -> None:
    services.install_services(settings, unit_dir)
    systemctl.session()
    services.uninstall_services(settings, unit_dir)
    assert not services.services_are_installed(settings, unit_dir)
    assert list(unit_dir.iterdir()) == []
    services.uninstall_services(settings, unit_dir)  # missing files are fine
    assert systemctl.calls() == ["--user daemon-reload", "--user daemon-reload"]


# Units that systemd accepts --------------------------------------------------------


@pytest.fixture
def nasty_settings(tmp_path: Path) -> Settings:
    home = tmp_path / 'my h\'ome "q" $USER 50% \\' / ".acoupi"
    return Settings(home=home)


def test_env_file_round_trips_through_shell_parsing(nasty_settings: Settings) -> None:
    services.write_env_file(nasty_settings)
    # systemd's EnvironmentFile= double-quote rules are the shell's.
    names = [f"ACOUPI_{name.upper()}" for name in Settings.model_fields]
    script = 'set -a; . "$1"; shift; for n in "$@"; do printf "%s\\0" "${!n}"; done'
    out = subprocess.run(
        ["bash", "-c", script, "bash", str(nasty_settings.env_file), *names],
        capture_output=True,
        check=True,
    ).stdout.decode()
    values = dict(zip(names, out.split("\0")[:-1], strict=True))
    assert values["ACOUPI_HOME"] == str(nasty_settings.home)
    assert Settings(**{n[len("ACOUPI_") :].lower(): v for n, v in values.items()}) == (
        nasty_settings
    )


def test_units_with_nasty_home(
    nasty_settings: Settings, unit_dir: Path, tmp_path: Path
) -> None:
    celery = tmp_path / "celery"
    celery.write_text("#!/bin/sh\n")
    celery.chmod(0o755)
    config = WorkerConfig(workers=[AcoupiWorker(name="acoupi")])
    scripts.write_scripts(config, nasty_settings, celery_bin=celery)
    services.install_services(nasty_settings, unit_dir)
    main = (unit_dir / "acoupi.service").read_text()
    # Quotes in the script path: systemd only accepts them as an argument.
    expected = str(nasty_settings.start_script_path)
    expected = expected.replace("%", "%%").replace("$", "$$")
    expected = expected.replace("\\", "\\\\").replace('"', '\\"')
    assert f'ExecStart=/bin/bash "{expected}"\n' in main
    assert (
        "WorkingDirectory=" + str(nasty_settings.home).replace("%", "%%") + "\n" in main
    )

    verify = shutil.which("systemd-analyze")
    if verify is None:
        pytest.skip("systemd-analyze is not installed")
    for name in ("acoupi.service", "acoupi-beat.service"):
        result = subprocess.run(
            [verify, "verify", str(unit_dir / name)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "special characters" not in result.stderr


def test_line_break_in_home_is_refused(tmp_path: Path, unit_dir: Path) -> None:
    settings = Settings(home=tmp_path / "a\nb")
    with pytest.raises(ServiceError, match="line break"):
        services.install_services(settings, unit_dir)


# Driving the services ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "verb", "beat_first"),
    [
        (services.enable_services, "enable", False),
        (services.start_services, "start", False),
        (services.stop_services, "stop", True),
        (services.disable_services, "disable", True),
    ],
)
def test_verbs_run_systemctl_in_order(
    settings: Settings,
    unit_dir: Path,
    systemctl: FakeSystemctl,
    function,
    verb: str,
    beat_first: bool,
) -> None:
    services.install_services(settings, unit_dir)
    systemctl.session()
    function(settings, unit_dir)
    units = ["acoupi.service", "acoupi-beat.service"]
    if beat_first:
        units.reverse()
    assert systemctl.calls() == [f"--user {verb} {unit}" for unit in units]


def test_verbs_install_missing_units(
    settings: Settings, unit_dir: Path, systemctl: FakeSystemctl
) -> None:
    systemctl.session()
    services.enable_services(settings, unit_dir)
    assert services.services_are_installed(settings, unit_dir)
    assert systemctl.calls()[0] == "--user daemon-reload"


@pytest.mark.parametrize(
    "function",
    [
        services.enable_services,
        services.start_services,
        services.stop_services,
        services.disable_services,
        services.status_services,
    ],
)
def test_no_session_raises_a_helpful_error(
    settings: Settings, unit_dir: Path, systemctl: FakeSystemctl, function
) -> None:
    with pytest.raises(ServiceError) as info:
        function(settings, unit_dir)
    help_text = info.value.help or ""
    assert "no systemd user session" in help_text
    assert "acoupi deployment start --foreground" in help_text
    assert "acoupi run" in help_text
    assert "loginctl enable-linger" in help_text
    # Nothing but the session probe ran.
    assert systemctl.calls() == []


def test_no_systemctl_at_all(
    settings: Settings, unit_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert not services.has_systemd_user_session()
    assert services.get_service_status("acoupi.service") == ServiceStatus.UNKNOWN
    with pytest.raises(ServiceError):
        services.start_services(settings, unit_dir)


def test_session_probe(
    systemctl: FakeSystemctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not services.has_systemd_user_session()
    systemctl.session()
    assert services.has_systemd_user_session()
    monkeypatch.setenv("FAKE_SLOW", "1")
    monkeypatch.setattr(services, "SESSION_CHECK_TIMEOUT", 0.2)
    assert not services.has_systemd_user_session()


def test_failing_systemctl_raises_service_error(
    settings: Settings,
    unit_dir: Path,
    systemctl: FakeSystemctl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services.install_services(settings, unit_dir)
    systemctl.session()
    monkeypatch.setenv("FAKE_FAIL_VERB", "start")
    with pytest.raises(ServiceError) as info:
        services.start_services(settings, unit_dir)
    assert "Job for acoupi.service failed." in info.value.message
    assert "journalctl --user -u acoupi.service" in (info.value.help or "")
    # The beat unit is not started once the workers failed.
    assert systemctl.calls() == ["--user start acoupi.service"]


def test_status_services(
    settings: Settings, unit_dir: Path, systemctl: FakeSystemctl
) -> None:
    systemctl.session()
    results = services.status_services(settings, unit_dir, capture_output=True)
    assert [r.returncode for r in results] == [0, 0]
    assert systemctl.calls() == [
        "--user status acoupi.service",
        "--user status acoupi-beat.service",
    ]


# Status ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("active", ServiceStatus.ACTIVE),
        ("failed", ServiceStatus.FAILED),
        ("activating", ServiceStatus.ACTIVATING),
        ("inactive", ServiceStatus.INACTIVE),
        ("something-new", ServiceStatus.UNKNOWN),
    ],
)
def test_service_status(
    systemctl: FakeSystemctl,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    status: ServiceStatus,
) -> None:
    systemctl.session()
    monkeypatch.setenv("FAKE_IS_ACTIVE", answer)
    assert services.get_service_status("x.service") == status
    assert systemctl.calls() == ["--user is-active x.service"]


def test_service_status_without_session(
    systemctl: FakeSystemctl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_IS_ACTIVE", "active")
    assert services.get_service_status("x.service") == ServiceStatus.UNKNOWN


def test_acoupi_service_statuses(
    settings: Settings,
    unit_dir: Path,
    systemctl: FakeSystemctl,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    systemctl.session()
    monkeypatch.setenv("FAKE_IS_ACTIVE", "active")
    assert services.get_acoupi_service_status(settings, unit_dir) == (
        ServiceStatus.UNINSTALLED
    )
    assert services.get_acoupi_beat_service_status(settings, unit_dir) == (
        ServiceStatus.UNINSTALLED
    )
    services.install_services(settings, unit_dir)
    assert (
        services.get_acoupi_service_status(settings, unit_dir) == ServiceStatus.ACTIVE
    )
    assert services.get_acoupi_beat_service_status(settings, unit_dir) == (
        ServiceStatus.ACTIVE
    )
    assert systemctl.calls()[-2:] == [
        "--user is-active acoupi.service",
        "--user is-active acoupi-beat.service",
    ]


FAKE_LOGINCTL = r"""#!/bin/bash
printf '%s\n' "$*" >> "$FAKE_LOGINCTL_LOG"
case "$1" in
  show-user) echo "${FAKE_LINGER:-no}" ;;
  enable-linger)
    [ -n "$FAKE_LINGER_ALLOWED" ] || { echo "Access denied" >&2; exit 1; } ;;
esac
"""


@pytest.mark.parametrize(
    ("linger", "allowed", "warned", "enabled"),
    [("yes", "", False, False), ("no", "1", False, True), ("no", "", True, True)],
)
def test_ensure_linger(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    linger: str,
    allowed: str,
    warned: bool,
    enabled: bool,
) -> None:
    fakebin = tmp_path / "bin"
    fakebin.mkdir()
    (fakebin / "loginctl").write_text(FAKE_LOGINCTL)
    (fakebin / "loginctl").chmod(0o755)
    log = tmp_path / "loginctl.log"
    monkeypatch.setenv("PATH", f"{fakebin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_LOGINCTL_LOG", str(log))
    monkeypatch.setenv("FAKE_LINGER", linger)
    monkeypatch.setenv("FAKE_LINGER_ALLOWED", allowed)
    warning = services.ensure_linger()
    assert (warning is not None) == warned
    if warning is not None:
        assert "loginctl enable-linger" in warning and "reboot" in warning
    calls = log.read_text().splitlines()
    assert any(call.startswith("enable-linger") for call in calls) == enabled


# Dashboard unit -------------------------------------------------------------


def test_enabled_dashboard_is_a_third_unit_started_and_stopped_with_the_others(
    settings: Settings, unit_dir: Path, systemctl: FakeSystemctl
) -> None:
    import sys

    from acoupi.system.dashboard_settings import DashboardConfig, save_config

    services.install_services(settings, unit_dir)
    assert not (unit_dir / "acoupi-dashboard.service").exists()
    save_config(settings, DashboardConfig(enabled=True))
    assert not services.services_are_installed(settings, unit_dir)
    systemctl.session()
    services.start_services(settings, unit_dir)
    unit = (unit_dir / "acoupi-dashboard.service").read_text()
    assert f"ExecStart={sys.executable} -m acoupi dashboard\n" in unit
    assert "After=network.target acoupi.service" in unit
    assert f"EnvironmentFile={settings.env_file}\n" in unit
    assert "Restart=on-failure" in unit
    services.stop_services(settings, unit_dir)
    assert systemctl.calls() == [
        "--user daemon-reload",
        "--user start acoupi.service",
        "--user start acoupi-beat.service",
        "--user start acoupi-dashboard.service",
        "--user stop acoupi-dashboard.service",
        "--user stop acoupi-beat.service",
        "--user stop acoupi.service",
    ]
    services.uninstall_services(settings, unit_dir)
    assert not (unit_dir / "acoupi-dashboard.service").exists()


def test_disabling_the_dashboard_stops_and_removes_only_its_unit(
    settings: Settings, unit_dir: Path, systemctl: FakeSystemctl
) -> None:
    from acoupi.system.dashboard_settings import DashboardConfig, save_config

    save_config(settings, DashboardConfig(enabled=True))
    systemctl.session()
    services.install_services(settings, unit_dir)
    save_config(settings, DashboardConfig(enabled=False))
    assert services.remove_dashboard_unit(settings, unit_dir) is True
    assert not (unit_dir / "acoupi-dashboard.service").exists()
    assert (unit_dir / "acoupi.service").exists()
    assert systemctl.calls() == [
        "--user daemon-reload",
        "--user stop acoupi-dashboard.service",
        "--user disable acoupi-dashboard.service",
        "--user daemon-reload",
    ]
    assert services.remove_dashboard_unit(settings, unit_dir) is False
