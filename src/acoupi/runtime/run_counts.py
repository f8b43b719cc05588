"""Counts of what a run stored, kept up to date at a cost that never grows.

The live view asks every second how many recordings, model outputs,
detections and messages the run stored. Counting the rows since the start
each time costs more every day (20 % of a core after 100 000 recordings).
Instead each count remembers the highest ``rowid`` it has seen and only
reads the rows added since: a range search on the table's own b-tree,
whose cost depends on what was added since the last look, not on the size
of the database.

Each look is one SQL statement, so it reads one consistent state even
while a worker writes. Rows are only ever added to these tables while
acoupi runs; a deleted row is not subtracted (the counts are of rows
*stored* during the run).
"""

import sqlite3
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

__all__ = ["OutboxCounts", "StoreCounts"]

_SUCCESS = 0
"""``ResponseStatus.SUCCESS`` as stored in the message database."""


def _highest(table: str) -> str:
    return f"(SELECT COALESCE(MAX(rowid), 0) FROM {table})"


def _new(table: str, after: int) -> str:
    # ``after`` is an int we produced: safe to inline.
    return f"(SELECT COUNT(*) FROM {table} WHERE rowid > {int(after)})"


@dataclass
class _RowCounts:
    """Rows added to some tables since :meth:`start`."""

    tables: Sequence[str]
    counts: Dict[str, int] = field(default_factory=dict)
    _after: Optional[List[int]] = None

    def start(
        self,
        connection: Optional[sqlite3.Connection],
        already: Optional[Dict[str, str]] = None,
    ) -> None:
        """Count from now on (``None``: the database does not exist yet).

        ``already`` maps a table to a query counting the rows it holds that
        belong in the count from the start (an indexed time range).
        """
        self.counts = {table: 0 for table in self.tables}
        if connection is None:
            self._after = [0] * len(self.tables)
            return
        query = ", ".join(_highest(table) for table in self.tables)
        self._after = list(connection.execute(f"SELECT {query}").fetchone())
        for table, count in (already or {}).items():
            self.counts[table] = int(connection.execute(count).fetchone()[0])

    def update(self, connection: sqlite3.Connection) -> None:
        """Add the rows stored since the last update (starts if not started)."""
        if self._after is None:
            self.start(connection)
            return
        parts = []
        for table, after in zip(self.tables, self._after, strict=True):
            parts += [_new(table, after), _highest(table)]
        row = connection.execute(f"SELECT {', '.join(parts)}").fetchone()
        for index, table in enumerate(self.tables):
            self.counts[table] += int(row[2 * index])
            self._after[index] = max(self._after[index], int(row[2 * index + 1]))


class StoreCounts:
    """Recordings, model outputs and detections stored since a moment.

    Parameters
    ----------
    since
        Count the rows whose time (recording start, model output creation)
        is at or after this database datetime text; by default only the
        rows stored after :meth:`start`. The first count uses the time
        indexes once; later ones only read new rows.
    """

    def __init__(self, since: Optional[str] = None) -> None:
        self._rows = _RowCounts(("recording", "model_output", "detection"))
        self._since = since

    @property
    def started(self) -> bool:
        """Whether the starting point is known."""
        return self._rows._after is not None

    def start(self, connection: Optional[sqlite3.Connection]) -> None:
        """Take the starting point (``None``: the database does not exist yet)."""
        self._rows.start(connection, self._already())

    def update(self, connection: sqlite3.Connection) -> None:
        """Add the rows stored since the last update."""
        if not self.started:
            self.start(connection)
            return
        self._rows.update(connection)

    def _already(self) -> Optional[Dict[str, str]]:
        if self._since is None:
            return None
        # A datetime text we were given by datetime_to_db: quote it safely.
        since = "'" + self._since.replace("'", "''") + "'"
        return {
            "recording": f"SELECT COUNT(*) FROM recording WHERE datetime >= {since}",
            "model_output": (
                f"SELECT COUNT(*) FROM model_output WHERE created_on >= {since}"
            ),
            "detection": (
                "SELECT COUNT(*) FROM model_output m CROSS JOIN detection d"
                f" ON d.model_output_id = m.id WHERE m.created_on >= {since}"
            ),
        }

    @property
    def recordings(self) -> int:
        """Recordings stored since the start."""
        return self._rows.counts.get("recording", 0)

    @property
    def model_outputs(self) -> int:
        """Model outputs stored since the start."""
        return self._rows.counts.get("model_output", 0)

    @property
    def detections(self) -> int:
        """Detections stored since the start."""
        return self._rows.counts.get("detection", 0)


class OutboxCounts:
    """Messages in the outbox: how many were sent, how many wait.

    The first update counts the whole outbox once; later ones read only the
    messages and responses added since.
    """

    def __init__(self) -> None:
        self.total = 0
        self.sent = 0
        self._messages: Optional[int] = None
        self._responses = 0

    @property
    def pending(self) -> int:
        """Messages without a successful delivery."""
        return max(0, self.total - self.sent)

    def update(self, connection: sqlite3.Connection) -> None:
        """Bring the counts up to date."""
        if self._messages is None:
            row = connection.execute(
                "SELECT (SELECT COUNT(*) FROM message),"
                f" {_highest('message')},"
                " (SELECT COUNT(DISTINCT message_id) FROM response"
                "  WHERE status = :ok),"
                " (SELECT COALESCE(MAX(id), 0) FROM response)",
                {"ok": _SUCCESS},
            ).fetchone()
            self.total, self._messages, self.sent, self._responses = map(int, row)
            return
        row = connection.execute(
            f"SELECT {_new('message', self._messages)}, {_highest('message')},"
            # Messages whose first successful response is a new one.
            " (SELECT COUNT(DISTINCT r.message_id) FROM response r"
            "  WHERE r.id > :after AND r.status = :ok AND NOT EXISTS ("
            "   SELECT 1 FROM response p WHERE p.message_id = r.message_id"
            "   AND p.status = :ok AND p.id <= :after)),"
            " (SELECT COALESCE(MAX(id), :after) FROM response WHERE id > :after)",
            {"after": self._responses, "ok": _SUCCESS},
        ).fetchone()
        self.total += int(row[0])
        self._messages = max(self._messages, int(row[1]))
        self.sent += int(row[2])
        self._responses = int(row[3])
