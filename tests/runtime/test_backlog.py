"""Backpressure: a slow model never delays recording, and its backlog is bounded."""

import io
import threading
import time
from pathlib import Path
from typing import Any, Callable, List

import pytest
from rich.console import Console
from runtime_support import acoupi_processes

from acoupi.programs.templates.detection import UNPROCESSED_FOLDER
from acoupi.runtime import get_backlog
from acoupi.runtime.foreground import run_foreground
from acoupi.system.broker import purge_queues
from acoupi.system.constants import Settings
from acoupi.system.programs import load_program


def _record(program: Any) -> Any:
    """Record and store like the recording task, without queueing detection."""
    recording = program.recorder.record(program.store.get_current_deployment())
    program.store.store_recording(recording)
    return recording


def _fill_detection_queue(program: Any, count: int) -> None:
    recording = _record(program)
    for _ in range(count):
        program.tasks["detection_task"].apply_async((recording,))


def test_layout_separates_recording_and_detection(
    slow_program: Callable[..., Settings],
) -> None:
    program = load_program(slow_program())
    workers = {w.name: w for w in type(program).get_worker_config().workers}
    assert workers["recording"].queues == ["recording"]
    assert workers["recording"].concurrency == 1
    assert workers["detection"].queues == ["detection"]
    routes = program.app.conf.task_routes
    assert routes["recording_task"] == {"queue": "recording"}
    assert routes["detection_task"] == {"queue": "detection"}
    assert get_backlog(program) == 0


def test_skip_oldest_files_old_recordings_unprocessed(
    slow_program: Callable[..., Settings],
) -> None:
    program = load_program(slow_program(**{"detections.max_backlog": 2}))
    _fill_detection_queue(program, 2)
    assert get_backlog(program) == 2
    old = _record(program)
    tmp_path = old.path
    program.tasks["detection_task"](old)  # two newer ones wait: skipped

    moved = program.config.paths.recordings / UNPROCESSED_FOLDER / tmp_path.name
    assert moved.exists() and not tmp_path.exists()
    stored, outputs = program.store.get_recordings([old.id])[0]
    assert stored.path == moved and outputs == []

    purge_queues(program.app, ["detection"])
    _fill_detection_queue(program, 1)  # below the bound: processed
    fresh = _record(program)
    program.tasks["detection_task"](fresh)
    assert program.store.get_recordings([fresh.id])[0][1]


def test_record_only_keeps_new_recordings_without_detection(
    slow_program: Callable[..., Settings],
) -> None:
    program = load_program(
        slow_program(
            **{"detections.max_backlog": 2, "detections.backlog_policy": "record_only"}
        )
    )
    assert program.tasks["recording_task"]() is not None  # queues its detection
    assert get_backlog(program) == 1
    _fill_detection_queue(program, 1)
    assert program.tasks["recording_task"]() is None  # full: no detection queued
    assert get_backlog(program) == 2
    unprocessed = list(
        (program.config.paths.recordings / UNPROCESSED_FOLDER).glob("*.wav")
    )
    assert len(unprocessed) == 1
    assert program.store.get_recordings_by_path(unprocessed)


@pytest.mark.celery
def test_slow_model_lags_but_recording_stays_on_time(
    slow_program: Callable[..., Settings],
) -> None:
    delay, interval, bound = 2.5, 1, 3
    settings = slow_program(
        model_delay=delay,
        **{
            # Interval 1 s needs recordings no longer than 1 s (setup checks).
            "recording.duration": interval,
            "recording.interval": interval,
            "detections.max_backlog": bound,
        },
    )
    watcher = load_program(settings)
    depths: List[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                depths.append(get_backlog(watcher))
            except Exception:  # the broker folder may be mid-write
                pass
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        summary = run_foreground(
            settings,
            duration=14,
            live=False,
            end_deployment=False,
            console=Console(file=io.StringIO()),
            stop_timeout=delay + 5,
        )
    finally:
        done.set()
        sampler.join()

    store = watcher.store
    recordings = store.get_recordings_by_path(
        list((settings.home.parent / "tmp_audio").glob("*.wav"))
        + list((settings.home.parent / "recordings").rglob("*.wav"))
    )
    made = summary.snapshot.recordings or 0
    # Recording kept its pace: one a second, no gaps, despite the model.
    assert made >= 10, summary.lines()
    assert summary.coverage is not None and summary.coverage.gaps == 0, summary.lines()
    times = sorted(r.created_on for r, _ in recordings)
    steps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert max(steps) < 1.5 * interval
    # Detection lagged: it processed only some...
    processed = summary.snapshot.model_outputs or 0
    assert 2 <= processed < made
    # ...and its backlog stayed bounded (it drains back to the bound each
    # time the model is free; at most delay/interval more arrive meanwhile).
    assert depths and max(depths) <= bound + delay / interval + 1, depths
    # The skipped recordings were kept, never deleted.
    unprocessed = list(
        (settings.home.parent / "recordings" / UNPROCESSED_FOLDER).glob("*.wav")
    )
    assert unprocessed
    assert len(recordings) == made
    for recording, _ in recordings:
        assert Path(recording.path).exists()
    assert summary.restarts == 0
    assert summary.last_error is None, summary.last_error
    assert acoupi_processes(settings.home) == {}
