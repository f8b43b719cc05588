"""Temporary recordings and moving recordings to permanent storage.

Recordings are first written to a temporary directory, in memory
(``/run/shm``) when possible to spare the SD card, then either moved to
storage or deleted. Moving is durable: the file is copied, flushed to
disk and only then removed from its temporary place, so a power cut never
loses a recording.
"""

import filecmp
import logging
import os
import shutil
import stat
import tempfile
import warnings
from pathlib import Path
from typing import List, Optional, Union
from uuid import UUID

from acoupi import data
from acoupi.audio.wav import PARTIAL_SUFFIX
from acoupi.system.atomic import fsync_dir

__all__ = [
    "DEFAULT_AUDIO_STORAGE",
    "FALLBACK_TEMP_PATH",
    "TEMP_PATH",
    "delete_recording",
    "get_temp_dir",
    "get_temp_file",
    "get_temp_file_id",
    "get_temp_files",
    "get_temp_files_paths",
    "is_own_wav",
    "move_recording",
]

logger = logging.getLogger(__name__)
_module_logger = logger  # ``move_recording`` has a parameter of the same name.

TEMP_PATH = Path("/run/shm/")
"""In-memory (tmpfs) directory for temporary recordings."""

FALLBACK_TEMP_PATH = Path("/tmp/acoupi")
"""On-disk temporary directory used when ``TEMP_PATH`` is not usable."""

DEFAULT_AUDIO_STORAGE = Path.home() / "audio"
"""Default permanent storage of recordings."""


