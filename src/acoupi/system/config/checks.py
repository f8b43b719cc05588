"""Check that a configuration makes sense, beyond its types.

A configuration can be well typed and still unable to work: a negative
duration, recordings longer than the interval between them, a sample rate
no microphone has, or a detector band above what the sample rate can
record, an HTTP address without ``http://`` or a network port that does
not exist. These checks run at ``acoupi setup``, at ``acoupi config set`` and
in ``acoupi check``, so such values are refused before a run fails on them.

The checks look at the shape of the configuration, not at a program class:
any section with ``duration`` and ``interval`` is a recording schedule, any
``microphone`` section has a sample rate, and any model with ``low_freq``
and ``high_freq`` is a frequency band heard through that microphone; a
``base_url`` is an HTTP address and a ``port`` next to a ``host`` a TCP port.
"""

import warnings
from dataclasses import dataclass, replace
from typing import Any, Iterator, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from pydantic import BaseModel

from acoupi.system.exceptions import ConfigurationError
from acoupi.system.redact import redact_url

__all__ = [
    "ConfigProblem",
    "ConfigProblemsError",
    "ConfigWarning",
    "MAX_SAMPLERATE",
    "MIN_SAMPLERATE",
    "check_config",
    "find_config_problems",
    "probe_microphone",
]

MIN_SAMPLERATE = 8_000
"""Lowest sample rate accepted, in Hz (telephone quality)."""

MAX_SAMPLERATE = 768_000
"""Highest sample rate accepted, in Hz (the fastest ultrasonic recorders)."""

MAX_CHANNELS = 64

MAX_PORT = 65535
"""Highest TCP port number."""

_COMMON_RATES = "48000, 96000, 192000, 250000 or 384000"


class ConfigWarning(UserWarning):
    """A configuration value that works but probably not as intended."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration.

    Attributes
    ----------
    fields
        Dotted paths of the fields involved, e.g. ``("recording.duration",)``.
    message
        What is wrong, in plain words.
    help
        How to fix it.
    error
        True if the configuration cannot work; False for a warning.
    """

    fields: Tuple[str, ...]
    message: str
    help: str
    error: bool = True

    def describe(self) -> str:
        """The message followed by the fix, on one line."""
        return f"{self.message} {self.help}"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _sections(
    value: Any, path: str = ""
) -> Iterator[Tuple[str, BaseModel]]:  # depth first, the model itself first
    if isinstance(value, BaseModel):
        yield path, value
        for name in type(value).model_fields:
            yield from _sections(getattr(value, name, None), _join(path, name))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _sections(item, _join(path, str(index)))


