"""List, run and profile the tasks of a program in the current process.

Tasks run here do not go through the broker or the workers: this is for
trying and profiling tasks. To send a task to the workers use ``acoupi
celery call <task_name>``.
"""

import cProfile
import pstats
from typing import TYPE_CHECKING, Any, List, Optional

from acoupi.data import Recording
from acoupi.programs.core.base import AcoupiProgram

if TYPE_CHECKING:
    from celery import Task

__all__ = ["get_task_list", "profile_task", "run_task"]

# Tasks that process a recording handed over by the recording task.
_NEEDS_RECORDING = {"detection_task"}


def _is_celery_task(name: str) -> bool:
    # Celery's own tasks all live under "celery."; upstream dropped any name
    # containing "celery", which also hid user tasks like "celery_cleanup".
    return name.startswith("celery.")


def get_task_list(
    program: AcoupiProgram[Any], include_celery_tasks: bool = False
) -> List[str]:
    """Return the names of the tasks registered by ``program``, sorted.

    Parameters
    ----------
    program
        The program instance.
    include_celery_tasks
        Also list Celery's built-in tasks (``celery.*``).

    Returns
    -------
    list of str
        Task names in alphabetical order.
    """
    return sorted(
        name
        for name in program.app.tasks
        if include_celery_tasks or not _is_celery_task(name)
    )


def _get_task(program: AcoupiProgram[Any], task_name: str) -> "Task":
    if task_name not in program.app.tasks:
        available = ", ".join(get_task_list(program)) or "none"
        raise ValueError(f"Task {task_name!r} not found. Available tasks: {available}.")
    return program.app.tasks[task_name]


def _arguments(task_name: str, recording: Optional[Recording]) -> tuple[Any, ...]:
    if recording is not None:
        return (recording,)
    if task_name in _NEEDS_RECORDING:
        raise ValueError(
            f"Task {task_name!r} needs a recording to process; pass one with "
            "`recording=`."
        )
    return ()


def run_task(
    program: AcoupiProgram[Any],
    task_name: str,
    recording: Optional[Recording] = None,
) -> Any:
    """Run one task of ``program`` in this process and return its result.

    Parameters
    ----------
    program
        The program instance.
    task_name
        Name of the task to run.
    recording
        Recording handed to the task (required by ``detection_task``).

    Returns
    -------
    Any
        What the task returned. Exceptions raised by the task propagate.

    Raises
    ------
    ValueError
        If the task does not exist (the message lists the available ones)
        or it needs a recording and none was given.
    """
    task = _get_task(program, task_name)
    arguments = _arguments(task_name, recording)
    return task.apply(arguments).get()


def profile_task(
    program: AcoupiProgram[Any],
    task_name: str,
    recording: Optional[Recording] = None,
) -> pstats.Stats:
    """Run one task of ``program`` under :mod:`cProfile`.

    Parameters
    ----------
    program
        The program instance.
    task_name
        Name of the task to profile.
    recording
        Recording handed to the task (required by ``detection_task``).

    Returns
    -------
    pstats.Stats
        The profile; save it with ``stats.dump_stats(path)``.

    Raises
    ------
    ValueError
        If the task does not exist or needs a recording and none was given.
    """
    task = _get_task(program, task_name)
    arguments = _arguments(task_name, recording)
    profiler = cProfile.Profile()
    # Calling the task object runs its function directly, without the
    # eager-apply machinery, so the profile shows the task's own work.
    profiler.runcall(task, *arguments)
    return pstats.Stats(profiler)
