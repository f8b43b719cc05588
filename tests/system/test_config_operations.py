"""Reading, writing, showing and editing configurations."""

import datetime
import json
import os
import stat
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from pydantic import BaseModel, Field, SecretStr, field_serializer

from acoupi.system.config import (
    config_to_jsonable,
    dump_config,
    get_config_field,
    load_config,
    set_config_field,
    write_config,
)
from acoupi.system.config.operations import PydanticJSONEncoder
from acoupi.system.exceptions import ConfigurationError, ParameterError


class MQTT(BaseModel):
    host: str
    username: str
    password: Optional[SecretStr] = None
    port: int = 1884

    # Like upstream's MQTTConfig: JSON output reveals the password.
    @field_serializer("password", when_used="json")
    def _clear(self, value: Optional[SecretStr]) -> Optional[str]:
        return value.get_secret_value() if value else None


class Audio(BaseModel):
    duration: int = 3
    interval: int = 10
    start: datetime.time = datetime.time(6)


class Band(BaseModel):
    name: str
    low: float = 0


class Config(BaseModel):
    timezone: str = "UTC"
    token: SecretStr = SecretStr("s3cret")
    recording: Audio = Field(default_factory=Audio)
    mqtt: Optional[MQTT] = None
    tags: List[str] = Field(default_factory=lambda: ["bat", "bird"])
    pair: Tuple[int, str] = (1, "one")
    bands: List[Band] = Field(default_factory=lambda: [Band(name="low")])
    extra: Dict[str, int] = Field(default_factory=dict)
    path: Path = Path("/tmp/acoupi")


@pytest.fixture
def config() -> Config:
    return Config(
        mqtt=MQTT(host="broker", username="user", password=SecretStr("mqtt-pw")),
    )


# -------------------------------------------------------------- write / load


def test_write_then_load_round_trips_secrets(tmp_path: Path, config: Config):
    path = tmp_path / "config" / "program.json"
    write_config(config, path)

    loaded = load_config(path, Config)

    assert loaded == config
    assert loaded.token.get_secret_value() == "s3cret"
    assert loaded.mqtt is not None and loaded.mqtt.password is not None
    assert loaded.mqtt.password.get_secret_value() == "mqtt-pw"


def test_written_file_is_owner_only(tmp_path: Path, config: Config):
    path = tmp_path / "program.json"
    path.write_text("{}")
    path.chmod(0o644)

    write_config(config, path)

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_written_file_is_compact_json_of_the_model(tmp_path: Path):
    path = tmp_path / "program.json"
    write_config(Audio(), path)

    text = path.read_text()
    assert text == '{"duration":3,"interval":10,"start":"06:00:00"}'
    assert json.loads(text) == json.loads(Audio().model_dump_json())


def test_write_none_does_nothing(tmp_path: Path):
    path = tmp_path / "program.json"
    write_config(None, path)
    assert not path.exists()


def test_load_missing_file(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "nope.json", Config)


def test_load_corrupt_json_names_the_file_and_place(tmp_path: Path):
    path = tmp_path / "program.json"
    path.write_text('{"timezone": "UTC",\n "recording": {')

    with pytest.raises(ConfigurationError) as info:
        load_config(path, Config)

    assert str(path) in info.value.message
    assert "not valid JSON" in info.value.message
    assert "line 2" in info.value.message
    assert "acoupi setup" in (info.value.help or "")


def test_load_binary_garbage(tmp_path: Path):
    path = tmp_path / "program.json"
    path.write_bytes(b"\xff\xfe\x00garbage")

    with pytest.raises(ConfigurationError, match="not text"):
        load_config(path, Config)


def test_load_invalid_values_lists_each_bad_field(tmp_path: Path):
    path = tmp_path / "program.json"
    data = json.loads(Config().model_dump_json())
    data["recording"]["duration"] = "three"
    data["recording"]["start"] = "25:99"
    data["tags"] = "bat"
    path.write_text(json.dumps(data))

    with pytest.raises(ConfigurationError) as info:
        load_config(path, Config)

    message = info.value.message
    assert message.startswith(f"Invalid configuration in {path}:")
    assert "recording.duration:" in message
    assert "'three'" in message
    assert "recording.start:" in message
    assert "tags:" in message
    assert "https://" not in message  # no pydantic doc links
    assert "acoupi config set recording.duration" in (info.value.help or "")
    assert "acoupi setup" in (info.value.help or "")


def test_load_file_that_is_not_an_object(tmp_path: Path):
    path = tmp_path / "program.json"
    path.write_text("[1, 2]")

    with pytest.raises(ConfigurationError, match="whole configuration"):
        load_config(path, Config)


