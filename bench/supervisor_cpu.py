"""CPU of ``acoupi run``'s once-a-second counts after a long run.

Builds a metadata database as a run leaves it after about 12 days of 10 s
recordings (``--recordings``, default 100 000, each with a model output, a
detection and ``--tags`` predicted tags) and a message database with one
message per recording (half of them sent), then runs the supervisor's
metrics loop (``MetricsCollector.collect()`` once a second, as ``acoupi
run --no-live`` does) for ``--seconds`` in a fresh process, for two source
trees: ``src`` at git revision ``--before`` (exported with ``git
archive``; ``cb4c0fc`` is the code before the incremental counts) and this
checkout's ``src``. CPU is read from
``/proc/<pid>/stat`` (user + system time of the loop process) and given as
% of one core. Rounds
alternate the order of the two sides; the table gives median and range of
the per-round values and of the ratio after / before, with the load average.

It also times the end-of-run per-tag count (``detections_by_tag``) for a
one-hour window, in the same processes.

Upstream acoupi 0.3.2 and 0.8.0 have no foreground supervisor, so there is
no upstream side to this measurement.

    .venv/bin/python bench/supervisor_cpu.py                  # 3 x 2 x 60 s
    .venv/bin/python bench/supervisor_cpu.py --seconds 20 --rounds 1
"""

import argparse
import datetime
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Dict, List

from harness import format_load, format_spread, load_average

HERE = Path(__file__).resolve().parent
OURS = HERE.parent / "src"

_LOOP = r"""
import datetime, json, os, sys, time
from pathlib import Path
from types import SimpleNamespace
sys.path.insert(0, sys.argv[1])
import acoupi
from acoupi.runtime.metrics import MetricsCollector, detections_by_tag
assert Path(acoupi.__file__).is_relative_to(sys.argv[1]), acoupi.__file__
folder, seconds, since = Path(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
since = datetime.datetime.fromisoformat(since)
program = SimpleNamespace(
    store=SimpleNamespace(db_path=folder / "metadata.db"),
    message_store=SimpleNamespace(db_path=folder / "messages.db"),
    config=SimpleNamespace(paths=SimpleNamespace(recordings=folder)),
)
tick = os.sysconf("SC_CLK_TCK")

def cpu():
    fields = Path("/proc/self/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / tick

collector = MetricsCollector(program, since, [])
if hasattr(collector, "store_counts"):
    # Incremental counts: as a run that started before these rows, whose
    # first look here catches up on all of them once.
    collector.store_counts.start(None)
start_cpu, start = cpu(), time.monotonic()
looks = 0
durations = []
while time.monotonic() - start < seconds:
    t = time.perf_counter()
    snapshot = collector.collect()
    durations.append(time.perf_counter() - t)
    assert not snapshot.problems, snapshot.problems
    looks += 1
    time.sleep(max(0.0, start + looks - time.monotonic()))
used, wall = cpu() - start_cpu, time.monotonic() - start
t0 = time.perf_counter()
tags = detections_by_tag(folder / "metadata.db",
    datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
by_tag = time.perf_counter() - t0
durations.sort()
print(json.dumps({"cpu_percent": 100 * used / wall, "looks": looks,
    "look_ms": 1000 * durations[len(durations) // 2],
    "recordings": snapshot.recordings, "pending": snapshot.messages_pending,
    "by_tag_s": by_tag, "tags": tags}))
"""


