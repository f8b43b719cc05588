"""What a detection model costs per clip: CPU-s, real-time factor, memory.

Models and sides:

* the built-in band energy detector
  (``acoupi.components.models.energy_detector``, ours' ``.venv``). Upstream
  0.3.2 and 0.8.0 have no built-in detector, so it has no upstream side;
* the BatDetect2 plugin's model (``acoupi_batdetect2.model.BatDetect2``,
  acoupi-batdetect2 0.3.0 with CPU torch 2.13.0) on **ours**, in the venv
  ``tests/plugins`` builds under ``.cache/plugin-venvs``, and on **upstream
  0.3.2** (``up03``), in a venv built by the same install steps with
  ``acoupi==0.3.2`` from PyPI in place of ours: the same model and
  libraries, only acoupi differs. There is no 0.8.0 side: acoupi-batdetect2
  0.3.0 (the latest) builds ``data.Detection`` without the
  ``prediction_type`` that 0.8.0 requires, so every clip with a call fails
  there with a ValidationError.

Each (side, model, thread cap) runs in its own long-lived worker process, as
in a detection worker: the cap is applied before the model loads with ours'
:func:`acoupi.system.model_threads.limit_model_threads` (what the detection
worker does with ``detections.model_threads``; loaded from this checkout's
file on the upstream side too, whose acoupi has no cap: same settings), the
model is loaded once, and one unmeasured round warms it up. Upstream is
also run uncapped (``as shipped``: torch takes every core). Clips:
``--seconds`` (default 3, the plugin's recording length) of the synthetic
soundscape at 48, 192 and 384 kHz. Rounds run every configuration once
per rate, the compared ones back to back in an order rotated per round
(:func:`paired_rounds`); the tables give
median [min-max] over rounds, the per-round ratio ours / up03 at the same
cap and rate, and the load average:

* CPU-s per clip: process CPU time of the worker (all threads) for one run;
* RTF: wall time / clip duration (below 1: faster than real time);
* memory of each BatDetect2 worker: RSS and PSS (``/proc/PID/smaps_rollup``)
  after loading and the warm-up (idle), and its peak RSS (``VmHWM``).

Usage::

    .venv/bin/python bench/model_cost.py [--rounds 5] [--seconds 3]
        [--threads 1 2] [--only ours,up03] [--json bench/results/model_cost.json]

Missing plugin venvs are built first (~3 min and ~2 GB each, once; pip
needs ``portaudio19-dev`` for PyAudio); ``--no-build`` measures what is
there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from harness import (
    OURS_VENV,
    ROOT,
    format_load,
    format_table,
    load_average,
    provenance,
    ratio_summary,
)

sys.path.insert(0, str(ROOT / "tests" / "plugins"))

from plugin_venvs import CACHE, ensure_venv  # noqa: E402

SAMPLERATES = (48_000, 192_000, 384_000)
MODEL_THREADS = ROOT / "src" / "acoupi" / "system" / "model_threads.py"
UPSTREAM_BASE = ("acoupi==0.3.2",)
"""What replaces ours (``-e .``) in the upstream plugin venv."""

WORKER = r"""
import importlib.util, json, sys, time
from acoupi import data

kind, threads, model_threads = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if threads:
    # Ours' cap, loaded from this checkout's file so that it applies to
    # upstream's process as well (upstream's acoupi has none).
    spec = importlib.util.spec_from_file_location("model_threads", model_threads)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.limit_model_threads(threads)
if kind == "batdetect2":
    from acoupi_batdetect2.model import BatDetect2
    model = BatDetect2()
    model.load_api()
else:
    from acoupi.components.models.energy_detector import BandEnergyDetector
    model = BandEnergyDetector()

def torch_threads():
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None

def memory():
    fields = {}
    with open("/proc/self/smaps_rollup") as handle:
        for line in handle:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                fields[parts[0][:-1].lower()] = int(parts[1]) / 1024
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                fields["peak_rss"] = int(line.split()[1]) / 1024
    return fields

print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    command = json.loads(line)
    if command["op"] == "memory":
        print(json.dumps({**memory(), "torch_threads": torch_threads()}), flush=True)
        continue
    recording = data.Recording(
        path=command["path"], duration=command["seconds"],
        samplerate=command["samplerate"], deployment=data.Deployment(name="bench"),
    )
    c0, w0 = time.process_time(), time.perf_counter()
    output = model.run(recording)
    print(json.dumps({
        "cpu": time.process_time() - c0, "wall": time.perf_counter() - w0,
        "detections": len(output.detections),
    }), flush=True)
