"""A stand-in for a program's Celery app that builds the real one on demand.

Reading a program (``acoupi deployment status``: its health check, its
schedule, its stores and today's figures) needs the program's
configuration and the tasks it registers, not Celery: building the app
imports Celery, kombu and amqp, most of the import time of the command.
:class:`DeferredApp` records what :class:`acoupi.programs.core.base.
AcoupiProgram` asks of an app while it is set up (settings, task
registrations) and builds the real app, replaying them, the first time
anything else is asked for (a broker connection for a queue depth, a task
sent, a setting it was not given...). A program therefore behaves as with
the real app; the app is only built later, or never.

Only for processes that read a program: workers, beat and the command
line's task commands keep building the real app at once.
"""

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["CELERY_DEFAULTS", "DeferredApp", "DeferredConf", "DeferredTask"]

CELERY_DEFAULTS: Dict[str, Any] = {
    "beat_schedule": {},
    "task_routes": None,
    "broker_transport": None,
    "broker_transport_options": {},
}
"""Celery's defaults (``celery.app.defaults``) of the settings acoupi reads
from a program's app without setting them first; a test checks that they
match Celery's. Any other unset setting builds the real app."""


class DeferredConf:
    """The settings of a :class:`DeferredApp`: a dict until the app is built.

    Reads and writes work by attribute and by key like Celery's
    ``app.conf``; a setting that was never given, or any other method, is
    read from the real app's settings (which builds it). Once the app is
    built every access goes to the real settings.
    """

    def __init__(self, app: "DeferredApp", values: Dict[str, Any]):
        object.__setattr__(self, "_app", app)
        object.__setattr__(self, "_values", {**CELERY_DEFAULTS, **values})
        object.__setattr__(self, "_changed", {})

    def _real(self) -> Optional[Any]:
        real = self._app.built
        return None if real is None else real.conf

    def changes(self) -> Dict[str, Any]:
        """Settings written since the app was given its configuration."""
        return dict(self._changed)

    def __getattr__(self, name: str) -> Any:
        real = self._real()
        if real is not None:
            return getattr(real, name)
        if name in self._values:
            return self._values[name]
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._app.materialize().conf, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __getitem__(self, key: str) -> Any:
        real = self._real()
        if real is not None:
            return real[key]
        if key in self._values:
            return self._values[key]
        return self._app.materialize().conf[key]

    def __setitem__(self, key: str, value: Any) -> None:
        real = self._real()
        if real is not None:
            real[key] = value
            return
        self._values[key] = value
        self._changed[key] = value

    def __contains__(self, key: object) -> bool:
        real = self._real()
        if real is not None:
            return key in real
        return key in self._values or key in self._app.materialize().conf

    def __iter__(self) -> Iterator[str]:
        return iter(self._app.materialize().conf)

    def __len__(self) -> int:
        return len(self._app.materialize().conf)

    def get(self, key: str, default: Any = None) -> Any:
        """The setting ``key``, or ``default`` when it is not set."""
        try:
            return self[key]
        except KeyError:
            return default

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Write several settings, as ``dict.update``."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


class DeferredTask:
    """A task registered on a :class:`DeferredApp`.

    Knows its name; anything else (``delay``, ``s``, calling it...) goes to
    the real task, which building the app registers.
    """

    def __init__(
        self, app: "DeferredApp", function: Callable[..., Any], options: Dict[str, Any]
    ):
        self._app = app
        self._function = function
        self._options = options
        self._task: Any = None
        if options.get("name"):
            self.name = str(options["name"])

    def register(self, real: "Celery") -> None:
        """Register the task on the built app."""
        self._task = real.task(self._function, **self._options)

    def _real(self) -> Any:
        self._app.materialize()
        return self._task

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task here, as calling a Celery task does."""
        return self._real()(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not a task's; also guards half-built copies
            raise AttributeError(name)
        return getattr(self._real(), name)


class DeferredApp:
    """Stands in for a program's Celery app until Celery is needed.

    Parameters
    ----------
    conf
        The settings the real app gets (``celery_conf_for``), readable
        without building it.
    build
        Builds the real app with those settings; called at most once.
        Settings written and tasks registered meanwhile are then applied.
    """

    def __init__(self, conf: Dict[str, Any], build: Callable[[], "Celery"]):
        self._build = build
        self._built: Optional[Celery] = None
        self._conf = DeferredConf(self, conf)
        self._tasks: List[DeferredTask] = []

    @property
    def built(self) -> Optional["Celery"]:
        """The real app, or None while it has not been needed."""
        return self._built

    @property
    def conf(self) -> Any:
        """The app's settings (the real ones once built)."""
        return self._conf if self._built is None else self._built.conf

    def task(self, *args: Any, **options: Any) -> Any:
        """Register a task, as ``Celery.task`` (called or as a decorator)."""
        if len(args) == 1 and callable(args[0]):
            return self._register(args[0], options)

        def decorate(function: Callable[..., Any]) -> Any:
            return self._register(function, options)

        return decorate

    def _register(self, function: Callable[..., Any], options: Dict[str, Any]) -> Any:
        if self._built is not None:
            return self._built.task(function, **options)
        task = DeferredTask(self, function, options)
        self._tasks.append(task)
        return task

    def materialize(self) -> "Celery":
        """Build the real app (once), with every setting and task so far."""
        if self._built is None:
            from acoupi.system.message_serializer import register_data_types

            # What AcoupiProgram does with a real app: messages carry
            # acoupi's data as JSON types (kombu).
            register_data_types()
            real = self._build()
            real.conf.update(self._conf.changes())
            for task in self._tasks:
                task.register(real)
            self._built = real
        return self._built

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # not an app's; also guards half-built copies
            raise AttributeError(name)
        return getattr(self.materialize(), name)
