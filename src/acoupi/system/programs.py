"""Find, load and configure acoupi programs.

A program is named by the Python module that defines it (for example
``acoupi.programs.test``). The module name is stored in
``settings.program_name_file`` by ``acoupi setup``, together with the
program's configuration and the Celery configuration.
"""

import contextlib
import importlib
import inspect
import logging
import warnings
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, List, Optional, Type, TypeVar, cast

from pydantic import BaseModel

from acoupi.programs.core.base import AcoupiProgram
from acoupi.programs.core.workers import WorkerConfig
from acoupi.system.atomic import atomic_write_text
from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.exceptions import (
    HealthCheckError,
    InvalidProgramError,
    NotConfiguredError,
    ProgramNotFoundError,
)
from acoupi.system.health import without_self_tests

if TYPE_CHECKING:
    from celery import Celery

__all__ = [
    "ProgramDependencyError",
    "ProgramState",
    "get_program_state",
    "load_config_schema",
    "load_program",
    "load_program_class",
    "load_worker_config",
    "read_program_name",
    "write_program_file",
]

logger = logging.getLogger(__name__)

_SETUP_HELP = "Run `acoupi setup` first."

M = TypeVar("M", bound=BaseModel)


class ProgramDependencyError(InvalidProgramError):
    """The program module exists but imports a package that is missing."""

    def __init__(self, program: str, dependency: str):
        package = dependency.split(".")[0]
        super().__init__(
            program,
            help=f"Install it in the environment acoupi runs in, e.g. "
            f"`pip install {package}` (the PyPI name may differ), or install "
            "the program's package with its dependencies.",
        )
        self.dependency = dependency
        self.message = (
            f"Program {program!r} cannot be loaded: it needs the Python "
            f"module {dependency!r}, which is not installed."
        )
        self.args = (self.message,)


class ProgramState(str, Enum):
    """Result of a program's health check."""

    OK = "ok"
    UNHEALTHY = "unhealthy"
    ERROR = "error"


def _is_module_name(name: str) -> bool:
    parts = name.split(".")
    return bool(name) and all(part.isidentifier() for part in parts)


