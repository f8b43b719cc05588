"""Building configurations from command line arguments and prompts."""

import datetime
import enum
from pathlib import Path
from typing import Annotated, Any, Dict, List, Literal, Optional, Tuple

import click
import pytest
from click.testing import CliRunner, Result
from pydantic import BaseModel, Field, SecretStr, model_validator

from acoupi.programs import NoUserPrompt
from acoupi.system.config import parse_config_from_args, parsers
from acoupi.system.config.parsers import (
    FIELD_PARSERS,
    TIME_FORMAT,
    cast_to_bool,
    get_field_default,
    get_field_dtype,
    parse_date,
    parse_field_from_args,
    parse_time,
    should_prompt,
)
from acoupi.system.constants import CeleryConfig
from acoupi.system.exceptions import ParameterError


class Audio(BaseModel):
    duration: int = 3
    chunksize: Annotated[int, NoUserPrompt] = 8192
    schedule_start: datetime.time = datetime.time(6)


class MQTT(BaseModel):
    host: str
    password: Optional[SecretStr] = None
    port: int = 1884


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Config(BaseModel):
    name: str = "station"
    latitude: float = Field(default=51.5, ge=-90, le=90)
    enabled: bool = True
    recording: Audio = Field(default_factory=lambda: Audio(duration=9))
    mqtt: Optional[MQTT] = None
    tags: List[str] = Field(default_factory=lambda: ["bat"])
    window: Tuple[int, int] = (0, 24)
    mode: Literal["fast", "slow"] = "fast"
    colour: Colour = Colour.RED
    start_date: Optional[datetime.date] = None
    started: Optional[datetime.datetime] = None
    path: Path = Path("/tmp/acoupi")
    token: Optional[SecretStr] = None
    note: Optional[str] = None


def parse(args: List[str], schema: Any = Config) -> Any:
    return parse_config_from_args(schema, args, prompt=False)


def run_interactive(
    schema: Any, args: List[str], answers: List[str]
) -> Tuple[Result, Optional[BaseModel]]:
    """Run the parser as a click command fed with the given answers."""
    parsed: Dict[str, BaseModel] = {}

    @click.command()
    def command() -> None:
        parsed["config"] = parse_config_from_args(schema, args, prompt=True)

    result = CliRunner().invoke(command, input="".join(f"{a}\n" for a in answers))
    return result, parsed.get("config")


# ------------------------------------------------------------ non-interactive


def test_defaults_without_arguments():
    config = parse([])

    assert config == Config()
    assert config.recording.duration == 9  # from the default factory
    assert config.tags == ["bat"]
    assert config.mqtt is None


