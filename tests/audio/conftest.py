"""A private PulseAudio server: null sink, its monitor as the capture source.

Everything lives in the test's temporary folder (runtime dir, state,
config, cookie); the server is a child process killed by its pid. Capture
goes through the real path: PortAudio → ALSA "pulse" device
(libasound2-plugins) → this server, pointed to by ``PULSE_SERVER``.

The test skips only when the ``pulseaudio`` binary is absent (CI installs
it); a server that is installed but does not start fails with its log.
"""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List

import numpy as np
import pytest

from helpers import stop_process

SAMPLERATE = 48_000
SINK = "acoupi_test"


@dataclass
class PulseServer:
    """A running private PulseAudio server."""

    root: Path
    socket: Path
    env: dict
    log: Path
    samplerate: int = SAMPLERATE

    def play(self, frames: np.ndarray, name: str = "signal") -> subprocess.Popen:
        """Play int16 mono ``frames`` into the null sink (returns the player)."""
        raw = self.root / f"{name}.raw"
        raw.write_bytes(np.ascontiguousarray(frames, "<i2").tobytes())
        return subprocess.Popen(
            [
                "pacat",
                "--playback",
                f"--device={SINK}",
                f"--rate={self.samplerate}",
                "--channels=1",
                "--format=s16le",
                "--raw",
                str(raw),
            ],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


def _wait_for_socket(process: subprocess.Popen, socket: Path, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if socket.exists():
            return
        if process.poll() is not None:
            break
        time.sleep(0.05)
    pytest.fail(f"PulseAudio did not start. Its log:\n{log.read_text()}")


@pytest.fixture(scope="module")
def pulse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    """Start a private PulseAudio and point this process's ALSA at it."""
    if shutil.which("pulseaudio") is None or shutil.which("pacat") is None:
        pytest.skip(
            "pulseaudio is not installed (apt install pulseaudio pulseaudio-utils)"
        )
    root = tmp_path_factory.mktemp("pulse")
    runtime = root / "runtime"
    home = root / "home"
    for folder in (runtime, home, root / "state"):
        folder.mkdir(mode=0o700)
    socket = runtime / "native"
    script = root / "server.pa"
    script.write_text(
        f"load-module module-native-protocol-unix socket={socket} auth-anonymous=1\n"
        f"load-module module-null-sink sink_name={SINK} rate={SAMPLERATE} "
        "channels=1 format=s16le\n"
        f"set-default-sink {SINK}\n"
        f"set-default-source {SINK}.monitor\n"
    )
    client_conf = root / "client.conf"
    client_conf.write_text(f"autospawn = no\ndefault-server = unix:{socket}\n")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "PULSE_RUNTIME_PATH": str(runtime),
        "PULSE_STATE_PATH": str(root / "state"),
        "PULSE_CLIENTCONFIG": str(client_conf),
        "PULSE_COOKIE": str(root / "cookie"),
        "PULSE_SERVER": f"unix:{socket}",
    }
    log = root / "pulseaudio.log"
    command: List[str] = [
        "pulseaudio",
        "-n",  # only our script: no hardware, no suspend-on-idle
        f"--file={script}",
        "--daemonize=no",
        "--system=false",  # a per-user server even when run as root
        "--use-pid-file=no",
        "--exit-idle-time=-1",
        "--disallow-module-loading=yes",
        "--log-target=stderr",
        "--log-level=notice",
    ]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_socket(process, socket, log)
        with pytest.MonkeyPatch.context() as patch:
            for key in (
                "PULSE_SERVER",
                "PULSE_CLIENTCONFIG",
                "PULSE_COOKIE",
                "PULSE_RUNTIME_PATH",
                "XDG_RUNTIME_DIR",
            ):
                patch.setenv(key, env[key])
            # PortAudio lists ALSA devices once, at initialisation: redo it
            # now that the "pulse" device can reach our server.
            from acoupi.devices.audio import selection as devices

            devices.refresh_devices()
            yield PulseServer(root=root, socket=socket, env=env, log=log)
        devices.refresh_devices()
    finally:
        stop_process(process, 5)
