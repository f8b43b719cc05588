"""CPU of an idle worker on the built-in broker, before and after a change.

Runs ``acoupi run --no-live`` of ``acoupi.programs.test`` (one worker; its
only task prints every 10 s, nothing is recorded) on the default built-in
broker for two source trees at once: ``src`` at git revision ``--before``
(exported with ``git archive``; ``32bd160`` is the code that polled the
queue folder every 0.5 s) and this checkout's ``src``, each in its own
throwaway ``HOME``/``ACOUPI_HOME``, started in alternating order. After
``--warmup`` seconds, the user + system time (``/proc/<pid>/stat``) of the
worker and of the whole run (supervisor with beat as a thread, worker) is
taken over ``--window`` seconds. The table gives median and range per side
and of the per-round ratio after / before, with the load average. Each
worker is checked to hold an inotify descriptor or not, as its tree should.

Upstream 0.3.2 and 0.8.0 need RabbitMQ and have no built-in broker, so
there is no upstream side (``runtime_bench.py idle`` compares the whole
deployments with upstream).

    .venv/bin/python bench/broker_idle_cpu.py --before 32bd160     # ~6 min
    .venv/bin/python bench/broker_idle_cpu.py --before 32bd160 --rounds 1 --window 20
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from harness import (
    format_load,
    format_spread,
    load_average,
    ratio_summary,
    throwaway_env,
)
from runtime_support import (
    CLK_TCK,
    cpu_ticks,
    descendants,
    log,
    process_role,
    stop_group,
)
from supervisor_cpu import export_src

HERE = Path(__file__).resolve().parent
OURS = HERE.parent / "src"


def _start(name: str, src: Path, root: Path, seconds: float) -> subprocess.Popen:
    home = root / name
    home.mkdir()
    # PYTHONPATH comes before the editable install of this checkout.
    env = throwaway_env(home, {"PYTHONPATH": str(src)})
    acoupi = [sys.executable, "-m", "acoupi"]
    subprocess.run(
        [*acoupi, "setup", "--program", "acoupi.programs.test"],
        env=env, cwd=home, check=True, capture_output=True,
    )  # fmt: skip
    with open(home / "run.log", "wb") as log_file:  # the child keeps its copy
        return subprocess.Popen(
            [*acoupi, "run", "--no-live", "--duration", str(seconds)],
            env=env, cwd=home, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def _watches(pid: int) -> bool:
    """Whether ``pid`` holds an inotify descriptor."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                return True
        except OSError:
            continue
    return False


def main() -> None:
    """Measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--before", required=True, help="git revision to compare with (32bd160)"
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=30)
    parser.add_argument("--window", type=float, default=60)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    load_before = load_average()
    results: Dict[str, Dict[str, List[float]]] = {
        name: {"worker": [], "run": []} for name in ("before", "after")
    }
    with tempfile.TemporaryDirectory(prefix="acoupi-broker-idle-") as tmp:
        root = Path(tmp)
        sides = {"before": export_src(args.before, root / "before"), "after": OURS}
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            folder = root / f"round{round_}"
            folder.mkdir()
            runs = {}
            try:
                for name in order:
                    runs[name] = _start(
                        name, sides[name], folder, args.warmup + args.window + 30
                    )
                time.sleep(args.warmup)
                pids = {name: descendants([run.pid]) for name, run in runs.items()}
                start = {name: {p: cpu_ticks(p) for p in pids[name]} for name in runs}
                time.sleep(args.window)
                for name in order:
                    used = {p: cpu_ticks(p) - start[name][p] for p in pids[name]}
                    workers = [
                        p for p in pids[name] if process_role(p).startswith("worker")
                    ]
                    if len(workers) != 1:
                        sys.exit(f"{name}: expected one worker, found {workers}")
                    if _watches(workers[0]) != (name == "after"):
                        sys.exit(f"{name}: worker runs the wrong source tree")
                    percent = 100 / CLK_TCK / args.window
                    results[name]["worker"].append(used[workers[0]] * percent)
                    results[name]["run"].append(sum(used.values()) * percent)
                    log(
                        f"round {round_ + 1} {name:6}: worker"
                        f" {results[name]['worker'][-1]:.3f} %, run"
                        f" {results[name]['run'][-1]:.3f} % of a core;"
                        f" load {os.getloadavg()[0]:.2f}"
                    )
            finally:
                for run in runs.values():
                    stop_group(run)
    print()
    print(f"{'CPU % of one core':24}{'before':>24}{'after':>24}{'after / before':>24}")
    for part in ("worker", "run"):
        before, after = results["before"][part], results["after"][part]
        ratio = ratio_summary(after, before)
        print(
            f"{part:24}{format_spread(before):>24}{format_spread(after):>24}{ratio!s:>24}"
        )
    print(f"before: {format_load(load_before)}; after: {format_load()}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        settings = {k: str(v) for k, v in vars(args).items()}
        args.json.write_text(json.dumps({"args": settings, "results": results}))


if __name__ == "__main__":
    main()
