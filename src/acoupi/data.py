"""Data objects exchanged between acoupi components.

These are pydantic models; their field order is the JSON key order of
``model_dump_json()``, which messages depend on, so keep it stable.
"""

import datetime
from enum import Enum, IntEnum
from pathlib import Path
from typing import Annotated, List, Optional, Tuple, Union
from uuid import UUID, uuid4

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field, field_validator

from acoupi.timeutil import UTCDateTime, now_utc

__all__ = [
    "AwareDatetime",
    "BoundingBox",
    "Deployment",
    "Detection",
    "DeviceInfo",
    "EventDetection",
    "Message",
    "MessageType",
    "Metric",
    "ModelOutput",
    "ModelOutputInfo",
    "PredictedTag",
    "PredictionType",
    "PresenceDetection",
    "Recording",
    "Response",
    "ResponseStatus",
    "SequenceDetection",
    "Tag",
    "TimeInterval",
    "detection_class",
    "utc_now",
]

utc_now = now_utc
"""Return the current time as an aware UTC datetime (acoupi 0.8's name)."""


class TimeInterval(BaseModel):
    """A time-of-day interval; ``start > end`` means it wraps midnight."""

    start: datetime.time
    end: datetime.time


class Deployment(BaseModel):
    """A deployment: one placement of a device at a site."""

    id: UUID = Field(default_factory=uuid4)
    name: str
    latitude: Optional[float] = None
    longitude: Optional[float] = None
    started_on: UTCDateTime = Field(default_factory=now_utc)
    ended_on: Optional[UTCDateTime] = None

    @field_validator("latitude")
    @classmethod
    def _check_latitude(cls, value: Optional[float]) -> Optional[float]:
        if value is not None and not -90 <= value <= 90:
            raise ValueError("latitude must be between -90 and 90")
        return value

    @field_validator("longitude")
    @classmethod
    def _check_longitude(cls, value: Optional[float]) -> Optional[float]:
        if value is not None and not -180 <= value <= 180:
            raise ValueError("longitude must be between -180 and 180")
        return value


class Recording(BaseModel):
    """An audio recording and where it is stored."""

    created_on: UTCDateTime = Field(default_factory=now_utc, repr=False)
    duration: float = Field(repr=False)
    samplerate: int = Field(repr=False)
    deployment: Deployment = Field(repr=False)
    path: Optional[Path] = None
    audio_channels: Optional[int] = Field(default=1, repr=False)
    chunksize: Optional[int] = Field(default=4096, repr=False)
    id: UUID = Field(default_factory=uuid4)
    time_expansion: float = Field(default=1, gt=0, repr=False)
    """How many times slower the file plays than the sound happened (acoupi
    0.8): the WAV header rate is ``samplerate / time_expansion``, while
    ``samplerate`` stays the rate the microphone sampled at."""

    @field_validator("duration")
    @classmethod
    def _check_duration(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("duration must be greater than 0")
        return value

    @field_validator("samplerate")
    @classmethod
    def _check_samplerate(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("samplerate must be greater than 0")
        return value

    @field_validator("audio_channels")
    @classmethod
    def _check_channels(cls, value: Optional[int]) -> Optional[int]:
        # Upstream crashes with a TypeError on None; None means "unknown".
        if value is not None and value < 1:
            raise ValueError("audio_channels must be 1 or greater")
        return value


class Tag(BaseModel):
    """A key/value label, for example ``species=Myotis daubentonii``."""

    key: str
    value: str

    @field_validator("key")
    @classmethod
    def _check_key(cls, value: str) -> str:
        if not value:
            raise ValueError("key cannot be empty")
        return value

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: str) -> str:
        if not value:
            raise ValueError("value cannot be empty")
        return value


def _check_score(value: float) -> float:
    if not 0 <= value <= 1:
        raise ValueError("score must be between 0 and 1")
    return value


Score = Annotated[float, AfterValidator(_check_score)]
"""A confidence score in [0, 1]."""


class PredictedTag(BaseModel):
    """A tag predicted by a model, with its confidence score."""

    tag: Tag
    confidence_score: Score = 1


def _sort_tags(tags: List[PredictedTag]) -> List[PredictedTag]:
    # Sorted so that equality does not depend on the order a model emits.
    return sorted(
        tags,
        key=lambda t: (t.confidence_score, t.tag.key, t.tag.value),
        reverse=True,
    )


SortedTags = Annotated[List[PredictedTag], AfterValidator(_sort_tags)]


class BoundingBox(BaseModel):
    """A time/frequency box: (start_time s, low_freq Hz, end_time s, high_freq Hz)."""

    type: str = "BoundingBox"
    coordinates: Tuple[float, float, float, float]

    @field_validator("coordinates")
    @classmethod
    def _check_coordinates(
        cls, value: Tuple[float, float, float, float]
    ) -> Tuple[float, float, float, float]:
        start_time, low_freq, end_time, high_freq = value
        if end_time <= start_time:
            raise ValueError("end_time must be greater than start_time")
        if high_freq <= low_freq:
            raise ValueError("high_freq must be greater than low_freq")
        return value

    @classmethod
    def from_coordinates(
        cls,
        start_time: float,
        low_freq: float,
        end_time: float,
        high_freq: float,
    ) -> "BoundingBox":
        """Build a box from its four coordinates (note the argument order)."""
        return cls(coordinates=(start_time, low_freq, end_time, high_freq))


class PredictionType(str, Enum):
    """What the region of a detection holds.

    ``PRESENCE``: one or more target sounds; ``SEQUENCE``: exactly one
    sequence of related sounds; ``EVENT``: exactly one sound event.
    """

    PRESENCE = "presence"
    SEQUENCE = "sequence"
    EVENT = "event"


class Detection(BaseModel):
    """A sound event found by a model, with its tags.

    ``prediction_type`` says how to read the region (acoupi 0.8). It is
    optional so that 0.3 models keep working: they get ``PRESENCE``, the
    most general type. The subclasses below fix it.
    """

    id: UUID = Field(default_factory=uuid4)
    location: Optional[BoundingBox] = None
    detection_score: Score = 1
    tags: SortedTags = Field(default_factory=list)
    prediction_type: PredictionType = PredictionType.PRESENCE

    def __eq__(self, other: object) -> bool:
        # A Detection and an EventDetection with the same fields are the
        # same detection (the store returns the subclass of the stored type).
        if not isinstance(other, Detection):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]


