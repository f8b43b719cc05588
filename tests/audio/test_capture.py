"""ContinuousCapture with simulated sources: continuity, gaps, timing."""

import datetime
import threading
import time
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from acoupi.audio.capture import CaptureError, CaptureTimeoutError, ContinuousCapture
from acoupi.audio.clock import SampleClock
from acoupi.audio.portaudio import PortAudioSource
from acoupi.audio.registry import close_shared_captures, shared_capture
from acoupi.audio.ringbuffer import FrameRing
from acoupi.audio.simulated import CounterSoundscape, SimulatedSource
from acoupi.audio.sources import Gap
from acoupi.devices.audio import selection as devices
from acoupi.system.exceptions import HealthCheckError, ParameterError

UTC = datetime.timezone.utc


def counter_breaks(frames: np.ndarray) -> np.ndarray:
    """Indices where a counter signal does not advance by exactly 1."""
    values = frames[:, 0].astype(np.int64)
    return np.nonzero(np.diff(values) % 65536 != 1)[0]


class ToneSoundscape:
    """Stand-in for acoupi.audio.soundscape.Soundscape: a pure function of frame."""

    def __init__(self, samplerate: int, channels: int, frequency: float = 440.0):
        self.samplerate = samplerate
        self.channels = channels
        self.frequency = frequency

    def render(self, start_frame: int, n_frames: int) -> np.ndarray:
        index = np.arange(start_frame, start_frame + n_frames)
        tone = 10000 * np.sin(2 * np.pi * self.frequency * index / self.samplerate)
        return np.repeat(tone.astype(np.int16)[:, None], self.channels, axis=1)

    def events(self, start: float, end: float) -> list:
        return []


# -- continuity ---------------------------------------------------------------


def test_hundreds_of_consecutive_clips_tile_time_exactly():
    source = SimulatedSource(8000, 2, speed=40, blocksize=160)
    with ContinuousCapture(source, buffer_seconds=5) as capture:
        clips = [capture.next_clip(203) for _ in range(400)]  # odd size: no alignment
    whole = np.concatenate([clip.frames for clip in clips])
    assert len(counter_breaks(whole)) == 0
    expected = CounterSoundscape(8000, 2).render(clips[0].start_frame, len(whole))
    np.testing.assert_array_equal(whole, expected)
    for previous, clip in pairwise(clips):
        assert clip.start_frame == previous.end_frame
        assert clip.skipped_frames == 0
        assert clip.is_complete
        assert (
            clip.created_on - previous.created_on
            == datetime.timedelta(microseconds=round(203 / 8000 * 1e6))
            or abs((clip.created_on - previous.created_on).total_seconds() - 203 / 8000)
            <= 1e-6
        )


def test_soundscape_audio_is_independent_of_chunking():
    scape = ToneSoundscape(16000, 1)
    source = SimulatedSource(16000, 1, soundscape=scape, speed=20, blocksize=333)
    with ContinuousCapture(source, buffer_seconds=5) as capture:
        clips = [capture.next_clip(1000) for _ in range(20)]
    whole = np.concatenate([clip.frames for clip in clips])
    np.testing.assert_array_equal(whole, scape.render(clips[0].start_frame, 20000))


def test_soundscape_with_other_format_is_rejected():
    with pytest.raises(ParameterError):
        SimulatedSource(48000, 1, soundscape=ToneSoundscape(8000, 1))


def test_consumer_in_another_thread_sees_every_frame_once():
    source = SimulatedSource(8000, 1, speed=40, blocksize=64)
    results: list = []
    with ContinuousCapture(source, buffer_seconds=2) as capture:
        worker = threading.Thread(
            target=lambda: results.extend(capture.next_clip(500) for _ in range(100))
        )
        worker.start()
        worker.join(timeout=30)
    whole = np.concatenate([clip.frames for clip in results])
    assert len(results) == 100 and len(counter_breaks(whole)) == 0


# -- gaps ---------------------------------------------------------------------


