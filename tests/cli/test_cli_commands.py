"""The commands, run in-process with click's CliRunner."""

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from acoupi import __version__
from acoupi.cli.errors import NOT_SETUP_MESSAGE
from acoupi.system.constants import Settings

PROGRAM = "acoupi.programs.test"
# Nothing listens on port 1: Celery status reports "unavailable" at once
# instead of touching a real broker.
NO_BROKER = "pyamqp://guest@127.0.0.1:1//"


# ---------------------------------------------------------------------------
# Root, help and "not set up"


def test_version(invoke: Callable[..., Any]) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output == f"acoupi {__version__}\n"


@pytest.mark.parametrize(
    "group", [[], ["config"], ["deployment"], ["task"], ["workers"]]
)
def test_bare_groups_show_help(invoke: Callable[..., Any], group: list[str]) -> None:
    result = invoke(*group)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


NEEDS_SETUP = [
    ["check"],
    ["celery", "status"],
    ["config", "get"],
    ["config", "show"],
    ["config", "set", "--field", "name", "x"],
    ["task", "list"],
    ["task", "run", "test_task"],
    ["task", "profile", "test_task"],
    ["workers", "start"],
    ["workers", "stop"],
    ["workers", "restart"],
    ["workers", "purge"],
    ["deployment", "start", "--name", "x"],
    ["deployment", "stop"],
    ["deployment", "status"],
    ["deployment", "status", "--json"],
]


@pytest.mark.parametrize("args", NEEDS_SETUP, ids=" ".join)
def test_commands_need_setup(
    invoke: Callable[..., Any], clean_failure: Callable[..., None], args: list[str]
) -> None:
    result = invoke(*args)
    clean_failure(result.output, result.exit_code, NOT_SETUP_MESSAGE)
    assert result.exit_code == 1


def test_help_works_before_setup(invoke: Callable[..., Any]) -> None:
    result = invoke("config", "get", "--help")
    assert result.exit_code == 0
    assert "--field" in result.output


# ---------------------------------------------------------------------------
# setup and check


def test_setup_unknown_program(
    invoke: Callable[..., Any], clean_failure: Callable[..., None], settings: Settings
) -> None:
    result = invoke("setup", "--program", "acoupi.programs.nope", "--no-prompt")
    clean_failure(result.output, result.exit_code, "acoupi.programs.nope", "not found")
    assert not settings.program_file.exists()


def test_setup_module_without_program(
    invoke: Callable[..., Any], clean_failure: Callable[..., None]
) -> None:
    result = invoke("setup", "--program", "acoupi.data", "--no-prompt")
    clean_failure(result.output, result.exit_code, "acoupi.data")


def test_setup_invalid_value(
    invoke: Callable[..., Any], clean_failure: Callable[..., None], settings: Settings
) -> None:
    result = invoke(
        "setup",
        "--program",
        PROGRAM,
        "--no-prompt",
        "--worker_prefetch_multiplier",
        "many",
    )
    clean_failure(result.output, result.exit_code, "worker_prefetch_multiplier")
    assert not settings.program_file.exists()


def test_setup_passes_extra_args(
    invoke: Callable[..., Any], settings: Settings
) -> None:
    result = invoke(
        "setup", "--program", PROGRAM, "--no-prompt", "--name", "foo",
        "--broker_url", NO_BROKER,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "acoupi check" in result.output
    assert json.loads(settings.program_config_file.read_text()) == {"name": "foo"}
    celery = json.loads(settings.celery_config_file.read_text())
    assert celery["broker_url"] == NO_BROKER


def test_check_passes(invoke: Callable[..., Any], set_up: Settings) -> None:
    result = invoke("check")
    assert result.exit_code == 0, result.output
    assert "Health checks passed." in result.output


def test_check_failure_is_explained(
    invoke: Callable[..., Any], clean_failure: Callable[..., None], set_up: Settings
) -> None:
    assert invoke("config", "set", "--field", "name", "other").exit_code == 0
    result = invoke("check")
    clean_failure(result.output, result.exit_code, "Health check failed", "other")


# ---------------------------------------------------------------------------
# config


def test_config_get_whole_and_field(
    invoke: Callable[..., Any], set_up: Settings
) -> None:
    result = invoke("config", "get")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"name": "test_program"}
    assert '  "name"' in result.output  # pretty, indent 2

    result = invoke("config", "get", "--field", "name")
    assert result.exit_code == 0
    assert json.loads(result.output) == "test_program"


def test_config_get_json_and_show(invoke: Callable[..., Any], set_up: Settings) -> None:
    result = invoke("config", "get", "--json")
    assert result.output == '{"name": "test_program"}\n'
    result = invoke("config", "show", "--no-color", "-i", "4")
    assert result.exit_code == 0
    assert '    "name"' in result.output


