"""BasicProgram: record on a schedule and file the recordings away."""

import datetime
import zoneinfo
from pathlib import Path
from typing import (
    Annotated,
    Any,
    Callable,
    ClassVar,
    Generic,
    List,
    Optional,
    Type,
    TypeVar,
)

from pydantic import BaseModel, Field, field_validator
from pydantic_extra_types.timezone_name import TimeZoneName

from acoupi import data
from acoupi.components import types
from acoupi.components.audio_recorder import (
    FILENAME_TEMPLATE,
    MicrophoneConfig,
    PyAudioRecorder,
)
from acoupi.components.disk_guard import EnoughDiskSpace
from acoupi.components.recording_conditions import IsInInterval
from acoupi.components.retention import apply_retention
from acoupi.components.saving_managers import DateFileManager
from acoupi.components.stores import SqliteStore
from acoupi.programs.core.base import AcoupiProgram, NoUserPrompt
from acoupi.programs.core.workers import DEFAULT_WORKER_CONFIG
from acoupi.programs.templates.checks import run_component_check
from acoupi.system.disk import storage_folders
from acoupi.system.exceptions import HealthCheckError
from acoupi.system.files import get_temp_files
from acoupi.system.folders import (
    default_temp_dir,
    make_own_folder,
    owner_id,
    storage_path,
)
from acoupi.tasks import generate_file_management_task, generate_recording_task

__all__ = [
    "AudioConfiguration",
    "BasicProgram",
    "BasicProgramConfiguration",
    "PathsConfiguration",
    "StorageConfiguration",
]


MEGABYTE = 1_000_000
"""Bytes in the MB of the storage settings (as ``df -H`` counts)."""


def _recordings(count: int) -> str:
    return f"{count} recording" + ("" if count == 1 else "s")


class AudioConfiguration(BaseModel):
    """When and how long to record."""

    duration: int = Field(default=3, gt=0)
    """Length of each recording, in seconds."""

    interval: int = Field(default=10, gt=0)
    """Seconds between the starts of two recordings."""

    chunksize: Annotated[int, NoUserPrompt] = 8192
    """Frames read from the microphone at a time."""

    schedule_start: datetime.time = datetime.time(hour=6)
    """Time of day (program timezone) recording starts."""

    schedule_end: datetime.time = datetime.time(hour=22, minute=30)
    """Time of day recording ends; before ``schedule_start`` means overnight."""

    filename_template: Annotated[str, NoUserPrompt] = FILENAME_TEMPLATE
    """Recording file names: ``{time:<strftime>}`` (UTC) and ``{id}``."""

    @field_validator("filename_template")
    @classmethod
    def _keeps_the_id(cls, template: str) -> str:
        # Crash recovery matches stray files to their recordings by id.
        if "{id}" not in template:
            raise ValueError(
                "the file name template must contain {id}, e.g. "
                "'{time:%Y%m%d_%H%M%S}_{id}'"
            )
        return template


class PathsConfiguration(BaseModel):
    """Where recordings and metadata live."""

    tmp_audio: Path = Field(default_factory=default_temp_dir)
    """Where recordings wait to be processed. On disk and this
    installation's own by default; a RAM folder (under ``/dev/shm``)
    spares the SD card but loses what waits there in a power cut."""

    recordings: Path = Field(default_factory=lambda: storage_path("recordings"))
    db_metadata: Path = Field(default_factory=lambda: storage_path("metadata.db"))


class StorageConfiguration(BaseModel):
    """Disk guard and retention of kept recordings.

    Change with ``acoupi config set storage.<field> <value>``.
    """

    min_free_mb: Annotated[int, NoUserPrompt] = Field(default=200, ge=0)
    """Recording pauses while less than this is free (MB) on the disk of the
    temporary folder, the recordings or the database, so the database and
    the messages always have room."""

    keep_free_mb: Annotated[Optional[int], NoUserPrompt] = Field(default=None, ge=0)
    """Retention: delete the oldest kept recordings while less than this is
    free (MB) on the recordings' disk. None (default): never delete for
    space."""

    max_age_days: Annotated[Optional[float], NoUserPrompt] = Field(default=None, gt=0)
    """Retention: delete kept recordings older than this. None: keep them."""

    delete_detected: Annotated[bool, NoUserPrompt] = False
    """Retention may also delete recordings with detections (after every
    recording without). Recordings named in unsent messages are never
    deleted."""