def test_source_overflow_is_reported_as_gap_with_zeros_and_time_kept():
    source = SimulatedSource(8000, 1, speed=20, blocksize=100)
    with ContinuousCapture(source, buffer_seconds=5) as capture:
        first = capture.next_clip(4000)
        # Freeze the source so the test knows where the loss will land (it
        # may be clips ahead of the reader under load), then read around it.
        source.stall()
        time.sleep(0.05)
        at = capture.end_frame
        source.inject_overflow(250)
        source.stall(False)
        clips = [capture.clip_at(at - 500 + 1000 * k, 1000) for k in range(4)]
    assert first.is_complete
    assert not all(clip.is_complete for clip in clips)
    gaps = [gap for clip in clips for gap in clip.gaps]
    assert sum(gap.n_frames for gap in gaps) == 250
    assert all(gap.reason == "overflow" and not gap.estimated for gap in gaps)
    whole = np.concatenate([clip.frames for clip in clips])
    offset = gaps[0].start_frame - clips[0].start_frame
    assert not whole[offset : offset + 250].any()
    # Frames after the gap keep their place on the sample clock.
    after = slice(offset + 250, None)
    expected = CounterSoundscape(8000, 1).render(clips[0].start_frame, len(whole))
    np.testing.assert_array_equal(whole[after], expected[after])
    assert capture.overflow_count == 1 and capture.lost_frames_total == 250


def test_overrun_reports_frames_overwritten_before_the_cut():
    source = SimulatedSource(8000, 1, speed=50, blocksize=100)
    with ContinuousCapture(source, buffer_seconds=0.5) as capture:
        first = capture.next_clip(800)
        capture._wait_for(first.end_frame + 8000, timeout=10)  # 1 s later
        clip = capture.next_clip(800)  # continues from first: long gone
    assert clip.start_frame == first.end_frame
    assert clip.skipped_frames == 0
    assert clip.gaps == (Gap(clip.start_frame, 800, "overrun"),)
    assert not clip.frames.any()


def test_partial_overrun_keeps_the_frames_still_held():
    source = SimulatedSource(8000, 1, speed=50, blocksize=100)
    with ContinuousCapture(source, buffer_seconds=1.0) as capture:
        first = capture.next_clip(100)
        capture._wait_for(first.end_frame + 12000, timeout=10)
        source.stall()  # freeze the ring so the test knows what it holds
        time.sleep(0.05)
        held_from = capture._ring.start
        clip = capture.clip_at(first.end_frame, held_from - first.end_frame + 400)
    (gap,) = clip.gaps
    assert gap.reason == "overrun" and gap.end_frame == held_from
    real = clip.frames[gap.n_frames :]
    expected = CounterSoundscape(8000, 1).render(held_from, len(real))
    np.testing.assert_array_equal(real, expected)


def test_source_failure_raises_capture_error():
    source = SimulatedSource(8000, 1, speed=20)
    with ContinuousCapture(source) as capture:
        capture.next_clip(100)
        source.inject_error(OSError("device unplugged"))
        with pytest.raises(CaptureError, match="device unplugged"):
            capture.next_clip(80000)
        assert not capture.is_healthy()


def test_stalled_source_times_out():
    source = SimulatedSource(8000, 1, speed=20)
    with ContinuousCapture(source) as capture:
        capture.next_clip(100)
        source.stall()
        started = time.monotonic()
        with pytest.raises(CaptureTimeoutError):
            capture.next_clip(16000, timeout=0.3)
        assert time.monotonic() - started < 2
        assert isinstance(CaptureTimeoutError("x"), HealthCheckError)


# -- duty cycle ---------------------------------------------------------------


def test_clip_from_now_skips_to_current_frame():
    source = SimulatedSource(8000, 1, speed=20, blocksize=80)
    with ContinuousCapture(source, buffer_seconds=5) as capture:
        first = capture.clip_from_now(400)
        time.sleep(0.2)  # 4 s of simulated audio at speed 20
        before = capture.end_frame
        second = capture.clip_from_now(400)
        third = capture.next_clip(400)
    assert first.skipped_frames is None
    assert second.start_frame >= before and second.skipped_frames == (
        second.start_frame - first.end_frame
    )
    assert second.skipped_frames > 8000 * 3
    assert third.start_frame == second.end_frame and third.skipped_frames == 0
    for clip in (first, second, third):
        assert len(counter_breaks(clip.frames)) == 0
        np.testing.assert_array_equal(
            clip.frames, CounterSoundscape(8000, 1).render(clip.start_frame, 400)
        )


