"""Defect 6 (permissions): acoupi's files are private whatever the umask.

Under umask 000 the broker folders were 0777: any local user could drop a
pickled message that then ran as the acoupi user.
"""

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np

from acoupi.audio.wav import write_wav
from acoupi.system.permissions import restrict_umask
from fault_support import FaultTable

ACOUPI_BIN = Path(sys.executable).parent / "acoupi"


def _modes(root: Path) -> dict[str, int]:
    return {
        str(path.relative_to(root)): stat.S_IMODE(path.stat().st_mode)
        for path in [root, *root.rglob("*")]
    }


def test_setup_under_umask_000_creates_private_state(
    cli_env: dict[str, str], isolated_home: Path, fault_table: FaultTable
) -> None:
    result = subprocess.run(
        [str(ACOUPI_BIN), "setup", "--program", "acoupi.programs.test", "--no-prompt"],
        env=cli_env,
        capture_output=True,
        text=True,
        preexec_fn=lambda: os.umask(0),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    home = isolated_home / ".acoupi"
    modes = _modes(home)
    scripts = {name for name in modes if name.startswith("bin/")}
    loose = {
        name: oct(mode)
        for name, mode in modes.items()
        if name not in scripts and mode & 0o077
    }
    assert loose == {}, f"readable or writable by others: {loose}"
    fault_table.add(
        "umask 000",
        "acoupi setup run under umask 000",
        visible=f"{len(modes)} paths, none open to others (scripts 0755)",
    )


def test_recordings_are_private(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        path = write_wav(
            tmp_path / "r.wav", np.zeros(80, dtype=np.int16), samplerate=8000
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_restrict_umask_only_tightens() -> None:
    previous = os.umask(0o027)
    try:
        restrict_umask()
        assert os.umask(0o027) == 0o077
    finally:
        os.umask(previous)