def test_load_missing_required_field(tmp_path: Path):
    path = tmp_path / "mqtt.json"
    path.write_text('{"host": "h"}')

    with pytest.raises(ConfigurationError, match="username: Field required"):
        load_config(path, MQTT)


# ----------------------------------------------------------------------- dump


def test_dump_masks_secrets_even_with_clear_serializer(config: Config):
    text = dump_config(config)

    assert "s3cret" not in text
    assert "mqtt-pw" not in text
    data = json.loads(text)
    assert data["token"] == "**********"
    assert data["mqtt"]["password"] == "**********"
    assert data["recording"]["start"] == "06:00:00"
    assert text.startswith('{\n  "timezone"')


def test_dump_of_values_taken_from_a_config(config: Config):
    assert dump_config(get_config_field(config, "token")) == '"**********"'
    assert dump_config(3) == "3"
    assert json.loads(dump_config(get_config_field(config, "bands"))) == [
        {"name": "low", "low": 0}
    ]
    assert dump_config(datetime.time(6, 30), indent=None) == '"06:30:00"'


def test_config_to_jsonable_reveals_only_on_request(config: Config):
    masked = config_to_jsonable(config)
    clear = config_to_jsonable(config, reveal_secrets=True)

    assert masked["mqtt"]["password"] == "**********"
    assert clear["mqtt"]["password"] == "mqtt-pw"
    assert clear["token"] == "s3cret"
    assert clear["path"] == "/tmp/acoupi"
    assert config_to_jsonable({"a": [SecretStr("x")]}) == {"a": ["**********"]}


def test_json_encoder_handles_models_and_secrets(config: Config):
    text = json.dumps(
        {"config": config.recording, "key": SecretStr("k")}, cls=PydanticJSONEncoder
    )
    assert json.loads(text) == {
        "config": {"duration": 3, "interval": 10, "start": "06:00:00"},
        "key": "**********",
    }


# ------------------------------------------------------------------------ get


def test_get_whole_config(config: Config):
    assert get_config_field(config, "") is config
    assert get_config_field(config, None) is config


def test_get_nested_and_indexed_fields(config: Config):
    assert get_config_field(config, "timezone") == "UTC"
    assert get_config_field(config, "recording.start") == datetime.time(6)
    assert get_config_field(config, "tags.1") == "bird"
    assert get_config_field(config, "pair.1") == "one"
    assert get_config_field(config, "bands.0.name") == "low"


def test_get_inside_optional_model(config: Config):
    assert get_config_field(config, "mqtt.host") == "broker"
    assert get_config_field(Config(), "mqtt") is None


def test_get_inside_unset_optional_model():
    with pytest.raises(AttributeError, match="section 'mqtt' is not set"):
        get_config_field(Config(), "mqtt.host")


def test_get_unknown_field_lists_valid_fields(config: Config):
    with pytest.raises(AttributeError) as info:
        get_config_field(Audio(), "nope")

    assert str(info.value) == (
        "Field 'nope' is not part of the configuration schema.\n"
        "Valid fields are:\n\t - duration\n\t - interval\n\t - start"
    )


def test_get_unknown_nested_field_names_the_full_path(config: Config):
    with pytest.raises(AttributeError, match="'recording.nope'") as info:
        get_config_field(config, "recording.nope")
    assert "\t - recording.duration" in str(info.value)


def test_get_bad_indices(config: Config):
    with pytest.raises(ValueError, match="^Field is not an index."):
        get_config_field(config, "tags.first")
    with pytest.raises(IndexError, match="has 2 item"):
        get_config_field(config, "tags.2")
    with pytest.raises(ValueError, match="^Field is not an index."):
        get_config_field(config, "tags.-1")


def test_get_below_a_plain_value(config: Config):
    with pytest.raises(AttributeError, match="'timezone' is a str"):
        get_config_field(config, "timezone.name")


# ------------------------------------------------------------------------ set


def test_set_returns_a_new_config_and_keeps_the_old(config: Config):
    new = set_config_field(config, "recording.duration", 5)

    assert new.recording.duration == 5
    assert config.recording.duration == 3
    assert new is not config


def test_set_coerces_strings(config: Config):
    new = set_config_field(config, "recording.start", "10:00:00")
    new = set_config_field(new, "recording.interval", "20")

    assert new.recording.start == datetime.time(10)
    assert new.recording.interval == 20


def test_set_keeps_secrets(config: Config):
    new = set_config_field(config, "timezone", "Europe/London")

    assert new.token.get_secret_value() == "s3cret"
    assert new.mqtt is not None and new.mqtt.password is not None
    assert new.mqtt.password.get_secret_value() == "mqtt-pw"


def test_set_secret_field(config: Config):
    new = set_config_field(config, "mqtt.password", "new-pw")
    assert new.mqtt is not None and new.mqtt.password is not None
    assert new.mqtt.password.get_secret_value() == "new-pw"