def _db_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build(folder: Path, recordings: int, tags: int) -> datetime.datetime:
    """Fill ``folder`` with the two databases; return when the run started."""
    sys.path.insert(0, str(OURS))
    from acoupi.components.message_stores import SqliteMessageStore
    from acoupi.components.sqlite_db import datetime_to_db
    from acoupi.components.stores import SqliteStore

    SqliteStore(folder / "metadata.db").get_current_deployment()
    SqliteMessageStore(folder / "messages.db").count_unsent()
    now = datetime.datetime.now(datetime.timezone.utc)
    started = now - datetime.timedelta(seconds=10 * recordings + 60)
    deployment = uuid.uuid4().bytes
    with closing(sqlite3.connect(folder / "metadata.db")) as db, db:
        db.execute(
            "INSERT INTO deployment (id, name, started_on) VALUES (?, 'bench', ?)",
            (deployment, datetime_to_db(started)),
        )
        for n in range(recordings):
            when = datetime_to_db(started + datetime.timedelta(seconds=10 * n + 30))
            rec, out, det = (uuid.uuid4().bytes for _ in range(3))
            db.execute(
                "INSERT INTO recording (id, datetime, duration_s, samplerate_hz,"
                " deployment_id) VALUES (?, ?, 10, 48000, ?)",
                (rec, when, deployment),
            )
            db.execute(
                "INSERT INTO model_output (id, model_name, recording_id, created_on)"
                " VALUES (?, 'm', ?, ?)",
                (out, rec, when),
            )
            db.execute(
                "INSERT INTO detection (id, detection_score, model_output_id)"
                " VALUES (?, 0.9, ?)",
                (det, out),
            )
            db.executemany(
                "INSERT INTO predicted_tag (key, value, confidence_score,"
                " detection_id) VALUES ('species', ?, 0.9, ?)",
                [(f"sp{k}", det) for k in range(tags)],
            )
    with closing(sqlite3.connect(folder / "messages.db")) as db, db:
        for n in range(recordings):
            when = datetime_to_db(started + datetime.timedelta(seconds=10 * n + 31))
            message = uuid.uuid4().bytes
            db.execute(
                "INSERT INTO message (id, content, created_on) VALUES (?, ?, ?)",
                (message, "x" * 2000, when),
            )
            if n % 2 == 0:
                db.execute(
                    "INSERT INTO response (message_id, status, received_on)"
                    " VALUES (?, 0, ?)",
                    (message, when),
                )
    return started


def export_src(revision: str, destination: Path) -> Path:
    """Write ``src`` as of ``revision`` under ``destination``; return its path."""
    root = HERE.parent
    destination.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", revision, "src"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(destination)], input=archive, check=True)
    print(f"before: src at {revision}")
    return destination / "src"


def loop(src: Path, folder: Path, seconds: float, since: datetime.datetime) -> Dict:
    """Run the metrics loop of the tree at ``src`` in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _LOOP, str(src), str(folder), str(seconds),
         since.isoformat()],
        capture_output=True, text=True, cwd=folder,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"The loop of {src} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    """Build, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--before", required=True, help="git revision to compare with (cb4c0fc)"
    )
    parser.add_argument("--recordings", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="acoupi-supervisor-cpu-") as tmp:
        folder = Path(tmp)
        sides = {"before": export_src(args.before, folder / "before"), "after": OURS}
        t0 = time.monotonic()
        since = build(folder, args.recordings, args.tags)
        print(
            f"built {args.recordings} recordings, {args.recordings * args.tags} tags,"
            f" {args.recordings} messages in {time.monotonic() - t0:.0f} s"
        )
        runs: Dict[str, List[Dict]] = {name: [] for name in sides}
        for round_ in range(args.rounds):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for name in order:
                runs[name].append(loop(sides[name], folder, args.seconds, since))
                last = runs[name][-1]
                print(
                    f"round {round_ + 1} {name:6}: {last['cpu_percent']:.2f} % CPU,"
                    f" {last['looks']} looks, counts {last['recordings']} recordings"
                    f" / {last['pending']} pending; per-tag count"
                    f" {last['by_tag_s']:.3f} s; median look {last['look_ms']:.2f} ms;"
                    f" load {os.getloadavg()[0]:.2f}"
                )
    cpu = {name: [r["cpu_percent"] for r in runs[name]] for name in sides}
    tag = {name: [r["by_tag_s"] for r in runs[name]] for name in sides}
    look = {name: [r["look_ms"] for r in runs[name]] for name in sides}
    ratios = [a / b for a, b in zip(cpu["after"], cpu["before"], strict=True)]
    print()
    print(f"{'':28}{'before':>22}{'after':>22}")
    rows = (
        ("CPU % of one core", cpu),
        ("median look (ms)", look),
        ("per-tag count, 1 h (s)", tag),
    )
    for label, values in rows:
        before, after = format_spread(values["before"]), format_spread(values["after"])
        print(f"{label:28}{before:>22}{after:>22}")
    print(
        f"after / before CPU: median {statistics.median(ratios):.3f}"
        f" (range {min(ratios):.3f}-{max(ratios):.3f})"
    )
    print(f"before: {format_load(load_before)}; after: {format_load()}")
    print("Upstream 0.3.2 and 0.8.0 have no foreground supervisor: no upstream side.")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        settings = {k: str(v) for k, v in vars(args).items()}
        settings["before_src"] = str(sides["before"])
        args.json.write_text(json.dumps({"args": settings, "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
