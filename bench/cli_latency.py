"""Wall-clock latency of the acoupi command line: ours against upstream 0.3.2.

For each implementation a throwaway HOME / ACOUPI_HOME is created and
``acoupi setup --program acoupi.programs.test --no-prompt`` is run in it; then
each measured command runs once as a warm-up and N times measured (default
15). The table shows median and p90 per implementation and the ratio of the
medians (ours / upstream; below 1 means ours is faster).

A command that fails is still timed; its exit codes are reported under the
table. Nothing outside the throwaway homes is written, unless ``--json`` is
given.

Usage::

    .venv/bin/python bench/cli_latency.py [--runs 15] [--importtime]
        [--no-upstream] [--create-upstream] [--json bench/results/cli.json]

Upstream lives in its own venv (default /tmp/upstream-venv); with
``--create-upstream`` it is created when missing::

    python3 -m venv /tmp/upstream-venv
    /tmp/upstream-venv/bin/pip install acoupi==0.3.2   # needs portaudio19-dev
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / ".venv" / "bin" / "acoupi"
UPSTREAM_VENV = Path("/tmp/upstream-venv")
UPSTREAM_VERSION = "0.3.2"

COMMANDS: list[tuple[str, list[str]]] = [
    ("acoupi --help", ["--help"]),
    ("acoupi deployment status", ["deployment", "status"]),
]
SETUP = ["setup", "--program", "acoupi.programs.test", "--no-prompt"]
TIMEOUT = 120.0


@dataclass
class Sample:
    """Timings of one command for one implementation."""

    command: str
    times: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    last_error: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def p90(self) -> float:
        if len(self.times) < 2:
            return self.median
        return statistics.quantiles(self.times, n=10, method="inclusive")[-1]

    @property
    def failures(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for code in self.exit_codes:
            if code != 0:
                counts[code] = counts.get(code, 0) + 1
        return counts


@dataclass
class Impl:
    """One acoupi executable under test, with its own throwaway home."""

    name: str
    exe: Path
    home: Path = Path()
    setup_exit: int | None = None
    setup_error: str = ""
    samples: dict[str, Sample] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACOUPI_")}
        env["HOME"] = str(self.home)
        env["ACOUPI_HOME"] = str(self.home / ".acoupi")
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        return env


def tail(text: str | bytes, lines: int = 3) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return " | ".join(text.strip().splitlines()[-lines:])


def run_once(impl: Impl, args: list[str]) -> tuple[float, int, str]:
    """Run one command; return (seconds, exit code, stderr tail)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [str(impl.exe), *args],
            env=impl.env(),
            cwd=impl.home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return time.perf_counter() - start, -9, f"timed out after {TIMEOUT:.0f}s"
    elapsed = time.perf_counter() - start
    return elapsed, proc.returncode, tail(proc.stderr or proc.stdout)


def ensure_upstream(create: bool) -> Path | None:
    exe = UPSTREAM_VENV / "bin" / "acoupi"
    if exe.exists():
        return exe
    if not create:
        print(
            f"upstream acoupi not found at {exe}; pass --create-upstream to "
            f"install acoupi=={UPSTREAM_VERSION} there (needs portaudio19-dev).",
            file=sys.stderr,
        )
        return None
    print(f"creating {UPSTREAM_VENV} with acoupi=={UPSTREAM_VERSION} ...")
    subprocess.run([sys.executable, "-m", "venv", str(UPSTREAM_VENV)], check=True)
    pip = UPSTREAM_VENV / "bin" / "pip"
    subprocess.run(
        [str(pip), "install", "-q", f"acoupi=={UPSTREAM_VERSION}"], check=True
    )
    return exe if exe.exists() else None


def bench(impl: Impl, runs: int) -> None:
    code_time, code, err = run_once(impl, SETUP)
    impl.setup_exit, impl.setup_error = code, err
    print(f"  [{impl.name}] setup: exit {code} in {code_time:.2f}s")
    for label, args in COMMANDS:
        sample = Sample(label)
        run_once(impl, args)  # warm-up: bytecode caches, page cache
        for _ in range(runs):
            seconds, code, err = run_once(impl, args)
            sample.times.append(seconds)
            sample.exit_codes.append(code)
            if code != 0:
                sample.last_error = err
        impl.samples[label] = sample
        print(
            f"  [{impl.name}] {label}: median {sample.median * 1000:.0f} ms, "
            f"p90 {sample.p90 * 1000:.0f} ms"
        )


def ms(value: float) -> str:
    return "n/a" if value != value else f"{value * 1000:.0f} ms"


def flag(sample: Sample) -> str:
    """Mark a result that includes failed runs."""
    return " (!)" if sample.failures else ""


