"""Long-running behaviour of acoupi: ours beside upstream 0.3.2 and 0.8.0.

Three measurements, each a subcommand; each runs every side at once, in
``--rounds`` rounds, and prints a table (each configuration's median and
range over rounds, and the per-round ratio ours / side, median [range],
from :mod:`harness`) with the load average before and after; JSON goes to
``bench/results/runtime_<name>.json``. Sides: ours (this checkout's
``.venv``), upstream 0.3.2 (``--up03 VENV``) and 0.8.0 (``--up08 VENV``),
each from PyPI in its own venv (a throwaway one when not given);
``--only`` picks sides. Upstream runs without systemd as its generated
scripts would (:class:`runtime_support.Install`), on RabbitMQ, each
deployment on its own vhost.

``coverage --minutes 10 --rounds 3``
    Continuous recording from one audio source for every side: a private
    PulseAudio whose null sink plays an endless 16-bit counter ramp,
    captured through the real path (PortAudio/PyAudio → ALSA "pulse" device
    → PulseAudio). Every side runs its recording-only program
    ``acoupi.programs.default`` set to 10 s every 10 s (gap-free) all day:
    ours on its default built-in broker (``--ours-rabbitmq`` adds ours on
    RabbitMQ), upstream on RabbitMQ. ``--upstream-defaults`` adds
    upstream's program as set up (3 s every 10 s). Each round: fresh homes,
    all deployments recording at once for ``--minutes``. Reported: fraction
    of the recording window captured and the largest gap, from the stored
    start times and durations, cross-checked with the WAV frame counts and
    with the ramp itself (a file that continues its predecessor
    sample-exactly starts with last + 1).

``idle --rounds 10 --window 30``
    ``acoupi.programs.test`` (one task every 10 s, records nothing) for ours
    on the built-in broker (``--no-lean``: beat as its own process, and
    ``--lean``, the default of ``acoupi run``: beat in the supervisor), ours
    on RabbitMQ, upstream 0.3.2 and 0.8.0 on RabbitMQ, all running at once;
    each round samples every side's PSS (all processes of the deployment:
    ``acoupi run`` supervisor, workers, beat) and its CPU time over the round,
    in rotating order, and the table gives the per-round ratio ours / side
    (median, range), with and without RabbitMQ's own daemon (beam.smp).
    ``--triggered`` adds ours running the detection program, reported per
    process (PSS median and max, peak RSS).

``latency --recordings 30 --rounds 3``
    From a recording's end (start + duration) to (a) its model output being
    stored and (b) its message being acknowledged by Mosquitto on
    127.0.0.1:1883. Ours: ``acoupi.programs.triggered`` (simulated
    microphone, band-energy detector) on the built-in broker and on
    RabbitMQ. Upstream ships no detection program, so the upstream sides run
    a small DetectionProgram plugin written here (``bench_upstream_detection``
    in a temp dir, upstream's public API only, the same file for 0.3.2 and
    0.8.0) whose pure-Python toy model emits a detection per loud 0.1 s
    block, with upstream's MQTT messenger and DetectionThresholdMessageBuilder,
    recording through PulseAudio. All record 3 s every 10 s and send messages
    every 5 s, so the acknowledgement latency is mostly the wait for the next
    send tick (the schedules share one clock, hence a near-constant phase).
    Per round: p50 over the first N recordings; p95 and max pooled.

Every run uses throwaway ``HOME``/``ACOUPI_HOME`` folders; nothing is sent
off loopback. Usage::

    .venv/bin/python bench/runtime_bench.py coverage --up03 /work/up03 \
        --up08 /work/up08 --minutes 10 --rounds 3
    .venv/bin/python bench/runtime_bench.py idle --up03 /work/up03 \
        --up08 /work/up08 --triggered
    .venv/bin/python bench/runtime_bench.py latency --up03 /work/up03 \
        --up08 /work/up08 --recordings 30 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    UPSTREAM_VERSIONS,
    Side,
    add_arguments,
    format_load,
    format_table,
    load_average,
    ratio_summary,
    sides_from_args,
)
from harness import provenance as sides_provenance  # noqa: E402
from runtime_support import (  # noqa: E402
    CLK_TCK,
    ROOT,
    Install,
    PulseSource,
    RabbitVhosts,
    cpu_ticks,
    descendants,
    find_wav,
    log,
    median,
    percentile,
    rabbitmq_pids,
    read_messages,
    read_model_outputs,
    read_recordings,
    wav_info,
    write_json,
)

RESULTS = ROOT / "bench" / "results"


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------


def workdir(keep: bool) -> Path:
    root = Path(tempfile.mkdtemp(prefix="acoupi-runtime-"))
    log(f"work folder {root} ({'kept' if keep else 'removed at the end'})")
    return root


def print_commands(commands: Dict[str, List[str]]) -> None:
    """Print the exact command lines of each measured configuration."""
    print("\nCommands:")
    for label, lines in commands.items():
        print(f"  {label}:")
        for line in lines:
            print(f"    {line}")


def cleanup(root: Path, keep: bool) -> None:
    if not keep:
        shutil.rmtree(root, ignore_errors=True)


def mic_options(device: str, samplerate: int, home: Path) -> List[str]:
    return [
        "--microphone.device_name",
        device,
        "--microphone.samplerate",
        str(samplerate),
        "--paths.tmp_audio",
        str(home / "tmp"),
    ]


# --------------------------------------------------------------------------
# Three-way rounds of whole deployments (coverage, latency)
# --------------------------------------------------------------------------

ALL_DAY = [
    "--recording.schedule_start", "00:00:00",
    "--recording.schedule_end", "23:59:59",
]  # fmt: skip
"""Same schedule for every side, so the time of day never stops a recording."""


@dataclass(frozen=True)
class Deployment:
    """One measured configuration: a side, its program and its settings."""

    label: str
    side: Side
    program: str
    options: Tuple[str, ...] = ()
    rabbit: bool = False
    device: str = "pulse"
    pythonpath: Optional[Path] = None
    from_schema: bool = False
    """Set up without ``acoupi setup`` (:meth:`Install.setup_from_schema`)."""

    @property
    def kind(self) -> str:
        return "ours" if self.side.name == "ours" else "upstream"


def start_round(
    deployments: Sequence[Deployment],
    root: Path,
    index: int,
    samplerate: int,
    audio_env: Dict[str, str],
    vhosts: RabbitVhosts,
    duration: float,
    installs: Dict[str, Install],
    started: Optional[Dict[str, float]] = None,
) -> Dict[str, List[str]]:
    """Set up every deployment in a fresh home, then start them all.

    The start order rotates from round to round, as in
    :func:`harness.interleave`. Ours stops itself after ``duration``
    (``acoupi run --duration``); upstream is stopped by :func:`stop_round`.
    ``installs`` is filled as they are made, so the caller can stop what
    started even when a later one fails; ``started``, if given, with the
    time each was launched. Returns the command lines used.
    """
    commands: Dict[str, List[str]] = {}
    for deployment in deployments:
        home = root / f"round{index + 1}" / deployment.label
        # Upstream's MessagingProgram.validate_dirs replaces the basic
        # template's, so a messaging program never creates tmp_audio (its
        # /run/shm default exists on a Pi); every recording fails with
        # FileNotFoundError unless the folder is there. Made for all sides.
        (home / "tmp").mkdir(parents=True)
        env = dict(audio_env)
        if deployment.pythonpath is not None:
            env["PYTHONPATH"] = str(deployment.pythonpath)
        install = Install(
            deployment.kind,
            deployment.label,
            home,
            audio_env=env,
            bin_dir=deployment.side.venv / "bin",
        )
        options = mic_options(deployment.device, samplerate, home)
        options += list(deployment.options)
        if deployment.rabbit:
            options += ["--broker_url", vhosts.url(deployment.label)]
        if deployment.from_schema:
            commands[deployment.label] = install.setup_from_schema(
                deployment.program, options
            )
        else:
            commands[deployment.label] = [
                " ".join(install.setup(deployment.program, options))
            ]
        installs[deployment.label] = install
    labels = list(installs)
    shift = index % len(labels)
    for label in labels[shift:] + labels[:shift]:
        install = installs[label]
        if started is not None:
            started[label] = time.time()
        commands[label] += install.start(duration if install.kind == "ours" else None)
    return commands


def stop_round(installs: Dict[str, Install]) -> float:
    """Wait for ours to stop itself, then stop upstream; return the stop time."""
    for install in installs.values():
        if install.kind == "ours":
            install.wait(timeout=180)
    stopped = time.time()
    for install in installs.values():
        install.stop()
    return stopped


def spread(values: Sequence[Optional[float]], digits: int) -> str:
    """``median [min-max]`` over rounds (just the value when they agree)."""
    present = [float(v) for v in values if v is not None]
    if not present:
        return "n/a"
    low, mid, high = min(present), statistics.median(present), max(present)
    if low == high:
        return f"{mid:.{digits}f}"
    return f"{mid:.{digits}f} [{low:.{digits}f}-{high:.{digits}f}]"


Metric = Tuple[str, Callable[[dict], Optional[float]], int, bool]
"""(row name, value of one round's result, digits, whether to give ratios)."""


def rounds_table(
    per_round: Dict[str, List[dict]], metrics: Sequence[Metric]
) -> Tuple[List[str], List[List[str]]]:
    """Build a table of per-round results.

    Returns
    -------
    tuple
        Headers and rows: each configuration's median [range] over rounds,
        then the per-round ratio of each ``ours*`` configuration to each
        upstream side at equal settings (:func:`harness.ratio_summary`).
    """
    labels = list(per_round)
    ours = [label for label in labels if label.startswith("ours")]
    upstream = [label for label in labels if label in UPSTREAM_VERSIONS]
    pairs = [(o, u) for o in ours for u in upstream]
    headers = ["metric", *labels, *[f"{o} / {u}" for o, u in pairs]]
    rows = []
    for name, get, digits, with_ratio in metrics:
        values = {label: [get(r) for r in per_round[label]] for label in labels}
        row = [name, *[spread(values[label], digits) for label in labels]]
        for o, u in pairs:
            row.append(str(ratio_summary(values[o], values[u])) if with_ratio else "-")
        rows.append(row)
    return headers, rows


# --------------------------------------------------------------------------
# coverage
# --------------------------------------------------------------------------


def analyse_coverage(install: Install, launched: float, stopped: float) -> dict:
    recordings = read_recordings(install.metadata_db)
    if not recordings:
        return {"recordings": 0}
    window_start = recordings[0].start
    window_end = max(r.start + r.duration for r in recordings)
    covered = 0.0
    cursor = window_start
    gaps: List[float] = []
    overlaps = 0
    previous_end: Optional[float] = None
    for rec in recordings:
        end = rec.start + rec.duration
        if previous_end is not None:
            if rec.start > previous_end:
                gaps.append(rec.start - previous_end)
            elif rec.start < previous_end - 1e-6:
                overlaps += 1
        previous_end = end if previous_end is None else max(previous_end, end)
        if end > cursor:
            covered += end - max(cursor, rec.start)
            cursor = end
    window = window_end - window_start
    # WAV cross-check and the ramp's own continuity.
    wav_seconds = 0.0
    mismatched = 0
    missing = 0
    intra_breaks = 0
    continuous_boundaries = 0
    boundaries = 0
    rates = set()
    ramp_gaps: List[int] = []
    ramp_ambiguous = 0
    previous_info = None
    previous_rec = recordings[0]
    for rec in recordings:
        path = find_wav(install, rec.path)
        info = wav_info(path) if path else None
        if info is None:
            missing += 1
            previous_info = None
            continue
        rates.add(info["samplerate"])
        seconds = info["frames"] / info["samplerate"]
        wav_seconds += seconds
        if abs(seconds - rec.duration) > 1.0 / info["samplerate"]:
            mismatched += 1
        intra_breaks += info["breaks"]
        if previous_info is not None:
            boundaries += 1
            step = (info["first"] - previous_info["last"]) % 65536
            if step == 1:
                continuous_boundaries += 1
            # The ramp repeats every 65536 samples: read the gap off it only
            # when the stored times say it is shorter than that.
            stored_gap = rec.start - (previous_rec.start + previous_rec.duration)
            if stored_gap < 0.9 * 65536 / info["samplerate"]:
                ramp_gaps.append((step - 1) % 65536)
            else:
                ramp_ambiguous += 1
        previous_info = info
        previous_rec = rec
    return {
        "recordings": len(recordings),
        "window_start": datetime.fromtimestamp(window_start, timezone.utc),
        "window_s": window,
        "recorded_s": covered,
        "coverage": covered / window if window > 0 else None,
        "largest_gap_s": max(gaps) if gaps else 0.0,
        "gaps_over_1ms": sum(1 for g in gaps if g > 0.001),
        "median_gap_s": median(gaps) if gaps else 0.0,
        "overlaps": overlaps,
        "run_wall_s": stopped - launched,
        "coverage_of_run_wall": covered / (stopped - launched),
        "wav_seconds": wav_seconds,
        "wav_vs_stored_mismatch": mismatched,
        "wav_missing": missing,
        "wav_samplerates": sorted(rates),
        "ramp_breaks_inside_files": intra_breaks,
        "ramp_continuous_boundaries": continuous_boundaries,
        "ramp_boundaries": boundaries,
        # Samples missing between consecutive files, read off the ramp: exact
        # below 65536 samples (0.34 s at 192 kHz), ambiguous beyond.
        "ramp_gap_median_s": (
            median(ramp_gaps) / min(rates) if ramp_gaps and rates else None
        ),
        "ramp_gap_ambiguous": ramp_ambiguous,
        "ramp_gap_max_s": (
            max(ramp_gaps) / min(rates) if ramp_gaps and rates else None
        ),
    }


def coverage_deployments(
    args: argparse.Namespace, sides: Sequence[Side]
) -> List[Deployment]:
    """Every side records 10 s every 10 s on its own recording-only program."""
    gap_free = ALL_DAY + ["--recording.duration", "10", "--recording.interval", "10"]
    deployments = []
    for side in sides:
        if side.name == "ours":
            # Ours on its default broker (built in), labelled; on RabbitMQ on
            # request, the broker upstream needs.
            deployments.append(
                Deployment("ours", side, args.ours_program, tuple(gap_free))
            )
            if args.ours_rabbitmq:
                deployments.append(
                    Deployment(
                        "ours-rabbitmq", side, args.ours_program, tuple(gap_free), True
                    )
                )
            continue
        program = "acoupi.programs.default"
        deployments.append(Deployment(side.name, side, program, tuple(gap_free), True))
        if args.upstream_defaults:
            # Upstream's default program as set up: 3 s every 10 s.
            deployments.append(
                Deployment(f"{side.name} 3s/10s", side, program, tuple(ALL_DAY), True)
            )
    return deployments


def continuity(result: dict) -> Optional[float]:
    """Fraction of consecutive file pairs that continue the ramp exactly."""
    pairs = result.get("ramp_boundaries")
    if not pairs:
        return None
    return result["ramp_continuous_boundaries"] / pairs


COVERAGE_METRICS: List[Metric] = [
    ("recordings", lambda r: r.get("recordings"), 0, False),
    ("fraction of window captured", lambda r: r.get("coverage"), 4, True),
    ("fraction of whole run (launch→stop)",
     lambda r: r.get("coverage_of_run_wall"), 4, True),
    ("largest gap (s)", lambda r: r.get("largest_gap_s"), 3, True),
    ("median gap (s)", lambda r: r.get("median_gap_s"), 3, False),
    ("gaps > 1 ms", lambda r: r.get("gaps_over_1ms"), 0, False),
    ("overlapping recordings", lambda r: r.get("overlaps"), 0, False),
    ("WAVs whose length ≠ stored duration",
     lambda r: r.get("wav_vs_stored_mismatch"), 0, False),
    ("stored recordings without WAV", lambda r: r.get("wav_missing"), 0, False),
    ("file pairs continuing the ramp exactly (fraction)", continuity, 4, False),
    ("gap read off the ramp, max (s) *", lambda r: r.get("ramp_gap_max_s"), 4, False),
    ("gaps too long to read off the ramp *",
     lambda r: r.get("ramp_gap_ambiguous"), 0, False),
    ("ramp breaks inside files", lambda r: r.get("ramp_breaks_inside_files"), 0, False),
]  # fmt: skip


def cmd_coverage(args: argparse.Namespace) -> None:
    """Coverage of continuous recording, all sides at once, ``--rounds`` times."""
    sides = sides_from_args(args)
    deployments = coverage_deployments(args, sides)
    root = workdir(args.keep)
    seconds = args.minutes * 60 + args.margin
    load_before = load_average()
    per_round: Dict[str, List[dict]] = {d.label: [] for d in deployments}
    busy: List[dict] = []
    commands: Dict[str, List[str]] = {}
    source = PulseSource(root / "pulse", args.samplerate).start()
    log(f"PulseAudio null sink at {args.samplerate} Hz playing a counter ramp")
    try:
        for index in range(args.rounds):
            vhosts = RabbitVhosts()
            installs: Dict[str, Install] = {}
            launched: Dict[str, float] = {}
            try:
                commands = start_round(
                    deployments, root, index, args.samplerate, source.env, vhosts,
                    seconds, installs, launched,
                )  # fmt: skip
                log(
                    f"round {index + 1}/{args.rounds}: {len(installs)} deployments "
                    f"recording at once for {seconds:.0f} s"
                )
                busy.append(sample_load(seconds, list(installs.values())))
                stopped = stop_round(installs)
            finally:
                for install in installs.values():
                    install.stop()
                vhosts.close()
            for label, install in installs.items():
                result = analyse_coverage(install, launched[label], stopped)
                if install.kind == "ours":
                    text = install.log_path("run.log").read_text(errors="replace")
                    lines = [x for x in text.splitlines() if "Coverage:" in x]
                    result["ours_summary_line"] = lines[-1] if lines else None
                per_round[label].append(result)
            shown = ", ".join(
                f"{label}={spread([per_round[label][-1].get('coverage')], 4)}"
                for label in per_round
            )
            log(f"round {index + 1}/{args.rounds} coverage: {shown}")
            if not args.keep:
                shutil.rmtree(root / f"round{index + 1}", ignore_errors=True)
    finally:
        source.stop()
    load_after = load_average()
    headers, rows = rounds_table(per_round, COVERAGE_METRICS)
    print(
        f"\nCoverage: {args.rounds} rounds of {args.minutes:g} min, "
        f"{args.samplerate} Hz ramp through PulseAudio, all deployments "
        "recording at once; values median [range] over rounds; ratios "
        "ours / side per round (coverage above 1: ours captured more; gap "
        "below 1: ours' largest gap is shorter)"
    )
    print(f"before: {format_load(load_before)}; after: {format_load(load_after)}")
    print(
        "machine busy during the rounds: "
        + ", ".join(f"mean {b['mean_busy']:.0%} max {b['max_busy']:.0%}" for b in busy)
        + f" of {os.cpu_count()} cores\n"
    )
    print(format_table(headers, rows))
    print(
        "* samples missing between consecutive files, from the ramp values "
        "(modulo 65536 samples: exact only below "
        f"{65536 / args.samplerate:.3f} s)"
    )
    for label, results in per_round.items():
        for index, result in enumerate(results):
            if result.get("ours_summary_line"):
                print(f"{label} round {index + 1}: {result['ours_summary_line']}")
    print_commands(commands)
    write_json(
        args.json or RESULTS / "runtime_coverage.json",
        {
            "minutes": args.minutes,
            "samplerate": args.samplerate,
            "rounds": args.rounds,
            "results": per_round,
            "commands_last_round": commands,
            "machine_busy": busy,
            "load_before": load_before,
            "load_after": load_after,
            "sides": sides_provenance(sides)["sides"],
        },
    )
    cleanup(root, args.keep)


def sample_load(seconds: float, installs: Sequence[Install]) -> dict:
    """Sleep ``seconds`` while sampling the machine's busy fraction."""

    def busy() -> tuple:
        fields = list(map(int, Path("/proc/stat").read_text().split()[1:9]))
        idle = fields[3] + fields[4]
        return sum(fields), idle

    samples = []
    end = time.monotonic() + seconds
    last = busy()
    while time.monotonic() < end:
        time.sleep(min(10.0, max(0.1, end - time.monotonic())))
        now = busy()
        total = now[0] - last[0]
        if total > 0:
            samples.append(1 - (now[1] - last[1]) / total)
        last = now
    return {
        "mean_busy": sum(samples) / len(samples) if samples else 0.0,
        "max_busy": max(samples) if samples else 0.0,
    }


# --------------------------------------------------------------------------
# idle
# --------------------------------------------------------------------------


def cmd_idle(args: argparse.Namespace) -> None:
    """Idle memory (PSS) and CPU, all configurations running at once.

    Every side runs ``acoupi.programs.test`` at the same time (ours on its
    built-in broker, ours on RabbitMQ, upstream 0.3.2 and 0.8.0 on
    RabbitMQ, each on its own vhost); after the warm-up, each round of
    ``--window`` seconds samples every side's processes (order rotating)
    and their CPU time over the window, so the per-round ratios compare
    the same moments. ``--triggered`` adds ours running the detection
    program (simulated microphone), reported per process.
    """
    from harness import format_load, format_table, ratio_summary, sides_from_args
    from runtime_support import peak_rss_bytes, process_role, pss_bytes

    sides = sides_from_args(args)
    root = workdir(args.keep)
    vhosts = RabbitVhosts()
    installs: Dict[str, Install] = {}
    commands: Dict[str, List[str]] = {}
    load_before = os.getloadavg()
    configs = []
    for side in sides:
        if side.name == "ours":
            configs.append(("ours", side, "acoupi.programs.test", False))
            configs.append(("ours-lean", side, "acoupi.programs.test", False))
            if args.ours_rabbitmq:
                configs.append(("ours-rabbitmq", side, "acoupi.programs.test", True))
            if args.triggered:
                configs.append(
                    ("ours-triggered", side, "acoupi.programs.triggered", False)
                )
        else:
            configs.append((side.name, side, "acoupi.programs.test", True))
    try:
        for label, side, program, rabbit in configs:
            kind = "ours" if side.name == "ours" else "upstream"
            install = Install(kind, label, root / label, bin_dir=side.venv / "bin")
            options = ["--broker_url", vhosts.url(label)] if rabbit else []
            if program.endswith("triggered"):
                options += mic_options("simulated", 48000, install.home)
            commands[label] = [" ".join(install.setup(program, options))]
            installs[label] = install
        for label, install in installs.items():
            # `acoupi run` is lean by default; "ours" keeps beat a process.
            mode = {"ours-lean": ["--lean"], "ours": ["--no-lean"]}.get(label, [])
            commands[label] += install.start(None, mode)
        log(
            f"warm-up {args.warmup:.0f} s, then {args.rounds} rounds of {args.window} s"
        )
        time.sleep(args.warmup)
        names = list(installs)
        pss: Dict[str, List[float]] = {n: [] for n in names}
        cpu: Dict[str, List[float]] = {n: [] for n in names}
        per_process: Dict[str, Dict[str, List[int]]] = {n: {} for n in names}
        peaks: Dict[str, Dict[str, int]] = {n: {} for n in names}
        broker_pss: List[float] = []
        broker_cpu: List[float] = []
        for index in range(args.rounds):
            order = names[index % len(names) :] + names[: index % len(names)]
            pids = {n: descendants(installs[n].root_pids()) for n in names}
            beam = rabbitmq_pids()
            start = {p: cpu_ticks(p) for n in names for p in pids[n] + beam}
            t0 = time.monotonic()
            time.sleep(args.window)
            wall = time.monotonic() - t0
            for name in order:
                current = descendants(installs[name].root_pids())
                by_pid = {p: pss_bytes(p) for p in current}
                pss[name].append(float(sum(by_pid.values())))
                ticks = sum(cpu_ticks(p) - start.get(p, cpu_ticks(p)) for p in current)
                cpu[name].append(100.0 * ticks / CLK_TCK / wall)
                for pid, size in by_pid.items():
                    role = process_role(pid)
                    per_process[name].setdefault(role, []).append(size)
                    peaks[name][role] = max(
                        peaks[name].get(role, 0), peak_rss_bytes(pid)
                    )
            broker_pss.append(float(sum(pss_bytes(p) for p in beam)))
            broker_cpu.append(
                100.0
                * sum(cpu_ticks(p) - start.get(p, 0) for p in beam)
                / CLK_TCK
                / wall
            )
            shown = ", ".join(f"{n}={pss[n][-1] / 2**20:.0f}MiB" for n in names)
            log(f"round {index + 1}/{args.rounds}: {shown}")
    finally:
        for install in installs.values():
            install.stop()
        vhosts.close()
    load_after = os.getloadavg()

    mib = 2**20
    comparable = [n for n in names if n != "ours-triggered"]
    rows = []
    for name in comparable:
        rows.append(
            [
                name,
                f"{statistics.median(pss[name]) / mib:.1f}",
                "-" if name == "ours" else str(ratio_summary(pss["ours"], pss[name])),
                f"{statistics.median(cpu[name]):.2f}",
                "-" if name == "ours" else str(ratio_summary(cpu["ours"], cpu[name])),
            ]
        )
    rows.append(
        [
            "RabbitMQ daemon (beam.smp), shared",
            f"{statistics.median(broker_pss) / mib:.1f}",
            "",
            f"{statistics.median(broker_cpu):.2f}",
            "",
        ]
    )
    print(
        f"\nIdle, acoupi.programs.test, all sides at once, {args.rounds} rounds "
        f"of {args.window:.0f} s; ratios ours / side per round, median [range]"
    )
    print(f"before: {format_load(load_before)}; after: {format_load(load_after)}\n")
    print(
        format_table(
            ["side", "PSS MiB", "ours / side", "CPU % core", "ours / side"], rows
        )
    )
    upstream_sides = [n for n in comparable if n.startswith("up")]
    if "ours-lean" in pss:
        for name in upstream_sides:
            lean = ratio_summary(pss["ours-lean"], pss[name])
            print(f"ours-lean / {name} (PSS, per round): {lean}")
    if "ours" in pss and upstream_sides:
        print("\nWith the broker daemon counted (upstream needs RabbitMQ):")
        totals = []
        for name in upstream_sides:
            with_broker = [a + b for a, b in zip(pss[name], broker_pss, strict=True)]
            totals.append(
                [
                    name,
                    f"{statistics.median(with_broker) / mib:.1f}",
                    str(ratio_summary(pss["ours"], with_broker)),
                ]
            )
        print(format_table(["side + RabbitMQ", "PSS MiB", "ours / side"], totals))
    print("\nPer process: PSS median / max over rounds, peak RSS (VmHWM), MiB")
    process_rows = []
    for name in names:
        for role, sizes in sorted(per_process[name].items()):
            process_rows.append(
                [
                    name,
                    role,
                    f"{statistics.median(sizes) / mib:.1f}",
                    f"{max(sizes) / mib:.1f}",
                    f"{peaks[name][role] / mib:.1f}",
                ]
            )
    print(
        format_table(
            ["side", "process", "PSS median", "PSS max", "peak RSS"], process_rows
        )
    )
    print_commands(commands)
    write_json(
        args.json or RESULTS / "runtime_idle.json",
        {
            "rounds": args.rounds,
            "window_s": args.window,
            "pss_bytes": pss,
            "cpu_pct": cpu,
            "broker_pss_bytes": broker_pss,
            "per_process_pss_bytes": per_process,
            "peak_rss_bytes": peaks,
            "load_before": load_before,
            "load_after": load_after,
            "commands": commands,
        },
    )
    cleanup(root, args.keep)


def count_task_runs(install: Install) -> int:
    count = 0
    for path in list(install.home.rglob("*.log")):
        try:
            count += path.read_text(errors="replace").count("Task executed")
        except OSError:
            pass
    return count


# --------------------------------------------------------------------------
# latency
# --------------------------------------------------------------------------


UPSTREAM_PLUGIN = '''"""Toy detection program for upstream acoupi 0.3 and 0.8 (a bench).

Uses only upstream's public API: DetectionProgram, its configuration
schema, data classes and DetectionThresholdMessageBuilder. The model is a
pure-Python energy detector (upstream's venv has no numpy): one detection
per 0.1 s block whose RMS exceeds a floor, tagged event=loud.
"""

import array
import wave

from acoupi import data
from acoupi.components import DetectionThresholdMessageBuilder
from acoupi.programs.templates import (
    DetectionProgram,
    DetectionProgramConfiguration,
)

# 0.8 requires a prediction type (EventDetection: one sound event); 0.3
# has only Detection.
Detection = getattr(data, "EventDetection", data.Detection)


class ToyEnergyModel:
    name = "ToyEnergyModel"

    def run(self, recording: data.Recording) -> data.ModelOutput:
        with wave.open(str(recording.path), "rb") as handle:
            rate = handle.getframerate()
            samples = array.array("h", handle.readframes(handle.getnframes()))
        block = rate // 10
        detections = []
        for start in range(0, len(samples) - block + 1, block):
            chunk = samples[start : start + block : 16]
            rms = (sum(x * x for x in chunk) / len(chunk)) ** 0.5
            if rms > 100:
                detections.append(
                    Detection(
                        location=data.BoundingBox(
                            coordinates=(
                                start / rate,
                                1500.0,
                                (start + block) / rate,
                                10000.0,
                            )
                        ),
                        detection_score=1.0,
                        tags=[
                            data.PredictedTag(
                                tag=data.Tag(key="event", value="loud"),
                                confidence_score=1.0,
                            )
                        ],
                    )
                )
        return data.ModelOutput(
            name_model=self.name, recording=recording, detections=detections
        )


class BenchDetectionConfig(DetectionProgramConfiguration):
    pass


class BenchDetectionProgram(DetectionProgram[BenchDetectionConfig]):
    config_schema = BenchDetectionConfig

    def configure_model(self, config):
        return ToyEnergyModel()

    def get_message_factories(self, config):
        return [DetectionThresholdMessageBuilder(detection_threshold=0.2)]
'''


DETECTION_DONE = re.compile(r"detection_task\[[^\]]*\] succeeded in ([0-9.]+)s")


def norm_id(value) -> str:
    if isinstance(value, (bytes, bytearray)) and len(value) == 16:
        return str(uuid.UUID(bytes=bytes(value)))
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(value)


def analyse_latency(install: Install, n: int) -> dict:
    recordings = read_recordings(install.metadata_db)[:n]
    outputs = {
        norm_id(k): v for k, v in read_model_outputs(install.metadata_db).items()
    }
    messages = (
        read_messages(install.messages_db) if install.messages_db.exists() else []
    )
    acked_by_recording: Dict[str, float] = {}
    created_by_recording: Dict[str, float] = {}
    for message in messages:
        try:
            content = json.loads(message["content"])
            rec_id = norm_id(content["recording"]["id"])
        except (ValueError, KeyError, TypeError):
            continue  # heartbeat or other message not about a recording
        created_by_recording.setdefault(rec_id, message["created_on"])
        if message["acked_on"] is not None:
            acked_by_recording[rec_id] = min(
                message["acked_on"], acked_by_recording.get(rec_id, 1e18)
            )
    to_output: List[float] = []
    to_message: List[float] = []
    to_ack: List[float] = []
    audio_to_output: List[float] = []
    audio_to_ack: List[float] = []
    for rec in recordings:
        end = rec.start + rec.duration
        key = norm_id(rec.id)
        # When the audio really ended. Ours stores the first sample's time
        # from the sample clock, so start + duration is it. Upstream stores
        # the time just before it opens the stream, so its stored end is
        # early by the stream's start-up; its WAV's mtime (written once the
        # last sample is in; moving it to storage keeps it) is used instead.
        # (Ours' mtime cannot be: filing rewrites the WAV with its GUANO
        # detections.)
        audio_end: Optional[float] = end
        if install.kind != "ours":
            wav = find_wav(install, rec.path)
            audio_end = wav.stat().st_mtime if wav is not None else None
        if key in outputs:
            to_output.append(outputs[key] - end)
            if audio_end is not None:
                audio_to_output.append(outputs[key] - audio_end)
        if key in created_by_recording:
            to_message.append(created_by_recording[key] - end)
        if key in acked_by_recording:
            to_ack.append(acked_by_recording[key] - end)
            if audio_end is not None:
                audio_to_ack.append(acked_by_recording[key] - audio_end)

    def stats(values: List[float]) -> dict:
        return {
            "n": len(values),
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "max": max(values) if values else None,
            "values": values,
        }

    # How long the detection task itself ran (Celery's own "succeeded in").
    task_seconds: List[float] = []
    for path in install.home.rglob("*.log"):
        text = path.read_text(errors="replace")
        task_seconds += [float(x) for x in DETECTION_DONE.findall(text)]
    return {
        "recordings": len(recordings),
        "detection_task_run": stats(task_seconds[:n]),
        "model_output": stats(to_output),
        "message_created": stats(to_message),
        "acked": stats(to_ack),
        "audio_end_to_output": stats(audio_to_output),
        "audio_end_to_acked": stats(audio_to_ack),
        "messages_total": len(messages),
        "messages_acked_total": sum(1 for m in messages if m["acked_on"]),
    }


def latency_deployments(
    args: argparse.Namespace, sides: Sequence[Side], plugin_dir: Path
) -> List[Deployment]:
    """Ours' triggered program and upstream's toy detection program."""
    tag = f"acoupi-bench/{os.getpid()}"

    def options(label: str) -> Tuple[str, ...]:
        return (
            *ALL_DAY,
            "--recording.duration", str(args.duration),
            "--recording.interval", str(args.interval),
            "--messaging.mqtt.host", args.mqtt_host,
            "--messaging.mqtt.port", str(args.mqtt_port),
            "--messaging.mqtt.username", "acoupi",
            # Upstream's setup requires a password; Mosquitto here allows
            # anonymous clients, so it is not checked. Same for all.
            "--messaging.mqtt.password", "acoupi",
            "--messaging.mqtt.topic", f"{tag}/{label}",
            "--messaging.message_send_interval", str(args.send_interval),
        )  # fmt: skip

    deployments = []
    for side in sides:
        if side.name == "ours":
            program = "acoupi.programs.triggered"
            deployments.append(
                Deployment("ours", side, program, options("ours"), device="simulated")
            )
            if args.ours_rabbitmq:
                deployments.append(
                    Deployment(
                        "ours-rabbitmq", side, program, options("ours-rabbitmq"),
                        rabbit=True, device="simulated",
                    )
                )  # fmt: skip
            continue
        deployments.append(
            Deployment(
                side.name, side, "bench_upstream_detection", options(side.name),
                rabbit=True, pythonpath=plugin_dir,
                # 0.8.0's `acoupi setup` cannot set up a messaging program
                # (see Install.setup_from_schema).
                from_schema=side.version.startswith("0.8"),
            )
        )  # fmt: skip
    return deployments


LATENCY_STAGES = [
    ("audio_end_to_output", "audio end → model output stored", True),
    ("audio_end_to_acked", "audio end → message acked by Mosquitto", True),
    ("model_output", "stored end → model output stored", False),
    ("message_created", "stored end → message stored", False),
    ("acked", "stored end → message acked", False),
    ("detection_task_run", "detection task run time (worker log)", False),
]
"""(key, row name, ratio?): ratios only where the sides measure the same
thing; the model differs (toy vs band-energy), and upstream's stored end
is early by its stream start-up (see :func:`analyse_latency`)."""


def stage_p50(stage: str) -> Callable[[dict], Optional[float]]:
    return lambda result: result[stage]["p50"]


def cmd_latency(args: argparse.Namespace) -> None:
    """End-to-end latency, all configurations at once, ``--rounds`` times."""
    sides = sides_from_args(args)
    root = workdir(args.keep)
    run_seconds = (args.recordings + 3) * args.interval + 20
    plugin_dir = root / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "bench_upstream_detection.py").write_text(UPSTREAM_PLUGIN)
    deployments = latency_deployments(args, sides, plugin_dir)
    load_before = load_average()
    per_round: Dict[str, List[dict]] = {d.label: [] for d in deployments}
    commands: Dict[str, List[str]] = {}
    source = PulseSource(root / "pulse", args.samplerate).start()
    try:
        for index in range(args.rounds):
            vhosts = RabbitVhosts()
            installs: Dict[str, Install] = {}
            try:
                commands = start_round(
                    deployments, root, index, args.samplerate, source.env, vhosts,
                    run_seconds, installs,
                )  # fmt: skip
                log(
                    f"round {index + 1}/{args.rounds}: running {run_seconds} s "
                    f"({args.recordings} recordings needed)"
                )
                time.sleep(run_seconds)
                stop_round(installs)
            finally:
                for install in installs.values():
                    install.stop()
                vhosts.close()
            for label, install in installs.items():
                per_round[label].append(analyse_latency(install, args.recordings))
            shown = ", ".join(
                f"{label}={spread([per_round[label][-1]['acked']['p50']], 2)}s"
                for label in per_round
            )
            log(f"round {index + 1}/{args.rounds} acked p50: {shown}")
            if not args.keep:
                shutil.rmtree(root / f"round{index + 1}", ignore_errors=True)
    finally:
        source.stop()
    load_after = load_average()
    metrics: List[Metric] = [
        ("recordings analysed", lambda r: r["recordings"], 0, False)
    ]
    metrics += [(f"{name}: p50 (s)", stage_p50(stage), 3, with_ratio)
                for stage, name, with_ratio in LATENCY_STAGES]  # fmt: skip
    headers, rows = rounds_table(per_round, metrics)
    print(
        f"\nLatency over the first {args.recordings} recordings of each of "
        f"{args.rounds} rounds ({args.duration} s every {args.interval} s; "
        f"messages sent every {args.send_interval} s; all configurations at "
        "once); p50 per round, median [range] over rounds; ratios ours / side "
        "per round (below 1: ours is quicker)"
    )
    print(f"before: {format_load(load_before)}; after: {format_load(load_after)}\n")
    print(format_table(headers, rows))
    pooled = []
    for stage, name, _ in LATENCY_STAGES:
        row = [name]
        for results in per_round.values():
            values = [v for r in results for v in r[stage]["values"]]
            p95, top = percentile(values, 0.95), max(values) if values else None
            row.append("n/a" if p95 is None else f"{p95:.3f} / {top:.3f}")
        pooled.append(row)
    print("\nAll rounds pooled: p95 / max (s)\n")
    print(format_table(["stage", *per_round], pooled))
    print(
        "\nOurs runs acoupi.programs.triggered (simulated microphone, "
        "band-energy detector, detection messages over MQTT). Upstream 0.3.2 "
        "and 0.8.0 ship no detection program, so they run the toy "
        "DetectionProgram plugin above (upstream public API only; pure-Python "
        "energy model, DetectionThresholdMessageBuilder, upstream's MQTT "
        "messenger), recording through PulseAudio (they have no simulated "
        "microphone). Audio end: ours' stored start (the first sample's "
        "time) + duration; upstream's WAV mtime, as upstream stores the time "
        "just before it opens the stream (its 'stored end' rows include that "
        "start-up)."
    )
    print_commands(commands)
    write_json(
        args.json or RESULTS / "runtime_latency.json",
        {
            "recordings": args.recordings,
            "rounds": args.rounds,
            "results": per_round,
            "commands_last_round": commands,
            "load_before": load_before,
            "load_after": load_after,
            "sides": sides_provenance(sides)["sides"],
        },
    )
    cleanup(root, args.keep)


