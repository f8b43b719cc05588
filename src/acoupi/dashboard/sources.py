"""Where an installation keeps the data the dashboard shows.

The paths come from the program's saved configuration (``program.json``),
read as plain JSON: loading the program would import its models and take
seconds. Databases are found as ``acoupi db`` finds them
(:func:`acoupi.system.databases.configured_databases`); folders by their
field names in the built-in programs.
"""

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from acoupi.system.constants import Settings
from acoupi.system.exceptions import AcoupiError

__all__ = ["DataSources", "NoDataError", "open_metadata", "open_read_only"]

# (section, key) spellings of the folders in the program configurations;
# the databases are found as `acoupi db` finds them.
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
        from acoupi.system.databases import configured_databases

        databases = configured_databases(settings)
        return cls(
            metadata_db=databases.get("metadata")
            or settings.home / "storages" / "metadata.db",
            messages_db=databases.get("messages"),
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


def open_read_only(
    path: Path, schema_version: Optional[int] = None
) -> sqlite3.Connection:
    """Open a SQLite database for reading only.

    The file is never created nor migrated: the dashboard and the query
    commands must not change a deployment's data.

    Parameters
    ----------
    path
        The database file.
    schema_version
        The schema version the queries expect (``PRAGMA user_version``);
        None to skip the check.

    Raises
    ------
    NoDataError
        If the file does not exist, is not a readable database, or has
        another schema version.
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
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    except sqlite3.Error as error:
        from acoupi.components.sqlite_errors import translate_sqlite_error

        problem = translate_sqlite_error(Path(path), error)
        if problem is not None:
            raise NoDataError(problem.message, help=problem.help) from error
        raise NoDataError(
            f"Cannot read the database {path}: {error}.",
            help="`acoupi db status` checks the database files.",
        ) from error
    if schema_version is not None and version != schema_version:
        connection.close()
        raise NoDataError(_version_message(path, version, schema_version))
    return connection


def _version_message(path: Path, found: int, expected: int) -> str:
    if found < expected:
        return (
            f"The database {path} was written by an older acoupi and has not "
            "been brought up to date yet. Start acoupi once (`acoupi run` or "
            "`acoupi deployment start`): it upgrades the file in place, "
            "keeping every row."
        )
    return (
        f"The database {path} was written by a newer acoupi (schema version "
        f"{found}, this one reads {expected}). Upgrade acoupi to read it."
    )


def open_metadata(sources: "DataSources") -> sqlite3.Connection:
    """Open the metadata database read-only, checking its schema version."""
    from acoupi.components.stores.sqlite.schema import MIGRATIONS

    return open_read_only(sources.metadata_db, schema_version=len(MIGRATIONS))
