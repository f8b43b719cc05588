"""Wall-clock latency of the acoupi command line: ours, upstream 0.3.2, 0.8.0.

Times whole ``acoupi`` processes as a user or a cron job sees them, in three
situations, each measured in interleaved rounds (every side once per round,
order rotating; see ``harness.py``):

``stopped``
    ``acoupi --help`` and ``acoupi deployment status`` with nothing running.
``running``
    ``acoupi deployment status`` while each side's deployment runs
    (``acoupi.programs.test``): ours under ``acoupi run`` on its built-in
    broker (its default) and on RabbitMQ; upstream's workers and beat as its
    generated scripts start them, on RabbitMQ (its default broker). Before
    and after the timed rounds each side must really run, or the bench
    stops: ours' ``deployment status --json`` must see every worker alive
    and the foreground run; upstream (whose status crashes while workers
    run) must have a live process behind each worker's and beat's pidfile.
``unreachable``
    ``acoupi deployment status`` with the broker URL pointing at a closed
    port (127.0.0.1:1).

Every side gets a throwaway ``HOME``/``ACOUPI_HOME`` and each RabbitMQ user
its own temporary vhost (upstream always names its queues ``celery``, so
two installations on one vhost would answer each other's pings). The table
gives the median per side and, per round, ``ours / side`` (median and
range); the load average is printed before and after.

Usage::

    .venv/bin/python bench/cli_latency.py                     # 10 rounds
    .venv/bin/python bench/cli_latency.py --rounds 20 --up03 /work/up03 \\
        --up08 /work/up08 --json bench/results/cli.json
    .venv/bin/python bench/cli_latency.py --only ours --importtime
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    ROOT,
    Side,
    add_arguments,
    format_load,
    format_table,
    interleave,
    load_average,
    median,
    provenance,
    ratio_summary,
    sides_from_args,
    timed_run,
)
from runtime_support import Install, RabbitVhosts  # noqa: E402

DEAD_BROKER = "pyamqp://guest:guest@127.0.0.1:1//"
PROGRAM = "acoupi.programs.test"
TIMEOUT = 120.0


@dataclass
class Target:
    """One side in one configuration: its install and any failures."""

    name: str
    install: Install
    failures: Dict[str, List[str]] = field(default_factory=dict)
    workers: List[dict] = field(default_factory=list)
    """Upstream's declared workers (their pidfiles prove they run)."""

    def runner(self, label: str, args: List[str]) -> Callable[[], Optional[float]]:
        def run() -> Optional[float]:
            command = [str(self.install.bin / "acoupi"), *args]
            seconds, code, error = timed_run(
                command, self.install.env, self.install.home, TIMEOUT
            )
            if code != 0:
                # Still timed: the command did its work and then failed
                # (upstream's status crashes parsing `celery status` output
                # while workers run); the table flags it.
                self.failures.setdefault(label, []).append(f"exit {code}: {error}")
            return None if code == -9 else seconds

        return run


def make_targets(
    sides: List[Side], root: Path, vhosts: RabbitVhosts, broker: str, rabbit: bool
) -> List[Target]:
    """Set up the test program for every side (plus ours on RabbitMQ)."""
    targets = []
    for side in sides:
        variants = [(side.name, side.name != "ours")]
        if side.name == "ours" and rabbit:
            variants.append(("ours-rabbitmq", True))
        for name, on_rabbit in variants:
            install = Install(
                "ours" if side.name == "ours" else "upstream",
                name,
                root / f"{broker}-{name}",
                bin_dir=side.venv / "bin",
            )
            if broker == "dead":
                options = ["--broker_url", DEAD_BROKER]
            elif on_rabbit:
                options = ["--broker_url", vhosts.url(name)]
            else:
                options = []
            install.setup(PROGRAM, options)
            targets.append(Target(name, install))
    return targets


