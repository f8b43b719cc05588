"""Metadata store throughput: ours against upstream acoupi 0.3.2 and 0.8.0.

Each implementation runs in its own interpreter (ours from ``.venv``,
upstream from its own venv), so nothing of one leaks into the other. Sides
are **interleaved round by round** (every round runs every side once, in a
rotating order) and each round's ratio ours / upstream is kept; the table
gives the median and the range of those per-round ratios (above 1 means
ours is faster) and the load average before and after, since this machine
is shared.

Writes (``store_recording``, ``store_model_output``) start from an empty
file each round. They are compared **at equal durability**: upstream 0.3.2
(Pony) and 0.8.0 use SQLite's rollback journal with ``synchronous=FULL``
(every commit synced), so "ours (FULL)" runs WAL with ``synchronous=FULL``.
Our default, WAL with ``synchronous=NORMAL`` (a power cut may undo the last
commits, never corrupts), is shown on its own rows, labelled "default".

Reads are what the tasks, the status and the summaries call:
``get_recordings_by_path`` (batches of paths, file management),
``get_recordings`` (batches of ids), ``get_model_outputs``,
``get_detections`` and ``get_predicted_tags`` for 10-minute windows
(summaries). They run on files of 1,000 to 1,000,000 detections (``--scales``),
each built once per implementation with that implementation's own store
(so the schema is exactly upstream's) and filled by fast bulk inserts in its
own stored formats, then cached in ``--cache`` (default
``/tmp/acoupi-store-bench``). Every side answers the same random queries;
the number of rows returned is compared, and a mismatch is printed.

Sides, rounds and upstream venvs come from ``bench/harness.py``: ``--up03
VENV`` / ``--up08 VENV`` (or ``ACOUPI_BENCH_UP03`` / ``ACOUPI_BENCH_UP08``)
reuse a venv holding that acoupi, otherwise a throwaway venv is created
under the temporary directory with ``pip install acoupi==0.3.2`` /
``acoupi==0.8.0`` (PyAudio needs ``portaudio19-dev``); ``--only ours,up08``
skips a side.

Usage::

    .venv/bin/python bench/store_throughput.py --up03 V03 --up08 V08   # all
    .venv/bin/python bench/store_throughput.py --rounds 3 --scales 1000 10000
    .venv/bin/python bench/store_throughput.py --part reads --scales 1000000
    .venv/bin/python bench/store_throughput.py --json bench/results/store.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import (  # noqa: E402
    Side,
    add_arguments,
    format_load,
    format_table,
    interleave,
    median,
    ratio_summary,
    sides_from_args,
)

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 3600.0

# Code shared by every workload script: the synthetic deployment. Recordings
# every 10 s, one model output 1 s later, D detections of T tags each.
COMMON = r"""
import datetime, json, random, sys, time, warnings
from pathlib import Path
from uuid import UUID
warnings.simplefilter("ignore")
from acoupi import data
from acoupi.components.stores.sqlite import SqliteStore

UTC = datetime.timezone.utc
BASE = datetime.datetime(2024, 1, 1, tzinfo=UTC)
IS_03 = not hasattr(data, "ModelOutputInfo")  # 0.3's data has no such class
IS_08 = hasattr(data, "PredictionType")


def when(seconds):
    value = BASE + datetime.timedelta(seconds=seconds)
    return value.replace(tzinfo=None) if IS_03 else value


def make_detection(rng, index, n_tags):
    box = (0.1 * index, 20000.0, 0.1 * index + 0.05, 60000.0)
    kwargs = dict(
        location=data.BoundingBox(coordinates=box),
        detection_score=rng.random(),
        tags=[
            data.PredictedTag(
                tag=data.Tag(key="species", value=f"sp{rng.randrange(20)}"),
                confidence_score=rng.random(),
            )
            for _ in range(n_tags)
        ],
    )
    if IS_08:
        kwargs["prediction_type"] = data.PredictionType.EVENT
    return data.Detection(**kwargs)
"""

WRITES = (
    COMMON
    + r"""
