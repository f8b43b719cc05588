"""Fixtures for component tests: a private PipeWire with a virtual source."""

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed: run `.ci/services` "
            "(packages pipewire, pipewire-bin, wireplumber, dbus-daemon)."
        )


@pytest.fixture
def pipewire_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private PipeWire (with WirePlumber) and a virtual source in it."""
    _require("pipewire", "wireplumber", "dbus-run-session", "pw-cli", "pw-record")
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("PIPEWIRE_REMOTE", "acoupi-test-pw")
    env = dict(os.environ)
    logs = tmp_path / "pipewire.log"
    started = []
    with open(logs, "w") as log:
        started.append(
            subprocess.Popen(
                ["pipewire"],
                env={**env, "PIPEWIRE_CORE": "acoupi-test-pw"},
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )
        try:
            deadline = time.monotonic() + 10
            while not (runtime / "acoupi-test-pw").exists():
                assert time.monotonic() < deadline, logs.read_text()
                time.sleep(0.05)
            started.append(
                subprocess.Popen(
                    ["dbus-run-session", "--", "wireplumber"],
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
            name = f"acoupi-test-{uuid.uuid4().hex[:6]}"
            subprocess.run(
                [
                    "pw-cli",
                    "create-node",
                    "adapter",
                    "{ factory.name=support.null-audio-sink node.name="
                    + name
                    + " media.class=Audio/Source/Virtual object.linger=true"
                    " audio.position=[MONO] }",
                ],
                env=env,
                check=True,
                capture_output=True,
                timeout=10,
            )
            yield name
        finally:
            for process in reversed(started):
                os.killpg(process.pid, 15)
                process.wait(timeout=10)
