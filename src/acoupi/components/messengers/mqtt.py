"""Send messages to an MQTT broker, with acknowledged (QoS 1) delivery.

A message counts as delivered only once the broker acknowledged it
(PUBACK). Delivery is *at least once*: if the acknowledgement is lost, or the
device stops between the broker's PUBACK and the response being stored, the
message is sent again later. On MQTT v5 every publish carries the message id
as the user property ``acoupi-message-id`` so receivers can drop duplicates;
MQTT v3.1.1 has no place for it besides the payload, which stays exactly the
message content because subscribers parse it.

The network loop is driven explicitly from the calling thread (no background
thread): the connection only lives while a task talks to the broker, nothing
reconnects behind the task's back, and Celery's forked workers never inherit
a running thread.

paho (and ssl) are imported when the client is first needed: building a
messenger, as every command that loads the program does, needs neither.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Literal, Optional, Union

from pydantic import BaseModel, SecretStr, model_validator

from acoupi import data, devices
from acoupi.components import types
from acoupi.components.messengers._common import (
    MESSAGE_ID_PROPERTY,
    default_logger,
    reveal,
    to_secret,
)
from acoupi.system.exceptions import HealthCheckError

if TYPE_CHECKING:
    import ssl

    import paho.mqtt.client as mqtt
    from paho.mqtt.reasoncodes import ReasonCode

__all__ = ["MQTTConfig", "MQTTMessenger", "MQTTTransport"]

MQTTProtocol = Literal["3.1.1", "5"]

_POLL_INTERVAL = 0.25
"""Longest single wait on the socket, so deadlines are honoured closely."""

_CONNECT_HINTS: List[str] = [
    "the host name or port is wrong",
    "the broker is down or unreachable",
    "the username or password is wrong",
    "TLS is required by the broker (use_tls) or the CA file is wrong",
]


class MQTTTransport(str, Enum):
    """How to reach the broker (acoupi 0.8)."""

    TCP = "tcp"
    WEBSOCKETS = "websockets"
    UNIX = "unix"
    """A Unix socket on this machine; ``host`` is the socket's path."""


class MQTTConfig(BaseModel):
    """Configuration of an :class:`MQTTMessenger`.

    The password stays a ``SecretStr`` in every dump (it prints as
    ``**********``); writing it to a configuration file is the job of the
    config writer, which handles secrets explicitly.
    """

    host: str
    username: Optional[str] = None
    """None (or empty) connects anonymously, as most local brokers allow."""
    password: Optional[SecretStr] = None
    topic: str = "acoupi"
    port: int = 1883
    """1883 is the standard MQTT port (8883 with TLS)."""
    timeout: int = 5
    use_tls: bool = False
    ca_certs: Optional[Path] = None
    certfile: Optional[Path] = None
    keyfile: Optional[Path] = None
    protocol: MQTTProtocol = "3.1.1"
    transport: MQTTTransport = MQTTTransport.TCP
    use_message_type: bool = False
    """Publish each message to ``<topic>/<message type>`` (acoupi 0.8)."""

    @model_validator(mode="after")
    def _check_tls(self) -> MQTTConfig:
        # Certificates without TLS would be silently ignored: refuse instead.
        if not self.use_tls and (self.ca_certs or self.certfile or self.keyfile):
            raise ValueError("ca_certs, certfile and keyfile need use_tls=True")
        if self.keyfile and not self.certfile:
            raise ValueError("keyfile needs certfile")
        return self


