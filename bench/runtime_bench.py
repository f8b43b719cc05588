"""Long-running behaviour of acoupi: ours beside upstream 0.3.2, same run.

Three measurements, each a subcommand; each prints a table (ours, upstream,
ratio) and writes JSON to ``bench/results/runtime_<name>.json``:

``coverage --minutes 10``
    Continuous recording from the same audio source for both: a private
    PulseAudio whose null sink plays an endless 16-bit counter ramp, captured
    through the real path (PortAudio/PyAudio → ALSA "pulse" device →
    PulseAudio). Ours: ``acoupi.programs.triggered`` with duration = interval
    = 10 s (gap-free mode) on the embedded broker. Upstream: its default
    program as set up (3 s every 10 s) and the same program set to 10 s every
    10 s, on RabbitMQ. All three run at the same time, on separate homes.
    Reported: fraction of the recording window captured and the largest gap,
    from the stored start times and durations, cross-checked with the WAV
    frame counts and with the ramp itself (a file that continues its
    predecessor sample-exactly starts with last + 1).

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

``latency --recordings 30``
    From a recording's end (start + duration) to (a) its model output being
    stored and (b) its message being acknowledged by Mosquitto on
    127.0.0.1:1883. Ours: ``acoupi.programs.triggered`` (simulated
    microphone, toy band-energy detector). Upstream ships no detection
    program, so the upstream side is a small DetectionProgram plugin written
    here (``bench_upstream_detection.py`` in a temp dir, upstream's public API
    only) whose pure-Python toy model emits a detection per loud 0.1 s block,
    with upstream's MQTT messenger and DetectionThresholdMessageBuilder.
    Both sides record 3 s every 10 s and send messages every 5 s, so the
    acknowledgement latency is mostly the wait for the next send tick (the
    two schedules share one clock, hence a near-constant phase).

Every run uses throwaway ``HOME``/``ACOUPI_HOME`` folders; nothing is sent
off loopback. Usage::

    .venv/bin/python bench/runtime_bench.py coverage --minutes 10
    .venv/bin/python bench/runtime_bench.py idle --up03 /work/up03 \
        --up08 /work/up08 --triggered
    .venv/bin/python bench/runtime_bench.py latency --recordings 30
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import add_arguments  # noqa: E402
from runtime_support import (  # noqa: E402
    CLK_TCK,
    RABBITMQ_URL,
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


def fmt(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}"


def print_table(title: str, headers: Sequence[str], rows: List[Sequence]) -> None:
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    print(f"\n{title}")
    line = "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in cells[1:]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


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


def cmd_coverage(args: argparse.Namespace) -> None:
    root = workdir(args.keep)
    seconds = args.minutes * 60
    source = PulseSource(root / "pulse", args.samplerate).start()
    log(f"PulseAudio null sink at {args.samplerate} Hz playing a counter ramp")
    configs = [
        ("ours 10s/10s", "ours", ["--recording.duration", "10",
                                  "--recording.interval", "10"]),
        ("upstream default 3s/10s", "upstream", ["--broker_url", RABBITMQ_URL]),
        ("upstream 10s/10s", "upstream", ["--broker_url", RABBITMQ_URL,
                                          "--recording.duration", "10",
                                          "--recording.interval", "10"]),
    ]  # fmt: skip
    installs: List[Install] = []
    commands: Dict[str, List[str]] = {}
    vhosts = RabbitVhosts()
    try:
        for index, (label, kind, extra) in enumerate(configs):
            extra = [vhosts.url(label) if x == RABBITMQ_URL else x for x in extra]
            home = root / f"home{index}"
            install = Install(kind, label, home, audio_env=source.env)
            program = (
                "acoupi.programs.triggered"
                if kind == "ours"
                else "acoupi.programs.default"
            )
            options = mic_options("pulse", args.samplerate, home) + extra
            commands[label] = [" ".join(install.setup(program, options))]
            installs.append(install)
        launched = time.time()
        for install in installs:
            # Ours stops itself; upstream is stopped after the same time.
            commands[install.label] += install.start(
                seconds + args.margin if install.kind == "ours" else None
            )
        log(f"running {seconds + args.margin} s, all three at once")
        load = sample_load(seconds + args.margin, installs)
        for install in installs:
            if install.kind == "ours":
                install.wait(timeout=120)
        stopped = time.time()
        for install in installs:
            if install.kind == "upstream":
                install.stop()
        results = {}
        for install in installs:
            results[install.label] = analyse_coverage(install, launched, stopped)
            if install.kind == "ours":
                text = install.log_path("run.log").read_text(errors="replace")
                summary = [x for x in text.splitlines() if "Coverage:" in x]
                results[install.label]["ours_summary_line"] = (
                    summary[-1] if summary else None
                )
    finally:
        for install in installs:
            install.stop()
        source.stop()
        vhosts.close()
    labels = [c[0] for c in configs]
    o, u3, u10 = (results[label] for label in labels)
    rows = []
    for key, name, digits in [
        ("recordings", "recordings", 0),
        ("window_s", "window first start → last end (s)", 1),
        ("recorded_s", "recorded in window (s)", 1),
        ("coverage", "fraction of window captured", 4),
        ("coverage_of_run_wall", "fraction of whole run (launch→stop)", 4),
        ("largest_gap_s", "largest gap (s)", 3),
        ("median_gap_s", "median gap (s)", 3),
        ("gaps_over_1ms", "gaps > 1 ms", 0),
        ("overlaps", "overlapping recordings", 0),
        ("wav_seconds", "WAV frames / rate, summed (s)", 1),
        ("wav_vs_stored_mismatch", "WAVs whose length ≠ stored duration", 0),
        ("wav_missing", "stored recordings without WAV", 0),
        ("ramp_continuous_boundaries", "files continuing the ramp exactly", 0),
        ("ramp_boundaries", "consecutive file pairs", 0),
        ("ramp_gap_median_s", "gap read off the ramp, median (s) *", 4),
        ("ramp_gap_max_s", "gap read off the ramp, max (s) *", 4),
        ("ramp_gap_ambiguous", "gaps too long to read off the ramp *", 0),
        ("ramp_breaks_inside_files", "ramp breaks inside files", 0),
    ]:
        values = [r.get(key) for r in (o, u3, u10)]
        cells = [fmt(float(v), digits) if digits and v is not None else fmt(v)
                 for v in values]  # fmt: skip
        rows.append([name, *cells, ratio(values[0], values[1]),
                     ratio(values[0], values[2])])  # fmt: skip
    print_table(
        f"Coverage: {args.minutes} min, {args.samplerate} Hz ramp through "
        "PulseAudio, all three at once",
        ["metric", *labels, "ours/up 3s", "ours/up 10s"],
        rows,
    )
    print(
        "* samples missing between consecutive files, from the ramp values "
        "(modulo 65536 samples: exact only below "
        f"{65536 / args.samplerate:.3f} s)"
    )
    print(f"\nours' own summary: {o.get('ours_summary_line')}")
    print(
        f"machine during the run: mean CPU busy {load['mean_busy']:.1%} of "
        f"{os.cpu_count()} cores, max {load['max_busy']:.1%}"
    )
    print_commands(commands)
    write_json(
        args.json or RESULTS / "runtime_coverage.json",
        {
            "minutes": args.minutes,
            "samplerate": args.samplerate,
            "results": results,
            "commands": commands,
            "machine_load": load,
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
    from harness import median as hmedian
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
            lean = {"ours-lean": ["--lean"], "ours": ["--no-lean"]}.get(label, [])
            commands[label] += install.start(None, lean)
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
                sizes = {p: pss_bytes(p) for p in current}
                pss[name].append(float(sum(sizes.values())))
                ticks = sum(cpu_ticks(p) - start.get(p, cpu_ticks(p)) for p in current)
                cpu[name].append(100.0 * ticks / CLK_TCK / wall)
                for pid, size in sizes.items():
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
                f"{hmedian(pss[name]) / mib:.1f}",
                "-" if name == "ours" else str(ratio_summary(pss["ours"], pss[name])),
                f"{hmedian(cpu[name]):.2f}",
                "-" if name == "ours" else str(ratio_summary(cpu["ours"], cpu[name])),
            ]
        )
    rows.append(
        [
            "RabbitMQ daemon (beam.smp), shared",
            f"{hmedian(broker_pss) / mib:.1f}",
            "",
            f"{hmedian(broker_cpu):.2f}",
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
                    f"{hmedian(with_broker) / mib:.1f}",
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
                    f"{hmedian(sizes) / mib:.1f}",
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


UPSTREAM_PLUGIN = '''"""Toy detection program for upstream acoupi 0.3 (bench test code).

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
                    data.Detection(
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
    written_to_output: List[float] = []
    written_to_ack: List[float] = []
    for rec in recordings:
        end = rec.start + rec.duration
        key = norm_id(rec.id)
        # Cross-check that does not trust the stored start time: when the
        # WAV was last written (moving it to storage keeps its mtime).
        wav = find_wav(install, rec.path)
        if wav is not None:
            written = wav.stat().st_mtime
            if key in outputs:
                written_to_output.append(outputs[key] - written)
            if key in acked_by_recording:
                written_to_ack.append(acked_by_recording[key] - written)
        if key in outputs:
            to_output.append(outputs[key] - end)
        if key in created_by_recording:
            to_message.append(created_by_recording[key] - end)
        if key in acked_by_recording:
            to_ack.append(acked_by_recording[key] - end)

    def stats(values: List[float]) -> dict:
        return {
            "n": len(values),
            "p50": percentile(values, 0.5),
            "p95": percentile(values, 0.95),
            "max": max(values) if values else None,
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
        "wav_written_to_output": stats(written_to_output),
        "wav_written_to_acked": stats(written_to_ack),
        "messages_total": len(messages),
        "messages_acked_total": sum(1 for m in messages if m["acked_on"]),
    }


def cmd_latency(args: argparse.Namespace) -> None:
    root = workdir(args.keep)
    interval = args.interval
    run_seconds = (args.recordings + 3) * interval + 20
    source = PulseSource(root / "pulse", args.samplerate).start()
    vhosts = RabbitVhosts()
    plugin_dir = root / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "bench_upstream_detection.py").write_text(UPSTREAM_PLUGIN)
    tag = f"acoupi-bench/{os.getpid()}"

    def mqtt(label: str) -> List[str]:
        return [
            "--messaging.mqtt.host", args.mqtt_host,
            "--messaging.mqtt.port", str(args.mqtt_port),
            "--messaging.mqtt.username", "acoupi",
            # Upstream's setup requires a password; Mosquitto here allows
            # anonymous clients, so it is not checked. Same for both.
            "--messaging.mqtt.password", "acoupi",
            "--messaging.mqtt.topic", f"{tag}/{label}",
            "--messaging.message_send_interval", str(args.send_interval),
        ]  # fmt: skip

    schedule = [
        "--recording.duration", str(args.duration),
        "--recording.interval", str(interval),
    ]  # fmt: skip
    installs: List[Install] = []
    commands: Dict[str, List[str]] = {}
    try:
        specs = [
            ("ours embedded", "ours", "acoupi.programs.triggered", "simulated", []),
            ("ours RabbitMQ", "ours", "acoupi.programs.triggered", "simulated",
             ["--broker_url", "RABBIT"]),
            ("upstream RabbitMQ", "upstream", "bench_upstream_detection", "pulse",
             ["--broker_url", "RABBIT"]),
        ]  # fmt: skip
        for index, (label, kind, program, device, extra) in enumerate(specs):
            if not args.ours_rabbitmq and label == "ours RabbitMQ":
                continue
            home = root / f"home{index}"
            # Upstream's MessagingProgram.validate_dirs replaces the basic
            # template's, so a messaging program never creates tmp_audio (its
            # /run/shm default exists on a Pi); every recording fails with
            # FileNotFoundError unless the folder is there. Made for both.
            (home / "tmp").mkdir(parents=True)
            audio_env = dict(source.env)
            if kind == "upstream":
                audio_env["PYTHONPATH"] = str(plugin_dir)
            install = Install(kind, label, home, audio_env=audio_env)
            extra = [vhosts.url(label) if x == "RABBIT" else x for x in extra]
            options = (
                mic_options(device, args.samplerate, home)
                + schedule
                + mqtt(kind + str(index))
                + extra
            )
            commands[label] = [" ".join(install.setup(program, options))]
            installs.append(install)
        for install in installs:
            commands[install.label] += install.start(
                run_seconds if install.kind == "ours" else None
            )
        log(f"running {run_seconds} s ({args.recordings} recordings needed)")
        time.sleep(run_seconds)
        for install in installs:
            if install.kind == "ours":
                install.wait(timeout=120)
    finally:
        for install in installs:
            install.stop()
        source.stop()
        vhosts.close()
    results = {i.label: analyse_latency(i, args.recordings) for i in installs}
    labels = [i.label for i in installs]
    upstream = results[labels[-1]]
    rows = []
    for stage, name in [
        ("detection_task_run", "detection task run time (worker log)"),
        ("model_output", "end → model output stored"),
        ("message_created", "end → message stored"),
        ("acked", "end → message acked by Mosquitto"),
        ("wav_written_to_output", "WAV mtime → model output stored"),
        ("wav_written_to_acked", "WAV mtime → message acked"),
    ]:
        for stat in ("n", "p50", "p95", "max"):
            values = [results[label][stage][stat] for label in labels]
            rows.append(
                [f"{name}: {stat}" + ("" if stat == "n" else " (s)"),
                 *[fmt(v, 3) for v in values],
                 *[ratio(v, upstream[stage][stat]) for v in values[:-1]]]
            )  # fmt: skip
    print_table(
        f"Latency over the first {args.recordings} recordings "
        f"({args.duration} s every {interval} s; messages sent every "
        f"{args.send_interval} s; all configurations at once)",
        ["metric", *labels, *[f"{x} / upstream" for x in labels[:-1]]],
        rows,
    )
    print(
        "\nComparison: ours runs acoupi.programs.triggered (simulated "
        "microphone, band-energy detector, detection messages over MQTT).\n"
        "Upstream 0.3.2 ships no detection program, so it runs the toy "
        "DetectionProgram plugin above (upstream public API only; pure-Python\n"
        "energy model, DetectionThresholdMessageBuilder, upstream's MQTT "
        "messenger), recording through PulseAudio (it has no simulated\n"
        "microphone). A recording's end is its stored start + duration; "
        "upstream stores the time just before it opens the stream."
    )
    print_commands(commands)
    write_json(
        args.json or RESULTS / "runtime_latency.json",
        {"recordings": args.recordings, "results": results, "commands": commands},
    )
    cleanup(root, args.keep)


# --------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    coverage = sub.add_parser("coverage", help="continuous recording coverage")
    coverage.add_argument("--minutes", type=float, default=10)
    coverage.add_argument("--samplerate", type=int, default=192_000)
    coverage.add_argument(
        "--margin", type=float, default=30, help="extra run seconds for start-up"
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
    latency = sub.add_parser("latency", help="recording end → stored / acked")
    latency.add_argument("--recordings", type=int, default=30)
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
