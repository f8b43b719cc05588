"""Defect 6 (secrets): a token in a URL must never be written in clear.

A token in the HTTP URL's query string went to the worker log, to
``messages.db`` (stored responses) and to ``acoupi check``.
"""

import logging

import pytest

from acoupi import data
from acoupi.components.messengers import HTTPMessenger
from acoupi.system.exceptions import HealthCheckError
from acoupi.system.redact import redact_text, redact_url
from fault_support import FaultTable, FaultyReceiver
from messaging_support import free_port

SECRET = "s3cr3t-t0ken"


def test_redact_url_masks_user_info_and_every_query_value() -> None:
    assert (
        redact_url(f"https://pi:{SECRET}@example.org:8443/in?token={SECRET}&site=3")
        == "https://***@example.org:8443/in?token=***&site=***"
    )
    assert redact_url("http://127.0.0.1/messages") == "http://127.0.0.1/messages"
    text = f"Error 'http://h/p?api_key={SECRET}' and amqp://u:{SECRET}@h//"
    assert SECRET not in redact_text(text)


@pytest.mark.parametrize("mode", ["fail", "hang", "refused"])
def test_query_token_stays_out_of_logs_responses_and_checks(
    mode: str, caplog: pytest.LogCaptureFixture, fault_table: FaultTable
) -> None:
    caplog.set_level(logging.DEBUG)
    with FaultyReceiver("fail" if mode == "refused" else mode) as receiver:  # type: ignore[arg-type]
        port = free_port() if mode == "refused" else receiver.port
        url = f"http://127.0.0.1:{port}/messages?token={SECRET}"
        messenger = HTTPMessenger(url, timeout=0.5)
        response = messenger.send_message(data.Message(content="{}"))
        with pytest.raises(HealthCheckError) as caught:
            messenger.check()
        messenger.close()
    assert response.status != data.ResponseStatus.SUCCESS
    assert SECRET not in (response.content or "")
    assert SECRET not in str(caught.value.message)
    assert SECRET not in repr(messenger)
    assert SECRET not in caplog.text
    fault_table.add(
        f"token in URL, receiver {mode}",
        "?token=... in the HTTP URL",
        visible="masked as token=*** in logs, stored responses and check",
    )


def test_successful_send_does_not_log_the_url(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with FaultyReceiver("ok") as receiver:
        messenger = HTTPMessenger(f"{receiver.url}?token={SECRET}", timeout=2)
        response = messenger.send_message(data.Message(content="{}"))
        messenger.close()
    assert response.status == data.ResponseStatus.SUCCESS
    assert SECRET not in caplog.text