class PresenceDetection(Detection):
    """A region holding one or more target sounds."""

    prediction_type: PredictionType = PredictionType.PRESENCE


class SequenceDetection(Detection):
    """A region holding exactly one sequence of related sounds."""

    prediction_type: PredictionType = PredictionType.SEQUENCE


class EventDetection(Detection):
    """A region holding exactly one sound event."""

    prediction_type: PredictionType = PredictionType.EVENT


_DETECTION_CLASSES = {
    PredictionType.PRESENCE: PresenceDetection,
    PredictionType.SEQUENCE: SequenceDetection,
    PredictionType.EVENT: EventDetection,
}


def detection_class(
    prediction_type: Union[PredictionType, str, None],
) -> type[Detection]:
    """Return the Detection subclass of a prediction type (None: presence)."""
    if prediction_type is None:
        return PresenceDetection
    return _DETECTION_CLASSES[PredictionType(prediction_type)]


class ModelOutput(BaseModel):
    """Everything a model produced for one recording."""

    id: UUID = Field(default_factory=uuid4)
    name_model: str
    recording: Recording
    tags: SortedTags = Field(default_factory=list)
    detections: List[Detection] = Field(default_factory=list)
    created_on: UTCDateTime = Field(default_factory=now_utc)

    @field_validator("detections")
    @classmethod
    def _sort_detections(cls, value: List[Detection]) -> List[Detection]:
        return sorted(value, key=lambda d: d.id)


class ModelOutputInfo(BaseModel):
    """Which model processed a recording and when, without its detections.

    What file management needs to decide whether a recording is ready,
    at a fraction of the cost of loading full model outputs.
    """

    id: UUID = Field(default_factory=uuid4)
    name_model: str
    created_on: UTCDateTime = Field(default_factory=now_utc)


class MessageType(str, Enum):
    """What a message is about; messengers may route on it (MQTT topics)."""

    DEPLOYMENT = "deployment"
    HEARTBEAT = "heartbeat"
    RECORDING = "recording"
    SUMMARY = "summary"
    DETECTION = "detection"

    def __str__(self) -> str:
        return self.value


class Message(BaseModel):
    """A message to send: usually JSON text, or raw bytes for binary formats.

    ``message_type`` is optional (acoupi 0.8); it comes last so that the JSON
    of a 0.3 message keeps its key order.
    """

    id: UUID = Field(default_factory=uuid4)
    content: Union[str, bytes]
    created_on: UTCDateTime = Field(default_factory=now_utc)
    message_type: Optional[MessageType] = None


class ResponseStatus(IntEnum):
    """Outcome of sending a message.

    FAILED means it could not be sent; ERROR means the receiver reported an
    error; TIMEOUT means no acknowledgement arrived in time.
    """

    SUCCESS = 0
    FAILED = 1
    ERROR = 2
    TIMEOUT = 3


class Response(BaseModel):
    """The result of sending one message."""

    status: ResponseStatus
    message: Message
    content: Optional[str] = None
    received_on: UTCDateTime = Field(default_factory=now_utc)


class Metric(BaseModel):
    """One measured value with its name and unit (e.g. in heartbeats)."""

    name: str
    value: float
    unit: str
    captured_on: UTCDateTime = Field(default_factory=now_utc)


class DeviceInfo(BaseModel):
    """What acoupi knows about the device it runs on."""

    id: str
    """Unique identifier of the device; empty if it cannot be found."""