def print_table(ours: Impl, upstream: Impl | None, runs: int) -> None:
    header = ["command", "ours median", "ours p90"]
    if upstream is not None:
        header += ["upstream median", "upstream p90", "ratio"]
    rows = []
    for label, _ in COMMANDS:
        o = ours.samples[label]
        row = [label, ms(o.median) + flag(o), ms(o.p90)]
        if upstream is not None:
            u = upstream.samples[label]
            ratio = o.median / u.median if u.median and u.median == u.median else 0
            row += [
                ms(u.median) + flag(u),
                ms(u.p90),
                f"{ratio:.2f}x" if ratio else "n/a",
            ]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\nCLI latency, {runs} runs each (ratio = ours / upstream median)\n")
    for i, row in enumerate([header, *rows]):
        cells = [cell.ljust(widths[j]) for j, cell in enumerate(row)]
        print("| " + " | ".join(cells) + " |")
        if i == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")

    problems = []
    for impl in [ours, upstream]:
        if impl is None:
            continue
        if impl.setup_exit:
            problems.append(
                f"{impl.name}: setup exited {impl.setup_exit}: {impl.setup_error}"
            )
        for sample in impl.samples.values():
            if sample.failures:
                codes = ", ".join(
                    f"exit {c} x{n}" for c, n in sorted(sample.failures.items())
                )
                problems.append(
                    f"{impl.name}: {sample.command}: {codes}: {sample.last_error}"
                )
    if problems:
        print("\n(!) some runs failed; they are timed anyway:")
        for line in problems:
            print(f"  - {line}")


def import_time(top: int) -> None:
    """Print the slowest imports of ``acoupi --help`` for our package."""
    python = ROOT / ".venv" / "bin" / "python"
    with tempfile.TemporaryDirectory(prefix="acoupi-importtime-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACOUPI_")}
        env.update(HOME=tmp, ACOUPI_HOME=f"{tmp}/.acoupi")
        proc = subprocess.run(
            [str(python), "-X", "importtime", "-m", "acoupi", "--help"],
            env=env,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    entries = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_col, cumulative_col, name = line.split(":", 1)[1].split("|", 2)
        entries.append((int(cumulative_col), int(self_col), name.strip()))
    if not entries:
        print(f"\nno import timings (exit {proc.returncode}): {tail(proc.stderr)}")
        return
    total = sum(self_us for _, self_us, _ in entries)
    print(f"\nImports of ours for `acoupi --help`: {len(entries)} modules,")
    print(f"{total / 1000:.0f} ms of self time in all (exit {proc.returncode}).")
    print(f"Top {top} by cumulative time (ms):")
    for cumulative, self_us, name in sorted(entries, reverse=True)[:top]:
        print(f"  {cumulative / 1000:8.1f}  (self {self_us / 1000:6.1f})  {name}")
    by_package: dict[str, int] = {}
    for _, self_us, name in entries:
        root = name.split(".")[0]
        by_package[root] = by_package.get(root, 0) + self_us
    print(f"Top {top} top-level packages by self time summed (ms):")
    for root, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {us / 1000:8.1f}  {root}")


def main() -> int:
    global UPSTREAM_VENV
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per command")
    parser.add_argument("--ours", type=Path, default=OURS, help="our acoupi")
    parser.add_argument("--upstream-venv", type=Path, default=UPSTREAM_VENV)
    parser.add_argument("--no-upstream", action="store_true")
    parser.add_argument(
        "--create-upstream",
        action="store_true",
        help=f"create the upstream venv with acoupi=={UPSTREAM_VERSION} if missing",
    )
    parser.add_argument(
        "--importtime", action="store_true", help="show our slowest imports"
    )
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write results here")
    args = parser.parse_args()
    UPSTREAM_VENV = args.upstream_venv

    if not args.ours.exists():
        print(f"{args.ours} not found; run scripts/bootstrap first", file=sys.stderr)
        return 1
    impls = [Impl("ours", args.ours)]
    upstream = None
    if not args.no_upstream:
        exe = ensure_upstream(args.create_upstream)
        if exe is not None:
            upstream = Impl(f"upstream {UPSTREAM_VERSION}", exe)
            impls.append(upstream)

    tmp = Path(tempfile.mkdtemp(prefix="acoupi-bench-"))
    try:
        for i, impl in enumerate(impls):
            impl.home = tmp / f"home{i}"
            impl.home.mkdir()
            bench(impl, args.runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print_table(impls[0], upstream, args.runs)
    if args.importtime:
        import_time(args.top)

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {
            "runs": args.runs,
            "python": sys.version.split()[0],
            "implementations": [
                {
                    "name": impl.name,
                    "exe": str(impl.exe),
                    "setup_exit": impl.setup_exit,
                    "commands": [
                        {**asdict(s), "median": s.median, "p90": s.p90}
                        for s in impl.samples.values()
                    ],
                }
                for impl in impls
            ],
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