"""


@dataclass(frozen=True)
class Config:
    """One worker: a side's venv, a model and a thread cap (0: none)."""

    side: str
    model: str
    threads: int
    python: Path

    @property
    def label(self) -> str:
        cap = str(self.threads) if self.threads else "as shipped"
        return f"{self.model} {self.side} {cap}"


def plugin_steps() -> tuple:
    """The install steps of the plugin venv of the slow plugin tests."""
    from test_plugins_e2e import PLUGIN_STEPS

    return PLUGIN_STEPS


def plugin_venv(side: str, build: bool) -> Optional[Path]:
    """The BatDetect2 venv of ``side`` (``ours`` or ``up03``), built if asked."""
    if build:
        if side == "ours":
            return ensure_venv("plugins", plugin_steps()).path
        return ensure_venv(
            "upstream-0.3.2-plugins", plugin_steps(), base=UPSTREAM_BASE
        ).path
    name = "plugins-*" if side == "ours" else "upstream-0.3.2-plugins-*"
    venvs = sorted(CACHE.glob(name), key=lambda p: p.stat().st_mtime)
    return venvs[-1] if venvs else None


def write_clip(folder: Path, samplerate: int, seconds: float) -> Path:
    sys.path.insert(0, str(ROOT / "src"))
    from acoupi.audio.soundscape import Soundscape

    scape = Soundscape(samplerate, seed=1, noise_level=0.01)
    path = folder / f"clip_{samplerate}.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(samplerate)
        handle.writeframes(scape.render(0, int(seconds * samplerate)).tobytes())
    return path


