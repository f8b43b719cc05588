"""Where an installation keeps the data the dashboard shows.

The paths come from the program's saved configuration (``program.json``),
read as plain JSON: loading the program would import its models and take
seconds. Programs name their paths differently (0.3 and 0.8 programs,
plugins), so the known spellings are tried in turn, then the defaults.
"""

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from acoupi.system.constants import Settings
from acoupi.system.exceptions import AcoupiError

__all__ = ["DataSources", "NoDataError", "open_read_only"]

# (section, key) spellings of each path in the program configurations.
_METADATA_KEYS = (("paths", "db_metadata"), ("paths", "metadata_db"))
_MESSAGES_KEYS = (
    ("messaging", "messages_db"),
    ("paths", "db_messages"),
    ("messaging", "db_messages"),
)
_RECORDINGS_KEYS = (("paths", "recordings"),)
_TMP_KEYS = (("paths", "tmp_audio"),)


class NoDataError(AcoupiError):
    """The metadata database does not exist (yet) or cannot be opened."""


def _lookup(config: Dict[str, Any], keys: Iterable[Tuple[str, str]]) -> Optional[Path]:
    for section, key in keys:
        value = config.get(section)
        if isinstance(value, dict) and isinstance(value.get(key), str):
            return Path(value[key])
    return None


@dataclass(frozen=True)
class DataSources:
    """The databases and folders of one installation."""

    metadata_db: Path
    messages_db: Optional[Path]
    recordings_dir: Optional[Path]
    tmp_audio_dir: Optional[Path]
    log_dir: Path
    cache_dir: Path
    program_config: Dict[str, Any]

    @classmethod
    def from_settings(cls, settings: Settings) -> "DataSources":
        """Find the data of the installation ``settings`` point at."""
        try:
            config = json.loads(Path(settings.program_config_file).read_text())
        except (OSError, ValueError):
            config = {}
        if not isinstance(config, dict):
            config = {}
        storages = settings.home / "storages"
        return cls(
            metadata_db=_lookup(config, _METADATA_KEYS) or storages / "metadata.db",
            messages_db=_lookup(config, _MESSAGES_KEYS),
            recordings_dir=_lookup(config, _RECORDINGS_KEYS),
            tmp_audio_dir=_lookup(config, _TMP_KEYS),
            log_dir=settings.log_dir,
            cache_dir=settings.home / "cache" / "dashboard",
            program_config=config,
        )

    def storage_folders(self) -> List[Tuple[str, Path]]:
        """Return the folders whose free space matters, with a label each."""
        folders = [("database", self.metadata_db.parent)]
        if self.recordings_dir is not None:
            folders.append(("recordings", self.recordings_dir))
        if self.tmp_audio_dir is not None:
            folders.append(("temporary audio", self.tmp_audio_dir))
        return folders


def open_read_only(path: Path) -> sqlite3.Connection:
    """Open a SQLite database for reading only.

    The file is never created nor migrated: the dashboard and the query
    commands must not change a deployment's data.

    Raises
    ------
    NoDataError
        If the file does not exist or is not a readable database.
    """
    if not Path(path).is_file():
        raise NoDataError(
            f"There is no database at {path}: nothing has been recorded yet. "
            "Start recording with `acoupi run` or `acoupi deployment start`."
        )
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
        connection.execute("PRAGMA busy_timeout = 5000")
        connection.execute("PRAGMA query_only = 1")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as error:
        raise NoDataError(f"Cannot read the database {path}: {error}.") from error
    return connection
