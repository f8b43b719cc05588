"""HTTPMessenger against a real stdlib HTTP server on loopback."""

import json
import logging
import ssl
import time
import uuid
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from acoupi import data
from acoupi.components.messengers import HTTPConfig, HTTPMessenger
from acoupi.system.exceptions import HealthCheckError
from messaging_support import (
    Certificates,
    RecordedRequest,
    RecordingHTTPServer,
    free_port,
    make_certificates,
)

TOKEN = "tok-" + uuid.uuid4().hex


@pytest.fixture
def server() -> Iterator[RecordingHTTPServer]:
    with RecordingHTTPServer() as running:
        yield running


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


class MessengerFactory:
    """Builds messengers and closes them (and their connections) afterwards."""

    def __init__(self) -> None:
        self.made: list[HTTPMessenger] = []

    def __call__(self, *args: Any, **kwargs: Any) -> HTTPMessenger:
        messenger = HTTPMessenger(*args, **kwargs)
        self.made.append(messenger)
        return messenger

    def from_config(self, *args: Any, **kwargs: Any) -> HTTPMessenger:
        messenger = HTTPMessenger.from_config(*args, **kwargs)
        self.made.append(messenger)
        return messenger


@pytest.fixture
def make() -> Iterator[MessengerFactory]:
    factory = MessengerFactory()
    yield factory
    for messenger in factory.made:
        messenger.close()


def message(content: str = '{"species": "Myotis", "score": 0.9}') -> data.Message:
    return data.Message(content=content)