class Worker:
    """One model in its own process, driven over stdin/stdout."""

    def __init__(self, config: Config) -> None:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        self.process = subprocess.Popen(
            [
                str(config.python),
                "-c",
                WORKER,
                config.model,
                str(config.threads),
                str(MODEL_THREADS),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.ask()  # "ready" once the model is loaded

    def ask(self, command: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        if command is not None:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("model worker died; run it by hand to see why")
        return json.loads(line)

    def run(self, path: Path, samplerate: int, seconds: float) -> Dict[str, Any]:
        command = {
            "op": "run",
            "path": str(path),
            "samplerate": samplerate,
            "seconds": seconds,
        }
        return self.ask(command)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def spread(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def rotate(items: Sequence[Any], index: int) -> List[Any]:
    shift = index % len(items)
    return list(items[shift:]) + list(items[:shift])


def paired_rounds(
    workers: Dict[Config, Worker],
    clips: Dict[int, Path],
    seconds: float,
    rounds: int,
    default_cap: int,
    warmup: int = 1,
) -> Dict[str, List[Dict[str, Any]]]:
    """Run every worker on every clip once per round; return results by key.

    The configurations compared with each other (ours and up03 at the same
    cap and rate, and up03 as shipped beside the default cap) run back to
    back, in an order that rotates from round to round, so each pair meets
    the same moment of the machine and neither side always goes first; the
    groups themselves rotate too (as :func:`harness.interleave` does). The
    first ``warmup`` rounds are not kept.
    """
    groups: Dict[tuple, List[Config]] = {}
    for config in workers:
        cap = config.threads or default_cap
        groups.setdefault((config.model, cap), []).append(config)
    keys = [(g, sr) for g in groups for sr in clips]
    results: Dict[str, List[Dict[str, Any]]] = {}
    for index in range(warmup + rounds):
        for group, sr in rotate(keys, index):
            for config in rotate(groups[group], index):
                result = workers[config].run(clips[sr], sr, seconds)
                if index >= warmup:
                    results.setdefault(f"{config.label} {sr}", []).append(result)
        if index >= warmup:
            print(f"  round {index - warmup + 1}/{rounds} done", file=sys.stderr)
    return results


def configs_for(args: argparse.Namespace) -> List[Config]:
    """The workers to run: energy on ours; BatDetect2 on ours and up03."""
    sides = [s.strip() for s in args.only.split(",") if s.strip()]
    configs: List[Config] = []
    python = OURS_VENV / "bin" / "python"
    if "ours" in sides:
        configs += [Config("ours", "energy", t, python) for t in args.threads]
    for side in ("ours", "up03"):
        if side not in sides:
            continue
        venv = plugin_venv(side, not args.no_build)
        if venv is None:
            print(f"No BatDetect2 venv for {side} (--no-build): skipped.")
            continue
        python = venv / "bin" / "python"
        caps = list(args.threads) + ([0] if side == "up03" else [])
        configs += [Config(side, "batdetect2", t, python) for t in caps]
    return configs


def main() -> None:
    from acoupi.system.model_threads import default_model_threads

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    default_threads = sorted({default_model_threads(), os.cpu_count() or 1})
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=default_threads,
        help="thread caps to measure (default: the device's default "
        "detections.model_threads and every core: %(default)s)",
    )
    parser.add_argument(
        "--only", default="ours,up03", help="sides to run (default %(default)s)"
    )
    parser.add_argument(
        "--no-build", action="store_true", help="do not build missing plugin venvs"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    configs = configs_for(args)
    load_before = load_average()
    measured: Dict[str, List[Dict[str, Any]]] = {}
    memory: Dict[str, Dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        clips = {sr: write_clip(Path(tmp), sr, args.seconds) for sr in SAMPLERATES}
        workers: Dict[Config, Worker] = {}
        try:
            for config in configs:
                workers[config] = Worker(config)

            measured = paired_rounds(
                workers, clips, args.seconds, args.rounds, default_model_threads()
            )
            for config, worker in workers.items():
                memory[config.label] = worker.ask({"op": "memory"})
        finally:
            for worker in workers.values():
                worker.close()
    load_after = load_average()
    cpu = {k: [r["cpu"] for r in runs] for k, runs in measured.items()}
    wall = {k: [r["wall"] for r in runs] for k, runs in measured.items()}

    rows = []
    for config in configs:
        for sr in SAMPLERATES:
            key = f"{config.label} {sr}"
            runs = measured[key]
            ratio_cpu = ratio_wall = ratio_shipped = "-"
            twin = f"batdetect2 up03 {config.threads} {sr}"
            shipped = f"batdetect2 up03 as shipped {sr}"
            if config.side == "ours" and config.model == "batdetect2":
                if twin in cpu:
                    ratio_cpu = str(ratio_summary(cpu[key], cpu[twin]))
                    ratio_wall = str(ratio_summary(wall[key], wall[twin]))
                if shipped in cpu:
                    ratio_shipped = str(ratio_summary(cpu[key], cpu[shipped]))
            rows.append(
                [
                    config.model,
                    config.side,
                    config.threads or "none (as shipped)",
                    memory[config.label].get("torch_threads") or "-",
                    f"{sr // 1000} kHz",
                    spread([r["cpu"] for r in runs]),
                    spread([r["wall"] / args.seconds for r in runs]),
                    runs[-1]["detections"],
                    ratio_cpu,
                    ratio_wall,
                    ratio_shipped,
                ]
            )
    print(
        f"\nModel cost per {args.seconds:g} s clip, {args.rounds} paired rounds, "
        "rounds, median [min-max]; ours / up03 per round at the same cap and "
        f"rate (below 1: ours costs less). {os.cpu_count()} cores; "
        f"detections.model_threads default here: {default_model_threads()} "
        "(every core but one, 1 to 4)."
    )
    print(f"before: {format_load(load_before)}; after: {format_load(load_after)}\n")
    print(
        format_table(
            [
                "model",
                "side",
                "cap",
                "torch threads",
                "rate",
                "CPU-s/clip",
                "RTF",
                "detections",
                "ours / up03 CPU",
                "ours / up03 wall",
                "ours / up03 as shipped CPU",
            ],
            rows,
        )
    )
    bd2 = [c for c in configs if c.model == "batdetect2"]
    if bd2:
        print("\nBatDetect2 worker memory (MiB), model loaded:\n")
        print(
            format_table(
                ["side", "cap", "RSS idle", "PSS idle", "peak RSS"],
                [
                    [
                        c.side,
                        c.threads or "none",
                        f"{memory[c.label]['rss']:.0f}",
                        f"{memory[c.label]['pss']:.0f}",
                        f"{memory[c.label]['peak_rss']:.0f}",
                    ]
                    for c in bd2
                ],
            )
        )
    print(
        "\nBatDetect2 resamples every clip to 256 kHz (librosa) before its "
        "spectrogram: 48 kHz clips are upsampled, 384 kHz ones downsampled."
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "seconds": args.seconds,
                    "rounds": args.rounds,
                    "runs": measured,
                    "memory_mib": memory,
                    "venvs": {c.label: str(c.python.parent.parent) for c in configs},
                    "load_before": load_before,
                    "load_after": load_after,
                    "provenance": provenance(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
