"""The schedule outlook and today's activity, on real set-up programs."""

import datetime
from pathlib import Path
from typing import Any

import pytest

from acoupi import data
from acoupi.system.activity import read_activity, start_of_day
from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from acoupi.system.outlook import schedule_outlook
from acoupi.system.programs import load_program
from helpers import expected_until

UTC = datetime.timezone.utc
LONDON = "Europe/London"


def _default_program(settings: Settings, home: Path, *args: str) -> Any:
    setup_program(
        settings,
        "acoupi.programs.default",
        args=[
            "--microphone.device_name", "simulated",
            "--microphone.samplerate", "48000",
            "--paths.tmp_audio", str(home / "tmp"),
            *args,
        ],
    )  # fmt: skip
    return load_program(settings)


@pytest.fixture
def london(settings: Settings, isolated_home: Path) -> Any:
    """The default program: 06:00-22:30 Europe/London, every 10 s."""
    return _default_program(
        settings,
        isolated_home,
        "--timezone", LONDON,
        "--recording.schedule_start", "06:00:00",
        "--recording.schedule_end", "22:30:00",
    )  # fmt: skip


def _deployment() -> data.Deployment:
    return data.Deployment(name="site")


def test_outside_the_window_says_until_when(london: Any) -> None:
    # 23:00 in London in winter (UTC+0): the window reopens at 06:00.
    now = datetime.datetime(2026, 1, 15, 23, 0, tzinfo=UTC)

    outlook = schedule_outlook(london, _deployment(), now=now)

    assert outlook.records and not outlook.recording_now
    assert outlook.next_recording == datetime.datetime(2026, 1, 16, 6, 0, tzinfo=UTC)
    assert outlook.window == "06:00-22:30 (Europe/London)"
    assert outlook.reason is not None
    assert "outside the recording window 06:00-22:30 (Europe/London)" in outlook.reason
    assert outlook.reason.endswith("06:00")
    assert outlook.interval_s == 10


def test_window_times_are_local_in_summer(london: Any) -> None:
    # 04:00 UTC is 05:00 BST: the window opens at 06:00 BST = 05:00 UTC.
    now = datetime.datetime(2026, 7, 1, 4, 0, tzinfo=UTC)

    outlook = schedule_outlook(london, _deployment(), now=now)

    assert outlook.next_recording == datetime.datetime(2026, 7, 1, 5, 0, tzinfo=UTC)


def test_inside_the_window_the_next_recording_follows_the_last(london: Any) -> None:
    now = datetime.datetime(2026, 1, 15, 12, 0, 5, tzinfo=UTC)
    last = datetime.datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)

    outlook = schedule_outlook(london, _deployment(), now=now, last_recording=last)

    assert outlook.recording_now
    assert outlook.reason is None
    assert outlook.next_recording == last + datetime.timedelta(seconds=10)


def test_no_deployment_is_the_reason(london: Any) -> None:
    now = datetime.datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    ended = _deployment()
    ended.ended_on = now

    for deployment in (None, ended):
        outlook = schedule_outlook(london, deployment, now=now)

        assert not outlook.recording_now and outlook.next_recording is None
        assert outlook.reason is not None
        assert "no deployment is active" in outlook.reason


def test_overnight_window(settings: Settings, isolated_home: Path) -> None:
    program = _default_program(
        settings,
        isolated_home,
        "--timezone", "UTC",
        "--recording.schedule_start", "22:00:00",
        "--recording.schedule_end", "04:00:00",
    )  # fmt: skip
    at_noon = datetime.datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    at_night = datetime.datetime(2026, 1, 16, 1, 0, tzinfo=UTC)

    assert schedule_outlook(program, _deployment(), now=at_noon).next_recording == (
        datetime.datetime(2026, 1, 15, 22, 0, tzinfo=UTC)
    )
    assert schedule_outlook(program, _deployment(), now=at_night).recording_now


def test_program_without_recordings_says_so(settings: Settings) -> None:
    setup_program(settings, "acoupi.programs.test")
    program = load_program(settings)

    outlook = schedule_outlook(program, _deployment())

    assert not outlook.records
    assert outlook.reason is not None and "makes no recordings" in outlook.reason


def test_activity_counts_today_by_tag(london: Any) -> None:
    deployment = _deployment()
    london.store.store_deployment(deployment)
    now = datetime.datetime.now(UTC)
    yesterday = start_of_day(now, None) - datetime.timedelta(hours=1)

    def recording(moment: datetime.datetime) -> data.Recording:
        return data.Recording(
            created_on=moment, duration=3, samplerate=48000, deployment=deployment
        )

    def tagged(value: str) -> data.Detection:
        tag = data.PredictedTag(tag=data.Tag(key="kind", value=value))
        return data.Detection(detection_score=0.9, tags=[tag])

    old = recording(yesterday)
    london.store.store_recording(old)
    london.store.store_model_output(
        data.ModelOutput(
            name_model="m", recording=old, created_on=yesterday,
            detections=[tagged("bat")],
        )
    )  # fmt: skip
    new = recording(now)
    london.store.store_recording(new)
    london.store.store_model_output(
        data.ModelOutput(
            name_model="m", recording=new, created_on=now,
            detections=[tagged("bat"), tagged("bat"), tagged("bird")],
        )
    )  # fmt: skip

    activity = read_activity(london, None, now=now)

    assert activity.problems == []
    assert activity.recordings_today == 1
    assert activity.processed_today == 1
    assert activity.detections_today == 3
    assert activity.detections_by_tag == {"bat": 2, "bird": 1}
    assert activity.last_recording == new.created_on