def _number(section: BaseModel, name: str) -> Optional[float]:
    value = getattr(section, name, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _schedule_problems(path: str, section: BaseModel) -> List[ConfigProblem]:
    duration = _number(section, "duration")
    interval = _number(section, "interval")
    if duration is None or interval is None:
        return []
    duration_field, interval_field = _join(path, "duration"), _join(path, "interval")
    problems = []
    for field, value, what in (
        (duration_field, duration, "Recording duration"),
        (interval_field, interval, "Recording interval"),
    ):
        if value <= 0:
            problems.append(
                ConfigProblem(
                    (field,),
                    f"{what} must be a positive number of seconds, not "
                    f"{value:g} ({field}).",
                    f"Set {field} to a whole number of seconds above 0, e.g. 10.",
                )
            )
    if not problems and duration > interval:
        problems.append(
            ConfigProblem(
                (duration_field, interval_field),
                f"Recordings of {duration:g} s cannot start every {interval:g} s: "
                "each would still be running when the next one starts.",
                f"Set {interval_field} to at least {duration_field} (equal "
                "values record without gaps).",
            )
        )
    return problems


def _microphone_problems(path: str, section: BaseModel) -> List[ConfigProblem]:
    problems = []
    rate = _number(section, "samplerate")
    rate_field = _join(path, "samplerate")
    if rate is not None and not MIN_SAMPLERATE <= rate <= MAX_SAMPLERATE:
        problems.append(
            ConfigProblem(
                (rate_field,),
                f"A sample rate of {rate:,.0f} Hz is not one a microphone "
                f"records at (accepted: {MIN_SAMPLERATE:,} to "
                f"{MAX_SAMPLERATE:,} Hz).",
                f"Set {rate_field} to a rate the microphone supports; common "
                f"rates are {_COMMON_RATES} Hz.",
            )
        )
    channels = _number(section, "audio_channels")
    channels_field = _join(path, "audio_channels")
    if channels is not None and not 1 <= channels <= MAX_CHANNELS:
        problems.append(
            ConfigProblem(
                (channels_field,),
                f"{channels:g} audio channels is not possible (1 to {MAX_CHANNELS}).",
                f"Set {channels_field} to 1 (most microphones) or the number "
                "the microphone has.",
            )
        )
    return problems


def _url_problems(path: str, section: BaseModel) -> List[ConfigProblem]:
    url = getattr(section, "base_url", None)
    if not isinstance(url, str):
        return []
    field = _join(path, "base_url")
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        parts, host = None, None
    # Never print the password or token the URL may hold.
    shown = redact_url(url)
    example = "e.g. https://example.org/ingest"
    if parts is None or parts.scheme.lower() not in ("http", "https"):
        return [
            ConfigProblem(
                (field,),
                f"{shown!r} is not an HTTP address ({field}): it must start "
                "with http:// or https://.",
                f"Set {field} to the full address of the server, {example}.",
            )
        ]
    if not host:
        return [
            ConfigProblem(
                (field,),
                f"{shown!r} names no server ({field}).",
                f"Set {field} to the full address of the server, {example}.",
            )
        ]
    return []


def _port_problems(path: str, section: BaseModel) -> List[ConfigProblem]:
    port = _number(section, "port")
    if port is None or not hasattr(section, "host") or 1 <= port <= MAX_PORT:
        return []
    field = _join(path, "port")
    return [
        ConfigProblem(
            (field,),
            f"Port {port:g} does not exist ({field}): ports go from 1 to {MAX_PORT}.",
            f"Set {field} to the port the server listens on (MQTT: 1883, or "
            "8883 with TLS).",
        )
    ]


def _band_problems(
    path: str, band: BaseModel, microphone_path: str, rate: float
) -> List[ConfigProblem]:
    low, high = _number(band, "low_freq"), _number(band, "high_freq")
    if low is None or high is None:
        return []
    # ``samplerate`` is the rate the sound is sampled at; time expansion
    # only changes the rate written in the files, not what is heard.
    nyquist = rate / 2
    label = getattr(band, "label", None) or path
    rate_field = _join(microphone_path, "samplerate")
    needed = int(high * 2)
    fix = (
        f"Set {rate_field} to {needed} or more if the microphone supports it, "
        "or lower the band."
    )
    if low >= nyquist:
        return [
            ConfigProblem(
                (_join(path, "low_freq"), rate_field),
                f"The detector band {label!r} ({low:,.0f}-{high:,.0f} Hz) is "
                f"entirely above {nyquist:,.0f} Hz, the highest frequency a "
                f"{rate:,.0f} Hz sample rate records: it can never detect "
                "anything.",
                fix,
            )
        ]
    # The detector clips a band at the Nyquist frequency, so a band that is
    # mostly heard (192 kHz and the default 20-120 kHz bat band) is fine;
    # one mostly cut off (48 kHz: 20-24 kHz of it) is worth a warning.
    if high > nyquist and (nyquist - low) < (high - low) / 2:
        return [
            ConfigProblem(
                (_join(path, "high_freq"), rate_field),
                f"The detector band {label!r} ({low:,.0f}-{high:,.0f} Hz) goes "
                f"above {nyquist:,.0f} Hz, the highest frequency a {rate:,.0f} "
                f"Hz sample rate records: only {low:,.0f}-{nyquist:,.0f} Hz of "
                "it will be heard.",
                fix,
                error=False,
            )
        ]
    return []


def _all_band_problems(
    sections: List[Tuple[str, BaseModel]], mic_path: str, rate: float
) -> List[ConfigProblem]:
    """Problems of every band; a deaf band is an error only if all are deaf.

    A detector with one band out of reach still works with the others, so
    that band alone is a warning; when no band can hear anything, the
    program can never detect and the configuration cannot work.
    """
    bands = [
        (path, section)
        for path, section in sections
        if _number(section, "low_freq") is not None
        and _number(section, "high_freq") is not None
    ]
    problems = []
    for path, band in bands:
        problems.extend(_band_problems(path, band, mic_path, rate))
    deaf = [problem for problem in problems if problem.error]
    if len(deaf) < len(bands):
        problems = [replace(problem, error=False) for problem in problems]
    return problems


def find_config_problems(config: BaseModel, prefix: str = "") -> List[ConfigProblem]:
    """Return what is wrong with a configuration, errors first.

    Parameters
    ----------
    config
        A program configuration, or a section of one.
    prefix
        Dotted path of ``config`` in the whole configuration, used to name
        the fields in the problems.

    Returns
    -------
    list of ConfigProblem
        Empty when nothing is wrong.
    """
    problems: List[ConfigProblem] = []
    sections = list(_sections(config, prefix))
    microphone: Optional[Tuple[str, BaseModel]] = None
    for path, section in sections:
        problems.extend(_schedule_problems(path, section))
        problems.extend(_url_problems(path, section))
        problems.extend(_port_problems(path, section))
        if _number(section, "samplerate") is not None:
            problems.extend(_microphone_problems(path, section))
            microphone = microphone or (path, section)
    if microphone is not None:
        mic_path, mic = microphone
        rate = _number(mic, "samplerate") or 0.0
        if MIN_SAMPLERATE <= rate <= MAX_SAMPLERATE:
            problems.extend(_all_band_problems(sections, mic_path, rate))
    return sorted(problems, key=lambda problem: not problem.error)


def probe_microphone(config: BaseModel) -> List[ConfigProblem]:
    """Check the configured microphone can record at the configured settings.

    The simulated microphone always can. A microphone that is not
    connected, or a machine without an audio library, gives a warning: a
    program may be set up before the microphone is plugged in.

    Returns
    -------
    list of ConfigProblem
        An error if the device refuses the sample rate or channel count.
    """
    from acoupi.system.exceptions import AcoupiError

    microphone = getattr(config, "microphone", None)
    device_name = getattr(microphone, "device_name", None)
    rate = _number(microphone, "samplerate") if microphone is not None else None
    if not isinstance(device_name, str) or rate is None:
        return []
    from acoupi.components.audio_recorder import is_simulated

    if is_simulated(device_name):
        return []
    channels = int(_number(microphone, "audio_channels") or 1)  # type: ignore[arg-type]
    try:
        from acoupi.devices.audio.selection import resolve_device

        device = resolve_device(device_name)
    except (AcoupiError, ImportError, OSError) as error:
        reason = getattr(error, "message", None) or str(error)
        return [
            ConfigProblem(
                ("microphone.device_name",),
                f"The microphone {device_name!r} could not be checked: {reason}",
                "Connect it and run `acoupi check`.",
                error=False,
            )
        ]
    from acoupi.devices.audio.selection import check_input_settings

    try:
        check_input_settings(device, int(rate), channels)
    except AcoupiError as error:
        return [
            ConfigProblem(
                ("microphone.samplerate", "microphone.audio_channels"),
                error.message,
                error.help or "Choose settings the microphone supports.",
            )
        ]
    return []


class ConfigProblemsError(ConfigurationError):
    """A configuration that cannot work; ``problems`` lists why."""

    def __init__(self, problems: Sequence[ConfigProblem]):
        super().__init__(
            _listing("The configuration cannot work:", problems),
            help="Fix the values above, then try again; "
            "`acoupi config show` shows the whole configuration.",
        )
        self.problems = list(problems)


def check_config(
    config: BaseModel, probe_device: bool = False, prefix: str = ""
) -> List[ConfigProblem]:
    """Raise on configuration errors; warn about and return the rest.

    Parameters
    ----------
    config
        The configuration to check.
    probe_device
        Also open the configured microphone at its sample rate.
    prefix
        Dotted path of ``config`` in the whole configuration.

    Returns
    -------
    list of ConfigProblem
        The warnings, each also issued as a :class:`ConfigWarning`.

    Raises
    ------
    ConfigProblemsError
        Listing every error, each with how to fix it.
    """
    problems = find_config_problems(config, prefix)
    if probe_device:
        problems.extend(probe_microphone(config))
    errors = [problem for problem in problems if problem.error]
    if errors:
        raise ConfigProblemsError(errors)
    warned = [problem for problem in problems if not problem.error]
    for problem in warned:
        warnings.warn(problem.describe(), ConfigWarning, stacklevel=2)
    return warned


def _listing(title: str, problems: Sequence[ConfigProblem]) -> str:
    lines = [title]
    lines.extend(f"  - {problem.describe()}" for problem in problems)
    return "\n".join(lines)
