"""The base class of every acoupi program."""

import datetime
import functools
import logging
from abc import ABC
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    ClassVar,
    Dict,
    Generic,
    List,
    Optional,
    Type,
    TypeVar,
    Union,
)

from pydantic import BaseModel

from acoupi import data
from acoupi.programs.core.workers import AcoupiWorker, WorkerConfig
from acoupi.system.task_logs import task_logger

if TYPE_CHECKING:
    from celery import Celery, Task
    from celery.schedules import BaseSchedule

__all__ = [
    "AcoupiProgram",
    "InvalidAcoupiConfiguration",
    "NoUserPrompt",
    "ProgramConfig",
]

ProgramConfig = TypeVar("ProgramConfig", bound=BaseModel)

Schedule = Union[int, float, datetime.timedelta, "BaseSchedule", None]


class NoUserPrompt:
    """Marker: never prompt for this field (``Annotated[T, NoUserPrompt]``)."""


class InvalidAcoupiConfiguration(ValueError):
    """A program configuration is invalid."""


class AcoupiProgram(ABC, Generic[ProgramConfig]):
    """A monitoring program: a config schema plus Celery tasks.

    Subclasses set ``config_schema`` and register tasks in ``setup`` with
    :meth:`add_task`.
    """

    config_schema: ClassVar[Type[BaseModel]]
    worker_config: ClassVar[Optional[WorkerConfig]] = None

    config: ProgramConfig
    app: "Celery"
    logger: logging.Logger

    def __init__(self, program_config: ProgramConfig, app: "Celery"):
        from acoupi.system.deferred_app import DeferredApp

        if not isinstance(app, DeferredApp):
            from acoupi.system.message_serializer import register_data_types

            # Tasks pass acoupi data between them: with the json serializer
            # (no code from the queue) both sides must know these types. A
            # deferred app does it when it builds the real one.
            register_data_types()
        self.config = program_config
        self.app = app
        self.tasks: Dict[str, Task] = {}
        self.logger = task_logger(type(self).__name__)
        self.setup(program_config)

    # Hooks a program overrides -------------------------------------------

    def setup(self, config: ProgramConfig) -> None:
        """Build components and register tasks."""

    def check(self, config: ProgramConfig) -> None:
        """Run health checks; raise ``HealthCheckError`` when one fails."""
        self.logger.info("Running health checks of %s", type(self).__name__)

    def on_start(self, deployment: data.Deployment) -> None:
        """Run when a deployment starts."""
        self.logger.info("Deployment %s started", deployment.name)

    def on_end(self, deployment: data.Deployment) -> None:
        """Run when a deployment ends."""
        self.logger.info("Deployment %s ended", deployment.name)

    # Class-level information ----------------------------------------------

    @classmethod
    def get_config_schema(cls) -> Type[BaseModel]:
        """Return the program's configuration schema."""
        return cls.config_schema

    @classmethod
    def get_worker_config(cls) -> WorkerConfig:
        """Return the workers to run; one ``acoupi`` worker if unset."""
        if cls.worker_config is not None:
            return cls.worker_config
        return WorkerConfig(workers=[AcoupiWorker(name="acoupi")])

    @classmethod
    def get_queue_names(cls) -> List[str]:
        """Return every queue consumed by the program's workers."""
        return cls.get_worker_config().queue_names()

    # Task registration ------------------------------------------------------

    def add_task(
        self,
        function: Callable[[], Any],
        callbacks: Optional[List[Callable[[Any], Any]]] = None,
        schedule: Schedule = None,
        queue: Optional[str] = None,
        name: Optional[str] = None,
        callback_queue: Optional[str] = None,
    ) -> "Task":
        """Register ``function`` as a Celery task of this program.

        Parameters
        ----------
        function
            The task body; its ``__name__`` is the task name by default.
        callbacks
            Functions called (as tasks) with the result when it is not None.
        schedule
            Run periodically: seconds, a ``timedelta`` or a ``crontab``.
        queue
            Route the task to this queue (must be declared by a worker).
        name
            Task name, if not the function's name.
        callback_queue
            Route the callback tasks to this queue.

        Returns
        -------
        celery.Task
            The registered task.
        """
        name = name or function.__name__
        callback_tasks = [self._add_callback(cb) for cb in callbacks or []]
        if callback_queue is not None:
            for callback_task in callback_tasks:
                self.add_task_to_queue(callback_task.name, callback_queue)

        task = self._add_task(function, callback_tasks, name=name)
        if queue is not None:
            self.add_task_to_queue(name, queue)
        if schedule:
            self.app.conf.beat_schedule = {
                **(self.app.conf.beat_schedule or {}),
                name: {"task": name, "schedule": schedule},
            }
        return task

    def add_task_to_queue(self, task_name: str, queue: str) -> None:
        """Route ``task_name`` to ``queue``; the queue must be declared."""
        if queue not in self.get_queue_names():
            raise ValueError(f"Queue {queue} is not declared in the worker config")
        routes = dict(self.app.conf.task_routes or {})
        routes[task_name] = {"queue": queue}
        self.app.conf.task_routes = routes

    def _add_task(
        self,
        function: Callable[[], Any],
        callback_tasks: Optional[List["Task"]] = None,
        name: Optional[str] = None,
    ) -> "Task":
        name = name or function.__name__
        callback_tasks = callback_tasks or []

        @functools.wraps(function)
        def run_then_dispatch(*args: Any, **kwargs: Any) -> Any:
            result = function(*args, **kwargs)
            if result is not None and callback_tasks:
                from celery import group

                group(task.s(result) for task in callback_tasks).apply_async()
            return result

        task = self.app.task(run_then_dispatch, name=name, shared=False)
        self.tasks[name] = task
        return task

    def _add_callback(self, function: Callable[[Any], Any]) -> "Task":
        name = function.__name__
        if name in self.tasks:
            return self.tasks[name]

        @functools.wraps(function)
        def run_callback(argument: Any = None) -> None:
            function(argument)

        task = self.app.task(run_callback, name=name, shared=False)
        self.tasks[name] = task
        return task