# -- timestamps ---------------------------------------------------------------


def test_created_on_comes_from_the_sample_clock_not_the_call_time():
    wall = [1_700_000_000.0]
    source = SimulatedSource(8000, 1, speed=40, wall_clock=lambda: wall[0])
    with ContinuousCapture(source) as capture:
        capture.next_clip(8000)
        time.sleep(0.3)  # the "task" runs late: 12 s of audio later
        clip = capture.next_clip(8000)
    assert capture.clock.used_adc_timestamps
    expected = datetime.datetime.fromtimestamp(1_700_000_001.0, UTC)
    assert clip.start_frame == 8000 and clip.created_on == expected


def test_sample_clock_prefers_consistent_adc_and_rejects_bogus_adc():
    good = SampleClock(1000, settle_frames=300)
    for k in range(3):  # callbacks 20 ms late, ADC latency exact
        good.observe(k * 100, 100, 50.0 + (k + 1) * 0.1 + 0.02, latency=0.12)
    assert good.ready and good.used_adc_timestamps
    assert good.anchor == pytest.approx(50.0)

    bogus = SampleClock(1000, settle_frames=300)
    for k, latency in enumerate((0.6, 0.0, 0.0)):  # like ALSA's pulse plugin
        bogus.observe(k * 100, 100, 50.0 + (k + 1) * 0.1 + 0.01 * k, latency)
    assert not bogus.used_adc_timestamps
    assert bogus.anchor == pytest.approx(50.0)  # tightest upper bound

    wall_only = SampleClock(1000, settle_frames=300)
    for k, delay in enumerate((0.05, 0.002, 0.03)):
        wall_only.observe(k * 100, 100, 50.0 + (k + 1) * 0.1 + delay)
    assert wall_only.anchor == pytest.approx(50.002)
    assert wall_only.frame_at(wall_only.time_of(12345)) == 12345


def test_sample_clock_reports_drift_against_system_clock():
    clock = SampleClock(1000, settle_frames=100, drift_window_frames=1000)
    for k in range(40):  # system clock runs 1 % slower than the sample clock
        clock.observe(k * 100, 100, 10.0 + (k + 1) * 0.1 * 0.99)
    assert clock.offset_seconds is not None and clock.offset_seconds < -0.02


# -- ring buffer ----------------------------------------------------------------


def test_ring_wraps_grows_and_refuses_duplicates():
    ring = FrameRing(10, 1)
    scape = CounterSoundscape(8000, 1)
    ring.write(scape.render(0, 7), 0)
    ring.write(scape.render(7, 7), 7)
    out = np.empty((10, 1), np.int16)
    ring.read(out, 4)
    np.testing.assert_array_equal(out, scape.render(4, 10))
    ring.grow(25)
    ring.write(scape.render(14, 11), 14)
    out = np.empty((21, 1), np.int16)
    assert ring.start == 4
    ring.read(out, 4)
    np.testing.assert_array_equal(out, scape.render(4, 21))
    with pytest.raises(ValueError):
        ring.write(scape.render(20, 1), 20)


# -- PortAudio callback logic (no hardware) -----------------------------------


class RecordingSink:
    def __init__(self):
        self.blocks: list = []
        self.gaps: list = []
        self.ended: list = []

    def push(self, frames, start_frame, timing):
        self.blocks.append((start_frame, len(frames), timing))

    def gap(self, gap):
        self.gaps.append(gap)

    def end(self, error):
        self.ended.append(error)


