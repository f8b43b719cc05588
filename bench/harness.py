"""Shared helpers for fair three-way benchmarks: ours, upstream 0.3.2, 0.8.0.

On a small shared machine the load changes from one second to the next, so
measuring one side after the other compares the machine's moods, not the
code. Every bench here therefore:

* runs the sides **interleaved**: each round runs every side once, in an
  order that rotates from round to round (:func:`interleave`);
* reports **ours / side in the same round** and gives the median and
  range of those per-round ratios (:func:`ratio_summary`), besides the
  median of the raw values (below 1: ours takes less);
* prints the **load average** before and after (:func:`load_average`).

Upstream runs from its own venv with ``acoupi==VERSION`` from PyPI
(:func:`upstream_venv`): ``--up03 DIR`` / ``--up08 DIR`` (or
``ACOUPI_BENCH_UP03`` / ``ACOUPI_BENCH_UP08``) reuse an existing venv,
otherwise a throwaway one is created under the temporary directory.

Use from a bench::

    from harness import add_arguments, interleave, sides_from_args

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args()
    sides = sides_from_args(args)          # [Side("ours", ...), ...]
    results = interleave({s.name: make_runner(s) for s in sides}, args.rounds)
    print(format_ratio_table(results, baseline="ours", unit="ms", scale=1e3))
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence

ROOT = Path(__file__).resolve().parent.parent
OURS_VENV = ROOT / ".venv"

UPSTREAM_VERSIONS: dict[str, str] = {"up03": "0.3.2", "up08": "0.8.0"}
"""Side name -> upstream version on PyPI."""

ENV_VARS: dict[str, str] = {"up03": "ACOUPI_BENCH_UP03", "up08": "ACOUPI_BENCH_UP08"}

__all__ = [
    "Side",
    "RatioSummary",
    "add_arguments",
    "format_ratio_table",
    "format_table",
    "interleave",
    "load_average",
    "provenance",
    "ratio_summary",
    "sides_from_args",
    "upstream_venv",
]


@dataclass(frozen=True)
class Side:
    """One implementation under test: a name and the venv it runs from."""

    name: str
    venv: Path
    version: str = "checkout"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def bin(self, name: str) -> Path:
        """Path of a console script of this side, e.g. ``acoupi``/``celery``."""
        return self.venv / "bin" / name


@dataclass
class RatioSummary:
    """Per-round ratios of one side to the baseline side."""

    median: float
    low: float
    high: float
    rounds: int
    ratios: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.rounds:
            return "n/a"
        return f"{self.median:.2f}x [{self.low:.2f}-{self.high:.2f}]"


def load_average() -> tuple[float, float, float]:
    """Return the 1, 5 and 15 minute load averages (zeros where unknown)."""
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def format_load(load: Optional[Sequence[float]] = None) -> str:
    """``"load 1.23 0.98 0.75 (2 cores)"`` for the table captions."""
    one, five, fifteen = load if load is not None else load_average()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def interleave(
    runners: Mapping[str, Callable[[], Optional[float]]],
    rounds: int,
    warmup: int = 1,
    progress: bool = True,
) -> dict[str, list[Optional[float]]]:
    """Run every side once per round, rotating the order each round.

    Parameters
    ----------
    runners
        Side name -> callable measuring one sample (seconds, bytes, ...).
        A callable may return None for a failed sample; it stays in its
        round so ratios pair samples of the same round.
    rounds
        Measured rounds.
    warmup
        Unmeasured rounds first (page cache, bytecode caches).
    progress
        Print one line per round to stderr.

    Returns
    -------
    dict
        Side name -> one value per round (same index = same round).
    """
    names = list(runners)
    results: dict[str, list[Optional[float]]] = {name: [] for name in names}
    for index in range(warmup + rounds):
        shift = index % len(names) if names else 0
        order = names[shift:] + names[:shift]
        values: dict[str, Optional[float]] = {}
        for name in order:
            values[name] = runners[name]()
        if index < warmup:
            continue
        for name in names:
            results[name].append(values[name])
        if progress:
            shown = ", ".join(f"{n}={_short(values[n])}" for n in names)
            print(f"  round {index - warmup + 1}/{rounds}: {shown}", file=sys.stderr)
    return results


def _short(value: Optional[float]) -> str:
    return "fail" if value is None else f"{value:.4g}"


def ratio_summary(
    side: Sequence[Optional[float]], baseline: Sequence[Optional[float]]
) -> RatioSummary:
    """Median and range of ``side[i] / baseline[i]`` over rounds with both.

    Parameters
    ----------
    side, baseline
        One value per round, as returned by :func:`interleave`.

    Returns
    -------
    RatioSummary
        ``rounds`` is 0 when no round had both values.
    """
    ratios = [
        a / b
        for a, b in zip(side, baseline, strict=True)
        if a is not None and b is not None and b > 0
    ]
    if not ratios:
        return RatioSummary(float("nan"), float("nan"), float("nan"), 0)
    return RatioSummary(
        statistics.median(ratios), min(ratios), max(ratios), len(ratios), ratios
    )


def format_spread(values: Sequence[float]) -> str:
    """``median (min-max)`` of measured values, three decimals."""
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def median(values: Iterable[Optional[float]]) -> Optional[float]:
    """Median of the values that are not None (None when there are none)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pastes into ``bench/README.md`` as it is)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def format_ratio_table(
    label: str,
    results: Mapping[str, Sequence[Optional[float]]],
    baseline: str = "ours",
    unit: str = "ms",
    scale: float = 1e3,
) -> list[list[str]]:
    """Rows ``[label, side, median, baseline / side]`` for one measurement.

    The ratio column is ``baseline / side`` per round (median and range):
    below 1 means the baseline (ours) takes less time or memory than that
    side in the same round.
    """
    rows = []
    for name, values in results.items():
        mid = median(values)
        failed = sum(v is None for v in values)
        shown = "n/a" if mid is None else f"{mid * scale:.0f} {unit}"
        if failed:
            shown += f" ({failed} failed)"
        ratio = (
            "1 (baseline)"
            if name == baseline
            else str(ratio_summary(results[baseline], values))
        )
        rows.append([label, name, shown, ratio])
    return rows


