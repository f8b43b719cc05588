"""Interfaces of acoupi components.

A program is assembled from these parts; tasks only talk to the interfaces,
so any part can be swapped for another implementation.
"""

import datetime
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Generic, List, Optional, ParamSpec, Protocol, Tuple
from uuid import UUID

from acoupi import data

__all__ = [
    "AudioRecorder",
    "MessageBuilder",
    "MessageStore",
    "Messenger",
    "Model",
    "ModelOutputCleaner",
    "P",
    "ProcessingFilter",
    "RecordingCondition",
    "RecordingSavingFilter",
    "RecordingSavingManager",
    "RecordingScheduler",
    "Store",
    "Summariser",
]

P = ParamSpec("P")


class RecordingScheduler(ABC):
    """Decides when the next recording starts."""

    @abstractmethod
    def time_until_next_recording(
        self, time: Optional[datetime.datetime] = None
    ) -> float:
        """Return the seconds until the next recording (0 means now)."""


class RecordingCondition(ABC):
    """Decides whether to record right now."""

    @abstractmethod
    def should_record(self) -> bool:
        """Return True to record now."""


class AudioRecorder(ABC):
    """Records audio to a temporary file."""

    @abstractmethod
    def record(self, deployment: data.Deployment) -> data.Recording:
        """Record, write a temporary WAV file and return its Recording."""


class ProcessingFilter(ABC):
    """Decides whether a recording goes through the model."""

    @abstractmethod
    def should_process_recording(self, recording: data.Recording) -> bool:
        """Return True to run the model on ``recording``."""


class Model(Protocol):
    """A detection model.

    Programs also expect a ``name`` attribute equal to the ``name_model`` of
    the outputs, and may call an optional ``check()``.
    """

    @abstractmethod
    def run(self, recording: data.Recording) -> data.ModelOutput:
        """Run the model on ``recording``."""


class ModelOutputCleaner(ABC):
    """Prunes predictions from a model output."""

    @abstractmethod
    def clean(self, model_output: data.ModelOutput) -> data.ModelOutput:
        """Return the cleaned model output."""


class RecordingSavingFilter(ABC):
    """Decides whether a recording is kept (True) or deleted (False)."""

    @abstractmethod
    def should_save_recording(
        self,
        recording: data.Recording,
        model_outputs: Optional[List[data.ModelOutput]] = None,
    ) -> bool:
        """Return True to keep ``recording``."""


class RecordingSavingManager(ABC):
    """Chooses where a kept recording goes."""

    @abstractmethod
    def save_recording(
        self,
        recording: data.Recording,
        model_outputs: Optional[List[data.ModelOutput]] = None,
    ) -> Optional[Path]:
        """Return the destination path, or None when not this manager's."""


class Store(ABC):
    """Persists deployments, recordings and model outputs."""

    @abstractmethod
    def get_current_deployment(self) -> data.Deployment:
        """Return the current deployment."""

    @abstractmethod
    def store_deployment(self, deployment: data.Deployment) -> None:
        """Store a deployment."""

    @abstractmethod
    def update_deployment(self, deployment: data.Deployment) -> None:
        """Update a stored deployment."""

    @abstractmethod
    def store_recording(
        self,
        recording: data.Recording,
        deployment: Optional[data.Deployment] = None,
    ) -> None:
        """Store a recording."""

    @abstractmethod
    def store_model_output(self, model_output: data.ModelOutput) -> None:
        """Store a model output."""

    @abstractmethod
    def get_recordings(
        self, ids: List[UUID]
    ) -> List[Tuple[data.Recording, List[data.ModelOutput]]]:
        """Return recordings by id, with their model outputs."""

    @abstractmethod
    def get_recordings_by_path(
        self, paths: List[Path]
    ) -> List[Tuple[data.Recording, List[data.ModelOutput]]]:
        """Return recordings by path, with their model outputs."""

    @abstractmethod
    def update_recording_path(
        self, recording: data.Recording, path: Path
    ) -> data.Recording:
        """Record that ``recording`` now lives at ``path``."""


class MessageBuilder(ABC, Generic[P]):
    """Builds a message from task results (usually a model output)."""

    @abstractmethod
    def build_message(
        self, *args: P.args, **kwargs: P.kwargs
    ) -> Optional[data.Message]:
        """Return a message, or None when there is nothing to send."""


class Summariser(ABC):
    """Builds a periodic summary message."""

    @abstractmethod
    def build_summary(self, now: datetime.datetime) -> data.Message:
        """Return the summary up to ``now``."""


class Messenger(ABC):
    """Sends messages somewhere (MQTT broker, HTTP server, ...)."""

    @abstractmethod
    def send_message(self, message: data.Message) -> data.Response:
        """Send ``message`` and report what happened."""


class MessageStore(ABC):
    """The outbox: messages waiting to be sent and their responses."""

    @abstractmethod
    def get_unsent_messages(self) -> List[data.Message]:
        """Return messages with no successful response yet."""

    @abstractmethod
    def store_message(self, message: data.Message) -> None:
        """Persist a message before it is sent."""

    @abstractmethod
    def store_response(self, response: data.Response) -> None:
        """Persist the response to sending a message."""