def test_portaudio_callback_counts_overflow_and_estimates_lost_frames():
    now = [100.0]
    source = PortAudioSource("x", 8000, 1, wall_clock=lambda: now[0])
    sink = RecordingSink()
    source._sink = sink
    block = np.zeros((800, 1), np.int16)

    class Status:
        def __init__(self, overflow):
            self.input_overflow = overflow

        def __bool__(self):
            return self.input_overflow

    def tinfo(adc, current):
        return SimpleNamespace(inputBufferAdcTime=adc, currentTime=current)

    source._callback(block, 800, tinfo(99.9, 100.0), Status(False))
    now[0] = 100.1
    source._callback(block, 800, tinfo(100.0, 100.1), Status(False))
    now[0] = 100.3
    # One 800-frame block went missing: ADC time jumped by 0.2 s.
    source._callback(block, 800, tinfo(100.2, 100.3), Status(True))
    assert [b[0] for b in sink.blocks] == [0, 800, 2400]
    assert sink.gaps == [Gap(1600, 800, "overflow", estimated=True)]
    assert source.overflow_count == 1
    timing = sink.blocks[0][2]
    assert timing.callback_time == 100.0 and timing.latency == pytest.approx(0.1)
    # Without ADC times, the callback spacing gives the estimate.
    now[0] = 100.6
    source._callback(block, 800, tinfo(0.0, 0.0), Status(True))
    assert sink.gaps[-1].start_frame == 3200 and sink.gaps[-1].estimated


def test_portaudio_source_rejects_out_of_range_samplerate():
    with pytest.raises(ParameterError):
        PortAudioSource("AudioMoth", 500_000)
    with pytest.raises(ParameterError):
        PortAudioSource("AudioMoth", 4_000)


# -- devices ------------------------------------------------------------------


def device(index, name, stable_id="", channels=1, default=False):
    return devices.InputDevice(
        index, name, channels, 48000.0, "ALSA", stable_id or f"name:{index}", default
    )


AUDIOMOTH_48 = device(2, "AudioMoth 48kHz: USB Audio (hw:2,0)", "usb:16d0:06f3:24F3")
AUDIOMOTH_384 = device(
    3, "384kHz AudioMoth USB Microphone: USB Audio (hw:2,0)", "usb:16d0:06f3:24F3"
)
ULTRAMIC = device(4, "UltraMic 250K 16 bit r4: USB Audio (hw:3,0)", "usb:0869:0389")
PULSE = device(5, "pulse", "name:pulse")
DEFAULT = device(6, "default", "name:default", default=True)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("AudioMoth 48kHz", AUDIOMOTH_384),  # renamed after a firmware change
        ("audiomoth", AUDIOMOTH_384),
        ("usb:16d0:06f3", AUDIOMOTH_384),
        ("usb:16d0:06f3:24F3", AUDIOMOTH_384),
        ("UltraMic 250K 16 bit r4", ULTRAMIC),
        ("pulse", PULSE),
        (5, PULSE),
        ("5", PULSE),
        (None, DEFAULT),
        ("default", DEFAULT),
        ("hw:3,0", ULTRAMIC),
    ],
)
def test_device_specs_resolve_by_stable_rules(spec, expected):
    assert devices.resolve_device(spec, [AUDIOMOTH_384, ULTRAMIC, PULSE, DEFAULT]) == (
        expected
    )


def test_same_hardware_listed_twice_is_not_ambiguous_but_two_mics_are():
    assert devices.resolve_device("AudioMoth", [AUDIOMOTH_384, AUDIOMOTH_48]).index == 2
    other = device(7, "AudioMoth 48kHz: USB Audio (hw:4,0)", "usb:16d0:06f3:99AA")
    with pytest.raises(ParameterError, match="several"):
        devices.resolve_device("AudioMoth", [AUDIOMOTH_48, other])
    with pytest.raises(ParameterError, match="Input devices"):
        devices.resolve_device("Dodotronic", [AUDIOMOTH_48])


