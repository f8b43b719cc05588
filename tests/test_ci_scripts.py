"""The test tooling changes nothing machine-wide beyond installing packages."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = ("pulseaudio.service", "pulseaudio.socket")


def test_services_undoes_the_pulseaudio_enablement_of_its_install() -> None:
    script = (ROOT / ".ci" / "services").read_text()
    install = script.index("apt-get install")
    assert "private-pulseaudio" in script[install:], "not undone after install"


def test_private_pulseaudio_removes_the_global_user_units(tmp_path: Path) -> None:
    """What the pulseaudio package's postinst leaves, then undone."""
    if shutil.which("bash") is None:
        pytest.skip("bash is needed")
    image = tmp_path / "root"
    units = image / "usr/lib/systemd/user"
    units.mkdir(parents=True)
    for unit, wants in zip(UNITS, ("default", "sockets"), strict=True):
        (units / unit).write_text(
            f"[Unit]\nDescription=x\n[Install]\nWantedBy={wants}.target\n"
            if unit.endswith(".service")
            else f"[Socket]\nListenStream=x\n[Install]\nWantedBy={wants}.target\n"
        )
        link = image / f"etc/systemd/user/{wants}.target.wants/{unit}"
        link.parent.mkdir(parents=True)
        link.symlink_to(f"/usr/lib/systemd/user/{unit}")
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "private-pulseaudio"), "--root", str(image)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert not list((image / "etc/systemd/user").rglob("pulseaudio.*"))
    assert (units / UNITS[0]).exists()  # the package's files stay
