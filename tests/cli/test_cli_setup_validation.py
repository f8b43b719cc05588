"""``acoupi setup``: unknown options, short program names, checked values.

Each test reproduces a trap of issue 8 (items 3 and 4) or issue 7 item 4.
"""

import json
import textwrap
from pathlib import Path
from typing import Any, Callable

import pytest

from acoupi.system.constants import Settings

Invoke = Callable[..., Any]

SIMULATED = ["--microphone.device_name", "simulated"]
BAT_ONLY = [
    "--detector.bands.0.label", "bat",
    "--detector.bands.0.low_freq", "20000",
    "--detector.bands.0.high_freq", "120000",
]  # fmt: skip


def _not_set_up(settings: Settings) -> bool:
    return not settings.program_name_file.exists()


def test_misspelt_program_option_is_refused_with_a_suggestion(
    invoke: Invoke, clean_failure: Callable[..., None], settings: Settings
) -> None:
    result = invoke("setup", "--progam", "acoupi.programs.triggered", "--no-prompt")

    clean_failure(result.output, result.exit_code, "--progam", "did you mean --program")
    assert result.exit_code == 2  # a usage error, as click's own
    # Not "Setting up acoupi.programs.test..." first (QA F19).
    assert "Setting up" not in result.output
    listed = [word for word in result.output.split() if word.startswith("--")]
    assert len(listed) <= 12, result.output  # the typo, its fix, ~10 options
    assert _not_set_up(settings)


def test_misspelt_and_unknown_config_keys_are_refused(
    invoke: Invoke, clean_failure: Callable[..., None], settings: Settings
) -> None:
    result = invoke(
        "setup", "--program", "triggered", "--no-prompt", *SIMULATED,
        "--recording.duraton", "5", "--microphone.gain", "10",
    )  # fmt: skip

    clean_failure(
        result.output,
        result.exit_code,
        "Unknown options",
        "--recording.duraton (did you mean --recording.duration?)",
        "--microphone.gain",
        "Options of recording:",
        "--recording.interval",
    )
    # Only the section's options, not all ~90 of the program (QA F19).
    assert "--detector" not in result.output
    assert "Setting up" not in result.output
    assert result.exit_code == 2
    assert _not_set_up(settings)


def test_unknown_program_is_refused_before_any_announcement(
    invoke: Invoke, clean_failure: Callable[..., None], settings: Settings
) -> None:
    result = invoke("setup", "--program", "nosuch", "--no-prompt")

    clean_failure(result.output, result.exit_code, "'nosuch' was not found")
    assert "Setting up" not in result.output
    assert _not_set_up(settings)


