"""Send messages to an HTTP endpoint with POST requests.

A message counts as delivered only on a 2xx answer. Each request carries the
message id in the ``X-Acoupi-Message-Id`` and ``Idempotency-Key`` headers so
that a receiver can drop the duplicates that retries may cause.

httpx (with ssl, http.client and email) is imported on the first request:
building a messenger, as every command that loads the program does, needs
none of it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple, Union

from pydantic import BaseModel, Field, SecretStr

from acoupi import data
from acoupi.components import types
from acoupi.components.messengers._common import (
    default_logger,
    redact_text,
    redact_url,
    reveal,
    snippet,
)
from acoupi.system.exceptions import HealthCheckError

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = ["HTTPConfig", "HTTPMessenger"]

MESSAGE_ID_HEADER = "X-Acoupi-Message-Id"
IDEMPOTENCY_HEADER = "Idempotency-Key"

_SENSITIVE_HEADER_WORDS = (
    "authorization",
    "cookie",
    "token",
    "secret",
    "key",
    "password",
)
"""Header names containing any of these are kept as secrets (masked)."""

_MAX_STORED_BODY = 10_000
"""Longest answer body kept in a response; a large page must not bloat the outbox."""

_FORM_TYPE = "application/x-www-form-urlencoded"

# httpx logs every request's full URL at INFO, and the workers log at INFO:
# a token in the query string went to the worker log in clear.
logging.getLogger("httpx").setLevel(logging.WARNING)


class HTTPConfig(BaseModel):
    """Configuration of an :class:`HTTPMessenger`.

    ``headers`` are extra request headers, typically an ``Authorization``
    token; their values are secrets and print as ``**********``.
    """

    base_url: str
    content_type: str = "application/json"
    timeout: int = 5
    headers: Dict[str, SecretStr] = Field(default_factory=dict)
    verify_tls: bool = True
    ca_certs: Optional[Path] = None


HeaderValue = Union[str, SecretStr]


def _is_sensitive(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SENSITIVE_HEADER_WORDS)


def _is_json_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class HTTPMessenger(types.Messenger):
    """POST each message to ``base_url``.

    Parameters
    ----------
    base_url
        Endpoint receiving the messages. Put credentials in ``headers``, not
        in the URL or ``base_params``: URLs end up in logs.
    base_params
        Query parameters added to every request.
    headers
        Extra headers. Values given as ``SecretStr``, and values of headers
        whose name looks sensitive (``Authorization``, ``*token*``,
        ``*key*``...), are kept masked and never logged.
    timeout
        Seconds a request may take in total: connecting, sending and
        receiving the whole answer (not per network read).
    content_type
        ``Content-Type`` (and default ``Accept``) of the requests. The body
        is always the message content as it is (JSON text is not
        re-serialised), except for form-encoded requests, where a JSON
        object content becomes the form fields.
    logger
        Logger to use; defaults to this module's Celery task logger.
    verify_tls, ca_certs
        Check the server's certificate (default), optionally against a
        private CA bundle.
    """

    timeout_setting: str = "timeout"
    """Name of the timeout setting, quoted when the server answers too slowly
    (programs set the path in their configuration)."""

    def __init__(
        self,
        base_url: str,
        base_params: Optional[Dict[str, Any]] = None,
        headers: Optional[Mapping[str, HeaderValue]] = None,
        timeout: float = 5,
        content_type: str = "application/json",
        logger: Optional[logging.Logger] = None,
        *,
        verify_tls: bool = True,
        ca_certs: Optional[Path] = None,
    ):
        self.base_url = base_url
        self.base_params: Dict[str, Any] = dict(base_params or {})
        self.timeout = timeout
        self.verify_tls = verify_tls
        self.ca_certs = ca_certs
        self.logger = default_logger(__name__, logger)
        self.headers: Dict[str, HeaderValue] = {}
        for name, value in (headers or {}).items():
            if isinstance(value, str) and _is_sensitive(name):
                value = SecretStr(value)
            self.headers[name] = value
        present = {name.lower() for name in self.headers}
        if "content-type" not in present:
            self.headers["Content-Type"] = content_type
        if "accept" not in present:
            self.headers["Accept"] = content_type
        self.content_type = next(
            str(reveal(value))
            for name, value in self.headers.items()
            if name.lower() == "content-type"
        )
        # Created on first use, and again in a forked worker (a connection
        # pool must not be shared across processes).
        self._client: Optional[httpx.Client] = None
        self._client_pid: Optional[int] = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls, config: HTTPConfig, logger: Optional[logging.Logger] = None
    ) -> HTTPMessenger:
        """Build a messenger from its configuration."""
        return cls(
            base_url=config.base_url,
            headers=dict(config.headers),
            timeout=config.timeout,
            content_type=config.content_type,
            logger=logger,
            verify_tls=config.verify_tls,
            ca_certs=config.ca_certs,
        )

    def __repr__(self) -> str:
        # SecretStr values print as '**********'.
        return (
            f"{type(self).__name__}(base_url={redact_url(self.base_url)!r}, "
            f"headers={self.headers!r}, timeout={self.timeout!r})"
        )

    # -- public API ---------------------------------------------------------

    def send_message(self, message: data.Message) -> data.Response:
        """POST ``message`` and report the outcome.

        Returns
        -------
        data.Response
            SUCCESS on a 2xx answer (content: the answer body); ERROR on any
            other status (content: status and the start of the body); FAILED
            when the server could not be reached; TIMEOUT when it did not
            answer in time (it may have received the message). Never raises.
        """
        import httpx

        from acoupi.components.messengers.deadline import overall_deadline

        headers = self._request_headers()
        headers[MESSAGE_ID_HEADER] = str(message.id)
        headers[IDEMPOTENCY_HEADER] = str(message.id)
        content, form = self._body(message.content)
        url = redact_url(self.base_url)
        try:
            # One deadline for connect, send and the whole answer: a server
            # trickling its answer must not hold the worker thread.
            with overall_deadline(self.timeout):
                response = self._http().post(
                    self.base_url,
                    content=content,
                    data=form,
                    params=self.base_params,
                    headers=headers,
                )
        except httpx.ConnectTimeout as error:
            return self._failure(
                message,
                data.ResponseStatus.FAILED,
                f"connection to {url} timed out: {error}",
            )
        except httpx.TimeoutException:
            return self._failure(
                message, data.ResponseStatus.TIMEOUT, self._too_slow(url)
            )
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as error:
            return self._failure(
                message,
                data.ResponseStatus.FAILED,
                f"unable to send to {url}: {type(error).__name__}: {error}",
            )
        except Exception as error:  # never let a send crash the task
            self.logger.exception("Unexpected error sending HTTP message")
            return self._failure(
                message,
                data.ResponseStatus.FAILED,
                f"unexpected error: {type(error).__name__}: {error}",
            )

        if response.is_success:
            self.logger.debug("HTTP message %s accepted by %s", message.id, url)
            return data.Response(
                status=data.ResponseStatus.SUCCESS,
                message=message,
                content=response.text[:_MAX_STORED_BODY],
            )
        return self._failure(
            message,
            data.ResponseStatus.ERROR,
            f"HTTP {response.status_code} {response.reason_phrase}: "
            f"{snippet(response.text)}",
        )

    def check(self) -> None:
        """Probe the endpoint with an OPTIONS request.

        Raises
        ------
        HealthCheckError
            When the server cannot be reached, answers with a 4xx/5xx status,
            or says (``Allow`` header) that it does not accept POST.
        """
        import httpx

        from acoupi.components.messengers.deadline import overall_deadline

        url = redact_url(self.base_url)
        try:
            with overall_deadline(self.timeout):
                response = self._http().options(
                    self.base_url,
                    params=self.base_params,
                    headers=self._request_headers(),
                )
        except httpx.TimeoutException as error:
            if isinstance(error, httpx.ConnectTimeout):
                message = f"Unable to connect to {url}: the connection timed out."
            else:
                # It did connect: saying "unable to connect" sends the
                # technician after the wrong problem.
                slow = self._too_slow(url)
                message = slow[0].upper() + slow[1:] + "."
            raise HealthCheckError(
                message,
                help="Check the network and that the server is running; a slow "
                f"link may need a longer {self.timeout_setting}.",
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as error:
            raise HealthCheckError(
                f"Unable to connect to {url}: "
                + redact_text(f"{type(error).__name__}: {error}"),
                help="Check the URL, the network, and that the server is running.",
            ) from None
        finally:
            self.close()

        if response.is_client_error:
            raise HealthCheckError(
                f"Client error {response.status_code} "
                f"{response.reason_phrase} from {url}.",
                help="Check the URL and the credentials (headers).",
            )
        if response.is_server_error:
            raise HealthCheckError(
                f"Server error {response.status_code} "
                f"{response.reason_phrase} from {url}.",
                help="The server has a problem; contact its administrator.",
            )
        allow = response.headers.get("Allow")
        if allow is not None:
            methods = {method.strip().upper() for method in allow.split(",")}
            if "POST" not in methods:
                raise HealthCheckError(
                    f"{url} does not accept POST requests (Allow: {allow}).",
                    help="Check the URL: acoupi sends messages with POST.",
                )

    def close(self) -> None:
        """Close pooled connections (the next send opens new ones)."""
        with self._lock:
            if self._client is not None and self._client_pid == os.getpid():
                self._client.close()
            self._client = None

    # -- helpers ------------------------------------------------------------

    def _too_slow(self, url: str) -> str:
        return (
            f"the server at {url} did not answer in full within "
            f"{self.timeout:g} s ({self.timeout_setting})"
        )

    def _http(self) -> httpx.Client:
        import httpx

        from acoupi.components.messengers.deadline import deadline_transport

        with self._lock:
            if self._client is None or self._client_pid != os.getpid():
                self._client = httpx.Client(
                    timeout=self.timeout,
                    transport=deadline_transport(verify=self._verify()),
                    follow_redirects=False,
                )
                self._client_pid = os.getpid()
            return self._client

    def _verify(self) -> Union[bool, ssl.SSLContext]:
        if not self.verify_tls:
            return False
        if self.ca_certs is not None:
            import ssl

            # Raises OSError/SSLError for a bad file: reported as FAILED.
            return ssl.create_default_context(cafile=str(self.ca_certs))
        return True

    def _request_headers(self) -> Dict[str, str]:
        return {name: str(reveal(value)) for name, value in self.headers.items()}

    def _body(
        self, content: Union[str, bytes]
    ) -> Tuple[Optional[Union[str, bytes]], Optional[Dict[str, Any]]]:
        """Return (raw body, form fields); exactly one is not None."""
        if isinstance(content, bytes):
            # Binary content (acoupi 0.8) is sent as it is; set content_type
            # to match it (e.g. application/octet-stream).
            return content, None
        media_type = self.content_type.split(";", 1)[0].strip().lower()
        if media_type == _FORM_TYPE:
            try:
                fields = json.loads(content)
            except ValueError:
                fields = None
            if isinstance(fields, dict):
                return None, fields
        elif _is_json_type(self.content_type):
            try:
                json.loads(content)
            except ValueError:
                # Upstream crashed here; the receiver decides instead.
                self.logger.warning("Message content is not JSON; sending it as it is.")
        return content, None

    def _failure(
        self, message: data.Message, status: data.ResponseStatus, reason: str
    ) -> data.Response:
        # Exception texts may quote the full URL, query string included.
        reason = redact_text(reason)
        self.logger.warning(
            "HTTP message %s not delivered (%s): %s", message.id, status.name, reason
        )
        return data.Response(status=status, message=message, content=reason)
