"""DetectionProgram: record, run a model on each recording, keep by results.

Recording and detection run in separate worker processes (queues
``recording`` and ``detection``), so a slow model never delays the next
recording. The detection backlog (recordings waiting for the model) is
bounded by ``detections.max_backlog``; what happens beyond the bound is
``detections.backlog_policy``. Recordings detection gives up on are moved
to ``<paths.recordings>/unprocessed`` with their metadata: never deleted.
"""

import functools
from abc import ABC, abstractmethod
from typing import Any, Callable, Generic, List, Literal, Optional, TypeVar

from pydantic import BaseModel, Field

from acoupi import data
from acoupi.components import types
from acoupi.components.output_cleaners import ThresholdDetectionCleaner
from acoupi.programs.core.workers import AcoupiWorker, WorkerConfig
from acoupi.programs.templates.checks import run_component_check
from acoupi.programs.templates.messaging import (
    MessagingProgram,
    MessagingProgramConfiguration,
)
from acoupi.system.files import get_temp_files, move_recording
from acoupi.system.model_threads import default_model_threads, limit_model_threads
from acoupi.tasks import generate_detection_task

__all__ = [
    "DETECTION_QUEUE",
    "DETECTION_WORKER_CONFIG",
    "UNPROCESSED_FOLDER",
    "BacklogPolicy",
    "DetectionProgram",
    "DetectionProgramConfiguration",
    "DetectionsConfiguration",
]

DETECTION_QUEUE = "detection"

UNSENT_KEPT_WITHOUT_MESSENGER = 1000
"""Unsent messages kept when no messenger is configured (newest first).

Messages are still made, as in acoupi 0.3 (plugins and scripts read them
from the outbox), but nothing sends them: the outbox keeps this many, about
2 MB, instead of growing by one message per recording forever."""
"""Queue of the detection task (the recording task's callback)."""

UNPROCESSED_FOLDER = "unprocessed"
"""Folder under ``paths.recordings`` for recordings detection skipped."""

DETECTION_WORKER_CONFIG = WorkerConfig(
    workers=[
        AcoupiWorker(name="recording", queues=["recording"], concurrency=1),
        AcoupiWorker(name="detection", queues=[DETECTION_QUEUE], concurrency=1),
        AcoupiWorker(name="default", queues=["celery"]),
    ]
)
"""Recording, detection and everything else each in a process of its own."""

BacklogPolicy = Literal["skip_oldest", "record_only"]


class DetectionsConfiguration(BaseModel):
    """How detections are kept, and how far detection may lag behind."""

    threshold: float = 0.2
    """Minimum score of a kept detection (0 keeps all)."""

    max_backlog: int = Field(default=50, ge=1)
    """Most recordings allowed to wait for the model (the detection queue)."""

    backlog_policy: BacklogPolicy = "skip_oldest"
    """What to do when ``max_backlog`` recordings wait for the model.

    ``skip_oldest``: detection skips every recording that is older than the
    newest ``max_backlog`` waiting ones, so the model always works on recent
    audio. ``record_only``: a new recording made while the backlog is full
    is kept without detection; the waiting ones are all processed. Either
    way a skipped recording is moved, with its metadata, to
    ``<paths.recordings>/unprocessed``: never deleted.
    """

    model_threads: int = Field(default_factory=default_model_threads, ge=1)
    """Most threads the model computes with (torch, OpenBLAS, OpenMP) in the
    detection worker. The default, every core but one (at most 4), leaves a
    core to the recorder so no audio is lost while the model runs."""


class DetectionProgramConfiguration(MessagingProgramConfiguration):
    """Configuration of a DetectionProgram."""

    detections: DetectionsConfiguration = Field(default_factory=DetectionsConfiguration)


C = TypeVar("C", bound=DetectionProgramConfiguration)


