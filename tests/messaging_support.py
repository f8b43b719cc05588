"""Real local servers for the messaging tests (loopback only).

* :class:`PrivateMosquitto`: a Mosquitto process of the test's own, on a free
  port, so a test can stop, freeze and restart "the broker" without touching
  the shared one.
* :class:`Subscriber`: a QoS 1 paho subscriber collecting what arrives.
* :class:`RecordingHTTPServer`: a stdlib HTTP server in a thread that records
  requests and answers as the test says.
* :func:`make_certificates`: a throwaway CA and a server certificate for
  127.0.0.1/localhost, made with the ``openssl`` command.
"""

import getpass
import http.server
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    """Return a loopback TCP port that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class PrivateMosquitto:
    """A Mosquitto broker process owned by one test.

    Parameters
    ----------
    directory
        Where the config (and log) is written.
    port
        Port to listen on (127.0.0.1 only); a free one by default.
    extra
        Extra configuration lines (TLS files, password file...).
    """

    def __init__(
        self, directory: Path, port: Optional[int] = None, extra: Tuple[str, ...] = ()
    ):
        self.directory = directory
        self.port = port or free_port()
        self.config = directory / f"mosquitto-{self.port}.conf"
        self.log = directory / f"mosquitto-{self.port}.log"
        # Running as root, mosquitto would switch to a "mosquitto" user that
        # cannot read the test's files: stay the current user.
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence false",
            f"user {getpass.getuser()}",
            f"log_dest file {self.log}",
            *extra,
        ]
        if not any(line.startswith("allow_anonymous") for line in extra):
            lines.append("allow_anonymous true")
        self.config.write_text("\n".join(lines) + "\n")
        self.process: Optional[subprocess.Popen[bytes]] = None

    def start(self) -> "PrivateMosquitto":
        """Start the broker and wait until it accepts connections."""
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"mosquitto did not start:\n{log}") from None
        return self

    def stop(self) -> None:
        """Kill the broker (as a crash or power loss would) and wait for it."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def freeze(self) -> None:
        """Stop the broker process without closing its sockets (SIGSTOP)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen broker."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@dataclass
class Received:
    """One message a subscriber received."""

    payload: str
    user_properties: Dict[str, str] = field(default_factory=dict)
    topic: str = ""


class Subscriber:
    """A QoS 1 subscriber to one topic, collecting payloads in order."""

    def __init__(
        self,
        host: str,
        port: int,
        topic: str,
        protocol: MQTTProtocolVersion = mqtt.MQTTv311,
        tls: Optional[ssl.SSLContext] = None,
        username: Optional[str] = None,
        password: Optional[str] = None,
    ):
        self.host, self.port, self.topic = host, port, topic
        self.received: List[Received] = []
        self._condition = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"test-subscriber-{uuid.uuid4().hex[:8]}",
            protocol=protocol,
        )
        if tls is not None:
            self.client.tls_set_context(tls)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties):  # type: ignore[no-untyped-def]
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):  # type: ignore[no-untyped-def]
        self._subscribed.set()

    def _on_message(self, client, userdata, message):  # type: ignore[no-untyped-def]
        user_properties: Dict[str, str] = {}
        props = getattr(message, "properties", None)
        if props is not None and hasattr(props, "UserProperty"):
            user_properties = dict(props.UserProperty)
        with self._condition:
            self.received.append(
                Received(message.payload.decode(), user_properties, message.topic)
            )
            self._condition.notify_all()

    def __enter__(self) -> "Subscriber":
        self.client.connect(self.host, self.port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("subscriber could not subscribe")
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_for(self, count: int, timeout: float = 10.0) -> List[str]:
        """Wait until ``count`` messages arrived; return all payloads."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while len(self.received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            return [item.payload for item in self.received]

    def settle(self, quiet: float = 0.3) -> List[str]:
        """Wait a little for stray (duplicate) messages; return all payloads."""
        time.sleep(quiet)
        with self._condition:
            return [item.payload for item in self.received]


@dataclass
class RecordedRequest:
    """One request the HTTP server received."""

    method: str
    path: str
    headers: Dict[str, str]
    body: bytes


Reply = Tuple[int, bytes, Dict[str, str]]
"""(status, body, extra headers) of an answer."""


class RecordingHTTPServer:
    """A threaded stdlib HTTP server on 127.0.0.1 that records requests.

    ``handler(request) -> (status, body, headers)`` decides each answer; it
    may sleep to simulate a slow server. By default every request gets 200.
    """

    def __init__(self, tls: Optional[ssl.SSLContext] = None):
        self.requests: List[RecordedRequest] = []
        self.handler: Callable[[RecordedRequest], Reply] = lambda request: (
            200,
            b'{"ok": true}',
            {},
        )
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle's algorithm
            # each answer would wait for a delayed ACK (~40 ms).
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = RecordedRequest(
                    self.command, self.path, dict(self.headers.items()), body
                )
                with outer._lock:
                    outer.requests.append(request)
                status, reply, headers = outer.handler(request)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the client gave up (timeout tests)

            do_POST = do_OPTIONS = do_GET = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}/messages"
        # A short poll interval keeps shutdown() (each test's teardown) fast.
        self._thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )

    def __enter__(self) -> "RecordingHTTPServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def bodies(self, method: str = "POST") -> List[str]:
        """Bodies of the requests with ``method``, in arrival order."""
        with self._lock:
            return [r.body.decode() for r in self.requests if r.method == method]


@dataclass
class Certificates:
    """Files of a throwaway CA and a server certificate signed by it."""

    ca: Path
    cert: Path
    key: Path


def make_certificates(directory: Path) -> Certificates:
    """Make a CA and a certificate for 127.0.0.1/localhost with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed for the TLS tests")
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = (
        directory / "server.key",
        directory / "server.csr",
        directory / "server.crt",
    )
    ext = directory / "server.ext"
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "authorityKeyIdentifier=keyid\n"
        "subjectKeyIdentifier=hash\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *args: subprocess.run(  # noqa: E731
        [openssl, *args], check=True, capture_output=True, env={**os.environ}
    )
    run(
        "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
        "-subj", "/CN=acoupi test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    run("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=localhost")
    run(
        "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext),
    )  # fmt: skip
    return Certificates(ca=ca, cert=cert, key=key)
