"""Detections written as CSV, JSON or Raven Pro selection tables.

Raven Pro reads one tab-separated *selection table* per sound file; times
are seconds from the start of the file and frequencies are in Hz, which
is exactly a detection's box. Detections without a box span the whole
recording and its whole band (0 Hz to Nyquist).
"""

import csv
import io
import json
from pathlib import Path
from typing import Dict, Iterable, List, TextIO, Tuple
from uuid import UUID

from acoupi.dashboard.queries import DetectionRow

__all__ = [
    "CSV_COLUMNS",
    "RAVEN_COLUMNS",
    "raven_file_name",
    "write_csv",
    "write_json",
    "write_raven_tables",
]

CSV_COLUMNS = (
    "detection_id",
    "recording_id",
    "time",
    "recording_time",
    "deployment",
    "model",
    "tag",
    "tags",
    "score",
    "start_time",
    "end_time",
    "low_freq",
    "high_freq",
    "samplerate",
    "recording_path",
)

RAVEN_COLUMNS = (
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Tag",
    "Score",
    "Begin File",
)


def _box(row: DetectionRow) -> Tuple[float, float, float, float]:
    return row.box or (0.0, 0.0, row.duration, row.samplerate / 2)


def write_csv(rows: Iterable[DetectionRow], out: TextIO) -> int:
    """Write one CSV line per detection (with a header); return the count."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        start, low, end, high = _box(row)
        writer.writerow(
            (
                row.id,
                row.recording_id,
                row.time.isoformat(),
                row.recording_time.isoformat(),
                row.deployment,
                row.model,
                row.tag,
                ";".join(f"{key}:{value}" for key, value, _ in row.tags),
                f"{row.score:.6g}",
                f"{start:.6f}",
                f"{end:.6f}",
                f"{low:.1f}",
                f"{high:.1f}",
                row.samplerate,
                "" if row.recording_path is None else row.recording_path,
            )
        )
        count += 1
    return count


def write_json(rows: Iterable[DetectionRow], out: TextIO) -> int:
    """Write the detections as one JSON array; return the count."""
    items = [row.as_json() for row in rows]
    json.dump(items, out, indent=2)
    out.write("\n")
    return len(items)


def raven_file_name(row: DetectionRow) -> str:
    """Name of the selection table of ``row``'s recording.

    Raven pairs ``<sound file stem>.Table.1.selections.txt`` with its sound
    file; a recording without a file is named by its id.
    """
    stem = row.recording_path.stem if row.recording_path else str(row.recording_id)
    return f"{stem}.Table.1.selections.txt"


def _raven_table(rows: List[DetectionRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter="\t", lineterminator="\n")
    writer.writerow(RAVEN_COLUMNS)
    ordered = sorted(rows, key=lambda row: _box(row)[0])
    for number, row in enumerate(ordered, start=1):
        start, low, end, high = _box(row)
        writer.writerow(
            (
                number,
                "Spectrogram 1",
                1,
                f"{start:.6f}",
                f"{end:.6f}",
                f"{low:.1f}",
                f"{high:.1f}",
                row.tag,
                f"{row.score:.6g}",
                row.recording_path.name if row.recording_path else "",
            )
        )
    return out.getvalue()


def write_raven_tables(rows: Iterable[DetectionRow], folder: Path) -> List[Path]:
    """Write one Raven Pro selection table per recording into ``folder``.

    Returns
    -------
    list of Path
        The files written, one per recording with detections.
    """
    from acoupi.system.atomic import atomic_write_text

    by_recording: Dict[UUID, List[DetectionRow]] = {}
    for row in rows:
        by_recording.setdefault(row.recording_id, []).append(row)
    written = []
    for recording_rows in by_recording.values():
        path = Path(folder) / raven_file_name(recording_rows[0])
        atomic_write_text(path, _raven_table(recording_rows))
        written.append(path)
    return written
