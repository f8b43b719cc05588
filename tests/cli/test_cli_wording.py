"""Messages in plain words (issue 8 item 9, command line parts)."""

import datetime
from typing import Any, Callable

import click
import pytest

from acoupi.cli.deployment import LATITUDE, LONGITUDE
from acoupi.data import Deployment
from acoupi.system.constants import Settings
from acoupi.system.deployments import write_deployment_to_file

Invoke = Callable[..., Any]


def test_setup_says_what_it_does_without_asking_for_patience(
    invoke: Invoke, settings: Settings
) -> None:
    result = invoke("setup", "--program", "test", "--no-prompt")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Setting up acoupi.programs.test...")
    assert "patient" not in result.output


def test_task_list_names_the_program_module(invoke: Invoke, settings: Settings) -> None:
    setup = invoke(
        "setup", "--program", "triggered", "--no-prompt",
        "--microphone.device_name", "simulated", "--microphone.samplerate", "384000",
    )  # fmt: skip
    assert setup.exit_code == 0, setup.output

    result = invoke("task", "list")

    assert result.exit_code == 0, result.output
    assert "Tasks of acoupi.programs.triggered:" in result.output
    assert "Program Program" not in result.output


def test_not_set_up_is_spelt_right(
    invoke: Invoke, clean_failure: Callable[..., None]
) -> None:
    result = invoke("check")
    clean_failure(result.output, result.exit_code, "Acoupi is not set up.")
    assert "not setup" not in result.output


def test_stop_after_the_deployment_ended_says_so_plainly(
    invoke: Invoke, clean_failure: Callable[..., None], set_up: Settings
) -> None:
    ended = datetime.datetime(2026, 5, 1, 6, 30, tzinfo=datetime.timezone.utc)
    write_deployment_to_file(
        Deployment(name="hedge-3", started_on=ended - datetime.timedelta(days=3),
                   ended_on=ended),
        set_up.deployment_file,
    )  # fmt: skip

    result = invoke("deployment", "stop")

    clean_failure(
        result.output,
        result.exit_code,
        "No deployment is running: the last one, 'hedge-3', ended on "
        "2026-05-01 at 06:30 UTC.",
        "Nothing to stop.",
    )
    assert "(" not in result.output.splitlines()[0]


def test_stop_before_any_deployment(
    invoke: Invoke, clean_failure: Callable[..., None], set_up: Settings
) -> None:
    result = invoke("deployment", "stop")
    clean_failure(
        result.output,
        result.exit_code,
        "No deployment is running: none has been started yet.",
        "acoupi deployment start",
    )


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [(LATITUDE, "51,5", 51.5), (LONGITUDE, "-0,12", -0.12), (LATITUDE, " 51.5 ", 51.5)],
)
def test_coordinates_accept_a_decimal_comma(
    kind: click.ParamType, text: str, expected: float
) -> None:
    assert kind.convert(text, None, None) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("north", "'north' is not a number. Write the latitude in decimal degrees"),
        ("91", "91 is not a latitude: it must be between -90 and 90 degrees"),
    ],
)
def test_coordinate_errors_say_how_to_write_them(
    invoke: Invoke,
    clean_failure: Callable[..., None],
    set_up: Settings,
    value: str,
    expected: str,
) -> None:
    result = invoke("deployment", "start", "--name", "site", "--latitude", value)
    clean_failure(result.output, result.exit_code, expected)
    assert "float range" not in result.output


def _commands(group: click.Group, path: tuple = ()) -> list:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((*path, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*path, name)))
    return found


def test_help_texts_have_no_rest_markup() -> None:
    """QA F24: `acoupi logs --help` showed ``recording`` (reST, for Sphinx)."""
    from click.testing import CliRunner

    from acoupi.cli import acoupi

    runner = CliRunner()
    marked = []
    for path in _commands(acoupi):
        if path == ("celery",):
            continue  # shows celery's own help
        result = runner.invoke(acoupi, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        if "``" in result.output or ":class:" in result.output:
            marked.append(" ".join(path))
    assert marked == []