def test_stable_id_from_sysfs(tmp_path: Path):
    usb = tmp_path / "sys/bus/usb/devices/1-1.3"
    (usb / "1-1.3:1.0").mkdir(parents=True)
    for name, value in (
        ("idVendor", "16d0"),
        ("idProduct", "06f3"),
        ("serial", "24F3"),
    ):
        (usb / name).write_text(value + "\n")
    (tmp_path / "sys/class/sound/card2").mkdir(parents=True)
    (tmp_path / "sys/class/sound/card2/device").symlink_to(usb / "1-1.3:1.0")
    name = "AudioMoth 48kHz: USB Audio (hw:2,0)"
    assert devices.stable_device_id(name, tmp_path) == "usb:16d0:06f3:24F3"
    (tmp_path / "proc/asound/card5").mkdir(parents=True)
    (tmp_path / "proc/asound/card5/id").write_text("sndrpihifiberry\n")
    assert devices.stable_device_id("x (hw:5,0)", tmp_path) == "alsa:sndrpihifiberry"
    assert devices.stable_device_id("384kHz AudioMoth", tmp_path) == "name:audiomoth"


def test_wait_for_device_retries_until_it_appears():
    listings = iter([[PULSE], [PULSE], [PULSE, AUDIOMOTH_48]])
    clock = [0.0]
    sleeps: list = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock[0] += seconds

    found = devices.wait_for_device(
        "AudioMoth",
        timeout=10,
        poll=2,
        lister=lambda: next(listings),
        sleep=sleep,
        monotonic=lambda: clock[0],
    )
    assert found == AUDIOMOTH_48 and sleeps == [2, 2]


def test_wait_for_device_gives_up_with_a_clear_error():
    clock = [0.0]

    def sleep(seconds):
        clock[0] += seconds

    with pytest.raises(HealthCheckError, match="Waited 5 s") as caught:
        devices.wait_for_device(
            "AudioMoth",
            timeout=5,
            poll=2,
            lister=lambda: [PULSE],
            sleep=sleep,
            monotonic=lambda: clock[0],
        )
    assert "'pulse'" in caught.value.message and "arecord" in str(caught.value.help)


def test_missing_sounddevice_error_names_both_installs(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise ImportError("No module named 'sounddevice'")
        return real_import(name, *args, **kwargs)

    import importlib

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(HealthCheckError) as caught:
        devices.list_input_devices()
    assert "pip install 'acoupi[audio]'" in str(caught.value.help)
    assert "apt install libportaudio2" in str(caught.value.help)


# -- registry -----------------------------------------------------------------


def test_shared_capture_reuses_the_open_stream_and_replaces_dead_ones():
    made: list = []

    def factory():
        made.append(SimulatedSource(8000, 1, speed=20))
        return made[-1]

    try:
        a = shared_capture("AudioMoth 48kHz", 8000, 1, source_factory=factory)
        b = shared_capture(
            "audiomoth", 8000, 1, source_factory=factory, buffer_seconds=90
        )
        assert a is b and len(made) == 1 and a.buffer_seconds >= 90
        first = a.next_clip(400)
        assert b.next_clip(400).start_frame == first.end_frame
        made[0].inject_error(OSError("unplugged"))
        with pytest.raises(CaptureError):
            a.next_clip(80000)
        c = shared_capture("AudioMoth", 8000, 1, source_factory=factory)
        assert c is not a and len(made) == 2 and c.running
        d = shared_capture(
            "AudioMoth", 16000, 1, source_factory=lambda: SimulatedSource(16000)
        )
        assert d is not c
    finally:
        close_shared_captures()


def test_real_soundscape_through_capture_matches_direct_render():
    soundscape = pytest.importorskip("acoupi.audio.soundscape")
    scape = soundscape.Soundscape(samplerate=32000, channels=2, seed=7)
    source = SimulatedSource(32000, 2, soundscape=scape, speed=20, blocksize=500)
    with ContinuousCapture(source, buffer_seconds=5) as capture:
        clips = [capture.next_clip(3200) for _ in range(10)]
    whole = np.concatenate([clip.frames for clip in clips])
    np.testing.assert_array_equal(whole, scape.render(clips[0].start_frame, 32000))