class DetectionProgram(MessagingProgram[C], ABC, Generic[C]):
    """Run a model on every new recording (``detection_task`` callback).

    Subclasses implement :meth:`configure_model`; the model's ``name`` must
    equal the ``name_model`` of its outputs, because a recording is filed
    only once that model has run on it.
    """

    config_schema = DetectionProgramConfiguration
    worker_config = DETECTION_WORKER_CONFIG

    model: types.Model

    def setup(self, config: C) -> None:
        """Build the model, then Messaging's setup."""
        self.model = self.configure_model(config)
        super().setup(config)

    def on_end(self, deployment: data.Deployment) -> None:
        """Process recordings left in tmp, then file and send them."""
        super().on_end(deployment)
        remaining = get_temp_files(self.config.paths.tmp_audio)
        waiting = self.store.get_recordings_by_path(remaining) if remaining else []
        if not waiting:
            return
        count = len(waiting)
        print(
            f"Running the model on the {count} recording"
            f"{'' if count == 1 else 's'} still waiting..."
        )
        for recording, _ in waiting:
            self.tasks["detection_task"].apply((recording,))
        self.tasks["file_management_task"].apply()
        if self.messenger is not None and "send_messages_task" in self.tasks:
            self.tasks["send_messages_task"].apply()

    def check(self, config: C) -> None:
        """Check the model, then Messaging's checks."""
        run_component_check(self.model)
        super().check(config)

    @abstractmethod
    def configure_model(self, config: C) -> types.Model:
        """Return the model to run on each recording."""

    def get_output_cleaners(self, config: C) -> List[types.ModelOutputCleaner]:
        """Drop predictions below ``detections.threshold`` (none if 0)."""
        if not config.detections.threshold:
            return []
        return [ThresholdDetectionCleaner(config.detections.threshold)]

    def get_processing_filters(self, config: C) -> List[types.ProcessingFilter]:
        """Return filters deciding which recordings the model sees (all)."""
        return []

    def get_message_factories(self, config: C) -> List[types.MessageBuilder]:
        """Return builders turning model outputs into messages (none)."""
        return []

    def create_detection_task(self, config: C) -> Callable[[data.Recording], None]:
        """Return the detection task.

        Without a messenger the outbox is bounded: after each detection only
        the newest :data:`UNSENT_KEPT_WITHOUT_MESSENGER` unsent messages stay.
        """
        task = generate_detection_task(
            store=self.store,
            model=self.model,
            message_store=self.message_store,
            logger=self.logger.getChild("detection"),
            output_cleaners=self.get_output_cleaners(config),
            processing_filters=self.get_processing_filters(config),
            message_factories=self.get_message_factories(config),
        )
        prune = getattr(self.message_store, "prune_unsent", None)
        if self.messenger is not None or prune is None:
            return task

        @functools.wraps(task)
        def detection_task(recording: data.Recording) -> None:
            task(recording)
            prune(UNSENT_KEPT_WITHOUT_MESSENGER)

        return detection_task

    def get_recording_callbacks(self, config: C) -> List[Callable[[Any], Any]]:
        """Run detection on every new recording, within the backlog bound."""
        detect = self._thread_bounded(self.create_detection_task(config), config)
        return [self._bounded_detection(detect, config)]

    def _thread_bounded(
        self, detect: Callable[[data.Recording], None], config: C
    ) -> Callable[[data.Recording], None]:
        """Cap the model's threads in the worker before it first runs."""
        threads = config.detections.model_threads
        logger = self.logger.getChild("detection")

        @functools.wraps(detect)
        def detection_task(recording: data.Recording) -> None:
            limit_model_threads(threads, logger)
            detect(recording)

        return detection_task

    def get_recording_callback_queue(self, config: C) -> Optional[str]:
        """Run detection on the ``detection`` queue when a worker serves it.

        A subclass whose ``worker_config`` has no ``detection`` queue keeps
        detection on Celery's default queue.
        """
        if DETECTION_QUEUE in self.get_queue_names():
            return DETECTION_QUEUE
        return None

    def create_recording_task(self, config: C) -> Callable[[], Any]:
        """Return the recording task; with ``record_only``, bounded.

        Under ``record_only`` a recording made while the backlog is full is
        filed as unprocessed and the task returns None, so no detection is
        queued for it.
        """
        record = super().create_recording_task(config)
        if config.detections.backlog_policy != "record_only":
            return record
        limit = config.detections.max_backlog

        @functools.wraps(record)
        def recording_task() -> Optional[data.Recording]:
            recording = record()
            if recording is None:
                return None
            waiting = self._backlog_or_zero()
            if waiting < limit:
                return recording
            self.logger.warning(
                "Detection backlog full (%d >= %d): recording %s kept "
                "without detection.",
                waiting,
                limit,
                recording.id,
            )
            self.file_unprocessed(recording)
            return None

        return recording_task

    def _bounded_detection(
        self, detect: Callable[[data.Recording], None], config: C
    ) -> Callable[[data.Recording], None]:
        """Wrap the detection task with the ``skip_oldest`` bound."""
        if config.detections.backlog_policy != "skip_oldest":
            return detect
        limit = config.detections.max_backlog

        @functools.wraps(detect)
        def detection_task(recording: data.Recording) -> None:
            # The queue is first in, first out: the recording at hand is
            # older than every waiting one, so with ``limit`` or more
            # waiting it is not among the newest ``limit``.
            waiting = self._backlog_or_zero()
            if waiting >= limit:
                self.logger.warning(
                    "Detection backlog full (%d >= %d): recording %s skipped.",
                    waiting,
                    limit,
                    recording.id,
                )
                self.file_unprocessed(recording)
                return
            detect(recording)

        return detection_task

    # Backlog ------------------------------------------------------------------

    def detection_backlog(self) -> int:
        """Return how many recordings wait for detection.

        This is the number of messages waiting in the detection queue (the
        recording being processed is not counted).

        Raises
        ------
        Exception
            If the broker cannot be reached.
        """
        from acoupi.system.broker import queue_depths

        queue = self.get_recording_callback_queue(self.config) or "celery"
        return queue_depths(self.app, [queue])[queue]

    def _backlog_or_zero(self) -> int:
        # Without a broker answer, detection goes on: skipping recordings
        # on a guess would lose results for nothing.
        try:
            return self.detection_backlog()
        except Exception as error:
            self.logger.warning("Could not measure the detection backlog: %s", error)
            return 0

    def file_unprocessed(self, recording: data.Recording) -> None:
        """Move a recording detection skipped to the ``unprocessed`` folder.

        The file moves first, then the store learns its new path: the file
        management task never sees a temporary file whose stored path is
        elsewhere, so it cannot race this move.
        """
        if recording.path is None:
            return
        folder = self.config.paths.recordings / UNPROCESSED_FOLDER
        destination = move_recording(recording, folder / recording.path.name)
        if destination is not None:
            self.store.update_recording_path(recording, destination)

    def get_required_models(self, config: C) -> List[str]:
        """Require this program's model before filing a recording."""
        name = getattr(self.model, "name", None) or getattr(
            self.model, "__name__", None
        )
        if not name:
            raise ValueError("Model must have a name attribute.")
        return [name]