def upstream_venv(version: str, given: Optional[Path] = None) -> Path:
    """Return a venv with ``acoupi==version`` installed, creating one if needed.

    Parameters
    ----------
    version
        Upstream version on PyPI, e.g. ``"0.8.0"``.
    given
        An existing venv to reuse (e.g. ``/work/up08``); it must already
        contain acoupi.

    Returns
    -------
    Path
        The venv folder.

    Raises
    ------
    SystemExit
        When the given venv has no acoupi, or installing fails.
    """
    if given is not None:
        if not (given / "bin" / "acoupi").exists():
            raise SystemExit(
                f"{given} has no bin/acoupi; install it with "
                f"`{given}/bin/pip install acoupi=={version}` or drop the flag."
            )
        return given
    venv = Path(tempfile.gettempdir()) / f"acoupi-bench-upstream-{version}"
    if (venv / "bin" / "acoupi").exists():
        return venv
    print(f"creating throwaway venv {venv} with acoupi=={version} ...", file=sys.stderr)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", f"acoupi=={version}"]
    )
    if install.returncode != 0:
        raise SystemExit(
            f"installing acoupi=={version} into {venv} failed (PyAudio needs "
            "portaudio19-dev: apt-get install -y portaudio19-dev)."
        )
    return venv


def add_arguments(parser: argparse.ArgumentParser, rounds: int = 10) -> None:
    """Add the options every bench shares: rounds and the upstream venvs."""
    group = parser.add_argument_group("three-way comparison")
    group.add_argument(
        "--rounds",
        type=int,
        default=rounds,
        help="measured rounds (default %(default)s)",
    )
    for side, version in UPSTREAM_VERSIONS.items():
        group.add_argument(
            f"--{side}",
            type=Path,
            default=os.environ.get(ENV_VARS[side]) or None,
            metavar="VENV",
            help=f"reuse this venv for acoupi {version} (env {ENV_VARS[side]}); "
            "default: a throwaway venv from PyPI",
        )
    group.add_argument(
        "--only",
        default="ours,up03,up08",
        help="comma-separated sides to run (default %(default)s)",
    )


def precompile(side: Side) -> None:
    """Write the bytecode of everything a side imports before it is timed.

    pip compiles an installed package's modules, but ours is an editable
    install whose ``src/`` is compiled only when Python may write bytecode
    (``PYTHONDONTWRITEBYTECODE`` is set on this machine and in CI): without
    this step every timed run of ours would recompile acoupi from source
    while upstream reads its ``.pyc`` files.
    """
    targets = [str(path) for path in side.venv.glob("lib/python3*/site-packages")]
    if side.name == "ours":
        targets.append(str(ROOT / "src"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(
        [str(side.venv / "bin" / "python"), "-m", "compileall", "-q", "-j0", *targets],
        env=env,
        stdout=subprocess.DEVNULL,
        check=False,
    )


def sides_from_args(args: argparse.Namespace) -> list[Side]:
    """The sides selected by ``--only`` (upstream venvs created when missing),
    each with its bytecode written (:func:`precompile`)."""
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    sides = []
    for name in wanted:
        if name == "ours":
            sides.append(Side("ours", OURS_VENV))
        elif name in UPSTREAM_VERSIONS:
            version = UPSTREAM_VERSIONS[name]
            given = getattr(args, name, None)
            sides.append(Side(name, upstream_venv(version, given), version))
        else:
            raise SystemExit(f"unknown side {name!r}; use ours, up03, up08")
    for side in sides:
        precompile(side)
    return sides


def throwaway_env(home: Path, extra: Optional[Mapping[str, str]] = None) -> dict:
    """Environment for an acoupi process confined to a throwaway home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACOUPI_")}
    env["HOME"] = str(home)
    env["ACOUPI_HOME"] = str(home / ".acoupi")
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    env.update(extra or {})
    return env


def timed_run(
    command: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 120.0
) -> tuple[float, int, str]:
    """Run a command; return (wall seconds, exit code, tail of its errors)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            list(command),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, -9, f"timed out after {timeout:.0f}s"
    elapsed = time.perf_counter() - start
    text = (proc.stderr or proc.stdout).decode(errors="replace").strip()
    return elapsed, proc.returncode, " | ".join(text.splitlines()[-3:])


def provenance(sides: Sequence[Side] = ()) -> dict:
    """What was measured and where: checkout, host, load, upstream venvs."""

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
        )
        return result.stdout.strip()

    return {
        "when": datetime.now(timezone.utc).isoformat(),
        "git_head": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--short", "--untracked-files=no")),
        "cpus": os.cpu_count(),
        "load_average": load_average(),
        "sides": {s.name: {"venv": str(s.venv), "version": s.version} for s in sides},
    }