def test_success_posts_the_content_as_is_with_id_headers(
    server: RecordingHTTPServer, make: MessengerFactory
) -> None:
    messenger = make(
        server.url,
        base_params={"device": "pi-1"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    sent = message('{"b": 1,   "a": [1, 2]}')
    response = messenger.send_message(sent)

    assert response.status == data.ResponseStatus.SUCCESS
    assert response.content == '{"ok": true}'
    assert response.message == sent
    (request,) = server.requests
    assert request.method == "POST"
    assert request.body.decode() == sent.content  # not re-serialised
    assert parse_qs(urlsplit(request.path).query) == {"device": ["pi-1"]}
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["accept"] == "application/json"
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["x-acoupi-message-id"] == str(sent.id)
    assert headers["idempotency-key"] == str(sent.id)


def test_content_type_given_in_headers_wins(
    server: RecordingHTTPServer, make: MessengerFactory
) -> None:
    messenger = make(server.url, headers={"content-type": "text/plain"})
    assert messenger.content_type == "text/plain"
    messenger.send_message(message("plain words"))
    assert server.requests[0].headers["content-type"] == "text/plain"


def test_non_json_content_is_sent_as_text_instead_of_crashing(
    server: RecordingHTTPServer, make: MessengerFactory
) -> None:
    response = make(server.url).send_message(message("not json {"))
    assert response.status == data.ResponseStatus.SUCCESS
    assert server.bodies() == ["not json {"]


def test_form_content_type_sends_json_object_as_fields(
    server: RecordingHTTPServer, make: MessengerFactory
) -> None:
    messenger = make(server.url, content_type="application/x-www-form-urlencoded")
    messenger.send_message(message('{"a": "1", "b": "x y"}'))
    assert parse_qs(server.bodies()[0]) == {"a": ["1"], "b": ["x y"]}


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_error_statuses_are_error_with_status_and_body(
    server: RecordingHTTPServer, status: int, make: MessengerFactory
) -> None:
    server.handler = lambda request: (status, b"quota exceeded " * 50, {})
    response = make(server.url).send_message(message())
    assert response.status == data.ResponseStatus.ERROR
    content = response.content or ""
    assert content.startswith(f"HTTP {status}")
    assert "quota exceeded" in content
    assert len(content) < 300  # a snippet, not the whole page


def test_redirect_is_not_success(
    server: RecordingHTTPServer, make: MessengerFactory
) -> None:
    server.handler = lambda request: (302, b"", {"Location": "/elsewhere"})
    response = make(server.url).send_message(message())
    assert response.status == data.ResponseStatus.ERROR


def test_slow_server_is_a_timeout(
    server: RecordingHTTPServer, make: MessengerFactory
) -> None:
    def slow(request: RecordedRequest) -> tuple[int, bytes, dict[str, str]]:
        time.sleep(1.5)
        return 200, b"late", {}

    server.handler = slow
    started = time.monotonic()
    response = make(server.url, timeout=0.3).send_message(message())
    assert response.status == data.ResponseStatus.TIMEOUT
    assert time.monotonic() - started < 1.4


def test_server_down_is_failed_not_an_exception(make: MessengerFactory) -> None:
    url = f"http://127.0.0.1:{free_port()}/messages"
    response = make(url).send_message(message())
    assert response.status == data.ResponseStatus.FAILED
    assert "ConnectError" in (response.content or "")


def test_invalid_url_is_failed(make: MessengerFactory) -> None:
    response = make("not a url").send_message(message())
    assert response.status == data.ResponseStatus.FAILED


def test_secrets_never_in_logs_or_repr(
    server: RecordingHTTPServer,
    caplog: pytest.LogCaptureFixture,
    make: MessengerFactory,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx/httpcore debug logs included
    config = HTTPConfig(
        base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert TOKEN not in config.model_dump_json()
    assert TOKEN not in repr(config)
    messenger = make.from_config(config, logger=logging.getLogger("t.http"))
    plain = make(server.url, headers={"X-Api-Key": TOKEN, "X-Custom": SecretStr(TOKEN)})

    messenger.send_message(message())
    server.handler = lambda request: (500, b"boom", {})
    messenger.send_message(message())
    plain.send_message(message())
    with pytest.raises(HealthCheckError) as info:
        messenger.check()

    assert server.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert server.requests[-2].headers["X-Api-Key"] == TOKEN
    assert server.requests[-2].headers["X-Custom"] == TOKEN
    texts = [record.getMessage() for record in caplog.records]
    texts += [repr(messenger), repr(plain), str(info.value)]
    assert any("500" in text for text in texts)
    assert not [text for text in texts if TOKEN in text]


def test_url_credentials_are_not_logged(
    caplog: pytest.LogCaptureFixture, make: MessengerFactory
) -> None:
    url = f"http://user:{TOKEN}@127.0.0.1:{free_port()}/messages"
    messenger = make(url, logger=logging.getLogger("t.http"))
    caplog.set_level(logging.WARNING, logger="t.http")
    response = messenger.send_message(message())
    assert response.status == data.ResponseStatus.FAILED
    assert TOKEN not in (response.content or "")
    assert TOKEN not in repr(messenger)
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]


# -- check() ------------------------------------------------------------------


def test_check_passes_when_post_is_allowed(
    server: RecordingHTTPServer, make: MessengerFactory
) -> None:
    server.handler = lambda request: (204, b"", {"Allow": "OPTIONS, POST"})
    make(server.url).check()
    assert server.requests[0].method == "OPTIONS"


def test_check_requires_post_in_allow_header(
    server: RecordingHTTPServer, make: MessengerFactory
) -> None:
    server.handler = lambda request: (200, b"", {"Allow": "GET, HEAD"})
    with pytest.raises(HealthCheckError, match="POST"):
        make(server.url).check()


@pytest.mark.parametrize(("status", "kind"), [(401, "Client"), (502, "Server")])
def test_check_reports_client_and_server_errors(
    server: RecordingHTTPServer, status: int, kind: str, make: MessengerFactory
) -> None:
    server.handler = lambda request: (status, b"", {})
    with pytest.raises(HealthCheckError, match=f"{kind} error {status}"):
        make(server.url).check()


def test_check_reports_an_unreachable_server(make: MessengerFactory) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(HealthCheckError, match="Unable to connect"):
        make(url).check()


# -- TLS ----------------------------------------------------------------------


@pytest.fixture
def tls_server(certificates: Certificates) -> Iterator[RecordingHTTPServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificates.cert), str(certificates.key))
    with RecordingHTTPServer(tls=context) as running:
        yield running


def test_tls_verification_with_private_ca(
    tls_server: RecordingHTTPServer, certificates: Certificates, make: MessengerFactory
) -> None:
    untrusting = make(tls_server.url)
    response = untrusting.send_message(message())
    assert response.status == data.ResponseStatus.FAILED
    assert "CERTIFICATE_VERIFY_FAILED" in (response.content or "")

    config = HTTPConfig(base_url=tls_server.url, ca_certs=certificates.ca)
    trusting = make.from_config(config)
    assert trusting.send_message(message()).status == data.ResponseStatus.SUCCESS

    unverified = make(tls_server.url, verify_tls=False)
    assert unverified.send_message(message()).status == data.ResponseStatus.SUCCESS


def test_missing_ca_file_is_failed(
    tls_server: RecordingHTTPServer, tmp_path: Path, make: MessengerFactory
) -> None:
    messenger = make(tls_server.url, ca_certs=tmp_path / "missing.pem")
    response = messenger.send_message(message())
    assert response.status == data.ResponseStatus.FAILED


def test_config_defaults() -> None:
    config = HTTPConfig(base_url="http://example.invalid")
    assert (config.content_type, config.timeout) == ("application/json", 5)
    assert (config.headers, config.verify_tls, config.ca_certs) == ({}, True, None)
    assert json.loads(config.model_dump_json())["base_url"] == "http://example.invalid"