def test_activity_of_a_program_without_store(settings: Settings) -> None:
    setup_program(settings, "acoupi.programs.test")

    activity = read_activity(load_program(settings))

    assert activity.recordings_today is None and activity.last_recording is None
    assert activity.messages_destination is None


def test_live_view_and_summary_say_why_nothing_is_recorded(
    settings: Settings, isolated_home: Path
) -> None:
    from rich.console import Console

    from acoupi.runtime.foreground import RunSummary
    from acoupi.runtime.live_view import render
    from acoupi.runtime.metrics import MetricsCollector

    now = datetime.datetime.now(UTC)
    opens = (now + datetime.timedelta(hours=2)).replace(second=0, microsecond=0)
    program = _default_program(
        settings,
        isolated_home,
        "--timezone", "UTC",
        "--recording.schedule_start", opens.strftime("%H:%M:00"),
        "--recording.schedule_end", opens.strftime("%H:%M:30"),
    )  # fmt: skip
    deployment = _deployment()
    program.store.store_deployment(deployment)

    snapshot = MetricsCollector(program, now, [], deployment).collect()

    assert snapshot.recordings == 0
    assert snapshot.not_recording is not None
    # A window shorter than the search grid is still found.
    assert snapshot.not_recording == (
        f"outside the recording window {opens:%H:%M}-{opens:%H:%M}:30 (UTC) "
        f"until {expected_until(opens, now)}"
    )
    console = Console(record=True, width=200)
    console.print(render(snapshot, [], 5.0, None, deployment="site"))
    view = console.export_text()
    assert "Not recording" in view and snapshot.not_recording in view
    summary = RunSummary(
        deployment="site", deployment_ended=True, seconds=60, snapshot=snapshot
    )
    assert f"Nothing recorded: {snapshot.not_recording}" in summary.lines()


def test_activity_counts_pending_messages_and_says_where_they_go(
    settings: Settings, isolated_home: Path
) -> None:
    setup_program(
        settings,
        "acoupi.programs.connected",
        args=[
            "--microphone.device_name", "simulated",
            "--microphone.samplerate", "48000",
            "--paths.tmp_audio", str(isolated_home / "tmp"),
            "--messaging.mqtt.host", "127.0.0.1",
            "--messaging.mqtt.port", "1883",
            "--messaging.mqtt.topic", "site/one",
        ],
    )  # fmt: skip
    program = load_program(settings)
    sent, waiting = data.Message(content="a"), data.Message(content="b")
    for message in (sent, waiting):
        program.message_store.store_message(message)
    program.message_store.store_response(
        data.Response(status=data.ResponseStatus.SUCCESS, message=sent)
    )

    activity = read_activity(program)

    assert activity.problems == []
    assert (activity.messages_pending, activity.messages_sent) == (1, 1)
    assert activity.messages_destination == "mqtt://127.0.0.1:1883 topic site/one"


def test_status_does_not_wait_on_a_silent_broker(
    settings: Settings, isolated_home: Path
) -> None:
    import socket
    import time

    from acoupi.system.celery import CeleryState
    from acoupi.system.state import get_status

    # A broker that accepts connections and never answers (a hung or
    # firewalled host): connects, handshakes and queue reads all stall.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        setup_program(
            settings,
            "acoupi.programs.triggered",
            args=[
                "--microphone.device_name", "simulated",
                "--microphone.samplerate", "256000",
                "--paths.tmp_audio", str(isolated_home / "tmp"),
                "--broker_url", f"pyamqp://guest:guest@127.0.0.1:{port}//",
            ],
        )  # fmt: skip
        started = time.monotonic()
        status = get_status(settings)
        elapsed = time.monotonic() - started
    finally:
        silent.close()

    # Deadlines, not speed: one 0.4 s wait for all broker reads; Celery's
    # own defaults waited 4 s per attempt.
    assert elapsed < 3, elapsed
    assert status.celery.state == CeleryState.UNAVAILABLE
    detail = status.celery.detail or ""
    assert "127.0.0.1" in detail and "guest:guest" not in detail
    assert "did not answer within" in detail or "timed out" in detail, detail
    assert status.backlog is None
    assert status.outlook is not None and status.outlook.records


def test_status_command_exits_despite_a_silent_broker(run_acoupi) -> None:
    import json
    import socket
    import time

    # The whole command, in its own process: a broker read stuck on the
    # silent socket must hold up neither the answer nor the exit.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    try:
        setup = run_acoupi(
            "setup", "--program", "acoupi.programs.test", "--no-prompt",
            "--broker_url", f"pyamqp://guest:guest@127.0.0.1:{port}//",
        )  # fmt: skip
        assert setup.returncode == 0, setup.stderr
        started = time.monotonic()
        result = run_acoupi("deployment", "status", "--json")
        elapsed = time.monotonic() - started
    finally:
        silent.close()

    assert elapsed < 3, elapsed  # a hang, not speed (see bench/cli_latency.py)
    assert result.returncode == 0, result.stderr
    celery = json.loads(result.stdout)["celery"]
    assert celery["state"] == "unavailable"
    assert f"127.0.0.1:{port}" in celery["detail"]