folder, synchronous = Path(sys.argv[1]), sys.argv[5]
n, n_det, n_tags = map(int, sys.argv[2:5])
rng = random.Random(42)
deployment = data.Deployment(name="bench", started_on=when(-60))
recordings = [
    data.Recording(
        created_on=when(10 * i), duration=3.0, samplerate=192000,
        deployment=deployment, path=Path(f"/bench/{i:07d}.wav"),
    )
    for i in range(n)
]
outputs = [
    data.ModelOutput(
        name_model="bench", recording=r,
        created_on=r.created_on + datetime.timedelta(seconds=1),
        detections=[make_detection(rng, d, n_tags) for d in range(n_det)],
    )
    for r in recordings
]
kwargs = {} if synchronous == "default" else {"synchronous": synchronous}
store = SqliteStore(folder / "metadata.db", **kwargs)
store.store_deployment(deployment)
results = {}
steps = (
    ("store_recording", store.store_recording, recordings),
    ("store_model_output", store.store_model_output, outputs),
)
for name, method, items in steps:
    started = time.perf_counter()
    for item in items:
        method(item)
    elapsed = time.perf_counter() - started
    results[name] = {"ops": len(items), "seconds": elapsed, "rows": []}
print(json.dumps(results))
"""
)

# Builds the file with the implementation's own store (its exact schema),
# then bulk-inserts rows in its stored formats, filling columns by name.
BUILD = (
    COMMON
    + r"""
import sqlite3
path = Path(sys.argv[1])
n, n_det, n_tags = map(int, sys.argv[2:5])
rng = random.Random(7)
store = SqliteStore(path)
if hasattr(store, "close"):
    store.close()
del store
con = sqlite3.connect(path)
TABLES = ("deployment", "recording", "model_output", "detection", "predicted_tag")
cols = {t: [r[1] for r in con.execute(f"PRAGMA table_info({t})")] for t in TABLES}
ours = con.execute("PRAGMA application_id").fetchone()[0] != 0


def stamp(seconds):
    value = BASE + datetime.timedelta(seconds=seconds)
    if ours:
        return value.isoformat(sep=" ", timespec="microseconds")
    if IS_03:
        naive = value.replace(tzinfo=None)
        return naive.isoformat(sep=" ", timespec="microseconds")
    return value.isoformat()


def insert(table, rows):
    names = cols[table]
    marks = ", ".join("?" * len(names))
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
    con.executemany(sql, ([row.get(c) for c in names] for row in rows))


def uid(kind, number):
    return UUID(int=(kind << 100) + number).bytes


insert("deployment", [dict(id=uid(1, 0), name="bench", started_on=stamp(-60))])
tag_id = 0
chunk = 5000
for start in range(0, n, chunk):
    recs, outs, dets, tags = [], [], [], []
    for i in range(start, min(n, start + chunk)):
        recs.append(dict(
            id=uid(2, i), path=f"/bench/{i:07d}.wav", datetime=stamp(10 * i),
            duration_s=3.0, samplerate_hz=192000, audio_channels=1,
            deployment_id=uid(1, 0),
        ))
        outs.append(dict(
            id=uid(3, i), model_name="bench", recording_id=uid(2, i),
            created_on=stamp(10 * i + 1),
        ))
        for d in range(n_det):
            det = uid(4, i * n_det + d)
            box = (0.1 * d, 20000.0, 0.1 * d + 0.05, 60000.0)
            # As each side writes it: pydantic's compact JSON for ours
            # (BoundingBox.model_dump_json()), json.dumps' for 0.3 (0.8
            # keeps the box in four REAL columns instead).
            location = json.dumps(
                {"type": "BoundingBox", "coordinates": box},
                separators=(",", ":") if ours else None,
            )
            dets.append(dict(
                id=det, detection_score=rng.random(), model_output_id=uid(3, i),
                location=location, prediction_type="event",
                start_time_s=box[0], low_freq_hz=box[1],
                end_time_s=box[2], high_freq_hz=box[3],
            ))
            for _ in range(n_tags):
                tag_id += 1
                tags.append(dict(
                    id=tag_id, key="species", value=f"sp{rng.randrange(20)}",
                    confidence_score=rng.random(), detection_id=det,
                ))
    insert("recording", recs)
    insert("model_output", outs)
    insert("detection", dets)
    insert("predicted_tag", tags)
    con.commit()
con.close()
print(json.dumps({"built": str(path)}))
"""
)

# Times each read on the cached file; every side gets the same queries.
READS = (
    COMMON
    + r"""
path, budget, seed = Path(sys.argv[1]), float(sys.argv[5]), int(sys.argv[6])
n, n_det, queries = map(int, sys.argv[2:5])
rng = random.Random(seed)
store = SqliteStore(path)


