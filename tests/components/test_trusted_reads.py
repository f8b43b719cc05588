"""Objects built from stored rows equal validated ones, and fall back safely."""

import copy
import datetime
import json
import pickle
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from acoupi import data
from acoupi.components.sqlite_db import (
    datetime_from_db,
    uuid_from_db,
    uuids_from_db,
)
from acoupi.components.stores.sqlite import reads
from acoupi.components.stores.sqlite.trusted import trusted, trusted_many


class WithDefaults(BaseModel):
    name: str
    note: Optional[str] = None
    count: int = 3


@dataclass
class Plain:
    name: str


def test_trusted_model_equals_a_validated_one_and_fills_defaults():
    make = trusted(WithDefaults, ("name",))

    built = make({"name": "x"})

    assert built == WithDefaults(name="x")
    assert (built.note, built.count) == (None, 3)
    built.count = 4  # still a normal, mutable model
    assert built.count == 4 and make({"name": "y"}).count == 3


def test_trusted_detection_equals_the_validated_one():
    tag = data.PredictedTag(
        tag=data.Tag(key="species", value="x"), confidence_score=0.5
    )
    make = trusted(data.Detection, ("id", "location", "detection_score", "tags"))
    validated = data.Detection(detection_score=0.25, tags=[tag])

    built = make(
        {
            "id": validated.id,
            "location": None,
            "detection_score": 0.25,
            "tags": [tag],
        }
    )

    assert built == validated
    assert built.model_dump() == validated.model_dump()


def test_classes_it_cannot_fill_directly_are_validated():
    assert trusted(Plain, ("name",))({"name": "x"}) == Plain("x")
    # A missing field without a constant default: built the normal way.
    make = trusted(data.Detection, ("detection_score",))
    assert make({"detection_score": 0.5}).detection_score == 0.5


# --- objects built directly behave as validated ones -------------------------

UTC = datetime.timezone.utc
TAG = data.Tag(key="species", value="Myotis")
DEPLOYMENT = data.Deployment(
    name="site", started_on=datetime.datetime(2024, 1, 1, tzinfo=UTC)
)
RECORDING = data.Recording(
    created_on=datetime.datetime(2024, 1, 2, tzinfo=UTC),
    duration=3.0,
    samplerate=48000,
    deployment=DEPLOYMENT,
    path=Path("/a.wav"),
)
BOX = data.BoundingBox(coordinates=(0.1, 20000.0, 0.2, 40000.0))
PREDICTED = data.PredictedTag(tag=TAG, confidence_score=0.75)
DETECTION = data.EventDetection(
    location=BOX, detection_score=0.5, tags=[PREDICTED, PREDICTED]
)
# Every field given, as the store's reads give them all.
EXAMPLES = [
    TAG,
    PREDICTED,
    BOX,
    DEPLOYMENT,
    RECORDING,
    DETECTION,
    data.PresenceDetection(detection_score=0.25),
    data.ModelOutput(
        name_model="m",
        recording=RECORDING,
        detections=[DETECTION],
        tags=[PREDICTED],
        created_on=datetime.datetime(2024, 1, 2, 0, 0, 1, tzinfo=UTC),
    ),
]


def _state(model) -> dict:
    # The field values themselves (not dumps), as the reads pass them.
    return {name: getattr(model, name) for name in type(model).model_fields}


@pytest.mark.parametrize("many", [False, True], ids=["trusted", "trusted_many"])
@pytest.mark.parametrize("validated", EXAMPLES, ids=lambda m: type(m).__name__)
def test_built_objects_behave_as_validated_ones(validated, many: bool):
    cls = type(validated)
    fields = tuple(cls.model_fields)
    if many:
        [built, other] = trusted_many(cls, fields)(
            [_state(validated), _state(validated)]
        )
    else:
        built = trusted(cls, fields)(_state(validated))
        other = trusted(cls, fields)(_state(validated))

    assert type(built) is cls
    assert built == validated and validated == built
    assert built.model_dump() == validated.model_dump()
    assert built.model_dump_json() == validated.model_dump_json()
    assert repr(built) == repr(validated) and str(built) == str(validated)
    assert cls.model_validate(built.model_dump()) == built
    for clone in (
        copy.copy(built),
        copy.deepcopy(built),
        built.model_copy(),
        pickle.loads(pickle.dumps(built)),
    ):
        assert clone == validated and type(clone) is cls
    assert (built.__pydantic_extra__, built.__pydantic_private__) == (None, None)
    # Assignment works and stays on that object.
    name = fields[0]
    value = getattr(built, name)
    setattr(built, name, getattr(other, name))
    assert getattr(built, name) == value
    changed = built.model_copy(update={name: value})
    assert changed == built and changed is not built
    assert other == validated


def test_uuids_read_in_bulk_equal_python_ones():
    values = [uuid4() for _ in range(50)] + [UUID(int=0), UUID(int=2**128 - 1)]
    read = uuids_from_db([value.bytes for value in values])
    assert read == values
    assert [uuid_from_db(value.bytes) for value in values] == values
    assert all(type(u) is UUID and u.is_safe == values[0].is_safe for u in read)
    assert pickle.loads(pickle.dumps(read)) == values
    assert {read[0]: 1}[values[0]] == 1  # same hash
    with pytest.raises(ValueError):
        uuids_from_db([b"\x00" * 15])


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            "2024-05-01 10:00:00.000000+00:00",
            datetime.datetime(2024, 5, 1, 10, tzinfo=UTC),
        ),
        ("2024-05-01 10:00:00", datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ],
)
def test_stored_datetimes_are_read_as_utc(text: str, expected: datetime.datetime):
    read = datetime_from_db(text)
    assert read == expected and read.tzinfo is UTC
    assert read.isoformat() == expected.isoformat()


def test_boxes_are_read_from_every_stored_form():
    box = data.BoundingBox(coordinates=(1e-05, 20000.0, 0.1, 60000.5))
    texts = [
        box.model_dump_json(),  # ours
        json.dumps(box.model_dump()),  # acoupi 0.3 (json.dumps' spacing)
        '{"coordinates": [1e-05, 20000.0, 0.1, 60000.5]}',  # no type
        "",
        None,
    ]
    assert reads._locations(texts) == [box, box, box, None, None]
    with pytest.raises(ValueError):
        reads._locations([box.model_dump_json(), "{not json"])


def test_box_numbers_are_read_exactly():
    # One parser call reads every box of a query; it must give the same
    # floats as json.loads (correctly rounded) for any stored number.
    rng = random.Random(11)
    numbers = [rng.random() * 10 ** rng.randint(-12, 12) for _ in range(20000)]
    numbers += [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1]
    boxes = [
        json.dumps({"type": "BoundingBox", "coordinates": numbers[i : i + 4]})
        for i in range(0, len(numbers) - 3, 4)
    ]
    read = reads._locations(boxes)
    assert [list(box.coordinates) for box in read] == [
        json.loads(text)["coordinates"] for text in boxes
    ]