def _usable_dir(path: Path) -> bool:
    """Return whether ``path`` is (or can be made) a writable directory."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def get_temp_dir(in_memory: bool = True) -> Path:
    """Get a directory for temporary recordings.

    Parameters
    ----------
    in_memory
        Prefer the in-memory ``TEMP_PATH`` (``/run/shm``). Keeping
        temporary recordings in memory spares the SD card and keeps audio
        that is never saved off the disk.

    Returns
    -------
    Path
        ``TEMP_PATH`` if wanted, present and writable; otherwise
        ``FALLBACK_TEMP_PATH`` (``/tmp/acoupi``); otherwise ``~/tmp``.
        The directory exists when returned.

    Warns
    -----
    UserWarning
        When an in-memory directory was wanted but is not usable.
    """
    if in_memory:
        if TEMP_PATH.is_dir() and os.access(TEMP_PATH, os.W_OK | os.X_OK):
            return TEMP_PATH
        warnings.warn(
            f"{TEMP_PATH} is missing or not writable: temporary recordings "
            "will be written to disk instead of memory.",
            stacklevel=2,
        )
    if _usable_dir(FALLBACK_TEMP_PATH):
        return FALLBACK_TEMP_PATH
    home_tmp = Path.home() / "tmp"
    home_tmp.mkdir(parents=True, exist_ok=True)
    return home_tmp


def is_own_wav(path: Path) -> bool:
    """Return whether ``path`` is a WAV file (any case) this user owns.

    The temporary folder may be shared (``/run/shm``): a file another user
    put there is not a recording of ours, and is never registered or filed.
    Hidden files (partial writes) do not count.
    """
    if path.name.startswith(".") or path.suffix.lower() != ".wav":
        return False
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid()


def get_temp_files(path: Path = TEMP_PATH) -> List[Path]:
    """Return the temporary recordings in ``path``: WAV files this user owns.

    ``.wav`` in any case counts (an upper-case ``.WAV`` used to be registered
    by recovery but never filed). Sorted by name so that callers process
    them in a stable order. A missing directory has no recordings.
    """
    try:
        entries = list(Path(path).iterdir())
    except OSError:
        return []
    return sorted(p for p in entries if is_own_wav(p))


def get_temp_files_paths(path: Union[Path, str]) -> str:
    """Return the temporary recording path as a string."""
    return str(path)


def get_temp_file(path: Union[Path, str]) -> str:
    """Return the temporary recording path as a string."""
    return str(path)


def get_temp_file_id(path: Union[Path, str]) -> UUID:
    """Return the recording id encoded in a temporary file name.

    Raises
    ------
    ValueError
        If the file name (without extension) is not a UUID.
    """
    stem = Path(path).stem
    try:
        return UUID(stem)
    except ValueError:
        raise ValueError(
            f"The temporary file name {Path(path).name!r} does not hold a "
            "recording id (a UUID such as "
            "'c9a5b1a0-3f5e-4c1e-9d3b-1a2b3c4d5e6f.wav')."
        ) from None


def move_recording(
    recording: data.Recording,
    dest: Path,
    logger: Optional[logging.Logger] = None,
) -> Optional[Path]:
    """Move a recording's file to ``dest``, durably.

    Works across filesystems (tmpfs to SD card): the file is copied to a
    hidden temporary name next to ``dest``, flushed, renamed into place and
    the directory flushed; only then is the source removed. Within one
    filesystem the file is hard-linked instead of copied.

    Parameters
    ----------
    recording
        The recording; it is not modified (update its ``path`` yourself).
    dest
        Destination file path. If it is an existing directory, the file
        keeps its name inside it. Missing parent directories are created.
    logger
        Logger for problems; the module logger by default.

    Returns
    -------
    Optional[Path]
        The new path, or None (with an error logged) if the recording has
        no path.

    Raises
    ------
    FileNotFoundError
        If the recording's file does not exist.
    FileExistsError
        If a *different* file already exists at ``dest``. Nothing is
        overwritten and the source is kept. An identical file there (left
        by an interrupted move) completes the move instead.
    """
    log = logger if logger is not None else _module_logger
    if recording.path is None:
        log.error("Recording %s has no path: it cannot be moved.", recording.id)
        return None

    source = Path(recording.path)
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / source.name
    if not source.is_file():
        raise FileNotFoundError(
            f"Cannot move recording {recording.id}: its file {source} does not exist."
        )

    if dest.exists():
        if not _same_content(source, dest):
            raise FileExistsError(
                f"Cannot move recording {recording.id} to {dest}: a different "
                "file is already there. Nothing was overwritten and the "
                f"recording is still at {source}."
            )
        if not _same_file(source, dest):
            source.unlink()
        log.debug("Recording %s was already at %s.", recording.id, dest)
        return dest

    dest.parent.mkdir(parents=True, exist_ok=True)
    if not _link(source, dest):
        _copy_durably(source, dest)
    fsync_dir(dest.parent)
    source.unlink()
    fsync_dir(source.parent)
    return dest


def _same_file(first: Path, second: Path) -> bool:
    try:
        return first.samefile(second)
    except OSError:
        return False


def _same_content(first: Path, second: Path) -> bool:
    return _same_file(first, second) or filecmp.cmp(first, second, shallow=False)


def _link(source: Path, dest: Path) -> bool:
    """Hard-link ``source`` at ``dest``; False if links are not possible here.

    A link is instant and cannot overwrite. Across filesystems, or on ones
    without hard links (FAT on USB sticks), the caller copies instead.
    """
    try:
        os.link(source, dest)
    except FileExistsError:
        raise
    except OSError:
        return False
    return True


def _copy_durably(source: Path, dest: Path) -> None:
    # The partial suffix (as the WAV writer's) lets start-up recovery tell a
    # copy cut short by a kill from a recording (acoupi.runtime.recovery).
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{dest.name}.", suffix=PARTIAL_SUFFIX, dir=dest.parent
    )
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out, length=1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        try:
            shutil.copystat(source, tmp)
        except OSError:
            # Some storage (FAT) cannot hold permissions; the data matters.
            pass
        if dest.exists():
            raise FileExistsError(f"{dest} appeared while the recording was copied.")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def delete_recording(recording: data.Recording) -> None:
    """Delete a recording's file.

    A recording without a path is logged as an error and a file that is
    already gone as a warning; neither raises.
    """
    if recording.path is None:
        logger.error("Recording %s has no path: nothing to delete.", recording.id)
        return
    try:
        Path(recording.path).unlink()
    except FileNotFoundError:
        logger.warning(
            "The file of recording %s (%s) was already deleted.",
            recording.id,
            recording.path,
        )