def test_set_list_items(config: Config):
    new = set_config_field(config, "tags.0", "frog")
    assert new.tags == ["frog", "bird"]

    appended = set_config_field(new, "tags.2", "moth")
    assert appended.tags == ["frog", "bird", "moth"]

    with pytest.raises(IndexError):
        set_config_field(config, "tags.5", "x")
    with pytest.raises(ValueError, match="^Field is not an index."):
        set_config_field(config, "tags.x", "x")


def test_set_model_in_list_and_tuple_item(config: Config):
    new = set_config_field(config, "bands.0.low", "1.5")
    assert new.bands[0].low == 1.5

    new = set_config_field(config, "pair.0", "7")
    assert new.pair == (7, "one")


def test_set_dict_entry(config: Config):
    new = set_config_field(config, "extra.a", "3")
    assert new.extra == {"a": 3}


def test_set_json_values(config: Config):
    new = set_config_field(config, "tags", '["a", "b"]', is_json=True)
    assert new.tags == ["a", "b"]

    new = set_config_field(config, "recording", '{"duration": 9}', is_json=True)
    assert new.recording == Audio(duration=9)

    new = set_config_field(config, "mqtt", "null", is_json=True)
    assert new.mqtt is None

    with pytest.raises(ParameterError, match="not valid JSON"):
        set_config_field(config, "tags", "[oops", is_json=True)


def test_set_structured_field_from_plain_text_reads_json(config: Config):
    # What `acoupi config set --field tags '["a"]'` passes.
    new = set_config_field(config, "tags", '["a"]')
    assert new.tags == ["a"]

    new = set_config_field(config, "timezone", '["not", "parsed"]')
    assert new.timezone == '["not", "parsed"]'


def test_set_creates_unset_optional_section():
    new = set_config_field(Config(), "mqtt", {"host": "h", "username": "u"})
    assert new.mqtt == MQTT(host="h", username="u")

    class Outer(BaseModel):
        audio: Optional[Audio] = None

    created = set_config_field(Outer(), "audio.duration", "7")
    assert created.audio == Audio(duration=7)


def test_set_subfield_of_unset_section_still_validates():
    with pytest.raises(ParameterError) as info:
        set_config_field(Config(), "mqtt.host", "h")

    assert info.value.value == "mqtt.host"
    assert "mqtt.username: Field required" in info.value.message


def test_set_unknown_field(config: Config):
    with pytest.raises(ParameterError) as info:
        set_config_field(config, "recording.nope", 1)

    assert info.value.value == "recording.nope"
    assert "'recording.nope' is not part of the configuration schema" in (
        info.value.message
    )
    assert "\t - recording.duration" in info.value.message
    assert info.value.help


def test_set_unknown_top_level_field(config: Config):
    with pytest.raises(ParameterError, match="'nope' is not part"):
        set_config_field(config, "nope", 1)


def test_set_bad_value_explains(config: Config):
    with pytest.raises(ParameterError) as info:
        set_config_field(config, "recording.duration", "abc")

    assert info.value.value == "recording.duration"
    assert "recording.duration: Input should be a valid integer" in info.value.message
    assert "'abc'" in info.value.message


def test_set_below_plain_value(config: Config):
    with pytest.raises(ParameterError, match="'timezone' is a str"):
        set_config_field(config, "timezone.x", 1)


def test_set_strict_refuses_strings(config: Config):
    with pytest.raises(ParameterError):
        set_config_field(config, "recording.duration", "5", strict=True)
    assert set_config_field(config, "recording.duration", 5, strict=True)


def test_replace_whole_config(config: Config):
    other = Config(timezone="Europe/Madrid")
    assert set_config_field(config, "", other) is other

    from_dict = set_config_field(config, "", {"timezone": "Europe/Paris"})
    assert from_dict.timezone == "Europe/Paris"

    text = dump_config(Config(timezone="Asia/Tokyo"))
    from_text = set_config_field(config, "", text)  # is_json not needed
    assert from_text.timezone == "Asia/Tokyo"

    from_json = set_config_field(config, "", '{"timezone": "X"}', is_json=True)
    assert from_json.timezone == "X"


def test_replace_whole_config_errors(config: Config):
    with pytest.raises(ParameterError, match="not valid JSON"):
        set_config_field(config, "", "{oops")

    with pytest.raises(ParameterError) as info:
        set_config_field(config, "", '{"recording": {"duration": "x"}}')
    assert info.value.value == "recording.duration"
    assert "recording.duration" in info.value.message


def test_set_then_write_then_load(tmp_path: Path, config: Config):
    path = tmp_path / "program.json"
    new = set_config_field(config, "recording.duration", "8")
    write_config(new, path)

    assert load_config(path, Config) == new
