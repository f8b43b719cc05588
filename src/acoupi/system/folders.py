"""Default data folders of an installation: each installation owns its own.

An installation is one acoupi home (``ACOUPI_HOME``, ``~/.acoupi`` by
default). Its recordings, databases and the folder where recordings wait
to be processed all default to ``<root>/storages``, where ``<root>`` is

* the user's home folder for the default installation (``~/storages``, as
  in upstream acoupi), or
* the acoupi home itself when ``ACOUPI_HOME`` points elsewhere, so a second
  installation of the same user never shares a database or a folder with
  the first.

Recordings wait on disk, next to where they are filed, by default: they
survive a power cut (start-up recovery processes them), and filing a kept
recording is a rename, not a second write to the SD card.

A folder of waiting recordings that an installation creates is marked as
its own (:data:`OWNER_FILE`, holding :func:`owner_id`), so that start-up
recovery can tell its leftovers from another installation's when a folder
is shared after all.
"""

import os
from pathlib import Path
from typing import Optional

__all__ = [
    "OWNER_FILE",
    "claim_folder",
    "default_temp_dir",
    "folder_owner",
    "installation_root",
    "make_own_folder",
    "owner_id",
    "storage_path",
]

WAITING_FOLDER = "tmp_audio"
"""Name of the default folder of recordings waiting to be processed."""


def installation_root() -> Path:
    """Return the folder under which the installation's data goes by default."""
    home = Path.home()
    configured = os.environ.get("ACOUPI_HOME", "").strip()
    if not configured:
        return home
    acoupi_home = Path(configured).expanduser()
    try:
        default = acoupi_home.resolve() == (home / ".acoupi").resolve()
    except OSError:
        default = False
    return home if default else acoupi_home


def storage_path(*parts: str) -> Path:
    """Return ``<installation root>/storages/<parts>``."""
    return installation_root().joinpath("storages", *parts)


def default_temp_dir() -> Path:
    """Return the installation's own folder of waiting recordings (on disk).

    Not created here: the program creates its folders when it is set up.
    """
    return storage_path(WAITING_FOLDER)


OWNER_FILE = ".acoupi-owner"
"""Marks a folder of waiting recordings as one installation's own."""

SHARED_ROOTS = frozenset(
    Path(p) for p in ("/run/shm", "/dev/shm", "/tmp", "/var/tmp", "/run/user")
)
"""Folders every program on the machine writes to: never claimed."""


def owner_id(metadata_db: Path) -> str:
    """Return the id an installation marks its folders with.

    The path of its metadata database: two programs sharing one database
    are one installation as far as recordings are concerned.
    """
    return str(Path(metadata_db).expanduser().resolve())


def folder_owner(folder: Path) -> Optional[str]:
    """Return who marked ``folder`` as theirs, or None if nobody did."""
    try:
        return (Path(folder) / OWNER_FILE).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def claim_folder(folder: Path, owner: str) -> bool:
    """Mark ``folder`` as ``owner``'s unless someone else has, or it is shared.

    Returns
    -------
    bool
        Whether ``folder`` is now ``owner``'s.
    """
    from acoupi.system.atomic import atomic_write_text

    folder = Path(folder)
    current = folder_owner(folder)
    if current is not None:
        return current == owner
    if folder.resolve() in SHARED_ROOTS:
        return False
    atomic_write_text(folder / OWNER_FILE, owner + "\n")
    return True


def make_own_folder(folder: Path, owner: str) -> None:
    """Create ``folder`` if missing; one this creates is marked ``owner``'s."""
    folder = Path(folder)
    if folder.is_dir():
        return
    folder.mkdir(parents=True, exist_ok=True)
    claim_folder(folder, owner)