def _import_program_module(program_name: str) -> ModuleType:
    if not _is_module_name(program_name):
        raise ProgramNotFoundError(
            program_name,
            help="A program is named by its Python module, with dots between "
            "packages, e.g. `acoupi.programs.test`.",
        )
    try:
        return importlib.import_module(program_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        # Only the program module itself or one of its parent packages
        # being absent means "not found"; anything else is a dependency.
        if missing and (program_name + ".").startswith(missing + "."):
            raise ProgramNotFoundError(program_name) from error
        raise ProgramDependencyError(program_name, missing or str(error)) from error
    except Exception as error:
        raise InvalidProgramError(
            program_name,
            help=f"Importing it failed with {type(error).__name__}: {error}. "
            "Fix the program module or reinstall its package.",
        ) from error


def _candidate_programs(module: ModuleType) -> List[Type[AcoupiProgram]]:
    seen: dict[int, Type[AcoupiProgram]] = {}
    for _, member in inspect.getmembers(module, inspect.isclass):
        if (
            issubclass(member, AcoupiProgram)
            and member is not AcoupiProgram
            and not inspect.isabstract(member)
        ):
            # The same class may be bound to several names.
            seen[id(member)] = member
    return list(seen.values())


def _qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def load_program_class(program_name: str) -> Type[AcoupiProgram]:
    """Load the acoupi program class from a module.

    Candidates are the concrete (not abstract) subclasses of
    ``AcoupiProgram`` among the module's members. Classes defined in the
    module itself win over imported ones (such as a template base class);
    among those, classes that no other candidate subclasses win. If
    several remain, a warning names them and the first by qualified name
    is used.

    Parameters
    ----------
    program_name
        Module name, e.g. ``"acoupi.programs.test"``.

    Returns
    -------
    Type[AcoupiProgram]
        The program class.

    Raises
    ------
    ProgramNotFoundError
        If the module (or a parent package) does not exist.
    ProgramDependencyError
        If the module imports a package that is not installed (a subclass
        of ``InvalidProgramError``).
    InvalidProgramError
        If the module cannot be imported or holds no program class.
    """
    module = _import_program_module(program_name)
    candidates = _candidate_programs(module)
    own = [cls for cls in candidates if cls.__module__ == module.__name__]
    pool = own or candidates
    finalists = [
        cls
        for cls in pool
        if not any(other is not cls and issubclass(other, cls) for other in pool)
    ]
    if not finalists:
        raise InvalidProgramError(program_name)
    finalists.sort(key=_qualified_name)
    chosen = finalists[0]
    if len(finalists) > 1:
        names = ", ".join(cls.__qualname__ for cls in finalists)
        warnings.warn(
            f"Found multiple programs in {program_name}: {names}. Using "
            f"{chosen.__qualname__}. A program module should expose a single "
            "final program class.",
            stacklevel=2,
        )
    return chosen


def read_program_name(settings: Settings) -> str:
    """Return the module name of the configured program.

    Raises
    ------
    NotConfiguredError
        If ``settings.program_name_file`` is missing or empty.
    """
    try:
        name = settings.program_name_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise NotConfiguredError(
            f"Acoupi is not set up: {settings.program_name_file} is missing.",
            help=_SETUP_HELP,
        ) from None
    if not name:
        raise NotConfiguredError(
            f"Acoupi is not set up: {settings.program_name_file} is empty.",
            help=_SETUP_HELP,
        )
    return name


def _schema_of(program_class: Type[AcoupiProgram]) -> Optional[Type[BaseModel]]:
    # A program without a schema has no configuration (upstream: None).
    return getattr(program_class, "config_schema", None)


def load_config_schema(settings: Settings) -> Optional[Type[BaseModel]]:
    """Return the configuration schema of the configured program."""
    return _schema_of(load_program_class(read_program_name(settings)))


def load_worker_config(settings: Settings) -> WorkerConfig:
    """Return the workers of the configured program.

    This is the program class's ``get_worker_config()``, the same set the
    setup scripts were written with.
    """
    return load_program_class(read_program_name(settings)).get_worker_config()


def _load_file_config(path: Path, schema: Type[M]) -> M:
    from acoupi.system.config import load_config

    try:
        return load_config(path, schema)
    except FileNotFoundError:
        raise NotConfiguredError(
            f"Acoupi is not set up: {path} is missing.", help=_SETUP_HELP
        ) from None


def _create_celery_app(celery_config: CeleryConfig, settings: Settings) -> "Celery":
    from celery import Celery

    from acoupi.system.broker import celery_conf_for
    from acoupi.system.liveness import add_heartbeat_step

    # No main name: tasks are registered with explicit names, so their
    # Celery names are exactly the function names.
    app = Celery()
    app.config_from_object(celery_conf_for(celery_config, settings))
    add_heartbeat_step(app, Path(settings.run_dir))
    return app


def load_program(settings: Settings, *, defer_celery: bool = False) -> AcoupiProgram:
    """Load a fully configured acoupi program.

    Reads the program name, imports its class, loads its configuration and
    the Celery configuration, creates the Celery app and instantiates the
    program (which runs its ``setup``).

    Parameters
    ----------
    settings
        Settings giving the program name, program and Celery config files.
    defer_celery
        Give the program a :class:`~acoupi.system.deferred_app.DeferredApp`
        that builds its Celery app only when something needs Celery: for
        reading a program (status), where importing Celery would cost more
        than all the rest.

    Returns
    -------
    AcoupiProgram
        The configured program instance.

    Raises
    ------
    NotConfiguredError
        If the program name, program config or Celery config file is missing.
    ProgramNotFoundError
        If the program module is not found.
    InvalidProgramError
        If the module holds no valid program class.
    ConfigurationError
        If a config file is invalid.
    """
    program_class = load_program_class(read_program_name(settings))
    schema = _schema_of(program_class)
    config = (
        None
        if schema is None
        else _load_file_config(settings.program_config_file, schema)
    )
    celery_config = _load_file_config(settings.celery_config_file, CeleryConfig)
    if not defer_celery:
        return program_class(config, _create_celery_app(celery_config, settings))
    from acoupi.system.broker import celery_conf_for
    from acoupi.system.deferred_app import DeferredApp

    deferred = DeferredApp(
        celery_conf_for(celery_config, settings),
        lambda: _create_celery_app(celery_config, settings),
    )
    return program_class(config, cast("Celery", deferred))


def write_program_file(program_name: str, settings: Settings) -> None:
    """Write the Python module holding the program's Celery app.

    The module (``settings.program_file``) builds ``Settings`` from literal
    values, every field included, so Celery workers see exactly the
    settings in effect at setup, whatever their environment.

    Raises
    ------
    ProgramNotFoundError
        If ``program_name`` is not a Python module name.
    """
    if not _is_module_name(program_name):
        raise ProgramNotFoundError(
            program_name,
            help="A program is named by its Python module, e.g. "
            "`acoupi.programs.test`.",
        )
    # Imported here: loading a program (e.g. for a status check) needs no jinja2.
    from acoupi.system.templates import render_template

    fields = [(name, getattr(settings, name)) for name in type(settings).model_fields]
    text = render_template(
        "app.py.jinja2",
        program_name=program_name,
        settings=settings,
        fields=fields,
    )
    atomic_write_text(settings.program_file, text)


def get_program_state(settings: Settings) -> ProgramState:
    """Load the program and run its health check.

    Returns
    -------
    ProgramState
        OK; UNHEALTHY if the check raised ``HealthCheckError``; ERROR if it
        raised anything else. Errors while *loading* propagate.
    """
    return check_program(load_program(settings))


def check_program(program: AcoupiProgram, self_tests: bool = True) -> ProgramState:
    """Run a loaded program's health check and classify the outcome.

    Parameters
    ----------
    program
        The loaded program.
    self_tests
        Run the components' self-tests too (see :mod:`acoupi.system.health`).
    """
    try:
        with contextlib.nullcontext() if self_tests else without_self_tests():
            program.check(program.config)
    except HealthCheckError as error:
        logger.info("Program health check failed: %s", error)
        return ProgramState.UNHEALTHY
    except Exception:
        logger.exception("Program health check raised an unexpected error.")
        return ProgramState.ERROR
    return ProgramState.OK