class BasicProgramConfiguration(BaseModel):
    """Configuration of a BasicProgram."""

    timezone: TimeZoneName = TimeZoneName("Europe/London")
    microphone: MicrophoneConfig
    recording: AudioConfiguration = Field(default_factory=AudioConfiguration)
    paths: PathsConfiguration = Field(default_factory=PathsConfiguration)
    # Not asked at setup (sensible defaults); `acoupi config set storage.*`.
    storage: Annotated[StorageConfiguration, NoUserPrompt] = Field(
        default_factory=StorageConfiguration
    )


C = TypeVar("C", bound=BasicProgramConfiguration)


class BasicProgram(AcoupiProgram[C], Generic[C]):
    """Record audio on a schedule and store it with its metadata.

    Registers ``recording_task`` (queue ``recording``, every
    ``recording.interval`` seconds) and ``file_management_task`` (every two
    minutes). Override the ``configure_*`` and ``get_*`` hooks to change
    components.
    """

    config_schema: ClassVar[Type[BaseModel]] = BasicProgramConfiguration
    worker_config = DEFAULT_WORKER_CONFIG

    recorder: types.AudioRecorder
    store: types.Store

    def setup(self, config: C) -> None:
        """Build the recorder and store, then register the tasks."""
        self.validate_dirs(config)
        self.recorder = self.configure_recorder(config)
        self.store = self.configure_store(config)
        self.register_recording_task(config)
        self.register_file_management_task(config)
        super().setup(config)

    def on_start(self, deployment: data.Deployment) -> None:
        """Store the new deployment."""
        self.store.store_deployment(deployment)
        super().on_start(deployment)

    def on_end(self, deployment: data.Deployment) -> None:
        """Store the ended deployment and file any recordings left in tmp."""
        self.store.update_deployment(deployment)
        super().on_end(deployment)
        tmp = self.config.paths.tmp_audio
        # Only this installation's recordings: the folder may be shared.
        waiting = self.store.get_recordings_by_path(get_temp_files(tmp))
        if waiting:
            print(f"Filing {_recordings(len(waiting))} still waiting in {tmp}...")
            self.tasks["file_management_task"].apply()

    def check(self, config: C) -> None:
        """Check the disk space and the recorder, then the base checks."""
        problem = self.disk_guard(config).problem()
        if problem is not None:
            raise HealthCheckError(
                problem,
                help=f"Free some space (copy recordings off {config.paths.recordings}"
                "), or let acoupi delete the oldest ones: `acoupi config set "
                "storage.keep_free_mb 1000`.",
            )
        run_component_check(self.recorder)
        super().check(config)

    # Components -------------------------------------------------------------

    def configure_recorder(self, config: C) -> types.AudioRecorder:
        """Return the audio recorder.

        When recordings follow each other back to back (interval equal to
        duration) the recorder tiles time exactly, without gaps.
        """
        return PyAudioRecorder(
            duration=config.recording.duration,
            samplerate=config.microphone.samplerate,
            audio_channels=config.microphone.audio_channels,
            device_name=config.microphone.device_name,
            chunksize=config.recording.chunksize,
            audio_dir=config.paths.tmp_audio,
            continuous=config.recording.interval <= config.recording.duration,
            filename_template=config.recording.filename_template,
            time_expansion=getattr(config.microphone, "time_expansion", 1),
        )

    def configure_store(self, config: C) -> types.Store:
        """Return the metadata store."""
        return SqliteStore(config.paths.db_metadata)

    def get_file_managers(self, config: C) -> List[types.RecordingSavingManager]:
        """Return the managers that choose where kept recordings go."""
        return [DateFileManager(config.paths.recordings)]

    def get_recording_conditions(self, config: C) -> List[types.RecordingCondition]:
        """Record only inside the daily schedule, in the program's timezone.

        A schedule whose end is before its start runs overnight.
        """
        interval = data.TimeInterval(
            start=config.recording.schedule_start,
            end=config.recording.schedule_end,
        )
        return [IsInInterval(interval, zoneinfo.ZoneInfo(config.timezone))]

    def disk_guard(self, config: C) -> EnoughDiskSpace:
        """Return the condition that pauses recording on a nearly full disk."""
        return EnoughDiskSpace(
            storage_folders(self), config.storage.min_free_mb * MEGABYTE
        )

    def storage_problem(self) -> Optional[str]:
        """Return why recording is paused for lack of disk space, or None."""
        return self.disk_guard(self.config).problem()

    def get_recording_filters(self, config: C) -> List[types.RecordingSavingFilter]:
        """Return the filters deciding which recordings to keep (none: keep all)."""
        return []

    def get_recording_callbacks(self, config: C) -> List[Callable[[Any], Any]]:
        """Return functions to run on each new recording."""
        return []

    def get_required_models(self, config: C) -> List[str]:
        """Return the models that must have run before a recording is filed."""
        return []

    def get_recording_callback_queue(self, config: C) -> Optional[str]:
        """Return the queue the recording callbacks run on.

        None (the default) sends them to Celery's default queue. A program
        with slow callbacks routes them to a queue of their own, so they
        never delay the next recording (see ``DetectionProgram``).
        """
        return None

    # Tasks ------------------------------------------------------------------

    def create_recording_task(
        self, config: C
    ) -> Callable[[], Optional[data.Recording]]:
        """Return the recording task."""
        return generate_recording_task(
            recorder=self.recorder,
            store=self.store,
            logger=self.logger.getChild("recording"),
            # The guard is added here, so programs that override the
            # conditions keep it.
            recording_conditions=[
                *self.get_recording_conditions(config),
                self.disk_guard(config),
            ],
        )

    def create_file_management_task(self, config: C) -> Callable[[], None]:
        """Return the file management task, which then applies retention."""
        manage = generate_file_management_task(
            store=self.store,
            file_managers=self.get_file_managers(config),
            logger=self.logger.getChild("file_management"),
            file_filters=self.get_recording_filters(config),
            required_models=self.get_required_models(config),
            tmp_path=config.paths.tmp_audio,
        )
        storage = config.storage

        def file_management_task() -> None:
            manage()
            try:
                apply_retention(
                    self.store,
                    config.paths.recordings,
                    keep_free=None
                    if storage.keep_free_mb is None
                    else storage.keep_free_mb * MEGABYTE,
                    max_age_days=storage.max_age_days,
                    delete_detected=storage.delete_detected,
                    message_store=getattr(self, "message_store", None),
                )
            except Exception:  # filing happened; retention retries next run
                self.logger.exception("Retention failed.")

        return file_management_task

    def register_recording_task(self, config: C) -> None:
        """Record every ``recording.interval`` seconds on the recording queue."""
        self.add_task(
            self.create_recording_task(config),
            schedule=datetime.timedelta(seconds=config.recording.interval),
            callbacks=self.get_recording_callbacks(config),
            queue="recording",
            callback_queue=self.get_recording_callback_queue(config),
        )

    def register_file_management_task(self, config: C) -> None:
        """File recordings away every two minutes."""
        self.add_task(
            self.create_file_management_task(config),
            schedule=datetime.timedelta(minutes=2),
            queue="celery",
        )

    def validate_dirs(self, config: C) -> None:
        """Create the temporary, recordings and database folders."""
        # A waiting-recordings folder made here is marked as this
        # installation's: recovery then handles every file in it.
        make_own_folder(config.paths.tmp_audio, owner_id(config.paths.db_metadata))
        for directory in (
            config.paths.recordings,
            config.paths.db_metadata.parent,
        ):
            directory.mkdir(parents=True, exist_ok=True)