def test_list_positions_and_values_with_dashes_are_not_unknown(
    invoke: Invoke, settings: Settings
) -> None:
    result = invoke(
        "setup", "--program", "triggered", "--no-prompt", *SIMULATED,
        "--microphone.samplerate", "384000",
        "--detector.bands.0.label", "bat", "--detector.bands.0.low_freq", "20000",
        "--detector.bands.0.high_freq", "120000",
        "--detector.min_level_db", "-70",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    saved = json.loads(settings.program_config_file.read_text())
    assert saved["detector"]["min_level_db"] == -70
    assert [band["label"] for band in saved["detector"]["bands"]] == ["bat"]


def test_short_program_name(invoke: Invoke, settings: Settings) -> None:
    result = invoke("setup", "--program", "triggered", "--no-prompt", *SIMULATED)

    assert result.exit_code == 0, result.output
    name = settings.program_name_file.read_text().strip()
    assert name == "acoupi.programs.triggered"


def test_unknown_program_lists_the_programs(
    invoke: Invoke, clean_failure: Callable[..., None], settings: Settings
) -> None:
    result = invoke("setup", "--program", "trigered", "--no-prompt")

    clean_failure(
        result.output,
        result.exit_code,
        "not found",
        "Did you mean `triggered`?",
        "Available programs:",
        "acoupi programs",
    )
    assert _not_set_up(settings)


@pytest.fixture
def plugin_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An installed ``acoupi_*`` plugin package with a ``program`` module."""
    package = tmp_path / "site" / "acoupi_owls"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "program.py").write_text(
        textwrap.dedent(
            '''
            """Listen for owls at night."""

            from acoupi.programs.core.base import AcoupiProgram


            class OwlProgram(AcoupiProgram):
                """Owls."""

                config_schema = None

                def setup(self, config):
                    pass
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return "acoupi_owls.program"


def test_programs_lists_built_in_and_plugin_programs(
    invoke: Invoke, plugin_program: str
) -> None:
    result = invoke("programs")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    by_name = {line.split()[0]: line for line in lines[:-1]}
    assert {"test", "triggered", "default", "connected", "owls"} <= set(by_name)
    assert "keep only recordings with sound events" in by_name["triggered"]
    assert "[acoupi.programs.triggered]" in by_name["triggered"]
    assert "Listen for owls at night." in by_name["owls"]
    assert "acoupi_owls.program, from acoupi_owls" in by_name["owls"]
    # Helper modules and templates are not programs.
    assert not {"core", "templates", "saving_rules"} & set(by_name)


def test_plugin_program_is_set_up_by_its_short_name(
    invoke: Invoke, plugin_program: str, settings: Settings
) -> None:
    result = invoke("setup", "--program", "owls", "--no-prompt")

    assert result.exit_code == 0, result.output
    assert settings.program_name_file.read_text().strip() == plugin_program


# ---------------------------------------------------------------- values


def test_timezone_typo_is_asked_again_at_once(
    invoke: Invoke, settings: Settings
) -> None:
    # Enter accepts every later default (and declines optional sections).
    answers = ["n", "Europe/Lodnon", "Europe/Paris"] + [""] * 60
    result = invoke(
        "setup", "--program", "triggered", "--prompt", *SIMULATED,
        input="\n".join(answers) + "\n",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "'Europe/Lodnon' is not valid" in result.output
    assert "Did you mean Europe/London?" in result.output
    # Asked again straight away, before the microphone questions.
    retry = result.output.index("Europe/Lodnon")
    assert result.output.index("Please provide a value for timezone", retry) < (
        result.output.index("Setting up microphone")
    )
    saved = json.loads(settings.program_config_file.read_text())
    assert saved["timezone"] == "Europe/Paris"


def test_duration_longer_than_interval_is_asked_again(
    invoke: Invoke, settings: Settings
) -> None:
    answers = [
        "",  # keep the timezone
        "y",  # set the recording section
        "n", "-5", "20",  # duration: -5 refused at once, then 20
        "",  # interval 10
        "", "", # schedule
        # duration 20 > interval 10: both asked again
        "", "n", "30",
    ] + [""] * 60  # fmt: skip
    result = invoke(
        "setup", "--program", "triggered", "--prompt", *SIMULATED,
        input="\n".join(answers) + "\n",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "'-5' is not valid: Input should be greater than 0" in result.output
    assert "These values do not work together" in result.output
    assert "Recordings of 20 s cannot start every 10 s" in result.output
    saved = json.loads(settings.program_config_file.read_text())
    assert saved["recording"]["duration"] == 20
    assert saved["recording"]["interval"] == 30


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--recording.duration", "-5"], "greater than 0"),
        (["--recording.duration", "0"], "greater than 0"),
        (
            ["--recording.duration", "20", "--recording.interval", "10"],
            "Recordings of 20 s cannot start every 10 s",
        ),
        (["--microphone.samplerate", "1000000000"], "1,000,000,000 Hz"),
        (["--microphone.audio_channels", "0"], "0 audio channels"),
        (["--timezone", "Europe/Lodnon"], "Did you mean Europe/London?"),
        (
            ["--microphone.samplerate", "16000", *BAT_ONLY],
            "band 'bat' (20,000-120,000 Hz) is entirely above 8,000 Hz",
        ),
    ],
)
def test_values_that_cannot_work_are_refused_at_setup(
    invoke: Invoke,
    clean_failure: Callable[..., None],
    settings: Settings,
    args: list[str],
    expected: str,
) -> None:
    result = invoke("setup", "--program", "triggered", "--no-prompt", *SIMULATED, *args)

    clean_failure(result.output, result.exit_code, expected)
    assert _not_set_up(settings)


def test_band_above_the_sample_rate_is_a_warning(
    invoke: Invoke, settings: Settings
) -> None:
    result = invoke(
        "setup", "--program", "triggered", "--no-prompt", *SIMULATED,
        "--microphone.samplerate", "48000",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert (
        "Warning: The detector band 'bat' (20,000-120,000 Hz) goes above 24,000 Hz"
        in result.output
    )
    assert "microphone.samplerate to 240000 or more" in result.output


def test_one_deaf_band_among_others_is_a_warning(
    invoke: Invoke, settings: Settings
) -> None:
    # The default bird band still works at 16 kHz (partly); bat cannot.
    result = invoke(
        "setup", "--program", "triggered", "--no-prompt", *SIMULATED,
        "--microphone.samplerate", "16000",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "Warning: The detector band 'bat'" in result.output
    assert "can never detect anything" in result.output


def test_a_deaf_detector_asks_for_the_microphone_again(
    invoke: Invoke, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from acoupi.devices import audio

    # No microphone connected: the microphone question offers the simulated one.
    monkeypatch.setattr(audio, "get_input_devices", lambda host: [])
    result = invoke(
        "setup", "--program", "triggered", "--prompt", *SIMULATED,
        "--microphone.samplerate", "16000", *BAT_ONLY,
        # Enter keeps each value (17 questions; the storage section is not
        # asked); then "y" to the simulated one.
        input="\n" * 17 + "y\n" + "\n" * 40,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "These values do not work together" in result.output
    assert "No microphone is connected. Use the simulated microphone" in result.output
    saved = json.loads(settings.program_config_file.read_text())
    assert saved["microphone"]["samplerate"] == 192_000


def test_programs_declared_by_entry_points_are_listed_and_set_up(
    invoke: Invoke, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "ep-site"
    (site / "bird_tools").mkdir(parents=True)
    (site / "bird_tools" / "__init__.py").write_text("")
    (site / "bird_tools" / "dawn.py").write_text(
        '"""Record the dawn chorus."""\n\n'
        "from acoupi.programs.test import TestProgram\n\n\n"
        "class DawnProgram(TestProgram):\n"
        '    """Dawn."""\n'
    )
    dist = site / "bird_tools-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: bird-tools\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[acoupi.programs]\ndawn = bird_tools.dawn\n"
    )
    monkeypatch.syspath_prepend(str(site))

    listing = invoke("programs")
    assert listing.exit_code == 0, listing.output
    line = next(line for line in listing.output.splitlines() if line.startswith("dawn"))
    assert "Record the dawn chorus. [bird_tools.dawn, from bird-tools]" in line

    result = invoke("setup", "--program", "dawn", "--no-prompt")
    assert result.exit_code == 0, result.output
    assert settings.program_name_file.read_text().strip() == "bird_tools.dawn"


def test_band_error_has_no_pydantic_wording(
    invoke: Invoke, clean_failure: Callable[..., None], settings: Settings
) -> None:
    """QA F19: "detector.bands.0: Value error, band 'x': ..." leaked pydantic."""
    result = invoke(
        "setup", "--program", "triggered", "--no-prompt", *SIMULATED,
        "--detector.bands.0.label", "x",
        "--detector.bands.0.low_freq", "5000",
        "--detector.bands.0.high_freq", "1000",
    )  # fmt: skip

    clean_failure(
        result.output,
        result.exit_code,
        "detector.bands.0: band 'x': low_freq must be below high_freq",
    )
    assert "Value error" not in result.output
    assert _not_set_up(settings)