def test_simple_values():
    config = parse(
        [
            "--name", "pond",
            "--latitude", "-12.5",
            "--enabled", "no",
            "--mode", "slow",
            "--colour", "blue",
            "--start_date", "2024-05-31",
            "--started", "2024-05-31T06:30:15+02:00",
            "--path", "/data/x",
            "--token", "hunter2",
            "--note=a note with = sign",
        ]
    )  # fmt: skip

    assert config.name == "pond"
    assert config.latitude == -12.5
    assert config.enabled is False
    assert config.mode == "slow"
    assert config.colour is Colour.BLUE
    assert config.start_date == datetime.date(2024, 5, 31)
    assert config.started == datetime.datetime(
        2024, 5, 31, 6, 30, 15, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert config.path == Path("/data/x")
    assert config.token is not None and config.token.get_secret_value() == "hunter2"
    assert config.note == "a note with = sign"


def test_nested_values_keep_other_defaults_of_the_default_instance():
    config = parse(["--recording.schedule_start", "7:05"])

    assert config.recording.schedule_start == datetime.time(7, 5)
    assert config.recording.duration == 9  # not the class default 3


def test_lists_and_tuples():
    config = parse(["--tags.1", "bird", "--tags.0", "frog", "--window", "6", "18"])

    assert config.tags == ["frog", "bird"]
    assert config.window == (6, 18)


def test_list_with_a_gap_is_refused():
    with pytest.raises(ParameterError, match="no item 1"):
        parse(["--tags.0", "a", "--tags.2", "c"])


def test_list_of_models():
    class Band(BaseModel):
        name: str
        low: float = 0

    class WithBands(BaseModel):
        bands: List[Band] = Field(default_factory=list)

    config = parse(
        ["--bands.0.name", "a", "--bands.1.name", "b", "--bands.1.low", "2"],
        WithBands,
    )
    assert config.bands == [Band(name="a"), Band(name="b", low=2)]


def test_plain_list_default_is_used():
    class Plain(BaseModel):
        items: List[int] = [1, 2]

    assert parse([], Plain).items == [1, 2]


def test_optional_model_is_parsed_only_when_given():
    assert parse(["--mqttx", "1"]).mqtt is None

    config = parse(["--mqtt.host", "broker"])
    assert config.mqtt == MQTT(host="broker")  # optional password stays None


def test_optional_simple_fields_are_not_required():
    config = parse([])
    assert config.note is None
    assert config.token is None


def test_missing_required_value():
    with pytest.raises(ParameterError) as info:
        parse(["--mqtt.port", "1"])

    assert info.value.value == "mqtt.host"
    assert info.value.message == "Missing value for mqtt.host."
    assert info.value.help == (
        "Pass it as --mqtt.host VALUE or run setup with --prompt."
    )


def test_option_without_value():
    with pytest.raises(ParameterError, match="Missing value after --name"):
        parse(["--name", "--latitude", "1"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--latitude", "north"], "'north' is not a valid number"),
        (["--recording.duration", "3s"], "'3s' is not a valid integer"),
        (["--enabled", "maybe"], "'maybe' is not a valid yes/no value"),
        (["--recording.schedule_start", "24:00"], "'24:00' is not a valid time"),
        (["--start_date", "31/05/2024"], "'31/05/2024' is not a valid date"),
        (["--started", "yesterday"], "'yesterday' is not a valid date and time"),
        (["--mode", "medium"], "not one of the choices: fast, slow"),
        (["--colour", "green"], "not one of the choices: red, blue"),
        (["--window", "a", "b"], "'a' is not a valid integer"),
    ],
)
def test_unparsable_values_name_field_value_and_type(args: List[str], expected: str):
    with pytest.raises(ParameterError) as info:
        parse(args)

    name = args[0][2:]
    assert info.value.value == name
    assert info.value.message.startswith(f"Invalid value for {name}: ")
    assert expected in info.value.message
    assert info.value.help


def test_field_constraint_is_checked_when_read():
    with pytest.raises(ParameterError) as info:
        parse(["--latitude", "200"])

    assert info.value.value == "latitude"
    assert info.value.message.startswith("Invalid value for latitude: '200'")
    assert "less than or equal to 90" in info.value.message


def test_model_validator_failure():
    class Window(BaseModel):
        start: int = 0
        end: int = 1

        @model_validator(mode="after")
        def _ordered(self) -> "Window":
            if self.end <= self.start:
                raise ValueError("end must come after start")
            return self

    class Outer(BaseModel):
        window: Window = Field(default_factory=Window)

    with pytest.raises(ParameterError) as info:
        parse(["--window.start", "5"], Outer)

    assert info.value.value == "window"
    assert "end must come after start" in info.value.message


def test_unknown_and_abbreviated_arguments_are_ignored():
    config = parse(["--celery", "x", "--nam", "short", "--broker_url", "redis://"])
    assert config.name == "station"


def test_same_args_parse_celery_config():
    args = ["--name", "pond", "--broker_url", "redis://localhost:6379/0"]

    assert parse(args).name == "pond"
    celery = parse(args, CeleryConfig)
    assert celery.broker_url == "redis://localhost:6379/0"
    assert celery.accept_content == ["pickle"]


def test_schema_must_be_a_model():
    with pytest.raises(TypeError):
        parse_config_from_args(dict, [])  # type: ignore[type-var]


# ---------------------------------------------------------------- setup hook


class Microphone(BaseModel):
    device_name: str
    samplerate: int = 48_000

    calls: Any = None

    @classmethod
    def setup(
        cls, args: List[str], prompt: bool = True, prefix: str = ""
    ) -> "Microphone":
        # How plugins read single fields with the public helper.
        rate = parse_field_from_args(
            "samplerate",
            cls.model_fields["samplerate"],
            args,
            prompt=False,
            prefix=prefix,
        )
        return cls(device_name=f"mic@{prefix}", samplerate=rate, calls=prompt)


class WithMicrophone(BaseModel):
    microphone: Microphone


def test_setup_hook_reads_the_model():
    config = parse(["--microphone.samplerate", "96000"], WithMicrophone)

    assert config.microphone.device_name == "mic@microphone"
    assert config.microphone.samplerate == 96000
    assert config.microphone.calls is False


def test_setup_hook_must_return_a_model():
    class Bad(BaseModel):
        x: int = 1

        @classmethod
        def setup(cls, args: List[str], prompt: bool = True, prefix: str = "") -> Any:
            return {"x": 2}

    class Outer(BaseModel):
        bad: Bad

    with pytest.raises(RuntimeError, match="must return a pydantic model"):
        parse([], Outer)


# ---------------------------------------------------------------- interactive


def test_interactive_confirms_and_asks(monkeypatch: pytest.MonkeyPatch):
    class Small(BaseModel):
        name: str = "station"
        duration: int = 3
        chunksize: Annotated[int, NoUserPrompt] = 8192
        start: datetime.time = datetime.time(6)

    result, config = run_interactive(
        Small,
        ["--chunksize", "1024"],
        [
            "y",  # keep name
            "n",  # change duration...
            "abc",  # ...not a number: asked again
            "12",
            "n",  # change start
            "7",
        ],
    )

    assert result.exit_code == 0, result.output
    assert config == Small(duration=12, chunksize=1024, start=datetime.time(7))
    assert "Would you like to set name='station'?" in result.output
    assert "'abc' is not a valid integer" in result.output
    assert "Would you like to set start=06:00:00?" in result.output
    assert "chunksize" not in result.output  # NoUserPrompt


def test_interactive_required_and_optional_values():
    class Small(BaseModel):
        host: str
        note: Optional[str] = None

    result, config = run_interactive(Small, [], ["broker", ""])

    assert result.exit_code == 0, result.output
    assert config == Small(host="broker", note=None)
    assert "Please provide a value for host." in result.output
    assert "leave empty to skip" in result.output


def test_interactive_secret_is_hidden():
    class Small(BaseModel):
        password: SecretStr

    result, config = run_interactive(Small, ["--password", "old"], ["n", "new-pw"])

    assert result.exit_code == 0, result.output
    assert config is not None
    assert config.password.get_secret_value() == "new-pw"  # type: ignore[attr-defined]
    assert "old" not in result.output
    assert "new-pw" not in result.output
    assert "'**********'" in result.output


def test_interactive_optional_model_declined_or_accepted():
    class Small(BaseModel):
        mqtt: Optional[MQTT] = None

    result, config = run_interactive(Small, [], ["n"])
    assert result.exit_code == 0, result.output
    assert config == Small()
    assert "Would you like to set mqtt?" in result.output

    result, config = run_interactive(Small, [], ["y", "broker", "", "y"])
    assert result.exit_code == 0, result.output
    assert config == Small(mqtt=MQTT(host="broker"))


def test_interactive_choices_are_shown():
    class Small(BaseModel):
        mode: Literal["fast", "slow"]

    result, config = run_interactive(Small, [], ["medium", "slow"])

    assert result.exit_code == 0, result.output
    assert config == Small(mode="slow")
    assert "[Choices: fast, slow]" in result.output
    assert "not one of the choices" in result.output


def test_interactive_required_list():
    class Small(BaseModel):
        tags: List[int]

    result, config = run_interactive(Small, [], ["1, 2,3"])

    assert result.exit_code == 0, result.output
    assert config == Small(tags=[1, 2, 3])


def test_prompt_false_never_calls_click(monkeypatch: pytest.MonkeyPatch):
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("prompted")

    monkeypatch.setattr(click, "prompt", fail)
    monkeypatch.setattr(click, "confirm", fail)

    assert parse(["--mqtt.host", "h"]).mqtt == MQTT(host="h")


def test_monkeypatched_prompts_for_description(monkeypatch: pytest.MonkeyPatch):
    class Small(BaseModel):
        site: str = Field(description="Where the device is")

    asked: List[str] = []

    def prompt(text: str, **kwargs: Any) -> Any:
        asked.append(text)
        return kwargs["value_proc"]("meadow")

    monkeypatch.setattr(click, "prompt", prompt)

    assert parse_config_from_args(Small, [], prompt=True) == Small(site="meadow")
    assert asked == ["Please provide a value for site. [Help: Where the device is]"]


# -------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6", datetime.time(6)),
        ("06:30", datetime.time(6, 30)),
        ("23:59:59", datetime.time(23, 59, 59)),
        (" 7:05 ", datetime.time(7, 5)),
    ],
)
def test_parse_time(text: str, expected: datetime.time):
    assert parse_time(text) == expected
    assert datetime.datetime.strptime(expected.strftime(TIME_FORMAT), TIME_FORMAT)


