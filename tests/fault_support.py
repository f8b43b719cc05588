"""Misbehaving local servers and the result table of the fault suite.

:class:`FaultyReceiver` is a raw-socket HTTP receiver that can answer,
fail, hang, or trickle its answer one byte at a time, so that tests can
check that no request outlives its deadline.

:data:`FAULT_TABLE` collects one row per scenario, filled by each fault test
with what it measured (recordings lost, messages lost or duplicated,
database integrity, where the fault showed); the ``fault_table`` fixture
hands it to tests and the session prints it at the end (``tests/conftest.py``).
"""

import json
import socket
import threading
import time
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path
from typing import List, Literal, Optional

Mode = Literal["ok", "fail", "hang", "trickle", "trickle_headers"]


class FaultyReceiver:
    """An HTTP/1.1 receiver on 127.0.0.1 that misbehaves as told.

    Parameters
    ----------
    mode
        ``ok``: answer 200; ``fail``: answer 500; ``hang``: read the request
        and never answer; ``trickle``: send the headers, then the body one
        byte every ``interval`` seconds; ``trickle_headers``: send even the
        status line and headers one byte at a time.
    interval
        Seconds between two trickled bytes.
    """

    def __init__(self, mode: Mode = "ok", interval: float = 0.2):
        self.mode: Mode = mode
        self.interval = interval
        self.received: List[bytes] = []
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._listener.settimeout(0.05)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/messages"
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> "FaultyReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return body

    def _trickle(self, conn: socket.socket, payload: bytes) -> None:
        for index in range(len(payload)):
            if self._stop.wait(self.interval):
                return
            conn.sendall(payload[index : index + 1])

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        with conn:
            try:
                self.received.append(self._read_request(conn))
                body = b'{"ok": true, "padding": "' + b"x" * 200 + b'"}'
                failing = self.mode == "fail"
                status = b"500 Internal Server Error" if failing else b"200 OK"
                head = (
                    b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                    b"Connection: close\r\n\r\n"
                )
                if self.mode == "hang":
                    self._stop.wait(60)
                elif self.mode == "trickle":
                    conn.sendall(head)
                    self._trickle(conn, body)
                elif self.mode == "trickle_headers":
                    self._trickle(conn, head + body)
                else:
                    conn.sendall(head + body)
            except OSError:
                pass  # the client gave up: that is the point


def elapsed(start: float) -> float:
    """Seconds since ``start`` (a ``time.monotonic()`` value)."""
    return time.monotonic() - start


@dataclass
class FaultRow:
    """One scenario of the fault suite, as measured by its test."""

    scenario: str
    faults: str
    recordings_lost: str
    messages_lost: str
    databases_intact: str
    visible: str


@dataclass
class FaultTable:
    """Rows the fault tests measured in this session, printed at the end."""

    rows: List[FaultRow] = field(default_factory=list)
    shared: Optional[Path] = None
    """In a pytest-xdist worker: the file its rows also go to, for the
    controller, which prints the table (see ``tests/conftest.py``)."""

    def add(
        self,
        scenario: str,
        faults: str,
        *,
        recordings_lost: object = "n/a",
        messages_lost: object = "n/a",
        databases_intact: object = "n/a",
        visible: str,
    ) -> None:
        """Record a measured row (values are what the test observed)."""

        def text(value: object) -> str:
            if isinstance(value, bool):
                return "yes" if value else "NO"
            return str(value)

        row = FaultRow(
            scenario,
            faults,
            text(recordings_lost),
            text(messages_lost),
            text(databases_intact),
            visible,
        )
        self.rows.append(row)
        if self.shared is not None:
            # One short append per row: workers writing at once never mix.
            with self.shared.open("a") as handle:
                handle.write(json.dumps(asdict(row)) + "\n")

    def add_shared(self, path: Path) -> None:
        """Add the rows that workers wrote to ``path`` (none if it is absent)."""
        if path.exists():
            for line in path.read_text().splitlines():
                self.rows.append(FaultRow(**json.loads(line)))

    def lines(self) -> List[str]:
        """The table as text lines."""
        header = FaultRow(
            "scenario",
            "faults injected",
            "recordings lost",
            "messages lost/dup",
            "databases intact",
            "visible to the user",
        )
        rows = [header, *self.rows]
        columns = list(zip(*(astuple(row) for row in rows), strict=True))
        widths = [max(len(cell) for cell in column) for column in columns]

        def line(row: FaultRow) -> str:
            cells = astuple(row)
            return " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))

        rule = "-+-".join("-" * w for w in widths)
        return [line(header), rule, *(line(row) for row in self.rows)]

    def write_json(self, path: Path) -> None:
        """Write the rows as JSON (for the long run's report)."""
        path.write_text(json.dumps([asdict(row) for row in self.rows], indent=2))


FAULT_TABLE = FaultTable()
"""This process's rows; the controller adds its workers' at the end."""


def integrity_ok(database: Path) -> bool:
    """Whether SQLite's ``integrity_check`` passes for ``database``."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(database)) as connection:
        return connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
