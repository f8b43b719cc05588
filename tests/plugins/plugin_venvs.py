"""Cached virtual environments with acoupi (this checkout) and a plugin.

A plugin is installed the way a user installs it: a fresh venv, our package
(``pip install -e`` of this checkout, so the venv follows the code under
test), then the plugin and its dependencies. Venvs live in
``<repo>/.cache/plugin-venvs/<name>-<hash>`` (outside the home and outside
git), keyed by the install steps and ``pyproject.toml``; a venv is built in a
temporary folder and renamed into place, so an interrupted build is never
mistaken for a finished one. A lock file per venv name makes a second test
process (pytest-xdist runs two) wait for the build instead of racing it.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Tuple

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "plugin-venvs"


@dataclass(frozen=True)
class PluginVenv:
    """A built venv and how long building it took (0 when cached)."""

    path: Path
    build_seconds: float

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def acoupi(self) -> Path:
        return self.path / "bin" / "acoupi"


OURS = ("-e", str(REPO))
"""The first install step by default: this checkout, editable."""


def _key(steps: Sequence[Sequence[str]]) -> str:
    digest = hashlib.sha256(json.dumps([list(s) for s in steps]).encode())
    if tuple(steps[0]) == OURS:
        digest.update((REPO / "pyproject.toml").read_bytes())
    return digest.hexdigest()[:12]


def ensure_venv(
    name: str,
    steps: Tuple[Tuple[str, ...], ...],
    timeout: float = 900,
    base: Tuple[str, ...] = OURS,
) -> PluginVenv:
    """Return the venv ``name`` built by ``steps`` (``pip install`` arguments).

    ``base`` is installed first, by default our package (editable; the
    benches pass e.g. ``("acoupi==0.3.2",)`` to run a plugin on upstream),
    then each step in order, so a step can pin what a later one must not
    replace (e.g. the CPU torch).
    """
    all_steps = (base, *steps)
    final = CACHE / f"{name}-{_key(all_steps)}"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        # Held until the venv is whole: its paths are fixed after the rename.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / "bin" / "python").exists():
            return PluginVenv(final, 0.0)
        return _build(name, final, all_steps, timeout)


def _build(
    name: str, final: Path, all_steps: Sequence[Sequence[str]], timeout: float
) -> PluginVenv:
    building = CACHE / f".{final.name}.{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True)
    pip = [str(building / "bin" / "python"), "-m", "pip", "install", "-q"]
    deadline = start + timeout
    try:
        for step in all_steps:
            subprocess.run(
                [*pip, *step],
                check=True,
                timeout=max(1.0, deadline - time.monotonic()),
                stdin=subprocess.DEVNULL,
            )
        # venvs hold absolute paths: build in place under the final name.
        os.rename(building, final)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _fix_paths(final, building)
    # Older builds of this venv (other steps or pyproject.toml) are ~2 GB each.
    for stale in CACHE.glob(f"{name}-*"):
        if stale != final:
            shutil.rmtree(stale, ignore_errors=True)
    return PluginVenv(final, time.monotonic() - start)


def _fix_paths(venv: Path, built_at: Path) -> None:
    """Point scripts and ``pyvenv.cfg`` at the venv's final folder."""
    for path in [venv / "pyvenv.cfg", *(venv / "bin").iterdir()]:
        if not path.is_file() or path.is_symlink():
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue  # a binary
        if str(built_at) in text:
            path.write_text(text.replace(str(built_at), str(venv)))


def missing_requirements(venv: PluginVenv) -> list[str]:
    """Return ``pip check``'s complaints (one line each), if any."""
    result = subprocess.run(
        [str(venv.python), "-m", "pip", "check"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode == 0:
        return []
    return [line for line in result.stdout.splitlines() if line.strip()]
