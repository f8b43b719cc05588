"""What a detection model costs per clip: CPU-s, real-time factor, memory.

Models: the built-in band energy detector
(``acoupi.components.models.energy_detector``, from ``.venv``) and the
BatDetect2 plugin's model (``acoupi_batdetect2.model.BatDetect2``, from the
plugin venv that ``tests/plugins`` builds under ``.cache/plugin-venvs``).
Each (model, thread cap) runs in its own long-lived worker process, as in a
detection worker: the model is loaded once, the thread cap applied with
:func:`acoupi.system.model_threads.limit_model_threads` before it loads,
and one warm-up run is made per sample rate. Clips: ``--seconds`` (default
3, the plugin's recording length) of the synthetic soundscape at 48, 192 and
384 kHz. Rounds interleave every configuration (order rotated per round) and
the tables give medians and ranges over rounds:

* CPU-s per clip: process CPU time of the worker (all threads) for one run;
* RTF: wall time / clip duration (below 1: faster than real time);
* memory of the BatDetect2 worker: RSS and PSS (``/proc/PID/smaps_rollup``)
  after loading and one run (idle), and its peak RSS (``VmHWM``).

Usage::

    .venv/bin/pytest tests/plugins -m slow   # builds the plugin venv once
    .venv/bin/python bench/model_cost.py [--rounds 5] [--seconds 3]
        [--threads 1 2] [--json bench/results/model_cost.json]
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
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from harness import OURS_VENV, ROOT, format_load, format_table, load_average

SAMPLERATES = (48_000, 192_000, 384_000)

WORKER = r"""
import json, resource, sys, time
from acoupi import data
from acoupi.system.model_threads import limit_model_threads

kind, threads = sys.argv[1], int(sys.argv[2])
limit_model_threads(threads)
if kind == "batdetect2":
    from acoupi_batdetect2.model import BatDetect2
    model = BatDetect2()
    model.load_api()
else:
    from acoupi.components.models.energy_detector import BandEnergyDetector
    model = BandEnergyDetector()

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
        print(json.dumps(memory()), flush=True)
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


def plugin_venv() -> Optional[Path]:
    """Return the newest plugin venv built by the slow tests, if any."""
    venvs = sorted(
        (ROOT / ".cache" / "plugin-venvs").glob("plugins-*"),
        key=lambda p: p.stat().st_mtime,
    )
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

    def __init__(self, python: Path, kind: str, threads: int) -> None:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        self.process = subprocess.Popen(
            [str(python), "-c", WORKER, kind, str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.ask_raw()  # "ready" once the model is loaded

    def ask_raw(self, command: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        if command is not None:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("model worker died; run it by hand to see why")
        return json.loads(line)

    def run(self, path: Path, samplerate: int, seconds: float) -> Dict[str, Any]:
        return self.ask_raw(
            {
                "op": "run",
                "path": str(path),
                "samplerate": samplerate,
                "seconds": seconds,
            }
        )

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def spread(values: List[float]) -> str:
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    venv = plugin_venv()
    configs: List[Tuple[str, Path, int]] = [
        ("energy", OURS_VENV / "bin" / "python", t) for t in args.threads
    ]
    if venv is None:
        print(
            "No plugin venv: run `.venv/bin/pytest tests/plugins -m slow` first;"
            " measuring the built-in detector only."
        )
    else:
        configs += [("batdetect2", venv / "bin" / "python", t) for t in args.threads]

    load_before = load_average()
    results: Dict[Tuple[str, int, int], List[Dict[str, Any]]] = {}
    memory: Dict[int, Dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        clips = {sr: write_clip(Path(tmp), sr, args.seconds) for sr in SAMPLERATES}
        workers = {(k, t): Worker(py, k, t) for k, py, t in configs}
        try:
            for (kind, threads), worker in workers.items():
                for sr, path in clips.items():
                    worker.run(path, sr, args.seconds)  # warm-up
                if kind == "batdetect2":
                    memory[threads] = worker.ask_raw({"op": "memory"})
            keys = [(k, t, sr) for (k, t) in workers for sr in SAMPLERATES]
            for round_index in range(args.rounds):
                shift = round_index % len(keys)
                for kind, threads, sr in keys[shift:] + keys[:shift]:
                    result = workers[(kind, threads)].run(clips[sr], sr, args.seconds)
                    results.setdefault((kind, threads, sr), []).append(result)
            for (kind, threads), worker in workers.items():
                if kind == "batdetect2":
                    memory[threads]["peak_rss"] = worker.ask_raw({"op": "memory"})[
                        "peak_rss"
                    ]
        finally:
            for worker in workers.values():
                worker.close()

    rows = []
    for (kind, threads, sr), runs in sorted(results.items()):
        cpu = [r["cpu"] for r in runs]
        rtf = [r["wall"] / args.seconds for r in runs]
        rows.append(
            [
                kind,
                threads,
                f"{sr // 1000} kHz",
                spread(cpu),
                spread(rtf),
                runs[-1]["detections"],
            ]
        )
    print(
        f"Model cost per {args.seconds:g} s clip, {args.rounds} rounds "
        f"(median [min-max]); {format_load(load_before)} -> "
        f"{format_load(load_average())}"
    )
    print(
        format_table(
            ["model", "threads", "rate", "CPU-s/clip", "RTF", "detections"], rows
        )
    )
    if memory:
        print("\nBatDetect2 detection worker memory (MiB), model loaded:")
        print(
            format_table(
                ["threads", "RSS idle", "PSS idle", "peak RSS"],
                [
                    [t, f"{m['rss']:.0f}", f"{m['pss']:.0f}", f"{m['peak_rss']:.0f}"]
                    for t, m in sorted(memory.items())
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
                    "results": [
                        {"model": k, "threads": t, "samplerate": sr, "runs": r}
                        for (k, t, sr), r in results.items()
                    ],
                    "memory_mib": memory,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
