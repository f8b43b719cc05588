"""``acoupi config`` takes the forms people type (issue 8 item 8)."""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from acoupi.cli.running import describe_running
from acoupi.system.constants import Settings

Invoke = Callable[..., Any]


@pytest.fixture
def triggered(invoke: Invoke, settings: Settings) -> Settings:
    """The triggered program set up with the simulated microphone."""
    result = invoke(
        "setup", "--program", "triggered", "--no-prompt",
        "--microphone.device_name", "simulated", "--microphone.samplerate", "384000",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return settings


def _saved(settings: Settings) -> dict:
    return json.loads(settings.program_config_file.read_text())


def test_get_and_set_take_the_field_as_an_argument(
    invoke: Invoke, triggered: Settings
) -> None:
    result = invoke("config", "set", "recording.duration", "7")
    assert result.exit_code == 0, result.output
    assert "Set recording.duration = 7" in result.output

    result = invoke("config", "get", "recording.duration")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == 7
    # --field still works, and show is get.
    assert (
        json.loads(invoke("config", "get", "--field", "recording.duration").output) == 7
    )
    result = invoke("config", "show", "--field", "recording.duration")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == 7
    assert json.loads(invoke("config", "show", "recording.interval").output) == 10


def test_negative_numbers_are_values(invoke: Invoke, triggered: Settings) -> None:
    result = invoke("config", "set", "detector.min_level_db", "-70")
    assert result.exit_code == 0, result.output
    assert _saved(triggered)["detector"]["min_level_db"] == -70

    result = invoke("config", "set", "--field", "detector.min_level_db", "-60.5")
    assert result.exit_code == 0, result.output
    assert _saved(triggered)["detector"]["min_level_db"] == -60.5


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["recording.duration", "-5"], "greater than 0"),
        (["--field", "recording.duration", "-5"], "greater than 0"),
        (["recording.duration", "20"], "Recordings of 20 s cannot start every 10 s"),
        (["microphone.samplerate", "1000000000"], "1,000,000,000 Hz"),
        (["--fild", "recording.duration", "3"], "did you mean --field?"),
        (["recording.duration", "3", "4"], "Expected FIELD VALUE, got 3"),
        (["--field", "recording.duration"], "Expected VALUE, got 0"),
        (["get", "recording.duration", "--field", "name"], "Two fields given"),
    ],
)
def test_values_that_cannot_work_are_refused_and_nothing_changes(
    invoke: Invoke,
    clean_failure: Callable[..., None],
    triggered: Settings,
    args: list[str],
    expected: str,
) -> None:
    before = triggered.program_config_file.read_text()
    command = ["config", *args] if args[0] == "get" else ["config", "set", *args]
    result = invoke(*command)
    clean_failure(result.output, result.exit_code, expected)
    assert triggered.program_config_file.read_text() == before


def test_deaf_detector_is_refused_at_config_set(
    invoke: Invoke, clean_failure: Callable[..., None], triggered: Settings
) -> None:
    bat = '[{"label": "bat", "low_freq": 20000, "high_freq": 120000}]'
    assert invoke("config", "set", "--json", "detector.bands", bat).exit_code == 0
    before = triggered.program_config_file.read_text()

    result = invoke("config", "set", "microphone.samplerate", "16000")

    clean_failure(result.output, result.exit_code, "can never detect anything")
    assert triggered.program_config_file.read_text() == before


def test_band_warning_at_config_set(invoke: Invoke, triggered: Settings) -> None:
    result = invoke("config", "set", "microphone.samplerate", "96000")
    assert result.exit_code == 0, result.output
    assert "Warning: The detector band 'bat'" in result.output
    assert _saved(triggered)["microphone"]["samplerate"] == 96000


def test_check_refuses_a_configuration_that_cannot_work(
    invoke: Invoke, clean_failure: Callable[..., None], triggered: Settings
) -> None:
    # Edited by hand: values `config set` would have refused.
    config = _saved(triggered)
    config["recording"].update(duration=20, interval=10)
    config["microphone"]["samplerate"] = 1_000_000_000
    triggered.program_config_file.write_text(json.dumps(config))

    result = invoke("check")

    clean_failure(
        result.output,
        result.exit_code,
        "cannot work",
        "Recordings of 20 s cannot start every 10 s",
        "1,000,000,000 Hz",
    )
    assert "Health checks passed" not in result.output


def test_unknown_keys_in_the_saved_file_are_reported(
    invoke: Invoke, triggered: Settings
) -> None:
    config = _saved(triggered)
    config["microphone"]["gain_db"] = 10
    config["recordng"] = {"duration": 5}
    triggered.program_config_file.write_text(json.dumps(config))

    result = invoke("config", "get", "recording.duration")

    assert result.exit_code == 0, result.output
    assert "Warning:" in result.output
    assert "does not know; they are ignored: microphone.gain_db, recordng" in (
        result.output
    )


