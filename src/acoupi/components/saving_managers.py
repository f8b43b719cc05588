"""Recording saving managers: choose where a kept recording goes.

Managers only *compute* the destination (creating its directory); the file
management task moves the file and records the new path, in a crash-safe
order. Dates in paths are UTC, like every acoupi timestamp, unless a
manager takes a timezone.
"""

import datetime
import logging
from abc import abstractmethod
from pathlib import Path
from typing import List, Optional

from acoupi import data
from acoupi.components.output_checks import has_confident_prediction
from acoupi.components.timewindows import TimezoneLike, as_tzinfo
from acoupi.components.types import RecordingSavingManager
from acoupi.timeutil import as_utc

__all__ = [
    "BaseFileManager",
    "DateFileManager",
    "IDFileManager",
    "SaveRecordingManager",
]


class SaveRecordingManager(RecordingSavingManager):
    """Sort recordings into folders by how confident the model outputs are.

    Parameters
    ----------
    dirpath
        Folder for recordings without model outputs.
    dirpath_true
        Folder for recordings with a prediction scoring at least
        ``detection_threshold`` (default ``dirpath/"true_detections"``).
    dirpath_false
        Folder for recordings whose best prediction scores at least
        ``saving_threshold`` but below ``detection_threshold`` (default
        ``dirpath/"false_detections"``).
    timeformat
        ``strftime`` format of the file name (UTC start time).
    detection_threshold, saving_threshold
        Score limits, inclusive.
    logger
        Optional logger.

    Notes
    -----
    Recordings with outputs but no prediction reaching ``saving_threshold``
    are declined (None). Two recordings started in the same second get the
    same name; the file management task then picks a free name instead of
    overwriting.
    """

    def __init__(
        self,
        dirpath: Path,
        dirpath_true: Optional[Path] = None,
        dirpath_false: Optional[Path] = None,
        timeformat: str = "%Y%m%d_%H%M%S",
        detection_threshold: float = 0.6,
        saving_threshold: float = 0.3,
        logger: Optional[logging.Logger] = None,
    ):
        self.dirpath = Path(dirpath)
        self.dirpath_true = (
            Path(dirpath_true) if dirpath_true else self.dirpath / "true_detections"
        )
        self.dirpath_false = (
            Path(dirpath_false) if dirpath_false else self.dirpath / "false_detections"
        )
        self.timeformat = timeformat
        self.detection_threshold = detection_threshold
        self.saving_threshold = saving_threshold
        self.logger = logger or logging.getLogger(__name__)
        for directory in (self.dirpath, self.dirpath_true, self.dirpath_false):
            directory.mkdir(parents=True, exist_ok=True)

    def get_saving_recording_path(
        self, model_outputs: Optional[List[data.ModelOutput]]
    ) -> Optional[Path]:
        """Return the folder for a recording with these outputs, or None."""
        if not model_outputs:
            return self.dirpath
        for model_output in model_outputs:
            if has_confident_prediction(model_output, self.detection_threshold):
                return self.dirpath_true
            if has_confident_prediction(model_output, self.saving_threshold):
                return self.dirpath_false
        return None

    def save_recording(
        self,
        recording: data.Recording,
        model_outputs: Optional[List[data.ModelOutput]] = None,
    ) -> Optional[Path]:
        """Return the destination path of ``recording``, or None."""
        if recording.path is None:
            raise ValueError("Recording has no path")
        directory = self.get_saving_recording_path(model_outputs)
        if directory is None:
            return None
        return directory / f"{recording.created_on.strftime(self.timeformat)}.wav"


class BaseFileManager(RecordingSavingManager):
    """Put every recording under one folder, at a path the subclass chooses.

    Parameters
    ----------
    directory
        Root folder (created if missing).
    logger
        Optional logger.
    """

    def __init__(self, directory: Path, logger: Optional[logging.Logger] = None):
        self.directory = Path(directory)
        self.logger = logger or logging.getLogger(__name__)
        self.directory.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def get_file_path(self, recording: data.Recording) -> Path:
        """Return the path of ``recording`` relative to ``directory``."""

    def save_recording(
        self,
        recording: data.Recording,
        model_outputs: Optional[List[data.ModelOutput]] = None,
    ) -> Optional[Path]:
        """Return the destination of ``recording``, creating its folder.

        Raises
        ------
        ValueError
            If the recording has no path.
        FileNotFoundError
            If the recording's file does not exist.
        """
        if recording.path is None:
            raise ValueError("Recording has no path")
        if not Path(recording.path).exists():
            raise FileNotFoundError(f"Recording file not found: {recording.path}")
        destination = self.directory / self.get_file_path(recording)
        destination.parent.mkdir(parents=True, exist_ok=True)
        return destination


class DateFileManager(BaseFileManager):
    """File recordings as ``<year>/<month>/<day>/<HHMMSS>_<id>.wav``.

    Year, month and day are not zero-padded (``2023/4/15/...``), as
    upstream.

    Parameters
    ----------
    directory
        Root folder (created if missing).
    logger
        Optional logger.
    timezone
        Timezone of the dates and times in the path; UTC when not given.
    """

    def __init__(
        self,
        directory: Path,
        logger: Optional[logging.Logger] = None,
        timezone: Optional[TimezoneLike] = None,
    ):
        super().__init__(directory, logger=logger)
        self.timezone = (
            as_tzinfo(timezone) if timezone is not None else datetime.timezone.utc
        )

    def get_file_path(self, recording: data.Recording) -> Path:
        """Return the dated relative path of ``recording``."""
        created_on = as_utc(recording.created_on).astimezone(self.timezone)
        return (
            Path(str(created_on.year))
            / str(created_on.month)
            / str(created_on.day)
            / f"{created_on.strftime('%H%M%S')}_{recording.id}.wav"
        )


class IDFileManager(BaseFileManager):
    """File recordings as ``<id>.wav``."""

    def get_file_path(self, recording: data.Recording) -> Path:
        """Return ``<recording.id>.wav``."""
        return Path(f"{recording.id}.wav")
