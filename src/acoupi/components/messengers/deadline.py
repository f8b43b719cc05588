"""An overall deadline for HTTP requests: connect, send and whole answer.

httpx's timeouts apply to each network operation: a server that trickles
its answer one byte every two seconds never trips a 5 s read timeout and can
hold a worker thread for minutes. Here every read, write and TLS handshake
of a request is given at most the time left before the request's deadline,
so the request as a whole ends on time, whatever the server does.

Use :func:`deadline_transport` to build the client's transport and wrap each
request in :func:`overall_deadline`.
"""

import contextlib
import time
from contextvars import ContextVar
from typing import Any, Iterable, Iterator, Optional, Type

import httpcore
import httpx

__all__ = ["DeadlineBackend", "deadline_transport", "overall_deadline"]

_DEADLINE: ContextVar[Optional[float]] = ContextVar(
    "acoupi_http_deadline", default=None
)
"""``time.monotonic()`` value by which the current request must be over."""


@contextlib.contextmanager
def overall_deadline(seconds: float) -> Iterator[None]:
    """Give the HTTP requests made inside the block ``seconds`` in total."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _clamp(timeout: Optional[float], error: Type[Exception]) -> Optional[float]:
    """Return ``timeout`` shortened to the time left; raise once none is left."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise error("the request's overall deadline has passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose operations end by the request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: Optional[float] = None) -> bytes:
        return self._stream.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: Optional[float] = None) -> None:
        self._stream.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: Optional[str] = None,
        timeout: Optional[float] = None,
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(stream)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend with every operation held to a deadline."""

    def __init__(self, backend: Optional[httpcore.NetworkBackend] = None):
        self._backend = backend or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: Optional[float] = None,
        local_address: Optional[str] = None,
        socket_options: Optional[Iterable[Any]] = None,
    ) -> httpcore.NetworkStream:
        """Connect within the time left; the stream keeps to the deadline."""
        stream = self._backend.connect_tcp(
            host,
            port,
            timeout=_clamp(timeout, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: Optional[float] = None,
        socket_options: Optional[Iterable[Any]] = None,
    ) -> httpcore.NetworkStream:
        """Connect within the time left; the stream keeps to the deadline."""
        stream = self._backend.connect_unix_socket(
            path,
            timeout=_clamp(timeout, httpcore.ConnectTimeout),
            socket_options=socket_options,
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        """Sleep as the wrapped backend does."""
        self._backend.sleep(seconds)


def deadline_transport(**kwargs: Any) -> httpx.HTTPTransport:
    """Return an ``httpx.HTTPTransport`` that honours :func:`overall_deadline`.

    Parameters
    ----------
    **kwargs
        Passed to ``httpx.HTTPTransport`` (``verify``...).
    """
    transport = httpx.HTTPTransport(**kwargs)
    # httpx offers no public way to choose httpcore's network backend; the
    # pool reads this attribute on every new connection.
    transport._pool._network_backend = DeadlineBackend()
    return transport