def uid(kind, number):
    return UUID(int=(kind << 100) + number)


def window():
    start = rng.randrange(max(10 * n - 600, 1))
    return when(start), when(start + 600)


def paths():
    return [Path(f"/bench/{rng.randrange(n):07d}.wav") for _ in range(20)]


def ids():
    return [uid(2, rng.randrange(n)) for _ in range(20)]


def by_window(method):
    return [
        (lambda w: lambda: method(after=w[0], before=w[1]))(window())
        for _ in range(queries)
    ]


plans = {
    "get_recordings_by_path": [
        (lambda b: lambda: store.get_recordings_by_path(b))(paths())
        for _ in range(queries)
    ],
    "get_recordings": [
        (lambda b: lambda: store.get_recordings(b))(ids()) for _ in range(queries)
    ],
    "get_model_outputs": by_window(store.get_model_outputs),
    "get_detections": by_window(store.get_detections),
    "get_predicted_tags": by_window(store.get_predicted_tags),
}
store.get_current_deployment()  # opens the file (and warms the page cache)
results = {}
for name, calls in plans.items():
    calls[0]()
    rows = []
    started = time.perf_counter()
    for call in calls:
        rows.append(len(call()))
        if time.perf_counter() - started > budget:
            break
    elapsed = time.perf_counter() - started
    results[name] = {"ops": len(rows), "seconds": elapsed, "rows": rows}
