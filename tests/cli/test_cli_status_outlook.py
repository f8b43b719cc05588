"""`acoupi deployment status` says how acoupi runs, when it records next or
why it does not, what it did today and how much disk is free."""

import datetime
import json
from pathlib import Path

from acoupi.system.constants import Settings
from acoupi.system.deployments import start_deployment


def test_status_explains_why_nothing_is_recorded(
    run_acoupi, settings: Settings, isolated_home: Path
) -> None:
    # A window that opens two hours from now (UTC), whatever the time.
    now = datetime.datetime.now(datetime.timezone.utc)
    opens = (now + datetime.timedelta(hours=2)).replace(second=0, microsecond=0)
    closes = opens + datetime.timedelta(hours=1)
    setup = run_acoupi(
        "setup", "--program", "acoupi.programs.default", "--no-prompt",
        "--microphone.device_name", "simulated",
        "--microphone.samplerate", "48000",
        "--paths.tmp_audio", str(isolated_home / "tmp"),
        "--timezone", "UTC",
        "--recording.schedule_start", opens.strftime("%H:%M:00"),
        "--recording.schedule_end", closes.strftime("%H:%M:00"),
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    start_deployment(settings, "site")

    result = run_acoupi("deployment", "status", "--json")

    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    window = f"{opens:%H:%M}-{closes:%H:%M} (UTC)"
    outlook = status["outlook"]
    assert outlook["recording_now"] is False
    # After 22:00 UTC the window opens tomorrow, which status names.
    until = (
        f"{opens:%H:%M}" if opens.date() == now.date() else f"{opens:%a %d %b %H:%M}"
    )
    assert outlook["reason"] == f"outside the recording window {window} until {until}"
    next_recording = datetime.datetime.fromisoformat(outlook["next_recording"])
    assert next_recording == opens
    assert status["activity"]["recordings_today"] == 0
    assert status["activity"]["last_recording"] is None
    assert status["running"]["mode"] == "stopped"
    folders = {Path(usage["path"]) for usage in status["disk"]}
    assert isolated_home / "storages" / "recordings" in folders
    assert all(usage["free"] > 0 for usage in status["disk"])

    text = run_acoupi("deployment", "status")

    assert text.returncode == 0, text.stderr
    assert "not recording: outside the recording window" in text.stdout
    assert "stopped: start with `acoupi deployment start`" in text.stdout
    assert "0 recording(s)" in text.stdout
    flat = "".join(line.strip("│ ") for line in text.stdout.splitlines())
    assert str(isolated_home / "storages" / "recordings") in flat


def test_status_does_not_claim_recording_when_nothing_runs(
    run_acoupi, settings: Settings, isolated_home: Path
) -> None:
    # After a crash or a power cut: a deployment is active and the schedule
    # says record now, but no worker runs. Status used to say "recording".
    setup = run_acoupi(
        "setup", "--program", "triggered", "--no-prompt",
        "--microphone.device_name", "simulated",
        "--microphone.samplerate", "192000",
        "--timezone", "UTC",
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    start_deployment(settings, "site")

    result = run_acoupi("deployment", "status", "--json")

    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["running"]["mode"] == "stopped"
    assert status["outlook"]["recording_now"] is False
    assert status["outlook"]["next_recording"] is None
    assert status["outlook"]["reason"].startswith("nothing is running")
    text = run_acoupi("deployment", "status")
    assert "not recording: nothing is running" in text.stdout