def _live(pidfile: Path) -> bool:
    """Whether ``pidfile`` names a live process."""
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def _ours_started(run_dir: Path) -> bool:
    """What ``acoupi run`` writes once it really runs: its own record and,
    for every worker with a pidfile, a heartbeat file (written only while
    the worker is connected to its broker). Beat is a thread of the run by
    default, so its pidfile is not waited for."""
    workers = [p for p in run_dir.glob("*.pid") if p.stem != "beat"]
    return (
        (run_dir / "foreground-run.json").is_file()
        and bool(workers)
        and all(_live(p) and (run_dir / f"{p.stem}.alive").is_file() for p in workers)
    )


def _upstream_started(target: Target) -> bool:
    """Upstream writes one pidfile per declared worker plus beat's."""
    run_dir = target.install.acoupi_home / "run"
    names = [w["name"] for w in target.workers] + ["beat"]
    return all(_live(run_dir / f"{name}.pid") for name in names)


def running_problem(target: Target) -> Optional[str]:
    """Why ``target``'s deployment is not fully running; None when it is.

    Ours is asked with ``acoupi deployment status --json`` (the command
    being timed must see the workers alive); upstream's status crashes
    while workers run, so its pidfiles and processes are checked instead.
    """
    install = target.install
    # Our Popen calls always pass a list of arguments.
    exited = [p for p in install.processes if p.poll() is not None]
    dead = [cast(Sequence[str], p.args)[:3] for p in exited]
    if dead:
        return f"processes exited: {dead}"
    if install.kind != "ours":
        return None if _upstream_started(target) else "pidfiles missing"
    try:
        out = install.command(["deployment", "status", "--json"], timeout=TIMEOUT)
        status = json.loads(out)
    except (RuntimeError, ValueError) as error:
        return f"status --json failed: {error}"
    celery = status.get("celery") or {}
    workers = celery.get("workers") or []
    mode = (status.get("running") or {}).get("mode")
    if (
        celery.get("state") != "available"
        or not workers
        or any(w.get("state") != "ok" for w in workers)
        or mode != "foreground"
    ):
        return f"status says celery={celery}, running={mode}"
    return None


def wait_until_running(targets: List[Target], timeout: float = 90.0) -> None:
    """Wait until every side's deployment really runs; fail loudly if not."""
    deadline = time.monotonic() + timeout
    for target in targets:
        if target.install.kind != "ours":
            target.workers = target.install.upstream_workers()
        run_dir = target.install.acoupi_home / "run"
        while time.monotonic() < deadline:
            started = (
                _ours_started(run_dir)
                if target.install.kind == "ours"
                else _upstream_started(target)
            )
            if started:
                break
            time.sleep(0.5)
    time.sleep(10)  # connected and idle
    problems = {t.name: running_problem(t) for t in targets}
    failed = {name: why for name, why in problems.items() if why}
    if failed:
        raise SystemExit(f"deployments not running, nothing measured: {failed}")


def check_still_running(targets: List[Target]) -> None:
    """After the timed rounds: the statuses timed were of running workers."""
    failed = {t.name: why for t in targets if (why := running_problem(t))}
    if failed:
        raise SystemExit(f"deployments stopped during the rounds: {failed}")


def measure(
    targets: List[Target], label: str, args: List[str], rounds: int
) -> Dict[str, List[Optional[float]]]:
    print(f"{label}: {rounds} rounds ({format_load()})", file=sys.stderr)
    runners = {t.name: t.runner(label, args) for t in targets}
    return interleave(runners, rounds)


def rows_for(
    label: str,
    results: Dict[str, List[Optional[float]]],
    baselines: List[str],
    failed: Dict[str, int],
) -> List[list]:
    rows = []
    for name, values in results.items():
        mid = median(values)
        shown = "timed out" if mid is None else f"{mid * 1000:.0f} ms"
        if failed.get(name):
            shown += f" (exit != 0 in {failed[name]} runs incl. warm-up)"
        ratios = [
            "-"
            if base == name or base not in results
            else str(ratio_summary(results[base], values))
            for base in baselines
        ]
        rows.append([label, name, shown, *ratios])
    return rows


