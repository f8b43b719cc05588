"""Memory of each process of ``acoupi run``: idle PSS and peak RSS.

One command runs a program under ``acoupi run`` on the simulated
microphone, in a throwaway home, once per process model (``--modes``):
``lean`` (the default of ``acoupi run``: beat in the run's main loop,
workers forked from the run) and ``no-lean`` (beat and every worker a
program of its own). Every ``--every`` seconds after the warm-up it samples
each process of the run: PSS (``/proc/PID/smaps_rollup``; shared pages are
split between the processes sharing them, so the sum is what the whole run
costs), and whether the process used CPU since the previous sample. The
table gives per process:

* PSS idle: median of the samples taken while the process used less than
  ``--idle-cpu`` of a core (between tasks: a detection worker with its
  model loaded, waiting for the next recording);
* PSS max: the largest sample (during a detection, for the model);
* peak RSS: ``VmHWM``, the most resident memory the process ever had
  (pages shared with other processes count in full).

Programs: ``batdetect2`` (``acoupi_batdetect2.program``, BatDetect2's model
on CPU torch, from the plugin venv that ``tests/plugins`` builds under
``.cache/plugin-venvs``; 192 kHz), ``triggered`` and ``test`` (ours, from
``.venv``). There is no upstream side: upstream has no ``acoupi run`` and
the model costs the same whichever acoupi runs it (see ``model_cost.py``);
``runtime_bench.py idle`` compares whole deployments with upstream.

Usage::

    .venv/bin/pytest tests/plugins -m slow -k batdetect2_program  # venv, once
    .venv/bin/python bench/run_memory.py                # batdetect2, ~6 min
    .venv/bin/python bench/run_memory.py --program triggered --seconds 90
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from harness import OURS_VENV, ROOT, format_load, format_table, load_average
from model_cost import plugin_venv
from runtime_support import (
    CLK_TCK,
    Install,
    cpu_ticks,
    descendants,
    peak_rss_bytes,
    process_role,
    pss_bytes,
)

ALL_DAY = [
    "--recording.schedule_start",
    "00:00",
    "--recording.schedule_end",
    "23:59:59",
]

PROGRAMS: Dict[str, List[str]] = {
    "batdetect2": [
        "acoupi_batdetect2.program",
        "--microphone.samplerate",
        "192000",
        *ALL_DAY,
        "--saving_filters.starttime",
        "00:00",
        "--saving_filters.endtime",
        "23:59:59",
    ],
    "triggered": ["acoupi.programs.triggered", "--microphone.samplerate", "48000"],
    "test": ["acoupi.programs.test"],
}
"""``acoupi setup --program`` and the options of each program."""

MODES = {"lean": ["--lean"], "no-lean": ["--no-lean"]}

MIB = 2**20


def setup_args(program: str, home: Path, interval: Optional[int]) -> List[str]:
    """The options of ``acoupi setup`` for ``program`` in ``home``."""
    name, *options = PROGRAMS[program]
    if program != "test":
        options += [
            "--microphone.device_name",
            "simulated",
            "--paths.tmp_audio",
            str(home / "tmp"),
        ]
        if interval is not None:
            options += ["--recording.interval", str(interval)]
    return [name, *options]


def measure(
    install: Install, mode: str, args: argparse.Namespace
) -> Dict[str, Dict[str, object]]:
    """Run ``install`` in ``mode``; return per-process samples and peaks."""
    install.start(None, MODES[mode])
    samples: Dict[str, List[float]] = {}
    idle: Dict[str, List[float]] = {}
    peaks: Dict[str, int] = {}
    totals: List[float] = []
    """The whole run's PSS, at the samples where every process was idle."""
    try:
        time.sleep(args.warmup)
        end = time.monotonic() + args.seconds
        last: Dict[int, int] = {}
        last_at = time.monotonic()
        while time.monotonic() < end:
            time.sleep(args.every)
            now = time.monotonic()
            total, all_idle = 0.0, True
            for pid in descendants(install.root_pids()):
                role = process_role(pid)
                size = pss_bytes(pid)
                if size == 0:
                    continue
                ticks = cpu_ticks(pid)
                samples.setdefault(role, []).append(size)
                total += size
                used = (ticks - last.get(pid, ticks)) / CLK_TCK / (now - last_at)
                if pid in last and used < args.idle_cpu:
                    idle.setdefault(role, []).append(size)
                else:
                    all_idle = False
                last[pid] = ticks
                peaks[role] = max(peaks.get(role, 0), peak_rss_bytes(pid))
            last_at = now
            if all_idle and total:
                totals.append(total)
    finally:
        install.stop()
    per_process: Dict[str, Dict[str, object]] = {
        role: {
            "pss_idle": statistics.median(idle[role]) if idle.get(role) else None,
            "pss_max": max(sizes),
            "peak_rss": peaks.get(role, 0),
            "samples": len(sizes),
            "idle_samples": len(idle.get(role, [])),
        }
        for role, sizes in samples.items()
    }
    per_process["whole run"] = {
        "pss_idle": statistics.median(totals) if totals else None,
        "idle_samples": len(totals),
    }
    return per_process


