"""Write small metadata.db/messages.db files with an upstream acoupi.

Run by hand with the interpreter of a venv holding upstream acoupi, once per
version; the files are committed, so the tests need no upstream install::

    python3 -m venv /tmp/up08 && /tmp/up08/bin/pip install acoupi==0.8.0
    /tmp/up08/bin/python tests/data/upstream_db/generate.py

It writes ``<version>/metadata.db``, ``<version>/messages.db`` and
``<version>/expected.json`` next to this file. ``expected.json`` lists every
row the upstream store was given (ids, times, paths, scores, boxes, tags,
messages and responses), which ``tests/components/test_upstream_files.py``
compares with what our store reads back after migrating a copy.

Only upstream's public store API is used, so the files are what a field
deployment of that version leaves on disk. Runs on 0.3.x to 0.8.x.
"""

import datetime
import json
import shutil
import sys
from pathlib import Path
from uuid import UUID

import acoupi
from acoupi import data
from acoupi.components.message_stores.sqlite import SqliteMessageStore
from acoupi.components.stores.sqlite import SqliteStore

VERSION = getattr(acoupi, "__version__", None)
if VERSION is None:
    from importlib.metadata import version

    VERSION = version("acoupi")
MAJOR_MINOR = tuple(int(part) for part in VERSION.split(".")[:2])
OUT = Path(__file__).resolve().parent / VERSION
# 0.5 dropped timezone-naive datetimes; 0.3 and 0.4 stored naive local time.
TZ = datetime.timezone(datetime.timedelta(hours=2)) if MAJOR_MINOR >= (0, 5) else None
BASE = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=TZ)


def uid(number: int) -> UUID:
    return UUID(int=number)


def at(seconds: float) -> datetime.datetime:
    return BASE + datetime.timedelta(seconds=seconds)


def detection(number: int, score: float, box, tags):
    kwargs = dict(
        id=uid(number),
        detection_score=score,
        location=None if box is None else data.BoundingBox(coordinates=box),
        tags=[
            data.PredictedTag(tag=data.Tag(key=k, value=v), confidence_score=s)
            for k, v, s in tags
        ],
    )
    if hasattr(data, "PredictionType"):
        kwargs["prediction_type"] = data.PredictionType.EVENT
    return data.Detection(**kwargs)


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    store = SqliteStore(OUT / "metadata.db")
    first = data.Deployment(
        id=uid(1), name="Wood 1", started_on=at(-3600), latitude=51.5, longitude=-0.1
    )
    store.store_deployment(first)
    ended = first.model_copy(update={"ended_on": at(-1800)})
    store.update_deployment(ended)
    second = data.Deployment(id=uid(2), name="Wood 2", started_on=at(-60))
    store.store_deployment(second)

    recordings = []
    for index in range(4):
        recording = data.Recording(
            id=uid(100 + index),
            created_on=at(10 * index),
            duration=3.0,
            samplerate=192000,
            audio_channels=1,
            deployment=second,
            path=Path(f"/home/pi/storages/recordings/rec_{index}.wav"),
        )
        recordings.append(recording)
        store.store_recording(recording)
    no_path = data.Recording(
        id=uid(199),
        created_on=at(45),
        duration=3.0,
        samplerate=48000,
        deployment=second,
    )
    store.store_recording(no_path)

    outputs = []
    for index, recording in enumerate(recordings[:3]):
        detections = [
            detection(
                1000 + 10 * index + d,
                round(0.3 + 0.2 * d, 2),
                (0.1 * d, 20000.0, 0.1 * d + 0.05, 60000.0) if d < 2 else None,
                [("species", f"Myotis {index}-{d}", round(0.5 + 0.1 * d, 2))],
            )
            for d in range(3)
        ]
        output = data.ModelOutput(
            id=uid(500 + index),
            name_model="BatDetect2",
            recording=recording,
            created_on=recording.created_on + datetime.timedelta(seconds=5),
            detections=detections,
        )
        if MAJOR_MINOR < (0, 5):  # recording-level tags were dropped in 0.5
            output = output.model_copy(
                update={
                    "tags": [
                        data.PredictedTag(
                            tag=data.Tag(key="noise", value="low"),
                            confidence_score=0.9,
                        )
                    ]
                }
            )
        outputs.append(output)
        store.store_model_output(output)
    moved = Path("/home/pi/storages/recordings/2024/05/01/rec_0.wav")
    store.update_recording_path(recordings[0], moved)

    messages = SqliteMessageStore(OUT / "messages.db")
    sent = data.Message(id=uid(900), content='{"kind": "detection"}', created_on=at(6))
    failed = data.Message(
        id=uid(901), content='{"kind": "heartbeat"}', created_on=at(7)
    )
    pending = data.Message(id=uid(902), content="plain text", created_on=at(8))
    for message in (sent, failed, pending):
        messages.store_message(message)
    messages.store_response(
        data.Response(
            message=sent,
            status=data.ResponseStatus.SUCCESS,
            content="ok",
            received_on=at(9),
        )
    )
    messages.store_response(
        data.Response(
            message=failed,
            status=data.ResponseStatus.FAILED,
            content=None,
            received_on=at(9.5),
        )
    )

    def when(value: datetime.datetime) -> str:
        return value.isoformat()

    expected = {
        "version": VERSION,
        "naive_datetimes": TZ is None,
        "deployments": [
            {
                "id": str(d.id),
                "name": d.name,
                "started_on": when(d.started_on),
                "ended_on": None if d.ended_on is None else when(d.ended_on),
                "latitude": d.latitude,
                "longitude": d.longitude,
            }
            for d in (ended, second)
        ],
        "recordings": [
            {
                "id": str(r.id),
                "path": None
                if r.path is None
                else str(moved if r.id == recordings[0].id else r.path),
                "created_on": when(r.created_on),
                "duration": r.duration,
                "samplerate": r.samplerate,
                "deployment_id": str(second.id),
            }
            for r in recordings + [no_path]
        ],
        "model_outputs": [
            {
                "id": str(o.id),
                "recording_id": str(o.recording.id),
                "name_model": o.name_model,
                "created_on": when(o.created_on),
                "tags": [
                    [t.tag.key, t.tag.value, t.confidence_score]
                    for t in getattr(o, "tags", [])
                ],
                "detections": [
                    {
                        "id": str(d.id),
                        "score": d.detection_score,
                        "box": None
                        if d.location is None
                        else list(d.location.coordinates),
                        "prediction_type": getattr(
                            getattr(d, "prediction_type", None), "value", None
                        ),
                        "tags": [
                            [t.tag.key, t.tag.value, t.confidence_score] for t in d.tags
                        ],
                    }
                    for d in o.detections
                ],
            }
            for o in outputs
        ],
        "messages": [
            {"id": str(m.id), "content": m.content, "created_on": when(m.created_on)}
            for m in (sent, failed, pending)
        ],
        "unsent": [str(failed.id), str(pending.id)],
        "responses": [
            [str(sent.id), int(data.ResponseStatus.SUCCESS), "ok", when(at(9))],
            [str(failed.id), int(data.ResponseStatus.FAILED), None, when(at(9.5))],
        ],
    }
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"wrote {OUT} with acoupi {VERSION} ({sys.executable})")


if __name__ == "__main__":
    main()