def test_config_set_then_get(invoke: Callable[..., Any], set_up: Settings) -> None:
    result = invoke("config", "set", "--field", "name", "other")
    assert result.exit_code == 0, result.output
    assert 'Set name = "other"' in result.output
    assert json.loads(invoke("config", "get", "--field", "name").output) == "other"


def test_config_set_whole_config_from_json(
    invoke: Callable[..., Any], set_up: Settings
) -> None:
    result = invoke("config", "set", '{"name": "whole"}')
    assert result.exit_code == 0, result.output
    assert json.loads(set_up.program_config_file.read_text()) == {"name": "whole"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["config", "get", "--field", "nope"], "nope"),
        (["config", "set", "--field", "nope", "1"], "nope"),
        (["config", "set", "not json"], "JSON"),
        (["config", "set", "--json", "--field", "name", "[unclosed"], "JSON"),
        (["config", "set", '{"name": [1, 2]}'], "name"),
    ],
)
def test_config_mistakes(
    invoke: Callable[..., Any],
    clean_failure: Callable[..., None],
    set_up: Settings,
    args: list[str],
    expected: str,
) -> None:
    before = set_up.program_config_file.read_text()
    result = invoke(*args)
    clean_failure(result.output, result.exit_code, expected)
    assert set_up.program_config_file.read_text() == before


def test_corrupt_config_file(
    invoke: Callable[..., Any], clean_failure: Callable[..., None], set_up: Settings
) -> None:
    set_up.program_config_file.write_text('{"name": ')
    for args in (["config", "get"], ["check"], ["task", "list"]):
        result = invoke(*args)
        clean_failure(result.output, result.exit_code, "not valid JSON")


# ---------------------------------------------------------------------------
# task


def test_task_list_and_run(invoke: Callable[..., Any], set_up: Settings) -> None:
    result = invoke("task", "list")
    assert result.exit_code == 0, result.output
    assert "Tasks of acoupi.programs.test:" in result.output
    assert "  • test_task" in result.output

    result = invoke("task", "run", "test_task")
    assert result.exit_code == 0, result.output
    assert "Task executed" in result.output
    assert "Task test_task finished." in result.output


@pytest.mark.parametrize("command", ["run", "profile"])
def test_unknown_task(
    invoke: Callable[..., Any],
    clean_failure: Callable[..., None],
    set_up: Settings,
    command: str,
) -> None:
    result = invoke("task", command, "nope")
    clean_failure(result.output, result.exit_code, "'nope' not found", "test_task")
    assert result.exit_code == 2


def test_task_profile_prints_top_functions(
    invoke: Callable[..., Any], set_up: Settings, tmp_path: Path
) -> None:
    output = tmp_path / "profile.prof"
    result = invoke(
        "task", "profile", "test_task", "--top", "3", "--output", str(output)
    )
    assert result.exit_code == 0, result.output
    assert "cumulative" in result.output
    assert "Total time" in result.output
    assert output.stat().st_size > 0


def test_task_profile_quiet(invoke: Callable[..., Any], set_up: Settings) -> None:
    result = invoke("task", "profile", "test_task", "--quiet")
    assert result.exit_code == 0, result.output
    assert "cumulative" not in result.output
    assert "Profiling" not in result.output


# ---------------------------------------------------------------------------
# celery


def test_celery_passes_options_through(
    invoke: Callable[..., Any], set_up: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def fake(settings: Settings, args: list[str], **kwargs: Any) -> Any:
        calls.append(list(args))
        return subprocess.CompletedProcess(args, 3)

    monkeypatch.setattr("acoupi.system.run_celery_command", fake, raising=False)
    result = invoke("celery", "status", "--json")
    assert calls == [["status", "--json"]]
    assert result.exit_code == 3  # celery's own exit status

    invoke("celery", "--help")
    invoke("celery", "-q", "inspect", "-t", "1", "ping")
    assert calls[1:] == [["--help"], ["-q", "inspect", "-t", "1", "ping"]]


def test_setup_does_not_prompt_without_a_terminal(
    invoke: Callable[..., Any], settings: Settings
) -> None:
    result = invoke("setup", "--broker_url", NO_BROKER)
    assert result.exit_code == 0, result.output
    assert "Would you like" not in result.output
    assert settings.program_name_file.read_text().strip() == PROGRAM


def test_logs_shows_the_end_of_each_log(set_up, invoke, clean_failure) -> None:
    log_dir = set_up.log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "recording.log").write_text("".join(f"line {i}\n" for i in range(50)))
    (log_dir / "beat.log").write_text("beat started\n")
    result = invoke("logs", "-n", "3")
    assert result.exit_code == 0, result.output
    assert "line 49" in result.output and "line 46" not in result.output
    assert "beat started" in result.output
    only = invoke("logs", "beat")
    assert "beat started" in only.output and "line 49" not in only.output
    missing = invoke("logs", "nope")
    clean_failure(missing.output, missing.exit_code, "recording", "beat")
