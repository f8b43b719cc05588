"""Atomic file writes: temp file, fsync, rename, fsync the directory.

A power cut at any point leaves either the old file or the new one, never a
truncated mix. Used for every file acoupi cannot afford to corrupt: config,
deployment, generated scripts, units and the app module.
"""

import os
import tempfile
from pathlib import Path
from typing import Optional

__all__ = ["atomic_write_bytes", "atomic_write_text", "fsync_dir"]


def atomic_write_text(
    path: Path,
    text: str,
    mode: Optional[int] = None,
) -> None:
    """Write ``text`` to ``path`` atomically.

    Parameters
    ----------
    path
        Destination file; its parent directory is created if missing.
    text
        Content to write (UTF-8).
    mode
        File permissions, for example ``0o600`` for files holding secrets
        or ``0o755`` for scripts. Defaults to ``0o600`` (acoupi's files are
        private to its user), or the existing file's mode when overwriting.
    """
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def atomic_write_bytes(
    path: Path,
    content: bytes,
    mode: Optional[int] = None,
) -> None:
    """Write ``content`` to ``path`` atomically (as :func:`atomic_write_text`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o600
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # The temp file starts as 0o600, so secrets are never readable by
        # others, not even for an instant.
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry so a rename or unlink in it survives power loss.

    Some filesystems refuse to fsync directories; that is not an error.
    """
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
