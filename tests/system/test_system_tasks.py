"""Tests of acoupi.system.tasks: list, run and profile tasks in-process."""

import pstats
from typing import Any, List

import pytest
from celery import Celery
from pydantic import BaseModel

from acoupi.data import Deployment, Recording
from acoupi.programs import test as test_program
from acoupi.programs.core.base import AcoupiProgram
from acoupi.system.tasks import get_task_list, profile_task, run_task


class _Config(BaseModel):
    factor: int = 2


class _Program(AcoupiProgram[_Config]):
    """A program with a result, a failing task and a detection task."""

    config_schema = _Config

    def setup(self, config: _Config) -> None:
        self.seen: List[Any] = []

        def zeta_task() -> int:
            return 21 * config.factor

        def alpha_task() -> None:
            raise RuntimeError("boom")

        def detection_task(recording: Recording) -> str:
            self.seen.append(recording)
            return str(recording.id)

        def celery_cleanup() -> str:
            return "mine"

        self.add_task(zeta_task)
        self.add_task(alpha_task)
        self.add_task(detection_task)
        self.add_task(celery_cleanup)


@pytest.fixture(autouse=True)
def _no_shared_tasks_from_other_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    # ``app.task`` registers *shared* tasks by default: every Celery app
    # created later in this process gets them too, so programs built by
    # other tests would leak tasks into these apps. Keep Celery's own only.
    from celery import _state

    builtins = {
        cons
        for cons in _state._on_app_finalizers
        if getattr(cons, "__module__", "") == "celery.app.builtins"
    }
    monkeypatch.setattr(_state, "_on_app_finalizers", builtins)


def _app() -> Celery:
    # No broker connection is made: tasks are only applied in-process.
    return Celery(set_as_current=False)


@pytest.fixture
def program() -> _Program:
    return _Program(_Config(), _app())


@pytest.fixture
def recording() -> Recording:
    return Recording(duration=1, samplerate=8000, deployment=Deployment(name="test"))


def test_task_list_is_sorted_and_hides_celery_tasks(program: _Program) -> None:
    assert get_task_list(program) == [
        "alpha_task",
        "celery_cleanup",
        "detection_task",
        "zeta_task",
    ]


def test_task_list_can_include_celery_tasks(program: _Program) -> None:
    names = get_task_list(program, include_celery_tasks=True)

    assert names == sorted(names)
    assert "celery.backend_cleanup" in names
    assert "zeta_task" in names


def test_task_list_of_the_test_program() -> None:
    program = test_program.TestProgram(test_program.TestConfigSchema(), _app())

    assert get_task_list(program) == ["test_task"]


def test_run_task_returns_the_result(program: _Program) -> None:
    assert run_task(program, "zeta_task") == 42


def test_run_task_runs_the_test_program(capsys: pytest.CaptureFixture[str]) -> None:
    program = test_program.TestProgram(test_program.TestConfigSchema(), _app())

    assert run_task(program, "test_task") is None
    assert "Task executed" in capsys.readouterr().out


def test_run_task_propagates_task_errors(program: _Program) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        run_task(program, "alpha_task")


def test_unknown_task_names_the_available_ones(program: _Program) -> None:
    with pytest.raises(ValueError) as info:
        run_task(program, "nope")

    message = str(info.value)
    assert "'nope' not found" in message
    assert "alpha_task, celery_cleanup, detection_task, zeta_task" in message


def test_detection_task_requires_a_recording(program: _Program) -> None:
    with pytest.raises(ValueError, match="needs a recording"):
        run_task(program, "detection_task")
    assert program.seen == []


def test_detection_task_gets_the_recording(
    program: _Program, recording: Recording
) -> None:
    assert run_task(program, "detection_task", recording=recording) == str(recording.id)
    assert program.seen == [recording]


def test_profile_task_returns_stats(program: _Program) -> None:
    stats = profile_task(program, "zeta_task")

    assert isinstance(stats, pstats.Stats)
    functions = {name for (_, _, name) in stats.stats}  # type: ignore[attr-defined]
    assert "zeta_task" in functions


def test_profile_task_can_be_dumped(program: _Program, tmp_path) -> None:
    output = tmp_path / "profile.prof"

    profile_task(program, "zeta_task").dump_stats(output)

    assert pstats.Stats(str(output)).total_calls > 0  # type: ignore[attr-defined]


def test_profile_unknown_task(program: _Program) -> None:
    with pytest.raises(ValueError, match="not found"):
        profile_task(program, "nope")


def test_profile_detection_task(program: _Program, recording: Recording) -> None:
    with pytest.raises(ValueError, match="needs a recording"):
        profile_task(program, "detection_task")

    profile_task(program, "detection_task", recording=recording)

    assert program.seen == [recording]
