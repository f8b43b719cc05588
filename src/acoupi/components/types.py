"""Interfaces of acoupi components.

A program is assembled from these parts; tasks only talk to the interfaces,
so any part can be swapped for another implementation.
"""

import datetime
from abc import ABC, abstractmethod
from pathlib import Path
from typing import (
    Dict,
    Generic,
    List,
    Literal,
    Optional,
    ParamSpec,
    Protocol,
    Sequence,
    Tuple,
    Union,
)
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

MessageOrMessages = Union[None, data.Message, List[data.Message]]
"""What builders and summarisers return: nothing, one message or several."""

MessageOrder = Literal["oldest_first", "newest_first"]


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

    # acoupi 0.8 methods. They are not abstract so that stores written for
    # 0.3 keep working: these defaults use the 0.3 methods above; a store
    # can override them with faster queries (SqliteStore does).

    def store_model_outputs(self, model_outputs: Sequence[data.ModelOutput]) -> None:
        """Store several model outputs."""
        for model_output in model_outputs:
            self.store_model_output(model_output)

    def get_recordings_info_by_path(
        self, paths: Sequence[Optional[Path]]
    ) -> List[Tuple[data.Recording, List[data.ModelOutputInfo]]]:
        """Return recordings by path, with which models processed them."""
        wanted = [Path(path) for path in paths if path is not None]
        return [
            (recording, [model_output_info(output) for output in outputs])
            for recording, outputs in self.get_recordings_by_path(wanted)
        ]

    def get_recording_model_outputs(
        self, recording: data.Recording
    ) -> List[data.ModelOutput]:
        """Return the full model outputs of one recording."""
        return self.get_recordings_model_outputs([recording])[recording.id]

    def get_recordings_model_outputs(
        self, recordings: Sequence[data.Recording]
    ) -> Dict[UUID, List[data.ModelOutput]]:
        """Return the full model outputs of several recordings, by recording id.

        Every given recording has an entry (an empty list if it has none).
        """
        found = {
            recording.id: list(outputs)
            for recording, outputs in self.get_recordings(
                [recording.id for recording in recordings]
            )
        }
        return {recording.id: found.get(recording.id, []) for recording in recordings}


def model_output_info(model_output: data.ModelOutput) -> data.ModelOutputInfo:
    """Return the summary of a model output (which model, when)."""
    return data.ModelOutputInfo(
        id=model_output.id,
        name_model=model_output.name_model,
        created_on=model_output.created_on,
    )


class MessageBuilder(ABC, Generic[P]):
    """Builds a message from task results (usually a model output)."""

    @abstractmethod
    def build_message(self, *args: P.args, **kwargs: P.kwargs) -> MessageOrMessages:
        """Return a message, several (acoupi 0.8), or None for nothing."""


class Summariser(ABC):
    """Builds a periodic summary message."""

    @abstractmethod
    def build_summary(self, now: datetime.datetime) -> MessageOrMessages:
        """Return the summary up to ``now``: one message, several, or None."""


class Messenger(ABC):
    """Sends messages somewhere (MQTT broker, HTTP server, ...)."""

    @abstractmethod
    def send_message(self, message: data.Message) -> data.Response:
        """Send ``message`` and report what happened."""


class MessageStore(ABC):
    """The outbox: messages waiting to be sent and their responses."""

    @abstractmethod
    def get_unsent_messages(
        self, limit: Optional[int] = None, order: MessageOrder = "oldest_first"
    ) -> List[data.Message]:
        """Return messages with no successful response yet.

        Parameters
        ----------
        limit
            At most this many; all when None.
        order
            ``"oldest_first"`` or ``"newest_first"`` by creation time.

        Notes
        -----
        Stores written for acoupi 0.3 take no arguments; the send-messages
        task still works with them (it sorts and cuts the list itself).
        """

    @abstractmethod
    def store_message(self, message: data.Message) -> None:
        """Persist a message before it is sent."""

    @abstractmethod
    def store_response(self, response: data.Response) -> None:
        """Persist the response to sending a message."""
