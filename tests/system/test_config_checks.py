"""Unknown options and keys, and configurations that cannot work."""

from typing import List, Optional

import pytest
from pydantic import BaseModel, Field

from acoupi.components.messengers.http import HTTPConfig
from acoupi.components.messengers.mqtt import MQTTConfig
from acoupi.system.config.checks import (
    ConfigWarning,
    check_config,
    find_config_problems,
)
from acoupi.system.config.options import (
    UnknownOptionError,
    check_known_options,
    option_names,
    unknown_keys,
    unknown_options,
)
from acoupi.system.exceptions import ConfigurationError


class Band(BaseModel):
    label: str
    low_freq: float
    high_freq: float


class Microphone(BaseModel):
    device_name: str = "simulated"
    samplerate: int = 48_000
    audio_channels: int = 1
    time_expansion: Optional[float] = None


class Recording(BaseModel):
    duration: int = 3
    interval: int = 10


class Detector(BaseModel):
    bands: List[Band] = Field(
        default_factory=lambda: [Band(label="bird", low_freq=1_000, high_freq=8_000)]
    )


class Config(BaseModel):
    name: str = "x"
    tags: List[str] = Field(default_factory=list)
    microphone: Microphone = Field(default_factory=Microphone)
    recording: Recording = Field(default_factory=Recording)
    detector: Optional[Detector] = None


def test_option_names_cover_sections_lists_and_list_items() -> None:
    names = option_names(Config)
    assert names[:2] == ["name", "tags"]
    assert {"tags.N", "recording.duration", "detector", "detector.bands"} <= set(names)
    assert "detector.bands.N.low_freq" in names


def test_unknown_options_skip_values_negative_numbers_and_positions() -> None:
    args = [
        "--name=x", "--tags.0", "a", "--tags.1", "b", "--recording.duration",
        "-5", "--detector.bands.0.low_freq", "-.5", "--recordings.interval", "3",
    ]  # fmt: skip
    assert unknown_options(args, option_names(Config)) == ["--recordings.interval"]


@pytest.mark.parametrize(
    ("option", "hint"),
    [
        ("--recording.duraton", "did you mean --recording.duration?"),
        ("--duration", "did you mean --recording.duration?"),
        ("--microphone.samplrate", "did you mean --microphone.samplerate?"),
    ],
)
def test_unknown_option_error_suggests_and_lists(option: str, hint: str) -> None:
    with pytest.raises(UnknownOptionError) as info:
        check_known_options([option, "1"], [Config], extra=["program"])
    assert hint in info.value.message
    assert info.value.help.startswith("Valid options: --program, --name")
    assert info.value.unknown == [option]


def test_unknown_keys_are_found_in_sections_and_list_items() -> None:
    data = {
        "name": "x",
        "nickname": "y",
        "microphone": {"samplerate": 1, "gain": 3},
        "detector": {"bands": [{"label": "a", "colour": "red"}]},
        "tags": ["free", "text"],
    }
    assert unknown_keys(data, Config) == [
        "nickname",
        "microphone.gain",
        "detector.bands.0.colour",
    ]


HIGH_BAND = Band(label="bat", low_freq=30e3, high_freq=60e3)


def _messages(config: Config) -> List[str]:
    return [problem.message for problem in find_config_problems(config)]


def test_a_sound_configuration_has_no_problems() -> None:
    assert find_config_problems(Config()) == []
    assert check_config(Config()) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"recording": Recording(duration=0)}, "duration must be a positive"),
        ({"recording": Recording(interval=-1)}, "interval must be a positive"),
        ({"recording": Recording(duration=20, interval=10)}, "cannot start every"),
        ({"microphone": Microphone(samplerate=1_000_000_000)}, "1,000,000,000 Hz"),
        ({"microphone": Microphone(samplerate=4_000)}, "4,000 Hz"),
        ({"microphone": Microphone(audio_channels=0)}, "0 audio channels"),
        (
            {
                "detector": Detector(
                    bands=[Band(label="bat", low_freq=30e3, high_freq=60e3)]
                )
            },
            "can never detect anything",
        ),
    ],
)
def test_errors(change: dict, expected: str) -> None:
    config = Config().model_copy(update=change)
    assert any(expected in message for message in _messages(config))
    with pytest.raises(ConfigurationError, match="cannot work"):
        check_config(config)


