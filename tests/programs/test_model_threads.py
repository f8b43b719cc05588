"""Detection runs with a bounded number of model threads."""

import logging
import os
import sys
import types
from typing import List

import pytest

from acoupi.programs.templates.detection import DetectionsConfiguration
from acoupi.system import model_threads
from acoupi.system.model_threads import (
    THREAD_VARIABLES,
    default_model_threads,
    limit_model_threads,
)


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_threads, "_applied", None)
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_default_leaves_a_core_for_recording(monkeypatch: pytest.MonkeyPatch) -> None:
    for cores, expected in [(1, 1), (2, 1), (4, 3), (16, 4)]:
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert default_model_threads() == expected
        assert DetectionsConfiguration().model_threads == expected
    with pytest.raises(ValueError):
        DetectionsConfiguration(model_threads=0)


def test_limit_sets_variables_and_caps_a_loaded_torch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: List[int] = []
    # torch is not installed here (the slow plugin test uses the real one).
    fake_torch = types.SimpleNamespace(set_num_threads=calls.append)
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    assert limit_model_threads(2) is True
    assert all(os.environ[name] == "2" for name in THREAD_VARIABLES)
    assert calls == [2]
    assert limit_model_threads(2) is False, "applied once per process"
    assert calls == [2]


def test_detection_task_applies_the_cap_before_the_model_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from acoupi.programs.templates.detection import DetectionProgram

    seen: List[str] = []

    def detect(recording: object) -> None:
        seen.append(os.environ["OMP_NUM_THREADS"])

    class Program(DetectionProgram):
        def configure_model(self, config: object) -> None:  # type: ignore[override]
            raise AssertionError("not needed")

    program = Program.__new__(Program)
    program.logger = logging.getLogger("test")
    config = types.SimpleNamespace(detections=DetectionsConfiguration(model_threads=3))
    wrapped = program._thread_bounded(detect, config)  # type: ignore[arg-type]
    assert wrapped.__name__ == "detect"
    wrapped(object())
    assert seen == ["3"]