print(json.dumps(results))
"""
)


WRITE_OPS = ["store_recording", "store_model_output"]
READ_OPS = [
    "get_recordings_by_path",
    "get_recordings",
    "get_model_outputs",
    "get_detections",
    "get_predicted_tags",
]
Result = Dict[str, dict]


def run_script(python: Path, script: str, *args: str) -> Result:
    """Run a workload script with ``python`` in a throwaway home."""
    with tempfile.TemporaryDirectory(prefix="acoupi-bench-") as folder:
        source = Path(folder) / "workload.py"
        source.write_text(script)
        env = {**os.environ, "HOME": folder, "ACOUPI_HOME": f"{folder}/.acoupi"}
        done = subprocess.run(
            [str(python), str(source), *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=env,
            cwd=folder,
        )
    if done.returncode != 0:
        raise SystemExit(f"{python} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rate(result: dict) -> float:
    """Operations per second of one timed step."""
    return result["ops"] / result["seconds"]


def table(ops: List[str], results: Dict[str, List[Result]], pairs: List[tuple]) -> str:
    """Markdown rows: rates (median of rounds) and per-round ratio summaries.

    Ratios are ours / upstream in the same round: above 1, ours is faster.
    """
    headers = ["operation", *[f"{side} /s" for side in results], *[p[0] for p in pairs]]
    rows = []
    notes = []
    for op in ops:
        rates = {side: [rate(r[op]) for r in runs] for side, runs in results.items()}
        row: List[object] = [op]
        row += [f"{median(values):.1f}" for values in rates.values()]
        for _, mine, theirs in pairs:
            row.append(str(ratio_summary(rates[mine], rates[theirs])))
        rows.append(row)
        # Same queries on every side: the rows they returned must agree.
        counts = {side: runs[0][op]["rows"] for side, runs in results.items()}
        shortest = min(len(c) for c in counts.values())
        if len({tuple(c[:shortest]) for c in counts.values()}) > 1:
            notes.append(f"{op}: sides returned different rows")
    text = format_table(headers, rows)
    return text + "".join(f"\n(!) {note}" for note in notes)


def side_key(side: Side) -> str:
    """Cache key of a side's files: upstream's version, or our schema's hash.

    Ours also depends on the build script, so that a change of what it
    stores rebuilds our files (upstream's are slow to build and kept).
    """
    if side.name != "ours":
        return side.version
    schema = ROOT / "src/acoupi/components/stores/sqlite/schema.py"
    digest = hashlib.sha1(schema.read_bytes() + BUILD.encode()).hexdigest()
    return "ours-" + digest[:8]


def bench_writes(args: argparse.Namespace, sides: List[Side]) -> str:
    size = [str(args.recordings), str(args.detections), str(args.tags)]

    def runner(side: Side, synchronous: str) -> Callable[[], Result]:
        def run() -> Result:
            with tempfile.TemporaryDirectory(prefix="acoupi-bench-db-") as folder:
                return run_script(side.python, WRITES, folder, *size, synchronous)

        return run

    runners: Dict[str, Callable[[], Result]] = {}
    for side in sides:
        if side.name == "ours":
            runners["ours (default)"] = runner(side, "default")
            runners["ours (FULL)"] = runner(side, "FULL")
        else:
            runners[side.name] = runner(side, "default")
    results = interleave(runners, args.rounds, warmup=0, progress=False)  # type: ignore[arg-type]
    pairs = []
    for side in sides:
        if side.name != "ours":
            pairs.append((f"FULL / {side.name}", "ours (FULL)", side.name))
            pairs.append((f"default / {side.name}", "ours (default)", side.name))
    return (
        f"Writes: {args.recordings} recordings, then one output each with "
        f"{args.detections} detections x {args.tags} tags, fresh file each round; "
        f"{args.rounds} rounds. Upstream: rollback journal, synchronous=FULL. "
        "ours (FULL): WAL, synchronous=FULL (equal durability). ours (default): "
        "WAL, synchronous=NORMAL (our default; a power cut may undo the last "
        "commits).\n\n" + table(WRITE_OPS, results, pairs)  # type: ignore[arg-type]
    )


def bench_reads(args: argparse.Namespace, sides: List[Side], scale: int) -> str:
    recordings = max(scale // args.detections, 1)
    args.cache.mkdir(parents=True, exist_ok=True)
    files = {}
    for side in sides:
        name = f"{side_key(side)}-{recordings}x{args.detections}x{args.tags}.db"
        path = args.cache / name
        if not path.exists():
            print(f"building {path} ...", file=sys.stderr)
            partial = path.with_name(path.name + ".building")
            for leftover in path.parent.glob(partial.name + "*"):
                leftover.unlink()
            run_script(
                side.python,
                BUILD,
                str(partial),
                str(recordings),
                str(args.detections),
                str(args.tags),
            )
            partial.rename(path)
        files[side.name] = path

    def runner(side: Side) -> Callable[[], Result]:
        seeds = iter(range(1000, 100000))

        def run() -> Result:
            return run_script(
                side.python,
                READS,
                str(files[side.name]),
                str(recordings),
                str(args.detections),
                str(args.queries),
                str(args.budget),
                str(next(seeds)),
            )

        return run

    runners = {side.name: runner(side) for side in sides}
    results = interleave(runners, args.rounds, warmup=0, progress=False)  # type: ignore[arg-type]
    pairs = [(f"ours / {s.name}", "ours", s.name) for s in sides if s.name != "ours"]
    return (
        f"Reads on {scale:,} detections ({recordings:,} recordings, {args.tags} "
        f"tags each), up to {args.queries} queries or {args.budget:g} s per "
        f"operation and round; {args.rounds} rounds.\n\n"
        + table(READ_OPS, results, pairs)  # type: ignore[arg-type]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser, rounds=5)
    parser.add_argument("--part", choices=["writes", "reads"], help="only this part")
    parser.add_argument("--recordings", type=int, default=300, help="writes/round")
    parser.add_argument("--detections", type=int, default=10, help="per output")
    parser.add_argument("--tags", type=int, default=3, help="per detection")
    parser.add_argument(
        "--scales",
        type=int,
        nargs="+",
        default=[1_000, 10_000, 100_000, 1_000_000],
        help="detections in the files the reads run on",
    )
    parser.add_argument("--queries", type=int, default=50, help="per read/round")
    parser.add_argument(
        "--budget", type=float, default=3.0, help="max seconds per read and round"
    )
    parser.add_argument("--cache", type=Path, default=Path("/tmp/acoupi-store-bench"))
    parser.add_argument("--json", type=Path, help="also write the tables here")
    args = parser.parse_args()
    sides = sides_from_args(args)

    print(", ".join(f"{side.name}: {side.python}" for side in sides))
    print(f"before: {format_load()}\n")
    sections = []
    if args.part != "reads":
        sections.append(bench_writes(args, sides))
        print(sections[-1] + "\n", flush=True)
    if args.part != "writes":
        for scale in args.scales:
            sections.append(bench_reads(args, sides, scale))
            print(sections[-1] + "\n", flush=True)
    print(f"after: {format_load()}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({"args": vars(args), "tables": sections}, default=str, indent=1)
        )


if __name__ == "__main__":
    main()