class _SendFailure(Exception):
    """Why a message could not be delivered, as a response status."""

    def __init__(self, status: data.ResponseStatus, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class MQTTMessenger(types.Messenger):
    """Publish messages to one MQTT topic with QoS 1.

    Parameters
    ----------
    host, port
        The broker address.
    topic
        Topic that every message is published to.
    username, password
        Credentials; the password is kept as a ``SecretStr`` and never
        logged. An empty username means anonymous.
    timeout
        Seconds to wait for the connection and, separately, for each PUBACK.
    logger
        Logger to use; defaults to this module's Celery task logger.
    use_tls, ca_certs, certfile, keyfile
        Encrypt the connection. ``ca_certs`` is a CA bundle to trust instead
        of the system's; ``certfile``/``keyfile`` a client certificate.
    protocol
        ``"3.1.1"`` (default, as upstream) or ``"5"``; v5 adds the message id
        as a user property.
    keepalive
        MQTT keepalive in seconds.
    transport
        ``"tcp"`` (default), ``"websockets"`` (MQTT over WebSockets, path
        ``/mqtt``) or ``"unix"`` (``host`` is the path of a Unix socket;
        ``port`` is ignored).
    use_message_type
        Publish a message that has a ``message_type`` to
        ``<topic>/<type>`` (e.g. ``acoupi/heartbeat``) instead of ``topic``,
        so receivers can subscribe per kind. Messages without a type go to
        ``topic``.

    Notes
    -----
    Nothing touches the network, nor imports paho, until the first
    :meth:`send_message` or :meth:`check` (or :attr:`client`). Any failure
    drops the connection and the next send starts a fresh client, so paho
    never replays an unacknowledged message on its own (the task resends
    it, in order).
    """

    def __init__(
        self,
        host: str,
        topic: str,
        port: int = 1883,
        username: Optional[str] = None,
        password: Optional[Union[str, SecretStr]] = None,
        timeout: float = 5,
        logger: Optional[logging.Logger] = None,
        *,
        use_tls: bool = False,
        ca_certs: Optional[Path] = None,
        certfile: Optional[Path] = None,
        keyfile: Optional[Path] = None,
        protocol: MQTTProtocol = "3.1.1",
        keepalive: int = 60,
        transport: Union[MQTTTransport, str] = MQTTTransport.TCP,
        use_message_type: bool = False,
    ):
        self.host = host
        self.port = port
        self.topic = topic
        self.timeout = timeout
        self.username = username or None
        self._password = to_secret(password)
        self.use_tls = use_tls or bool(ca_certs or certfile)
        self.ca_certs = ca_certs
        self.certfile = certfile
        self.keyfile = keyfile
        self.protocol = protocol
        self.keepalive = keepalive
        try:
            self.transport = MQTTTransport(transport)
        except ValueError:
            choices = ", ".join(repr(t.value) for t in MQTTTransport)
            raise ValueError(
                f"Unknown MQTT transport {transport!r}; use one of {choices}."
            ) from None
        self.use_message_type = use_message_type
        self.logger = default_logger(__name__, logger)
        self.client_id = devices.get_device_id()
        # One client is not safe to drive from two threads (threads pool).
        self._lock = threading.RLock()
        self._client: Optional[mqtt.Client] = None

    @property
    def client(self) -> mqtt.Client:
        """The paho client; made on first use, which imports paho."""
        if self._client is None:
            self._client = self._new_client()
        return self._client

    @client.setter
    def client(self, client: mqtt.Client) -> None:
        self._client = client

    @classmethod
    def from_config(
        cls, config: MQTTConfig, logger: Optional[logging.Logger] = None
    ) -> MQTTMessenger:
        """Build a messenger from its configuration."""
        return cls(
            host=config.host,
            topic=config.topic,
            port=config.port,
            username=config.username,
            password=config.password,
            timeout=config.timeout,
            logger=logger,
            use_tls=config.use_tls,
            ca_certs=config.ca_certs,
            certfile=config.certfile,
            keyfile=config.keyfile,
            protocol=config.protocol,
            transport=config.transport,
            use_message_type=config.use_message_type,
        )

    def __repr__(self) -> str:
        password = "'**********'" if self._password is not None else "None"
        return (
            f"{type(self).__name__}(host={self.host!r}, port={self.port!r}, "
            f"topic={self.topic!r}, username={self.username!r}, "
            f"password={password}, use_tls={self.use_tls!r}, "
            f"protocol={self.protocol!r})"
        )

    @property
    def address(self) -> str:
        """``host:port`` of the broker (the socket path over Unix), for messages."""
        if self.transport == MQTTTransport.UNIX:
            return self.host
        return f"{self.host}:{self.port}"

    def topic_for(self, message: data.Message) -> str:
        """Return the topic ``message`` is published to."""
        if self.use_message_type and message.message_type is not None:
            return f"{self.topic.rstrip('/')}/{message.message_type.value}"
        return self.topic

    # -- public API ---------------------------------------------------------

    def send_message(self, message: data.Message) -> data.Response:
        """Publish ``message`` and wait for the broker's acknowledgement.

        Returns
        -------
        data.Response
            SUCCESS once the PUBACK arrived; TIMEOUT if it did not arrive
            within ``timeout`` seconds; FAILED when the broker could not be
            reached or the connection was lost. Never raises.
        """
        with self._lock:
            try:
                self._ensure_connected()
                self._publish(message)
            except _SendFailure as failure:
                self._drop_client()
                self.logger.warning(
                    "MQTT message %s not delivered to %s: %s",
                    message.id,
                    self.address,
                    failure.reason,
                )
                return data.Response(
                    status=failure.status, message=message, content=failure.reason
                )
            except Exception as error:  # never let a send crash the task
                self._drop_client()
                self.logger.exception("Unexpected error sending MQTT message")
                return data.Response(
                    status=data.ResponseStatus.FAILED,
                    message=message,
                    content=f"unexpected error: {type(error).__name__}: {error}",
                )
        from paho.mqtt.enums import MQTTErrorCode  # imported by the send

        self.logger.debug(
            "MQTT message %s acknowledged by %s", message.id, self.address
        )
        return data.Response(
            status=data.ResponseStatus.SUCCESS,
            message=message,
            content=MQTTErrorCode.MQTT_ERR_SUCCESS.name,
        )

    def check(self) -> None:
        """Connect to the broker once to check the settings.

        Raises
        ------
        HealthCheckError
            With the reason and the likely causes when the broker cannot be
            reached or refuses the connection.
        """
        with self._lock:
            try:
                self._connect()
            except _SendFailure as failure:
                # The command line says "Health check failed:" itself.
                raise HealthCheckError(
                    failure.reason,
                    help="Possible causes: " + "; ".join(_CONNECT_HINTS) + ".",
                ) from None
            finally:
                self.close()

    def close(self) -> None:
        """Disconnect from the broker (the next send reconnects)."""
        with self._lock:
            self._drop_client()

    # -- connection ---------------------------------------------------------

    def _new_client(self) -> mqtt.Client:
        # Looked up as ``mqtt.Client`` at call time so tests can patch it.
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        if self.protocol == "5":
            # v5 has no clean_session; clean_start=False is given on connect.
            client = mqtt.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=mqtt.MQTTv5,
                transport=self.transport.value,
            )
        else:
            client = mqtt.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                clean_session=False,
                transport=self.transport.value,
            )
        if self.username is not None:
            client.username_pw_set(self.username, reveal(self._password))
        return client

    def _ssl_context(self) -> ssl.SSLContext:
        import ssl

        try:
            context = ssl.create_default_context(
                cafile=str(self.ca_certs) if self.ca_certs else None
            )
            if self.certfile:
                context.load_cert_chain(
                    str(self.certfile),
                    keyfile=str(self.keyfile) if self.keyfile else None,
                )
        except (OSError, ssl.SSLError) as error:
            raise _SendFailure(
                data.ResponseStatus.FAILED, f"cannot load TLS certificates: {error}"
            ) from None
        return context

    def _ensure_connected(self) -> None:
        client = self._client
        if client is not None and client.is_connected():
            # Read whatever arrived since the last send: a broker that closed
            # the connection is only noticed by reading.
            client.loop(timeout=0)
        if client is None or not client.is_connected():
            self._connect()

    def _connect(self) -> None:
        import paho.mqtt.client as mqtt

        self._drop_client()
        client = self.client
        if self.use_tls:
            client.tls_set_context(self._ssl_context())
        client.connect_timeout = self.timeout

        connack: List[ReasonCode] = []

        def on_connect(
            client: mqtt.Client,
            userdata: object,
            flags: object,
            reason_code: ReasonCode,
            properties: object,
        ) -> None:
            connack.append(reason_code)

        client.on_connect = on_connect
        try:
            client.connect(
                self.host,
                port=self.port,
                keepalive=self.keepalive,
                clean_start=False
                if self.protocol == "5"
                else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            )
        except socket.gaierror as error:
            raise _SendFailure(
                data.ResponseStatus.FAILED,
                f"unable to resolve the MQTT broker host {self.host!r}: {error}",
            ) from None
        except (OSError, ValueError) as error:
            # Refused, unreachable, TLS handshake failure, connect timeout.
            raise _SendFailure(
                data.ResponseStatus.FAILED,
                f"unable to connect to the MQTT broker at {self.address}: {error}",
            ) from None

        deadline = time.monotonic() + self.timeout
        if not self._pump(lambda: bool(connack), deadline):
            raise _SendFailure(
                data.ResponseStatus.FAILED,
                f"no answer (CONNACK) from the MQTT broker at {self.address} "
                f"within {self.timeout} s",
            )
        if connack[0].is_failure:
            raise _SendFailure(
                data.ResponseStatus.FAILED,
                f"the MQTT broker at {self.address} refused the connection: "
                f"{connack[0].getName()}",
            )

    def _drop_client(self) -> None:
        """Disconnect, release the client's sockets and forget the client.

        The next use makes a fresh client, which knows nothing of the old
        one's unacknowledged messages, so paho never replays them behind the
        task's back (the task resends them, in order). Sockets are closed
        here rather than left to the garbage collector: a device reconnects
        thousands of times over months.
        """
        client = self._client
        if client is None:
            return
        try:
            if client.is_connected():
                client.disconnect()
                client.loop(timeout=0)
        except Exception:  # best effort; the sockets are closed below
            pass
        reset = getattr(client, "_reset_sockets", None)
        if callable(reset):
            reset()
        self._client = None

    # -- publishing ---------------------------------------------------------

    def _publish(self, message: data.Message) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import MQTTErrorCode
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        properties = None
        if self.protocol == "5":
            properties = Properties(PacketTypes.PUBLISH)
            properties.UserProperty = [(MESSAGE_ID_PROPERTY, str(message.id))]
        info = self.client.publish(
            self.topic_for(message),
            payload=message.content,
            qos=1,
            properties=properties,
        )
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise _SendFailure(
                data.ResponseStatus.FAILED,
                f"publish refused: {mqtt.error_string(info.rc)}",
            )
        deadline = time.monotonic() + self.timeout
        if self._pump(info.is_published, deadline):
            return
        if not self.client.is_connected():
            raise _SendFailure(
                data.ResponseStatus.FAILED,
                "connection to the MQTT broker lost before the acknowledgement",
            )
        raise _SendFailure(
            data.ResponseStatus.TIMEOUT,
            f"no acknowledgement (PUBACK) within {self.timeout} s",
        )

    def _pump(self, done: Callable[[], bool], deadline: float) -> bool:
        """Run the network loop until ``done()`` or the deadline.

        Returns whether ``done()`` became true; stops early when the
        connection breaks.
        """
        from paho.mqtt.enums import MQTTErrorCode

        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            rc = self.client.loop(timeout=min(remaining, _POLL_INTERVAL))
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return done()
        return True
