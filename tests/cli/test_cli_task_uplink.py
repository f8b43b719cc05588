"""`acoupi task run` of the sending tasks tells whether anything went out.

A technician tests the uplink on site with ``acoupi task run heartbeat_task``;
a failed send must not read as "finished" with exit status 0, and a slow
receiver must not be reported as unreachable (QA F6, F22).
"""

import sqlite3
from pathlib import Path

from fault_support import FaultyReceiver
from messaging_support import free_port


def _setup_http(run_acoupi, url: str) -> None:
    result = run_acoupi(
        "setup", "--program", "connected", "--no-prompt",
        "--microphone.device_name", "simulated",
        "--messaging.http.base_url", url,
        "--messaging.http.timeout", "1",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_failed_sends_are_reported_with_their_cause(
    run_acoupi, isolated_home: Path
) -> None:
    _setup_http(run_acoupi, f"http://127.0.0.1:{free_port()}/ingest")

    heartbeat = run_acoupi("task", "run", "heartbeat_task")
    assert heartbeat.returncode == 1, heartbeat.stdout + heartbeat.stderr
    assert "finished" not in heartbeat.stdout
    assert "Heartbeat not sent:" in heartbeat.stderr
    assert "Connection refused" in heartbeat.stderr
    assert "Traceback" not in heartbeat.stderr
    # Not sent, but kept: the outbox holds it for the next send.
    database = isolated_home / "storages" / "messages.db"
    with sqlite3.connect(database) as connection:
        assert connection.execute("select count(*) from message").fetchone() == (1,)

    messages = run_acoupi("task", "run", "send_messages_task")
    assert messages.returncode == 1, messages.stdout + messages.stderr
    assert "Messages not sent:" in messages.stderr
    assert "Connection refused" in messages.stderr


def test_trickling_receiver_is_slow_not_unreachable(run_acoupi) -> None:
    with FaultyReceiver("trickle", interval=0.3) as receiver:
        _setup_http(run_acoupi, receiver.url)
        expected = "did not answer in full within 1 s (messaging.http.timeout)"

        heartbeat = run_acoupi("task", "run", "heartbeat_task")
        assert heartbeat.returncode == 1, heartbeat.stdout + heartbeat.stderr
        assert "Heartbeat not sent:" in heartbeat.stderr
        assert expected in heartbeat.stderr

        check = run_acoupi("check")
        assert check.returncode != 0
        assert expected in check.stderr
        assert "Unable to connect" not in check.stderr


def test_successful_heartbeat_still_finishes(run_acoupi) -> None:
    with FaultyReceiver("ok") as receiver:
        _setup_http(run_acoupi, receiver.url)
        result = run_acoupi("task", "run", "heartbeat_task")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Task heartbeat_task finished." in result.stdout
        assert len(receiver.received) == 1
