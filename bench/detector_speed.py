"""Speed and detection quality of the band energy detector.

Upstream acoupi 0.3.2 and 0.8.0 have no built-in detector (their programs
need a model from a plugin), so there is no upstream side: the figures are
absolute, with the load average before and after. For the detector's cost
beside a plugin's model (BatDetect2, on ours and on upstream 0.3.2), see
``model_cost.py``.

Speed: for 10 s clips of the synthetic soundscape at 48, 192 and 384 kHz
(16-bit mono WAV in a temporary folder), the detector runs once per rate to
warm up, then N rounds (default 5), each running every rate once (order
rotated, :func:`harness.interleave`). The table shows the CPU time per run
(process time, all threads) and the wall time, median [min-max] over
rounds, and the seconds of audio processed per CPU-second (from the
median); reading the file is included, writing it is not.

Quality (``--quality``): for each sample rate and noise level, a clip
(default 60 s) is analysed and every detection is matched with a soundscape
event of the same kind that it overlaps. Reported: events, detections,
precision, recall, and the median and worst timing error (the larger of the
start and end differences, in ms) of the matched detections.

Usage::

    .venv/bin/python bench/detector_speed.py [--runs 5] [--seconds 10]
        [--quality] [--quality-seconds 60] [--json bench/results/detector.json]

Nothing is written outside a temporary folder unless ``--json`` is given.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import wave
from pathlib import Path

from harness import format_load, interleave, load_average

from acoupi import data
from acoupi.audio.soundscape import Soundscape
from acoupi.components.models.energy_detector import BandEnergyDetector

SAMPLERATES = (48_000, 192_000, 384_000)
QUALITY_SAMPLERATES = (48_000, 192_000, 256_000, 384_000)
NOISE_LEVELS = (0.001, 0.01, 0.03, 0.05)


def write_clip(path: Path, scape: Soundscape, seconds: float) -> Path:
    """Write ``seconds`` of ``scape`` as 16-bit PCM, one second at a time."""
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(scape.channels)
        handle.setsampwidth(2)
        handle.setframerate(scape.samplerate)
        total = int(seconds * scape.samplerate)
        for start in range(0, total, scape.samplerate):
            count = min(scape.samplerate, total - start)
            handle.writeframes(scape.render(start, count).tobytes())
    return path


def recording(path: Path, samplerate: int, seconds: float) -> data.Recording:
    return data.Recording(
        duration=seconds,
        samplerate=samplerate,
        deployment=data.Deployment(name="bench"),
        path=path,
    )


def measure_speed(folder: Path, seconds: float, runs: int) -> list[dict]:
    detector = BandEnergyDetector()
    walls: dict[int, list[float]] = {sr: [] for sr in SAMPLERATES}

    def runner(samplerate: int):
        scape = Soundscape(samplerate, seed=1, noise_level=0.01)
        path = write_clip(folder / f"speed_{samplerate}.wav", scape, seconds)
        rec = recording(path, samplerate, seconds)

        def run() -> float:
            c0, w0 = time.process_time(), time.perf_counter()
            detector.run(rec)
            walls[samplerate].append(time.perf_counter() - w0)
            return time.process_time() - c0

        return run

    # The warm-up round (file cache, FFT twiddle tables) is not measured.
    cpu = interleave(
        {str(sr): runner(sr) for sr in SAMPLERATES}, runs, warmup=1, progress=False
    )
    rows = []
    for samplerate in SAMPLERATES:
        values = [v for v in cpu[str(samplerate)] if v is not None]
        wall = walls[samplerate][1:]
        median_cpu = statistics.median(values)
        rows.append(
            {
                "samplerate": samplerate,
                "seconds": seconds,
                "cpu_s": median_cpu,
                "cpu_min_s": min(values),
                "cpu_max_s": max(values),
                "wall_s": statistics.median(wall),
                "wall_min_s": min(wall),
                "wall_max_s": max(wall),
                "audio_s_per_cpu_s": seconds / median_cpu,
            }
        )
    return rows


def measure_quality(folder: Path, seconds: float) -> list[dict]:
    detector = BandEnergyDetector()
    rows = []
    for samplerate in QUALITY_SAMPLERATES:
        for noise in NOISE_LEVELS:
            scape = Soundscape(samplerate, seed=7, noise_level=noise)
            path = write_clip(folder / "quality.wav", scape, seconds)
            output = detector.run(recording(path, samplerate, seconds))
            events = scape.events(0, seconds)
            matched_events: set[int] = set()
            true_positives = 0
            errors = []
            for detection in output.detections:
                assert detection.location is not None
                start, _, end, _ = detection.location.coordinates
                label = detection.tags[0].tag.value
                hits = [
                    i
                    for i, event in enumerate(events)
                    if event.kind == label and event.start < end and event.end > start
                ]
                if not hits:
                    continue
                true_positives += 1
                event = events[hits[0]]
                matched_events.add(hits[0])
                errors.append(max(abs(start - event.start), abs(end - event.end)))
            n_det = len(output.detections)
            rows.append(
                {
                    "samplerate": samplerate,
                    "noise_level": noise,
                    "events": len(events),
                    "detections": n_det,
                    "precision": true_positives / n_det if n_det else 1.0,
                    "recall": len(matched_events) / len(events) if events else 1.0,
                    "median_error_ms": 1000 * statistics.median(errors)
                    if errors
                    else None,
                    "max_error_ms": 1000 * max(errors) if errors else None,
                }
            )
    return rows


def print_speed(rows: list[dict]) -> None:
    print(f"\nSpeed ({platform.machine()}, {platform.python_version()})")
    print(
        f"{'rate':>8} {'clip s':>7} {'CPU s median [range]':>24} "
        f"{'wall s median [range]':>24} {'audio s/CPU s':>14}"
    )
    for row in rows:
        cpu = f"{row['cpu_s']:.3f} [{row['cpu_min_s']:.3f}-{row['cpu_max_s']:.3f}]"
        wall = f"{row['wall_s']:.3f} [{row['wall_min_s']:.3f}-{row['wall_max_s']:.3f}]"
        print(
            f"{row['samplerate']:>8} {row['seconds']:>7.1f} {cpu:>24} "
            f"{wall:>24} {row['audio_s_per_cpu_s']:>14.1f}"
        )


def print_quality(rows: list[dict]) -> None:
    print("\nQuality (detections matched to soundscape events)")
    print(
        f"{'rate':>8} {'noise':>7} {'events':>7} {'dets':>5} {'prec':>6} "
        f"{'recall':>7} {'med ms':>7} {'max ms':>7}"
    )
    for row in rows:
        med = row["median_error_ms"]
        worst = row["max_error_ms"]
        print(
            f"{row['samplerate']:>8} {row['noise_level']:>7} {row['events']:>7} "
            f"{row['detections']:>5} {row['precision']:>6.3f} {row['recall']:>7.3f} "
            f"{'-' if med is None else f'{med:.2f}':>7} "
            f"{'-' if worst is None else f'{worst:.2f}':>7}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="measured rounds")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--quality-seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict = {"load_before": load_average()}
    with tempfile.TemporaryDirectory(prefix="acoupi-bench-") as tmp:
        folder = Path(tmp)
        results["speed"] = measure_speed(folder, args.seconds, args.runs)
        print_speed(results["speed"])
        if args.quality:
            results["quality"] = measure_quality(folder, args.quality_seconds)
            print_quality(results["quality"])
    results["load_after"] = load_average()
    print(
        f"\nbefore: {format_load(results['load_before'])}; "
        f"after: {format_load(results['load_after'])}"
    )
    print("Upstream 0.3.2 and 0.8.0 have no built-in detector: no upstream side.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
