"""Recording saving managers: choose where a kept recording goes.

Managers only *compute* the destination (creating its directory); the file
management task moves the file and records the new path, in a crash-safe
order. Dates in paths are UTC, like every acoupi timestamp, unless a
manager takes a timezone.
"""

import datetime
import logging
import string
from abc import abstractmethod
from pathlib import Path
from typing import Any, List, Optional, Union

from acoupi import data
from acoupi.components.output_checks import has_confident_prediction
from acoupi.components.timewindows import TimezoneLike, as_tzinfo
from acoupi.components.types import RecordingSavingManager
from acoupi.devices import get_device_info
from acoupi.timeutil import as_utc

__all__ = [
    "DEFAULT_FILENAME_TEMPLATE",
    "BaseFileManager",
    "DateFileManager",
    "FilenameFormatter",
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


DEFAULT_FILENAME_TEMPLATE = "{recording.created_on:%Y%m%d_%H%M%S}_{recording.id}.wav"
"""File name of a recording filed by :class:`DateFileManager` (as acoupi 0.8)."""

# Characters that would leave the day's folder or break on FAT/exFAT SD cards.
_UNSAFE = str.maketrans({char: "_" for char in '/\\:*?"<>|\0'})


class FilenameFormatter(string.Formatter):
    """``str.format`` for file names: a missing value (None) renders empty.

    So ``{deployment.latitude}`` works for a deployment without coordinates.
    """

    def format_field(self, value: Any, format_spec: str) -> str:
        """Format ``value``; None becomes the empty string."""
        return super().format_field("" if value is None else value, format_spec)


class DateFileManager(BaseFileManager):
    """File recordings as ``<year>/<month>/<day>/<file name>``.

    Year, month and day are not zero-padded (``2023/4/15/...``), as
    upstream. The file name comes from ``filename_template``, a
    ``str.format`` string that may use ``recording``, ``deployment`` and
    ``device`` (:class:`acoupi.data.DeviceInfo`), for example
    ``"{deployment.name}_{recording.created_on:%Y%m%d_%H%M%S}.wav"``.
    Characters that are unsafe in file names (``/``, ``:``, ...) become
    ``_``.

    Parameters
    ----------
    directory
        Root folder (created if missing).
    logger
        Optional logger. (A string here is taken as ``filename_template``,
        so acoupi 0.8's positional ``DateFileManager(directory, template)``
        works too.)
    timezone
        Timezone of the folders and of ``recording.created_on`` in the
        template; UTC when not given.
    filename_template
        The file name; default ``YYYYmmdd_HHMMSS_<recording id>.wav``. A
        template without ``{recording.id}`` can give two recordings the
        same name; the file management task then files the second one as
        ``<name>_<id>.wav`` instead of overwriting.

    Raises
    ------
    ValueError
        If the template names an unknown field or has a bad format spec
        (checked when the manager is built, not at the first recording).
    """

    def __init__(
        self,
        directory: Path,
        logger: Union[logging.Logger, str, None] = None,
        timezone: Optional[TimezoneLike] = None,
        filename_template: str = DEFAULT_FILENAME_TEMPLATE,
    ):
        if isinstance(logger, str):
            filename_template, logger = logger, None
        super().__init__(directory, logger=logger)
        self.timezone = (
            as_tzinfo(timezone) if timezone is not None else datetime.timezone.utc
        )
        self.filename_template = filename_template
        self._check_template()

    def _check_template(self) -> None:
        example = data.Recording(
            duration=1, samplerate=8000, deployment=data.Deployment(name="example")
        )
        self.render_filename(example)

    def render_filename(self, recording: data.Recording) -> str:
        """Return the file name of ``recording`` (without folders).

        Raises
        ------
        ValueError
            If the template names an unknown field, has a bad format spec,
            or renders an empty name.
        """
        local = recording.model_copy(
            update={
                "created_on": as_utc(recording.created_on).astimezone(self.timezone)
            }
        )
        try:
            name = FilenameFormatter().format(
                self.filename_template,
                recording=local,
                deployment=local.deployment,
                device=get_device_info(),
            )
        except (AttributeError, KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"Invalid filename_template {self.filename_template!r}: {error}. "
                "Use fields of recording, deployment or device, e.g. "
                f"{DEFAULT_FILENAME_TEMPLATE!r}."
            ) from None
        name = name.translate(_UNSAFE).strip()
        if name in ("", ".", ".."):
            raise ValueError(
                f"filename_template {self.filename_template!r} gives an empty "
                "file name."
            )
        return name

    def get_file_path(self, recording: data.Recording) -> Path:
        """Return the dated relative path of ``recording``."""
        created_on = as_utc(recording.created_on).astimezone(self.timezone)
        return (
            Path(str(created_on.year))
            / str(created_on.month)
            / str(created_on.day)
            / self.render_filename(recording)
        )


class IDFileManager(BaseFileManager):
    """File recordings as ``<id>.wav``."""

    def get_file_path(self, recording: data.Recording) -> Path:
        """Return ``<recording.id>.wav``."""
        return Path(f"{recording.id}.wav")
