"""Throughput of the metadata store: our SqliteStore against upstream 0.3.2.

The same workload runs in each implementation's own interpreter (ours from
``.venv``, upstream acoupi 0.3.2 from a separate venv), on a fresh database
in a throwaway folder; each run prints JSON that this script collects into a
table of operations per second and the ratio ours / upstream (above 1 means
ours is faster).

Workload (sizes are options):

* writes: ``store_recording`` for N recordings, then ``store_model_output``
  for one output per recording with D detections of T tags each (plus one
  recording-level tag);
* reads: ``get_recordings_by_path`` for random batches of B paths (what the
  file-management task does), and ``get_predicted_tags`` and
  ``get_detections`` for random 10-minute windows (what summarisers do).

Objects are built before the clock starts; only store calls are timed.
Row counts returned by the queries are compared between implementations.

Usage::

    .venv/bin/python bench/store_throughput.py [--recordings 1000]
        [--detections 10] [--tags 3] [--batch 20] [--queries 200]
        [--upstream-python /tmp/upstream-venv/bin/python] [--no-upstream]
        [--ours-synchronous FULL] [--json bench/results/store.json]

Upstream (Pony, rollback journal) syncs every commit; ours defaults to WAL
with ``synchronous=NORMAL``. ``--ours-synchronous FULL`` compares writes at
equal durability.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / ".venv" / "bin" / "python"
UPSTREAM = Path("/tmp/upstream-venv/bin/python")
TIMEOUT = 600.0

WORKLOAD = r"""
import datetime, gc, json, random, sys, time, warnings
from pathlib import Path

warnings.simplefilter("ignore")  # Pony warns on get-or-create
from acoupi import data
from acoupi.components.stores.sqlite import SqliteStore

folder = Path(sys.argv[1])
n, n_det, n_tags, batch, n_queries = map(int, sys.argv[2:7])
rng = random.Random(42)
base = datetime.datetime(2024, 1, 1)  # naive: the common ground of 0.3 and ours

deployment = data.Deployment(name="bench", started_on=base)
recordings = [
    data.Recording(
        created_on=base + datetime.timedelta(seconds=10 * i),
        duration=3.0, samplerate=192000, deployment=deployment,
        path=Path(f"/bench/{i:06d}.wav"),
    )
    for i in range(n)
]
outputs = [
    data.ModelOutput(
        name_model="bench", recording=recording,
        created_on=recording.created_on + datetime.timedelta(seconds=1),
        tags=[data.PredictedTag(tag=data.Tag(key="noise", value="low"),
                                confidence_score=0.9)],
        detections=[
            data.Detection(
                location=data.BoundingBox.from_coordinates(
                    0.1 * d, 20000.0, 0.1 * d + 0.05, 60000.0),
                detection_score=rng.random(),
                tags=[data.PredictedTag(
                    tag=data.Tag(key="species", value=f"sp{rng.randrange(20)}"),
                    confidence_score=rng.random()) for _ in range(n_tags)],
            )
            for d in range(n_det)
        ],
    )
    for recording in recordings
]
path_batches = [
    [r.path for r in rng.sample(recordings, batch)] for _ in range(n_queries)
]
span = 10 * n
windows = []
for _ in range(n_queries):
    start = base + datetime.timedelta(seconds=rng.randrange(max(span - 600, 1)))
    windows.append((start, start + datetime.timedelta(minutes=10)))

# The workload's own objects are long-lived: keep the cyclic GC from walking
# them during every timed call, so timings reflect the store, not N.
gc.collect()
gc.freeze()

synchronous = sys.argv[7]
if synchronous != "default":  # ours only: NORMAL or FULL
    store = SqliteStore(folder / "metadata.db", synchronous=synchronous)
else:
    store = SqliteStore(folder / "metadata.db")
store.store_deployment(deployment)
results = {}

def timed(name, calls, unit_count):
    started = time.perf_counter()
    returned = 0
    for call in calls:
        value = call()
        returned += len(value) if isinstance(value, list) else 0
    elapsed = time.perf_counter() - started
    results[name] = {"seconds": elapsed, "ops": unit_count, "rows": returned}

timed("store_recording", [lambda r=r: store.store_recording(r) for r in recordings], n)
timed("store_model_output",
      [lambda o=o: store.store_model_output(o) for o in outputs], n)
timed("get_recordings_by_path",
      [lambda b=b: store.get_recordings_by_path(b) for b in path_batches], n_queries)
timed("get_predicted_tags",
      [lambda w=w: store.get_predicted_tags(after=w[0], before=w[1])
       for w in windows], n_queries)
timed("get_detections",
      [lambda w=w: store.get_detections(after=w[0], before=w[1])
       for w in windows], n_queries)

