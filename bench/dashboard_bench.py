"""Dashboard benchmarks: idle memory, page times over 1M detections, spectrograms.

Budgets (issue 10): idle RSS of the dashboard process < 60 MB; overview and
one page of detections < 200 ms with 1,000,000 detections in the store;
one spectrogram of a 3 s clip at 192 kHz < 300 ms (cached after first view).

Upstream acoupi 0.3.2 and 0.8.0 have no dashboard, detection listing or
spectrograms, so there is nothing of theirs to run beside these: the
figures are absolute, with the machine's load average printed.

Usage::

    .venv/bin/python bench/dashboard_bench.py            # ~1-2 min (+ data once)
    .venv/bin/python bench/dashboard_bench.py --rounds 30 --detections 1000000
    .venv/bin/python bench/dashboard_bench.py --json bench/results/dashboard.json

The store is generated once under ``--data`` (default
``/tmp/acoupi-dashboard-bench``) and reused while its size matches.
"""

import argparse
import datetime
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
from harness import format_load, load_average

ROOT = Path(__file__).resolve().parent.parent
DETECTIONS_PER_RECORDING = 10
TAGS = (("bat", 0.70), ("bird", 0.25), ("frog", 0.05))


def _uuid_bytes(rng: random.Random) -> bytes:
    return uuid.UUID(int=rng.getrandbits(128), version=4).bytes


def build_store(home: Path, detections: int) -> Path:
    """Write a metadata.db with ``detections`` detections, one every 6 s."""
    from acoupi.components.stores.sqlite.store import SqliteStore

    storages = home / "storages"
    db = storages / "metadata.db"
    marker = storages / f"built-{detections}"
    if marker.exists() and db.exists():
        return db
    storages.mkdir(parents=True, exist_ok=True)
    for path in storages.glob("metadata.db*"):
        path.unlink()
    SqliteStore(db).close()  # the real schema and indexes
    rng = random.Random(1)
    recordings = detections // DETECTIONS_PER_RECORDING
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    deployment = _uuid_bytes(rng)
    connection = sqlite3.connect(db)
    connection.execute("PRAGMA synchronous = OFF")
    first = now - datetime.timedelta(minutes=recordings)
    connection.execute(
        "INSERT INTO deployment (id, name, started_on, ended_on, latitude, longitude)"
        " VALUES (?, 'bench', ?, NULL, 51.5, -0.1)",
        (deployment, first.isoformat(sep=" ", timespec="microseconds")),
    )
    tag_names = [name for name, _ in TAGS]
    weights = [weight for _, weight in TAGS]
    batch: Dict[str, List[Any]] = {"r": [], "mo": [], "d": [], "pt": []}

    def flush() -> None:
        connection.executemany(
            "INSERT INTO recording (id, path, datetime, duration_s, samplerate_hz,"
            " audio_channels, deployment_id) VALUES (?, ?, ?, 3.0, 192000, 1, ?)",
            batch["r"],
        )
        connection.executemany(
            "INSERT INTO model_output (id, model_name, recording_id, created_on)"
            " VALUES (?, 'BenchModel', ?, ?)",
            batch["mo"],
        )
        connection.executemany(
            "INSERT INTO detection (id, location, detection_score, model_output_id)"
            " VALUES (?, ?, ?, ?)",
            batch["d"],
        )
        connection.executemany(
            "INSERT INTO predicted_tag (key, value, confidence_score, detection_id,"
            " model_output_id) VALUES ('event', ?, ?, ?, NULL)",
            batch["pt"],
        )
        for rows in batch.values():
            rows.clear()

    for index in range(recordings):
        # One recording a minute, ending now.
        when = (first + datetime.timedelta(minutes=index)).isoformat(
            sep=" ", timespec="microseconds"
        )
        recording, output = _uuid_bytes(rng), _uuid_bytes(rng)
        batch["r"].append((recording, f"/nonexistent/{index}.wav", when, deployment))
        batch["mo"].append((output, recording, when))
        for _ in range(DETECTIONS_PER_RECORDING):
            detection = _uuid_bytes(rng)
            start = rng.uniform(0, 2.9)
            coordinates = [start, 30e3, start + 0.01, 70e3]
            box = json.dumps({"type": "BoundingBox", "coordinates": coordinates})
            score = rng.random()
            batch["d"].append((detection, box, score, output))
            tag = rng.choices(tag_names, weights)[0]
            batch["pt"].append((tag, score, detection))
        if len(batch["r"]) >= 5000:
            flush()
    flush()
    connection.commit()
    connection.execute("ANALYZE")
    connection.commit()
    connection.close()
    marker.touch()
    return db


