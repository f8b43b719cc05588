"""The store's reads pause the garbage collector and leave it as it was."""

import gc
import threading
from pathlib import Path

import pytest

from acoupi import data
from acoupi.components.stores import SqliteStore
from acoupi.components.stores.sqlite.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def restore_gc():
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_paused_inside_and_back_on_after_even_on_error():
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()

    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_program_stays_off():
    gc.disable()
    with gc_paused():
        with gc_paused():
            assert not gc.isenabled()
    assert not gc.isenabled()


def test_overlapping_calls_from_threads_leave_it_on():
    # A enters (and pauses), B enters (finds it paused), A leaves, B leaves:
    # B must not "restore" the paused state it found.
    gc.enable()
    a_inside, b_inside, a_left = (threading.Event() for _ in range(3))

    def a() -> None:
        with gc_paused():
            a_inside.set()
            b_inside.wait(5)
        a_left.set()

    def b() -> None:
        a_inside.wait(5)
        with gc_paused():
            b_inside.set()
            a_left.wait(5)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert a_left.is_set()
    assert gc.isenabled()


def test_reads_run_with_it_paused_and_restore_it(tmp_path: Path):
    store = SqliteStore(tmp_path / "metadata.db")
    deployment = store.get_current_deployment()
    recording = data.Recording(
        duration=1.0, samplerate=8000, deployment=deployment, path=Path("/a.wav")
    )
    store.store_model_output(data.ModelOutput(name_model="m", recording=recording))
    states = []
    real_read = store.database.read

    def read():
        states.append(gc.isenabled())
        return real_read()

    store.database.read = read  # type: ignore[method-assign]
    gc.enable()

    store.get_recordings([recording.id])
    store.get_recordings_by_path([Path("/a.wav")])
    store.get_model_outputs()
    store.get_detections()
    store.get_predicted_tags()

    assert states == [False] * 5
    assert gc.isenabled()
