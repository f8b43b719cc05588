"""Objects built from stored rows equal validated ones, and fall back safely."""

from dataclasses import dataclass
from typing import Optional

from pydantic import BaseModel

from acoupi import data
from acoupi.components.stores.sqlite.trusted import trusted


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
