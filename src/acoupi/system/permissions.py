"""Private folders and files: acoupi's state is readable by its user only.

Whatever the umask (a umask of 000 made the broker folders 0777, and a
message dropped there by another local user ran as the acoupi user), the
folders acoupi creates for its state, broker and recordings are 0700 and
its files 0600.
"""

import os
from pathlib import Path

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "PRIVATE_UMASK",
    "private_dir",
    "restrict_umask",
]

PRIVATE_DIR_MODE = 0o700
"""Mode of every folder acoupi creates."""

PRIVATE_FILE_MODE = 0o600
"""Mode of every file acoupi writes (scripts excepted)."""

PRIVATE_UMASK = 0o077
"""Umask acoupi's processes run with, so files others write too are private."""


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 folders; return it.

    An existing folder that this user owns is made 0700 too; one owned by
    somebody else is left alone (``chmod`` would fail, and it is not ours).

    Raises
    ------
    OSError
        If the folder cannot be created.
    """
    path = Path(path)
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    # mkdir's mode is reduced by the umask, and parents get default modes.
    for folder in [path, *missing]:
        try:
            info = folder.stat()
            if info.st_uid == os.geteuid() and info.st_mode & 0o777 != 0o700:
                os.chmod(folder, PRIVATE_DIR_MODE)
        except OSError:
            pass
    return path


def restrict_umask() -> int:
    """Make this process (and its children) create private files; return the old umask.

    Called by the ``acoupi`` command and by the Celery app the workers load,
    so everything they create (state, broker, logs, recordings) is private
    to the acoupi user whatever umask the session had.
    """
    previous = os.umask(PRIVATE_UMASK)
    os.umask(previous | PRIVATE_UMASK)
    return previous