def mib(value: object) -> str:
    return "-" if not isinstance(value, (int, float)) else f"{value / MIB:.1f}"


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", choices=sorted(PROGRAMS), default="batdetect2")
    parser.add_argument("--modes", default="lean,no-lean")
    parser.add_argument(
        "--warmup", type=float, default=60, help="seconds before sampling"
    )
    parser.add_argument("--seconds", type=float, default=120, help="sampling time")
    parser.add_argument("--every", type=float, default=2.0, help="seconds per sample")
    parser.add_argument(
        "--interval",
        type=int,
        default=10,
        help="recording interval, seconds (the program's own if 0)",
    )
    parser.add_argument(
        "--idle-cpu",
        type=float,
        default=0.05,
        help="a sample is idle below this fraction of a core",
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    if args.program == "batdetect2":
        venv = plugin_venv("ours", build=False)
        if venv is None:
            raise SystemExit(
                "No plugin venv: run `.venv/bin/pytest tests/plugins -m slow "
                "-k batdetect2_program` first (builds it under .cache/plugin-venvs)."
            )
        bin_dir = venv / "bin"
    else:
        bin_dir = OURS_VENV / "bin"
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    root = Path(tempfile.mkdtemp(prefix="acoupi-run-memory-"))
    load_before = load_average()
    results: Dict[str, Dict[str, Dict[str, object]]] = {}
    commands: Dict[str, List[str]] = {}
    try:
        for mode in modes:
            install = Install("ours", mode, root / mode, bin_dir=bin_dir)
            program, *options = setup_args(
                args.program, install.home, args.interval or None
            )
            commands[mode] = [
                " ".join(install.setup(program, options)),
                f"acoupi run --no-live {' '.join(MODES[mode])}",
            ]
            print(f"[{mode}] running {args.warmup:.0f} + {args.seconds:.0f} s")
            results[mode] = measure(install, mode, args)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    load_after = load_average()

    print(
        f"\nacoupi run of {args.program}: memory per process, MiB "
        f"(PSS every {args.every:g} s for {args.seconds:.0f} s after "
        f"{args.warmup:.0f} s; idle: under {args.idle_cpu:.0%} of a core)"
    )
    print(f"{format_load(load_before)} -> {format_load(load_after)}\n")
    rows = []
    for mode, roles in results.items():
        for role, values in sorted(
            roles.items(), key=lambda item: item[0] == "whole run"
        ):
            rows.append(
                [
                    mode,
                    role,
                    mib(values.get("pss_idle")),
                    mib(values.get("pss_max")),
                    mib(values.get("peak_rss")),
                ]
            )
    print(format_table(["mode", "process", "PSS idle", "PSS max", "peak RSS"], rows))
    print("\nCommands:")
    for mode, lines in commands.items():
        for line in lines:
            print(f"  [{mode}] {line}")
    out = args.json or ROOT / "bench" / "results" / f"run_memory_{args.program}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "program": args.program,
                "results_bytes": results,
                "load_before": load_before,
                "load_after": load_after,
                "commands": commands,
                "options": {k: str(v) for k, v in vars(args).items()},
            },
            indent=2,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
