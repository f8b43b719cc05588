"""Misbehaving local servers for the fault tests (loopback only).

:class:`FaultyReceiver` is a raw-socket HTTP receiver that can answer,
fail, hang, or trickle its answer one byte at a time, so that tests can
check that no request outlives its deadline.
"""

import socket
import threading
import time
from typing import List, Literal

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
