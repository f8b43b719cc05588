"""16-bit PCM WAV files with a GUANO ``guan`` chunk, written atomically.

The ``wave`` module cannot write extra chunks, so the RIFF structure is
written here: ``RIFF/WAVE``, ``fmt``, ``data``, then ``guan``. Keeping
``data`` first puts the audio at byte 44, where naive readers expect it;
GUANO readers find ``guan`` anywhere.

Files are written as a hidden temporary file in the destination folder,
fsynced, then renamed into place (and the folder fsynced), so a power cut
leaves the complete file or none: never a truncated WAV.
"""

from __future__ import annotations

import os
import struct
import tempfile
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Dict, Mapping, Optional, Tuple, Union

if TYPE_CHECKING:
    # numpy is imported where samples are handled: processes that only
    # name WAV files (the ``acoupi run`` supervisor, recovery) skip it.
    import numpy as np
    import numpy.typing as npt

from acoupi.audio.guano import format_guano, parse_guano
from acoupi.system.atomic import fsync_dir
from acoupi.system.permissions import PRIVATE_FILE_MODE

__all__ = [
    "PARTIAL_SUFFIX",
    "is_complete_wav",
    "read_guano",
    "read_wav",
    "update_guano",
    "write_wav",
]

PathLike = Union[str, Path]

PARTIAL_SUFFIX = ".partial"
"""Suffix of a WAV being written (hidden ``.<name>.<random>.partial``): one
left behind was cut short by a crash, and start-up recovery quarantines it."""


def _chunk(handle: BinaryIO, tag: bytes, payload: bytes) -> None:
    handle.write(tag + struct.pack("<I", len(payload)))
    handle.write(payload)
    if len(payload) % 2:
        handle.write(b"\x00")  # RIFF chunks are word-aligned


def write_wav(
    path: PathLike,
    frames: npt.NDArray[np.int16],
    samplerate: int,
    guano: Optional[Mapping[str, Any]] = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write int16 ``frames`` (shape ``(n, channels)``) as a WAV atomically.

    Parameters
    ----------
    path
        Destination; its folder is created if missing.
    frames
        int16 samples, shape ``(n_frames, channels)`` (1-D means mono).
    samplerate
        Frames per second.
    guano
        GUANO fields (see :func:`acoupi.audio.guano.format_guano`); no
        ``guan`` chunk when None.
    overwrite
        Replace an existing file. Otherwise the file is linked into place,
        which fails atomically if the name is taken.

    Raises
    ------
    FileExistsError
        When ``path`` exists and ``overwrite`` is False.
    """
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = np.ascontiguousarray(frames, dtype="<i2")
    if samples.ndim == 1:
        samples = samples[:, None]
    channels = int(samples.shape[1])
    block_align = 2 * channels
    data_size = samples.shape[0] * block_align
    fmt = struct.pack(
        "<HHIIHH", 1, channels, samplerate, samplerate * block_align, block_align, 16
    )
    guan = format_guano(guano).encode("utf-8") if guano is not None else b""
    riff_size = 4 + (8 + len(fmt)) + (8 + data_size + data_size % 2)
    if guan:
        riff_size += 8 + len(guan) + len(guan) % 2
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b"RIFF" + struct.pack("<I", riff_size) + b"WAVE")
            _chunk(handle, b"fmt ", fmt)
            handle.write(b"data" + struct.pack("<I", data_size))
            handle.write(samples.data)
            if guan:
                _chunk(handle, b"guan", guan)
            handle.flush()
            os.fsync(handle.fileno())
        # Recordings are the user's data: private, like all acoupi files.
        os.chmod(tmp_name, PRIVATE_FILE_MODE)
        _place(tmp_name, path, overwrite)
    finally:
        Path(tmp_name).unlink(missing_ok=True)
    fsync_dir(path.parent)
    return path


def _place(tmp_name: str, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp_name, path)
        return
    try:
        # A hard link never replaces an existing file: no race between
        # two recorders picking the same name.
        os.link(tmp_name, path)
    except FileExistsError:
        raise
    except OSError:
        # Filesystems without hard links (FAT on USB sticks).
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp_name, path)


def _chunks(path: PathLike) -> Tuple[int, Dict[bytes, Tuple[int, int]]]:
    """Return the file size and each chunk's ``(offset, size)``.

    Raises
    ------
    wave.Error
        When the file is not RIFF/WAVE or a chunk runs past its end.
    """
    size = os.path.getsize(path)
    chunks: Dict[bytes, Tuple[int, int]] = {}
    with open(path, "rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:] != b"WAVE":
            raise wave.Error(f"{path} is not a RIFF/WAVE file.")
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            tag, length = struct.unpack("<4sI", handle.read(8))
            if offset + 8 + length > size:
                raise wave.Error(f"{path}: chunk {tag!r} is truncated.")
            chunks[tag] = (offset + 8, length)
            offset += 8 + length + length % 2
    return size, chunks


def read_guano(path: PathLike) -> Dict[str, Any]:
    """Return the GUANO fields of a WAV file (empty when it has none).

    Raises
    ------
    wave.Error
        When the file is not a well-formed WAV.
    """
    _, chunks = _chunks(path)
    if b"guan" not in chunks:
        return {}
    offset, length = chunks[b"guan"]
    with open(path, "rb") as handle:
        handle.seek(offset)
        text = handle.read(length).decode("utf-8", errors="replace")
    return parse_guano(text)


def read_wav(path: PathLike) -> Tuple[npt.NDArray[np.int16], int]:
    """Return ``(frames, samplerate)`` of a 16-bit PCM WAV.

    Raises
    ------
    wave.Error
        When the file is not 16-bit PCM or is corrupt.
    """
    with wave.open(str(path), "rb") as handle:
        if handle.getsampwidth() != 2:
            raise wave.Error(f"{path} is not 16-bit PCM.")
        channels = handle.getnchannels()
        raw = handle.readframes(handle.getnframes())
        rate = handle.getframerate()
    import numpy as np

    frames = np.frombuffer(raw, dtype="<i2").astype(np.int16).reshape(-1, channels)
    return frames, rate


def update_guano(path: PathLike, fields: Mapping[str, Any]) -> None:
    """Add or replace GUANO fields of a 16-bit WAV, atomically and in place.

    The audio is unchanged; the file is rewritten under a temporary name in
    its folder and renamed over the original, so a crash leaves either the
    old or the new file. Writing the same fields twice gives the same bytes.

    Raises
    ------
    wave.Error
        When the file is not a well-formed 16-bit PCM WAV.
    """
    frames, samplerate = read_wav(path)
    merged = {**read_guano(path), **fields}
    write_wav(path, frames, samplerate, merged, overwrite=True)


def is_complete_wav(path: PathLike) -> bool:
    """Whether ``path`` is a whole, readable PCM WAV.

    False for missing files, truncated data (a crash mid-write by a tool
    that does not write atomically), wrong RIFF sizes, or missing chunks.
    """
    try:
        size, chunks = _chunks(path)
        if b"fmt " not in chunks or b"data" not in chunks:
            return False
        with open(path, "rb") as handle:
            handle.seek(4)
            (riff_size,) = struct.unpack("<I", handle.read(4))
        if riff_size + 8 > size:
            return False
        with wave.open(str(path), "rb") as handle:
            frame_bytes = handle.getnchannels() * handle.getsampwidth()
            expected = handle.getnframes() * frame_bytes
            if len(handle.readframes(handle.getnframes())) != expected:
                return False
        return chunks[b"data"][1] % frame_bytes == 0
    except (OSError, EOFError, wave.Error, struct.error):
        return False
