"""Disk space of the folders acoupi writes to.

One helper for everyone who reports or guards disk space (``deployment
status``, the live view, the disk-full guard), so they all measure the
same way: a folder that does not exist yet is measured on its nearest
existing parent, which is on the same disk it will be created on.
"""

from pathlib import Path
from typing import Any, Iterable, List

from pydantic import BaseModel

__all__ = ["DiskUsage", "disk_usage", "format_bytes", "storage_folders"]


class DiskUsage(BaseModel):
    """Space on the disk holding ``path``, in bytes."""

    path: Path
    """The folder as configured (it may not exist yet)."""

    total: int
    used: int
    free: int

    @property
    def free_fraction(self) -> float:
        """Free space as a fraction of the disk (0 for an empty disk)."""
        return self.free / self.total if self.total else 0.0


def _existing(path: Path) -> Path:
    path = path.expanduser()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def disk_usage(paths: Iterable[Path]) -> List[DiskUsage]:
    """Measure the disk of each folder, in the order given, once per folder.

    Parameters
    ----------
    paths
        Folders (or files, measured on their disk) to measure.

    Returns
    -------
    list of DiskUsage
        One entry per distinct path; a path that cannot be measured (e.g.
        permission denied on every parent) is left out.
    """
    import shutil

    seen = set()
    usages = []
    for path in paths:
        path = Path(path)
        if path in seen:
            continue
        seen.add(path)
        try:
            usage = shutil.disk_usage(_existing(path))
        except OSError:
            continue
        usages.append(
            DiskUsage(path=path, total=usage.total, used=usage.used, free=usage.free)
        )
    return usages


def storage_folders(program: Any) -> List[Path]:
    """The folders a program stores into, from its ``config.paths``.

    Database files count by their folder. Programs without ``paths`` (the
    test program) store nothing: the list is empty.
    """
    paths = getattr(getattr(program, "config", None), "paths", None)
    if paths is None:
        return []
    folders: List[Path] = []
    for value in dict(paths).values():
        if not isinstance(value, Path):
            continue
        folder = value.parent if value.suffix else value
        if folder not in folders:
            folders.append(folder)
    return folders


def format_bytes(size: float) -> str:
    """A size for people, e.g. ``12.3 GB`` (powers of 1000, like ``df -H``)."""
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