# --------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    coverage = sub.add_parser(
        "coverage", help="continuous recording coverage, three-way"
    )
    add_arguments(coverage, rounds=3)
    coverage.add_argument(
        "--minutes", type=float, default=10, help="recording per round"
    )
    coverage.add_argument("--samplerate", type=int, default=192_000)
    coverage.add_argument(
        "--margin", type=float, default=30, help="extra run seconds for start-up"
    )
    coverage.add_argument(
        "--ours-program",
        default="acoupi.programs.default",
        help="ours' program (default %(default)s, the one upstream runs)",
    )
    coverage.add_argument(
        "--ours-rabbitmq",
        action="store_true",
        help="also run ours on RabbitMQ (upstream's broker)",
    )
    coverage.add_argument(
        "--upstream-defaults",
        action="store_true",
        help="also run upstream's default program as set up (3 s every 10 s)",
    )
    idle = sub.add_parser("idle", help="idle memory (PSS) and CPU, three-way")
    add_arguments(idle, rounds=10)
    idle.add_argument("--window", type=float, default=30, help="seconds per round")
    idle.add_argument("--warmup", type=float, default=45)
    idle.add_argument(
        "--no-ours-rabbitmq",
        dest="ours_rabbitmq",
        action="store_false",
        help="skip ours on RabbitMQ",
    )
    idle.add_argument(
        "--triggered",
        action="store_true",
        help="also run ours with acoupi.programs.triggered (per-process memory)",
    )
    latency = sub.add_parser(
        "latency", help="recording end → stored / acked, three-way"
    )
    add_arguments(latency, rounds=3)
    latency.add_argument(
        "--recordings", type=int, default=30, help="recordings per round"
    )
    latency.add_argument("--mqtt-host", default="127.0.0.1")
    latency.add_argument("--mqtt-port", type=int, default=1883)
    latency.add_argument("--send-interval", type=int, default=5)
    latency.add_argument("--duration", type=int, default=3)
    latency.add_argument("--interval", type=int, default=10)
    latency.add_argument("--samplerate", type=int, default=192_000)
    latency.add_argument(
        "--no-ours-rabbitmq",
        dest="ours_rabbitmq",
        action="store_false",
        help="skip ours on RabbitMQ",
    )
    for command in (coverage, idle, latency):
        command.add_argument("--json", type=Path, default=None)
        command.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    {"coverage": cmd_coverage, "idle": cmd_idle, "latency": cmd_latency}[args.command](
        args
    )


if __name__ == "__main__":
    main()
