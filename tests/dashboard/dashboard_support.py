"""A small installation with known recordings and detections, stored for real.

Recordings are real WAV files (tone bursts where the detections are) and
metadata goes through the real SqliteStore, so the dashboard and the query
commands read exactly what a run would have written.
"""

import datetime
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from acoupi import data
from acoupi.audio.wav import write_wav
from acoupi.components.stores.sqlite.store import SqliteStore
from acoupi.system.constants import Settings

SAMPLERATE = 192_000
DURATION = 1.0

# (hours before now, deployment, [(tag, score, (start, low, end, high))])
LAYOUT: List[Tuple[float, str, List[Tuple[str, float, Tuple[float, ...]]]]] = [
    (
        0.5,
        "north",
        [("bat", 0.9, (0.10, 40e3, 0.12, 60e3)), ("bird", 0.6, (0.5, 2e3, 0.8, 6e3))],
    ),
    (1.5, "north", [("bat", 0.4, (0.30, 35e3, 0.31, 55e3))]),
    (2.5, "north", [("bird", 0.95, (0.2, 3e3, 0.6, 8e3))]),
    (3.5, "north", []),
    (
        30.0,
        "south",
        [("bat", 0.7, (0.6, 45e3, 0.62, 70e3)), ("bat", 0.2, (0.8, 30e3, 0.81, 50e3))],
    ),
    (50.0, "south", [("frog", 0.8, (0.1, 500.0, 0.9, 1500.0))]),
]


@dataclass
class Installation:
    """What was stored, to compare the dashboard's answers with."""

    settings: Settings
    db: Path
    now: datetime.datetime
    recordings: List[data.Recording] = field(default_factory=list)
    detections: Dict[str, List[data.Detection]] = field(default_factory=dict)
    """Detections by tag."""

    pairs: List[Tuple[data.Recording, data.Detection]] = field(default_factory=list)


def _audio(boxes: List[Tuple[float, ...]]) -> np.ndarray:
    times = np.arange(int(SAMPLERATE * DURATION)) / SAMPLERATE
    rng = np.random.default_rng(0)
    signal = rng.normal(0, 50, len(times))
    for start, low, end, high in boxes:
        inside = (times >= start) & (times < end)
        signal[inside] += 8000 * np.sin(2 * np.pi * (low + high) / 2 * times[inside])
    return signal.astype(np.int16)


def make_installation(settings: Settings) -> Installation:
    """Store LAYOUT under ``settings.home`` and write a program.json naming it."""
    storages = settings.home / "storages"
    recordings_dir = storages / "recordings"
    db = storages / "metadata.db"
    now = datetime.datetime.now(datetime.timezone.utc)
    store = SqliteStore(db)
    deployments: Dict[str, data.Deployment] = {}
    result = Installation(settings=settings, db=db, now=now)
    for hours, name, events in LAYOUT:
        if name not in deployments:
            deployments[name] = data.Deployment(
                name=name, started_on=now - datetime.timedelta(hours=60)
            )
            store.store_deployment(deployments[name])
        created = now - datetime.timedelta(hours=hours)
        recording = data.Recording(
            created_on=created,
            duration=DURATION,
            samplerate=SAMPLERATE,
            deployment=deployments[name],
        )
        path = recordings_dir / f"{created:%Y%m%d_%H%M%S}_{recording.id}.wav"
        write_wav(
            path,
            _audio([box for _, _, box in events]),
            SAMPLERATE,
            guano={"Samplerate": SAMPLERATE, "Note": f"test {name}"},
        )
        recording = recording.model_copy(update={"path": path})
        store.store_recording(recording)
        detections = [
            data.Detection(
                location=data.BoundingBox(coordinates=box),  # type: ignore[arg-type]
                detection_score=score,
                tags=[
                    data.PredictedTag(
                        tag=data.Tag(key="event", value=tag), confidence_score=score
                    )
                ],
            )
            for tag, score, box in events
        ]
        store.store_model_output(
            data.ModelOutput(
                name_model="TestModel",
                recording=recording,
                detections=detections,
                created_on=created,
            )
        )
        result.recordings.append(recording)
        for (tag, _, _), detection in zip(events, detections, strict=True):
            result.detections.setdefault(tag, []).append(detection)
            result.pairs.append((recording, detection))
    store.close()
    settings.program_config_file.parent.mkdir(parents=True, exist_ok=True)
    settings.program_config_file.write_text(
        json.dumps(
            {
                "recording": {"duration": DURATION, "interval": 10},
                "paths": {
                    "db_metadata": str(db),
                    "recordings": str(recordings_dir),
                    "tmp_audio": str(settings.home / "tmp"),
                },
                "messaging": {
                    "messages_db": str(storages / "messages.db"),
                    "http": {"base_url": "http://127.0.0.1:9/", "password": "hunter22"},
                },
            }
        )
    )
    return result