def test_whole_configuration_with_unknown_keys_is_refused(
    invoke: Invoke, clean_failure: Callable[..., None], triggered: Settings
) -> None:
    config = _saved(triggered)
    config["recording"]["duraton"] = 5
    before = triggered.program_config_file.read_text()

    result = invoke("config", "set", json.dumps(config))

    clean_failure(result.output, result.exit_code, "recording.duraton", "Valid keys")
    assert triggered.program_config_file.read_text() == before


def test_logs_into_a_closed_pipe_ends_quietly(
    run_acoupi: Callable[..., Any], cli_env: dict, isolated_home: Path
) -> None:
    assert run_acoupi("setup", "--program", "acoupi.programs.test").returncode == 0
    log_dir = Path(cli_env["ACOUPI_HOME"]) / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "recording.log").write_text("line\n" * 50_000)
    acoupi = Path(sys.executable).with_name("acoupi")

    result = subprocess.run(
        f"'{acoupi}' logs -n 50000 | head -n 1",
        shell=True,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.splitlines() == [f"==> {log_dir / 'recording.log'} <=="]
    assert "Error" not in result.stderr, result.stderr
    assert "bug" not in result.stderr, result.stderr


# ------------------------------------------------- advice during a run


@pytest.fixture
def fake_run(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A process started as ``acoupi`` whose child has a worker pidfile.

    It stands for ``acoupi run`` and its worker: what the advice depends
    on is only that the worker's parent is the ``acoupi`` command.
    """
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    script = tmp_path / "bin" / "acoupi"
    script.parent.mkdir()
    script.write_text(
        textwrap.dedent(
            """
            import subprocess, sys
            sleep = "import time; time.sleep(60)"
            # Named like a worker: only celery/acoupi processes count as ours.
            child = subprocess.Popen([sys.executable, "-c", sleep, "celery"])
            with open(sys.argv[1], "w") as handle:
                handle.write(str(child.pid))
            child.wait()
            """
        )
    )
    pidfile = settings.run_dir / "recording.pid"
    process = subprocess.Popen([sys.executable, str(script), str(pidfile)])
    for _ in range(500):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.02)
    try:
        yield process
    finally:
        child = int(pidfile.read_text())
        os.kill(child, 15)
        process.wait(timeout=10)


def test_config_set_during_a_foreground_run_advises_restarting_the_run(
    invoke: Invoke, set_up: Settings, fake_run: subprocess.Popen
) -> None:
    assert describe_running(set_up) == "foreground"

    result = invoke("config", "set", "name", "test_program")

    assert result.exit_code == 0, result.output
    assert "running in the foreground (`acoupi run`)" in result.output
    assert "workers restart" not in result.output


def test_config_set_with_detached_workers_advises_restarting_them(
    invoke: Invoke, set_up: Settings
) -> None:
    set_up.run_dir.mkdir(parents=True, exist_ok=True)
    # A worker whose parent is not an `acoupi` process (here: pytest).
    sleep = "import time; time.sleep(60)"
    worker = subprocess.Popen([sys.executable, "-c", sleep, "celery"])
    try:
        (set_up.run_dir / "acoupi.pid").write_text(str(worker.pid))
        assert describe_running(set_up) == "workers"

        result = invoke("config", "set", "name", "test_program")
    finally:
        worker.kill()
        worker.wait()

    assert result.exit_code == 0, result.output
    assert "`acoupi workers restart`" in result.output


def test_config_set_when_nothing_runs_gives_no_advice(
    invoke: Invoke, set_up: Settings
) -> None:
    result = invoke("config", "set", "name", "test_program")

    assert result.exit_code == 0, result.output
    assert "restart" not in result.output


def test_run_refuses_a_configuration_that_cannot_work(
    invoke: Invoke, clean_failure: Callable[..., None], triggered: Settings
) -> None:
    config = _saved(triggered)
    config["recording"].update(duration=20, interval=10)
    triggered.program_config_file.write_text(json.dumps(config))

    result = invoke("run", "--duration", "1", "--name", "site")

    clean_failure(result.output, result.exit_code, "cannot start every 10 s")
    assert not triggered.deployment_file.exists()


def test_setup_refuses_a_url_without_http(
    invoke: Invoke, clean_failure: Callable[..., None], settings: Settings
) -> None:
    """QA F7: `--messaging.http.base_url notaurl` was saved and failed later."""
    result = invoke(
        "setup", "--program", "triggered", "--no-prompt",
        "--microphone.device_name", "simulated", "--microphone.samplerate", "384000",
        "--messaging.http.base_url", "notaurl",
    )  # fmt: skip
    clean_failure(result.output, result.exit_code, "http://")
    assert "notaurl" in result.output
    assert not settings.program_config_file.exists()


def test_config_set_refuses_an_mqtt_port_out_of_range(
    invoke: Invoke, clean_failure: Callable[..., None], triggered: Settings
) -> None:
    assert invoke("config", "set", "messaging.mqtt.host", "127.0.0.1").exit_code == 0
    before = triggered.program_config_file.read_text()

    result = invoke("config", "set", "messaging.mqtt.port", "99999")

    clean_failure(result.output, result.exit_code, "1 to 65535")
    assert triggered.program_config_file.read_text() == before


@pytest.mark.parametrize("action", ["start", "stop", "restart"])
def test_workers_commands_during_a_foreground_run_say_the_run_owns_them(
    invoke: Invoke, set_up: Settings, fake_run: subprocess.Popen, action: str
) -> None:
    """QA F18: `workers restart` during `acoupi run` gave an unrelated error."""
    result = invoke("workers", action)

    assert result.exit_code == 1, result.output
    assert f"Cannot {action} the workers: the foreground run owns them." in (
        result.output
    )
    assert "running in the foreground (`acoupi run`)" in result.output
    assert "root" not in result.output
    assert fake_run.poll() is None  # the run's worker was left alone


def test_unknown_keys_warning_is_printed_once(run_acoupi, settings: Settings) -> None:
    """QA F17: every command printed the sentence twice (log and warning)."""
    setup = run_acoupi(
        "setup", "--program", "triggered", "--no-prompt",
        "--microphone.device_name", "simulated",
    )  # fmt: skip
    assert setup.returncode == 0, setup.stderr
    config = _saved(settings)
    config["recording"]["bogus_key"] = 1
    settings.program_config_file.write_text(json.dumps(config))

    result = run_acoupi("config", "get", "recording.duration")

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("recording.bogus_key") == 1, result.stderr
    assert "Warning:" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("set", "recording.duraton", "3"),
        ("get", "recording.duraton"),
        ("show", "--field", "recording.duraton"),
    ],
)
def test_misspelt_field_is_a_usage_error_with_a_suggestion(
    invoke: Invoke, triggered: Settings, args: tuple
) -> None:
    """QA F19: `config set` exited 1 without "did you mean", `get` exited 2."""
    before = triggered.program_config_file.read_text()

    result = invoke("config", *args)

    assert result.exit_code == 2, result.output
    assert "Unknown configuration field 'recording.duraton'" in result.output
    assert "did you mean recording.duration?" in result.output
    assert "Fields of recording: recording.duration, recording.interval" in (
        result.output
    )
    assert "\t" not in result.output
    assert triggered.program_config_file.read_text() == before


def test_fields_inside_a_mapping_are_not_unknown(
    invoke: Invoke, triggered: Settings
) -> None:
    assert (
        invoke("config", "set", "messaging.http.base_url", "http://x/").exit_code == 0
    )
    result = invoke("config", "set", "messaging.http.headers.X-Token", "abc")
    assert result.exit_code == 0, result.output


def test_workers_stop_with_only_stale_pidfiles_says_none_ran(
    invoke: Invoke, set_up: Settings
) -> None:
    """QA F24: it said "Workers stopped." when nothing was running."""
    set_up.run_dir.mkdir(parents=True, exist_ok=True)
    # A reused PID: the pidfile names a process that is no acoupi worker.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (set_up.run_dir / "default.pid").write_text(str(stranger.pid))

        result = invoke("workers", "stop")

        assert result.exit_code == 0, result.output
        assert "No workers were running." in result.output
        assert "Workers stopped." not in result.output
        assert stranger.poll() is None  # left alone
    finally:
        stranger.kill()
        stranger.wait()


def test_rule_between_two_fields_says_which_to_set_first(
    invoke: Invoke, triggered: Settings
) -> None:
    """QA F19: duration 20 over interval 10 gave no way forward in `config set`."""
    before = triggered.program_config_file.read_text()

    result = invoke("config", "set", "recording.duration", "20")

    assert result.exit_code == 1, result.output
    assert "Recordings of 20 s cannot start every 10 s" in result.output
    assert "Set recording.interval first (`acoupi config set recording.interval" in (
        result.output
    )
    assert triggered.program_config_file.read_text() == before
    assert invoke("config", "set", "recording.interval", "20").exit_code == 0
    assert invoke("config", "set", "recording.duration", "20").exit_code == 0
