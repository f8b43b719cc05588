"""Real capture path: PulseAudio null sink → ALSA "pulse" → PortAudio.

A 16-bit counter ramp is played into the sink; consecutive frames of the
capture must differ by exactly 1, so a single dropped or duplicated sample
at any clip boundary fails the test. PulseAudio passes one stream at
unity volume and equal rates through bit-exactly.

Without sounddevice the fixture errors (HealthCheckError naming
``pip install 'acoupi[audio]'``): CI must install the audio extra.
"""

import time
from itertools import pairwise

import numpy as np
import pytest

from acoupi.audio.capture import ContinuousCapture
from acoupi.audio.portaudio import PortAudioSource
from acoupi.audio.simulated import CounterSoundscape

CLIP = 4800  # 0.1 s at 48 kHz: a whole number of microseconds
N_CLIPS = 25


def ramp(seconds: float, samplerate: int) -> np.ndarray:
    return CounterSoundscape(samplerate, 1).render(0, int(seconds * samplerate))[:, 0]


def test_consecutive_clips_from_pulseaudio_tile_exactly(pulse_server):
    rate = pulse_server.samplerate
    player = pulse_server.play(ramp(8.0, rate))
    try:
        time.sleep(0.3)  # let the sink start rendering the ramp
        source = PortAudioSource("pulse", rate, 1, blocksize=1024)
        with ContinuousCapture(source, buffer_seconds=10) as capture:
            before = time.time()
            clips = [capture.next_clip(CLIP, timeout=10) for _ in range(N_CLIPS)]
            after = time.time()
            whole = capture.clip_at(clips[0].start_frame, CLIP * N_CLIPS)
    finally:
        player.kill()
        player.wait()

    assert source.device is not None and source.device.name == "pulse"
    assert all(clip.samplerate == rate and clip.is_complete for clip in clips)
    assert source.overflow_count == 0

    # Continuity, sample by sample, across all 24 clip boundaries.
    joined = np.concatenate([clip.frames for clip in clips])[:, 0].astype(np.int64)
    steps = np.diff(joined) % 65536
    assert np.count_nonzero(steps != 1) == 0, np.nonzero(steps != 1)[0][:10]
    np.testing.assert_array_equal(
        np.concatenate([clip.frames for clip in clips]), whole.frames
    )

    # Timestamps advance by exactly n_frames / samplerate.
    for previous, clip in pairwise(clips):
        assert clip.start_frame == previous.end_frame
        step = (clip.created_on - previous.created_on).total_seconds()
        assert step == pytest.approx(CLIP / rate, abs=1e-6)

    # And sit where the wall clock says: the clips were captured between
    # the first call and the last return (with the stream's start-up and
    # buffering latency as slack).
    first = clips[0].created_on.timestamp()
    last_end = clips[-1].created_on.timestamp() + CLIP / rate
    assert before - 2.0 <= first and last_end <= after + 0.05
    assert capture.clock.ready


def test_clip_from_now_on_pulseaudio_starts_at_current_frame(pulse_server):
    rate = pulse_server.samplerate
    player = pulse_server.play(ramp(6.0, rate))
    try:
        time.sleep(0.3)
        with ContinuousCapture(PortAudioSource("pulse", rate, 1)) as capture:
            first = capture.clip_from_now(2400, timeout=10)
            time.sleep(0.5)
            second = capture.clip_from_now(2400, timeout=10)
    finally:
        player.kill()
        player.wait()
    assert second.skipped_frames is not None and second.skipped_frames > 0.3 * rate
    gap_seconds = (second.created_on - first.created_on).total_seconds()
    assert gap_seconds == pytest.approx((second.start_frame - first.start_frame) / rate)
    # Within each clip the ramp is unbroken; between them it advanced by
    # exactly the frames skipped.
    for clip in (first, second):
        steps = np.diff(clip.frames[:, 0].astype(np.int64))
        assert np.all(np.mod(steps, 65536) == 1)
    jump = (int(second.frames[0, 0]) - int(first.frames[-1, 0])) % 65536
    assert jump == (second.skipped_frames + 1) % 65536