@pytest.mark.parametrize("text", ["24", "12:60", "1:2", "noon", "at 10:30", ""])
def test_parse_time_rejects(text: str):
    with pytest.raises(ParameterError):
        parse_time(text)


def test_parse_date():
    assert parse_date("2024-02-29") == datetime.date(2024, 2, 29)
    for text in ["2023-02-29", "24-1-1", "2024-01-01T00:00"]:
        with pytest.raises(ParameterError, match="YYYY-MM-DD|not a valid date"):
            parse_date(text)


@pytest.mark.parametrize("word", ["true", "T", "yes", "Y", "1", "on"])
def test_cast_to_bool_true(word: str):
    assert cast_to_bool(word) is True


@pytest.mark.parametrize("word", ["false", "F", "no", "N", "0", "off"])
def test_cast_to_bool_false(word: str):
    assert cast_to_bool(word) is False


def test_cast_to_bool_rejects():
    with pytest.raises(ParameterError, match="yes/no"):
        cast_to_bool("maybe")


def test_field_helpers():
    fields = Config.model_fields
    assert get_field_dtype(fields["mqtt"]) is MQTT
    assert get_field_dtype(fields["tags"]) is list
    assert get_field_dtype(fields["window"]) is tuple
    assert get_field_dtype(fields["started"]) is datetime.datetime
    assert get_field_dtype(fields["mode"]) == Literal["fast", "slow"]
    assert get_field_default(fields["recording"]) == Audio(duration=9)
    assert get_field_default(fields["mqtt"]) is None
    assert get_field_default(MQTT.model_fields["host"]) is None

    chunksize = Audio.model_fields["chunksize"]
    assert should_prompt(chunksize) is False
    assert should_prompt(Audio.model_fields["duration"]) is True
    assert should_prompt(Audio.model_fields["duration"], prompt=False) is False


