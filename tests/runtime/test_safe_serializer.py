"""Defect 6 (serializer): a pickled message dropped in the queue ran code.

With ``--task_serializer json`` acoupi's data travels as plain JSON that is
only validated into known classes, and a worker accepting only JSON refuses
a pickled message instead of running it.
"""

import base64
import json
import pickle
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest
from kombu import Connection
from kombu.exceptions import ContentDisallowed

from acoupi import data
from acoupi.system.broker import broker_paths
from acoupi.system.constants import Settings
from acoupi.system.programs import load_program

JSON_ONLY = {
    "task_serializer": "json",
    "result_serializer": "json",
    "accept_content": '["json"]',
}


@pytest.fixture
def program(slow_program: Callable[..., Settings]) -> Any:
    return load_program(slow_program(**JSON_ONLY))


class Boom:
    """Pickling this runs ``touch`` when the message is unpickled."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> Any:
        return (Path.touch, (self.target,))


def test_recordings_travel_as_plain_json(program: Any, settings: Settings) -> None:
    recording = program.tasks["recording_task"]()
    assert isinstance(recording, data.Recording)
    program.tasks["detection_task"].apply_async((recording,))

    messages = sorted(broker_paths(settings).queue.glob("*.detection.msg"))
    payload = json.loads(messages[-1].read_text())
    assert payload["content-type"] == "application/json"
    body = json.loads(base64.b64decode(payload["body"]))
    assert body[0][0]["__type__"] == "acoupi.Recording"
    assert body[0][0]["__value__"]["id"] == str(recording.id)

    conf = program.app.conf
    with Connection(
        "filesystem://",
        transport=conf.broker_transport,
        transport_options=conf.broker_transport_options,
    ) as connection:
        queue = connection.SimpleQueue("detection", accept=["json"])
        received = []
        while queue.qsize():
            got = queue.get(timeout=5)
            received.append(got.decode()[0][0])
            got.ack()
    assert recording in received


def test_pickled_message_is_refused_not_run(
    program: Any, settings: Settings, tmp_path: Path
) -> None:
    target = tmp_path / "pwned"
    conf = program.app.conf
    with Connection(
        "filesystem://",
        transport=conf.broker_transport,
        transport_options=conf.broker_transport_options,
    ) as connection:
        # A queue name of its own: kombu remembers declared queues per
        # process, not per broker folder.
        name = f"planted-{uuid.uuid4().hex[:8]}"
        queue = connection.SimpleQueue(name, serializer="pickle")
        queue.put([Boom(target)], serializer="pickle")
        consumer = connection.SimpleQueue(name, accept=["json"])
        with pytest.raises(ContentDisallowed):
            consumer.get(timeout=5).decode()
    assert not target.exists()
    assert pickle.dumps  # pickle itself stays available (0.3 programs)