def write_clip(folder: Path) -> Path:
    """A 3 s, 192 kHz noise clip with a few chirps."""
    from acoupi.audio.wav import write_wav

    rate = 192_000
    t = np.arange(3 * rate) / rate
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 200, len(t))
    for start in (0.3, 1.1, 2.2):
        inside = (t >= start) & (t < start + 0.005)
        signal[inside] += 9000 * np.sin(2 * np.pi * 50e3 * t[inside])
    return write_wav(folder / "clip.wav", signal.astype(np.int16), rate, overwrite=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
    return (time.perf_counter() - start) * 1000


def _summary(values: List[float]) -> Dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
        "n": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detections", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--data", type=Path, default=Path("/tmp/acoupi-dashboard-bench")
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    home = args.data / "home"
    started = time.perf_counter()
    db = build_store(home, args.detections)
    print(
        f"store: {db} ({args.detections:,} detections, built/reused in "
        f"{time.perf_counter() - started:.0f} s)"
    )
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "program.json").write_text(
        json.dumps(
            {
                "paths": {"db_metadata": str(db)},
                "recording": {"duration": 3, "interval": 60},
            }
        )
    )
    results: Dict[str, Any] = {"detections": args.detections, "rounds": args.rounds}
    results["load_before"] = load_average()

    # Spectrogram of a 3 s clip at 192 kHz, rendered (uncached) each round.
    from acoupi.dashboard.spectrogram import SpectrogramRequest, render_spectrogram

    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder))
        render_spectrogram(clip, SpectrogramRequest())  # imports, page cache
        renders = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            render_spectrogram(clip, SpectrogramRequest())
            renders.append((time.perf_counter() - start) * 1000)
    results["spectrogram_3s_192k_ms"] = _summary(renders)

    # The real server in its own process.
    port = _free_port()
    env = {**os.environ, "ACOUPI_HOME": str(home), "HOME": str(args.data)}
    server = subprocess.Popen(
        [sys.executable, "-m", "acoupi", "dashboard", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "/login")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # Idle: started, store counted once by its warm-up thread, no page
        # viewed yet.
        time.sleep(15)
        results["idle_rss_mb"] = round(_rss_mb(server.pid), 1)
        urls = {
            "overview": "/",
            "detections_page": "/detections",
            "detections_bat_score_0.5": "/detections?tag=bat&min_score=0.5",
            "detections_frog_page_3": "/detections?tag=frog&page=3",
            "detections_unknown_tag": "/detections?tag=owl",
            "detections_last_24h": "/detections?since=24h",
            "api_overview": "/api/overview",
            "api_chart_7_days": "/api/chart?hours=168",
            "metrics": "/metrics",
        }
        cold = {name: round(_get(base + url), 1) for name, url in urls.items()}
        times: Dict[str, List[float]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():  # interleaved, round by round
                times[name].append(_get(base + url))
        results["first_request_ms"] = cold
        results["pages_ms"] = {name: _summary(v) for name, v in times.items()}
        results["rss_after_pages_mb"] = round(_rss_mb(server.pid), 1)
    finally:
        server.terminate()
        server.wait(10)
    results["loadavg"] = load_average()

    print(
        "Upstream 0.3.2 and 0.8.0 have no dashboard: no upstream side. "
        f"Values: median [min-max] over {args.rounds} rounds."
    )
    print(
        f"before: {format_load(results['load_before'])}; "
        f"after: {format_load(results['loadavg'])}"
    )
    print(
        f"idle RSS of `acoupi dashboard`: {results['idle_rss_mb']} MB (budget 60)"
        f"; after {args.rounds} rounds of pages: {results['rss_after_pages_mb']} MB"
    )
    spec = results["spectrogram_3s_192k_ms"]
    print(
        f"spectrogram, 3 s at 192 kHz, 1000x300: median {spec['median']} ms "
        f"[{spec['min']}-{spec['max']}] (budget 300, then cached)"
    )
    print(f"{'page':28} {'median ms':>10} {'min':>7} {'max':>7} {'first':>7}")
    for name, summary in results["pages_ms"].items():
        print(
            f"{name:28} {summary['median']:>10} {summary['min']:>7} "
            f"{summary['max']:>7} {cold[name]:>7}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