# Round-trip check on one recording: what comes back equals what went in.
[(got, got_outputs)] = store.get_recordings_by_path([recordings[0].path])
results["round_trip_equal"] = got_outputs == [outputs[0]]
if hasattr(getattr(store, "database", None), "_open"):
    # Ours only: what opening a connection per operation would add to each
    # call, against the thread-local connection the store reuses.
    started = time.perf_counter()
    for _ in range(200):
        store.database._open().close()
    results["connection_open_ms"] = (time.perf_counter() - started) / 200 * 1000
# Fold the WAL back into the file so that sizes compare like for like.
import sqlite3
with sqlite3.connect(folder / "metadata.db") as checkpoint:
    checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)")
results["file_bytes"] = sum(
    p.stat().st_size for p in folder.iterdir() if p.name.startswith("metadata.db"))
print(json.dumps(results))
"""

ROWS = [
    ("store_recording", "recordings/s"),
    ("store_model_output", "outputs/s"),
    ("get_recordings_by_path", "queries/s"),
    ("get_predicted_tags", "queries/s"),
    ("get_detections", "queries/s"),
]


def run(python: Path, args: argparse.Namespace, synchronous: str = "default") -> dict:
    """Run the workload with ``python`` in a throwaway folder; return its JSON."""
    with tempfile.TemporaryDirectory(prefix="acoupi-bench-") as folder:
        script = Path(folder) / "workload.py"
        script.write_text(WORKLOAD)
        env = {**os.environ, "HOME": folder, "ACOUPI_HOME": f"{folder}/.acoupi"}
        completed = subprocess.run(
            [
                str(python),
                str(script),
                folder,
                str(args.recordings),
                str(args.detections),
                str(args.tags),
                str(args.batch),
                str(args.queries),
                synchronous,
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=env,
            cwd=folder,
        )
    if completed.returncode != 0:
        raise SystemExit(f"{python} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def rate(result: dict) -> float:
    """Operations per second of one timed step."""
    return result["ops"] / result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recordings", type=int, default=1000)
    parser.add_argument("--detections", type=int, default=10)
    parser.add_argument("--tags", type=int, default=3)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--upstream-python", type=Path, default=UPSTREAM)
    parser.add_argument("--no-upstream", action="store_true")
    parser.add_argument(
        "--ours-synchronous",
        choices=["default", "NORMAL", "FULL"],
        default="default",
        help="commit durability of our store (upstream always syncs each commit)",
    )
    parser.add_argument("--json", type=Path, help="also write results here")
    args = parser.parse_args()

    results = {"ours": run(OURS, args, args.ours_synchronous)}
    if not args.no_upstream:
        if not args.upstream_python.exists():
            raise SystemExit(
                f"{args.upstream_python} not found; install upstream with "
                "`python3 -m venv /tmp/upstream-venv && "
                "/tmp/upstream-venv/bin/pip install acoupi==0.3.2` "
                "(needs portaudio19-dev), or pass --no-upstream"
            )
        results["upstream"] = run(args.upstream_python, args)

    print(
        f"ours: synchronous={args.ours_synchronous}; "
        f"{args.recordings} recordings, {args.detections} detections x "
        f"{args.tags} tags per output, batches of {args.batch} paths, "
        f"{args.queries} queries, 10-minute windows\n"
    )
    header = f"{'operation':<24}{'unit':<14}{'ours':>10}{'upstream':>10}{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for name, unit in ROWS:
        ours = rate(results["ours"][name])
        line = f"{name:<24}{unit:<14}{ours:>10.1f}"
        if "upstream" in results:
            upstream = rate(results["upstream"][name])
            line += f"{upstream:>10.1f}{ours / upstream:>7.1f}x"
            if results["ours"][name]["rows"] != results["upstream"][name]["rows"]:
                line += "  (rows differ: "
                line += f"{results['ours'][name]['rows']} vs "
                line += f"{results['upstream'][name]['rows']})"
        print(line)
    print()
    for implementation, result in results.items():
        print(
            f"{implementation}: round trip equal = {result['round_trip_equal']}, "
            f"file size = {result['file_bytes'] / 1e6:.1f} MB"
        )
    if "connection_open_ms" in results["ours"]:
        per_call = results["ours"]["store_recording"]
        print(
            f"ours: opening a connection (with pragmas) costs "
            f"{results['ours']['connection_open_ms']:.3f} ms; a whole "
            f"store_recording call on the reused connection "
            f"{per_call['seconds'] / per_call['ops'] * 1000:.3f} ms"
        )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"args": vars(args), **results}, default=str))


if __name__ == "__main__":
    main()
