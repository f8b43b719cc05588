"""Rendered images and sounds kept on disk, keyed by what they depend on.

Spectrograms and time-expanded WAVs are rendered once, on first view, and
written atomically under ``<home>/cache/dashboard`` so a power cut never
leaves half a file to serve. A key includes the recording file's size and
modification time, so a changed file is rendered again.
"""

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterable

from acoupi.system.atomic import atomic_write_bytes

__all__ = ["FileCache"]


class FileCache:
    """A folder of rendered files."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path_for(self, kind: str, suffix: str, source: Path, *parts: object) -> Path:
        """Return the cache file of ``kind`` rendered from ``source`` with ``parts``."""
        stat = os.stat(source)
        key = "|".join(
            str(part) for part in (source, stat.st_size, stat.st_mtime_ns, *parts)
        )
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return self.folder / kind / digest[:2] / f"{digest}{suffix}"

    def get_or_render(
        self,
        kind: str,
        suffix: str,
        source: Path,
        parts: Iterable[object],
        render: Callable[[], bytes],
    ) -> Path:
        """Return the cached file, rendering and storing it first if missing."""
        path = self.path_for(kind, suffix, source, *parts)
        if not path.is_file():
            atomic_write_bytes(path, render())
        return path