def test_field_parsers_pick_datetime_before_date():
    kinds = list(FIELD_PARSERS)
    assert kinds.index(datetime.datetime) < kinds.index(datetime.date)
    assert kinds.index(bool) < kinds.index(int)


def test_public_parser_names_exist():
    for name in [
        "parse_field_from_args",
        "parse_pydantic_model_field_from_args",
        "parse_list_field_from_args",
        "parse_tuple_field_from_args",
        "build_simple_field_parser",
        "parse_simple_field_from_args",
        "parse_secret_str_field",
        "FieldParser",
        "CustomFieldParser",
    ]:
        assert callable(getattr(parsers, name)), name


def test_custom_simple_parser():
    parser = parsers.build_simple_field_parser(int)
    field = Audio.model_fields["duration"]

    assert parser(["--d", "4"], "d", field, int, prompt=False) == 4
    with pytest.raises(ParameterError, match="Invalid value for d"):
        parser(["--d", "x"], "d", field, int, prompt=False)


def test_other_types_are_read_by_pydantic():
    class Other(BaseModel):
        limits: Dict[str, int] = Field(default_factory=dict)
        delay: datetime.timedelta = datetime.timedelta(seconds=1)

    config = parse(["--limits", '{"a": 1}', "--delay", "PT5M"], Other)
    assert config.limits == {"a": 1}
    assert config.delay == datetime.timedelta(minutes=5)

    with pytest.raises(ParameterError, match="Invalid value for limits"):
        parse(["--limits", "{oops"], Other)


def test_section_rule_on_fields_that_cannot_be_asked_fails_instead_of_looping():
    class Pair(BaseModel):
        items: List[int] = Field(default_factory=lambda: [1, 1])
        fixed: Annotated[int, NoUserPrompt] = 1

        @model_validator(mode="after")
        def _distinct(self) -> "Pair":
            if len(set(self.items)) != len(self.items):
                raise ValueError("items must be distinct")
            return self

    result, config = run_interactive(Pair, [], [])

    assert config is None
    assert isinstance(result.exception, ParameterError)
    assert "items must be distinct" in result.exception.message