def import_time(top: int) -> None:
    """Print the slowest imports of ours for ``acoupi deployment status``."""
    python = ROOT / ".venv" / "bin" / "python"
    with tempfile.TemporaryDirectory(prefix="acoupi-importtime-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACOUPI_")}
        env.update(HOME=tmp, ACOUPI_HOME=f"{tmp}/.acoupi")
        for args in (["setup", "--program", PROGRAM, "--no-prompt"], []):
            proc = subprocess.run(
                [str(python), "-X", "importtime", "-m", "acoupi", *args]
                + ([] if args else ["deployment", "status"]),
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
    total = sum(self_us for _, self_us, _ in entries)
    print(f"\nImports of `acoupi deployment status` (ours): {len(entries)} modules,")
    print(f"{total / 1000:.0f} ms self time in all. Top {top} packages (ms):")
    by_package: Dict[str, int] = {}
    for _, self_us, name in entries:
        by_package[name.split(".")[0]] = by_package.get(name.split(".")[0], 0) + self_us
    for package, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {us / 1000:8.1f}  {package}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser, rounds=10)
    parser.add_argument(
        "--no-ours-rabbitmq",
        action="store_true",
        help="skip ours on RabbitMQ (the equal-broker comparison)",
    )
    parser.add_argument(
        "--phases",
        default="stopped,running,unreachable",
        help="which situations to measure (default %(default)s)",
    )
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--json", type=Path, help="also write results here")
    parser.add_argument("--keep", action="store_true", help="keep the homes")
    args = parser.parse_args()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]

    sides = sides_from_args(args)
    load_before = load_average()
    root = Path(tempfile.mkdtemp(prefix="acoupi-cli-bench-"))
    vhosts = RabbitVhosts()
    results: Dict[str, Dict[str, List[Optional[float]]]] = {}
    targets: List[Target] = []
    try:
        live = make_targets(sides, root, vhosts, "live", not args.no_ours_rabbitmq)
        targets += live
        if "stopped" in phases:
            results["--help"] = measure(live, "--help", ["--help"], args.rounds)
            results["status, stopped"] = measure(
                live, "status, stopped", ["deployment", "status"], args.rounds
            )
        if "running" in phases:
            for target in live:
                target.install.start(None)
            wait_until_running(live)
            results["status, running"] = measure(
                live, "status, running", ["deployment", "status"], args.rounds
            )
            check_still_running(live)
            for target in live:
                target.install.stop()
        if "unreachable" in phases:
            dead = make_targets(sides, root, vhosts, "dead", False)
            targets += dead
            results["status, broker unreachable"] = measure(
                dead,
                "status, broker unreachable",
                ["deployment", "status"],
                args.rounds,
            )
    finally:
        for target in targets:
            if any(p.poll() is None for p in target.install.processes):
                target.install.stop()
        vhosts.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    load_after = load_average()

    baselines = ["ours"]
    headers = ["command", "side", "median", "ours / side"]
    if not args.no_ours_rabbitmq and "ours" in [s.name for s in sides]:
        baselines.append("ours-rabbitmq")
        headers.append("ours on RabbitMQ / side")
    rows = []
    for label, values in results.items():
        failed = {t.name: len(t.failures.get(label, [])) for t in targets if t.failures}
        rows += rows_for(label, values, baselines, failed)
    print(
        f"\nCLI latency, {args.rounds} interleaved rounds; ratios are per round, "
        "median [range]; below 1 = ours faster"
    )
    print(f"before: {format_load(load_before)}; after: {format_load(load_after)}\n")
    print(format_table(headers, rows))
    for target in targets:
        for label, errors in target.failures.items():
            print(f"\n(!) {target.name} {label}: {len(errors)} failed: {errors[-1]}")
    print(
        "\nours = built-in broker (default); ours-rabbitmq and upstream on "
        "RabbitMQ 127.0.0.1:5672 (upstream's default), each on its own vhost."
    )
    if args.importtime:
        import_time(args.top)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "rounds": args.rounds,
            "results": results,
            "load_before": load_before,
            "load_after": load_after,
            "failures": {t.name: t.failures for t in targets if t.failures},
            "provenance": provenance(sides),
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