def test_one_deaf_band_among_others_is_a_warning() -> None:
    config = Config(
        detector=Detector(
            bands=[HIGH_BAND, Band(label="bird", low_freq=1e3, high_freq=8e3)]
        )
    )
    problems = find_config_problems(config)
    assert [(p.error, "can never detect" in p.message) for p in problems] == [
        (False, True)
    ]


def test_band_partly_above_nyquist_is_a_warning() -> None:
    config = Config(
        detector=Detector(bands=[Band(label="bat", low_freq=20e3, high_freq=120e3)])
    )
    with pytest.warns(ConfigWarning, match="only 20,000-24,000 Hz of it"):
        warned = check_config(config)
    assert [problem.fields for problem in warned] == [
        ("detector.bands.0.high_freq", "microphone.samplerate")
    ]
    assert "microphone.samplerate to 240000 or more" in warned[0].help


def test_band_mostly_below_nyquist_is_not_warned_about() -> None:
    # 192 kHz hears 20-96 kHz of the 20-120 kHz bat band; the detector clips
    # the rest, as the demo's setup does every time.
    config = Config(
        microphone=Microphone(samplerate=192_000),
        detector=Detector(bands=[Band(label="bat", low_freq=20e3, high_freq=120e3)]),
    )
    assert find_config_problems(config) == []


def test_time_expansion_does_not_change_the_highest_frequency_heard() -> None:
    # samplerate is the rate the sound is sampled at; a 10x time expansion
    # only slows the files down.
    config = Config(
        microphone=Microphone(time_expansion=10),
        detector=Detector(bands=[Band(label="bat", low_freq=20e3, high_freq=120e3)]),
    )
    assert [problem.error for problem in find_config_problems(config)] == [False]


class Messaging(BaseModel):
    http: Optional[HTTPConfig] = None
    mqtt: Optional[MQTTConfig] = None


class ConnectedConfig(Config):
    messaging: Messaging = Field(default_factory=Messaging)


@pytest.mark.parametrize(
    ("messaging", "expected"),
    [
        (Messaging(http=HTTPConfig(base_url="notaurl")), "messaging.http.base_url"),
        (Messaging(http=HTTPConfig(base_url="ftp://host/x")), "http:// or https://"),
        (Messaging(http=HTTPConfig(base_url="http://")), "no server"),
        (Messaging(mqtt=MQTTConfig(host="127.0.0.1", port=99999)), "99999"),
        (Messaging(mqtt=MQTTConfig(host="127.0.0.1", port=0)), "1 to 65535"),
    ],
)
def test_messaging_addresses_that_cannot_work(
    messaging: Messaging, expected: str
) -> None:
    """Issue 8: values are checked for meaning (QA F7)."""
    config = ConnectedConfig(messaging=messaging)
    assert any(expected in message for message in _messages(config)), _messages(config)
    with pytest.raises(ConfigurationError, match="cannot work"):
        check_config(config)


def test_a_bad_url_is_named_without_its_secrets() -> None:
    url = "htp://user:hunter2@example.org/ingest?token=SECRET123"
    config = ConnectedConfig(messaging=Messaging(http=HTTPConfig(base_url=url)))
    text = " ".join(problem.describe() for problem in find_config_problems(config))
    assert "htp://" in text
    assert "hunter2" not in text and "SECRET123" not in text


@pytest.mark.parametrize(
    "messaging",
    [
        Messaging(http=HTTPConfig(base_url="https://example.org:8443/ingest?x=1")),
        Messaging(http=HTTPConfig(base_url="HTTP://127.0.0.1:8000")),
        Messaging(mqtt=MQTTConfig(host="127.0.0.1", port=1)),
        Messaging(mqtt=MQTTConfig(host="127.0.0.1", port=65535)),
    ],
)
def test_sound_messaging_addresses_pass(messaging: Messaging) -> None:
    assert find_config_problems(ConnectedConfig(messaging=messaging)) == []
