"""Finding program classes, loading configured programs and app.py."""

import importlib
import runpy
import sys
import textwrap
import uuid
import warnings
from pathlib import Path
from typing import Callable, Iterator

import pytest

from acoupi.programs import test as test_program_module
from acoupi.programs.core.workers import DEFAULT_WORKER_CONFIG
from acoupi.system import apps, programs
from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.exceptions import (
    ConfigurationError,
    InvalidProgramError,
    NotConfiguredError,
    ProgramNotFoundError,
)

MakeModule = Callable[..., str]

# Not bound to Test* names: pytest would try to collect them.
BuiltinProgram = test_program_module.TestProgram
BuiltinConfig = test_program_module.TestConfigSchema


@pytest.fixture
def make_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MakeModule]:
    """Write a module (or package tree) on a fresh sys.path entry.

    Returns a factory ``make(source, name=None, files=None) -> module name``;
    names are unique so that sys.modules never serves a stale module.
    """
    root = tmp_path / "modules"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    created: list[str] = []

    def make(source: str = "", name: str | None = None, **files: str) -> str:
        name = name or f"prog_{uuid.uuid4().hex[:10]}"
        for relative, text in {name.replace(".", "/") + ".py": source, **files}.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        importlib.invalidate_caches()
        created.append(name.split(".")[0])
        return name

    yield make
    for name in list(sys.modules):
        if name.split(".")[0] in created:
            del sys.modules[name]


HEADER = """
from abc import abstractmethod
from pydantic import BaseModel
from acoupi.programs.core.base import AcoupiProgram
from acoupi.programs.test import TestProgram
"""


def configure(settings: Settings, program: str = "acoupi.programs.test") -> None:
    settings.program_name_file.parent.mkdir(parents=True, exist_ok=True)
    settings.program_name_file.write_text(program)
    settings.program_config_file.write_text(BuiltinConfig().model_dump_json())
    settings.celery_config_file.write_text(CeleryConfig().model_dump_json())


# load_program_class ----------------------------------------------------------


def test_builtin_test_program() -> None:
    assert programs.load_program_class("acoupi.programs.test") is BuiltinProgram


@pytest.mark.parametrize(
    "name", ["acoupi_no_such_module_xyz", "acoupi.programs.nope", "acoupi.nope.deeper"]
)
def test_missing_module_is_not_found(name: str) -> None:
    with pytest.raises(ProgramNotFoundError) as info:
        programs.load_program_class(name)
    assert info.value.program == name
    assert info.value.help


@pytest.mark.parametrize("name", ["", ".relative", "a..b", "has space", "x-y"])
def test_malformed_names_are_not_found(name: str) -> None:
    with pytest.raises(ProgramNotFoundError, match="not found"):
        programs.load_program_class(name)


def test_missing_dependency_is_named(make_module: MakeModule) -> None:
    name = make_module(
        HEADER
        + """
import acoupi_missing_dependency_xyz.sub

class Program(TestProgram):
    pass
"""
    )
    with pytest.raises(programs.ProgramDependencyError) as info:
        programs.load_program_class(name)
    error = info.value
    assert isinstance(error, InvalidProgramError)
    assert error.dependency == "acoupi_missing_dependency_xyz"
    assert "acoupi_missing_dependency_xyz" in error.message
    assert "pip install acoupi_missing_dependency_xyz" in (error.help or "")


def test_missing_sibling_module_is_a_dependency(make_module: MakeModule) -> None:
    package = f"pkg_{uuid.uuid4().hex[:8]}"
    make_module(
        "from .helpers import thing\n",
        name=f"{package}.program",
        **{f"{package}/__init__.py": ""},
    )
    with pytest.raises(programs.ProgramDependencyError, match="helpers"):
        programs.load_program_class(f"{package}.program")


def test_broken_module_is_invalid(make_module: MakeModule) -> None:
    name = make_module("raise RuntimeError('boom at import')\n")
    with pytest.raises(InvalidProgramError) as info:
        programs.load_program_class(name)
    assert "RuntimeError: boom at import" in (info.value.help or "")

    name = make_module("def broken(:\n")
    with pytest.raises(InvalidProgramError, match="not a valid"):
        programs.load_program_class(name)


@pytest.mark.parametrize(
    "body",
    [
        "x = 1\n",
        # Only the abstract base itself.
        "from acoupi.programs.core.base import AcoupiProgram\n",
        """
from abc import abstractmethod
from acoupi.programs.core.base import AcoupiProgram

class Abstract(AcoupiProgram):
    @abstractmethod
    def build(self) -> None: ...
""",
    ],
)
def test_module_without_concrete_program_is_invalid(
    make_module: MakeModule, body: str
) -> None:
    with pytest.raises(InvalidProgramError):
        programs.load_program_class(make_module(body))


def test_own_class_wins_over_imported_base(make_module: MakeModule) -> None:
    name = make_module(
        HEADER
        + """
class Mine(TestProgram):
    pass
"""
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls = programs.load_program_class(name)
    assert cls.__name__ == "Mine"


def test_own_class_wins_over_imported_subclass(make_module: MakeModule) -> None:
    """Even an imported class that is more derived does not win."""
    other = make_module(
        HEADER
        + """
class Derived(TestProgram):
    pass
"""
    )
    name = make_module(
        HEADER
        + f"""
from {other} import Derived

class Mine(TestProgram):
    pass
"""
    )
    assert programs.load_program_class(name).__name__ == "Mine"


def test_reexported_program_is_found(make_module: MakeModule) -> None:
    inner = make_module(
        HEADER
        + """
class Real(TestProgram):
    pass
"""
    )
    name = make_module(
        f"from acoupi.programs.test import TestProgram\nfrom {inner} import Real\n"
    )
    cls = programs.load_program_class(name)
    assert cls.__name__ == "Real" and cls.__module__ == inner


def test_most_derived_class_wins(make_module: MakeModule) -> None:
    name = make_module(
        HEADER
        + """
class Base(TestProgram):
    pass

class Child(Base):
    pass

class Alias(Child):
    pass

Another = Alias
"""
    )
    assert programs.load_program_class(name).__name__ == "Alias"


def test_abstract_classes_are_skipped(make_module: MakeModule) -> None:
    name = make_module(
        HEADER
        + """
class Template(TestProgram):
    @abstractmethod
    def model(self) -> None: ...

class Concrete(Template):
    def model(self) -> None: ...

class ZAbstract(Concrete):
    @abstractmethod
    def extra(self) -> None: ...
"""
    )
    assert programs.load_program_class(name).__name__ == "Concrete"


def test_several_finalists_warn_and_choose_deterministically(
    make_module: MakeModule,
) -> None:
    name = make_module(
        HEADER
        + """
class Zebra(TestProgram):
    pass

class Aardvark(TestProgram):
    pass
"""
    )
    with pytest.warns(UserWarning, match="Found multiple programs.*Aardvark, Zebra"):
        first = programs.load_program_class(name)
    with pytest.warns(UserWarning):
        again = programs.load_program_class(name)
    assert first is again
    assert first.__name__ == "Aardvark"


# load_program and friends -----------------------------------------------------


def test_load_program(settings: Settings) -> None:
    configure(settings)
    program = programs.load_program(settings)
    assert isinstance(program, BuiltinProgram)
    assert program.config == BuiltinConfig()
    assert program.app.main is None
    assert program.app.conf.task_serializer == "pickle"
    assert program.app.conf.task_time_limit == 60
    assert "test_task" in program.tasks
    assert "test_task" in program.app.tasks
    assert apps.get_celery_app(settings).conf.broker_url == CeleryConfig().broker_url


def test_load_program_reads_celery_config(settings: Settings) -> None:
    configure(settings)
    custom = CeleryConfig(broker_url="redis://example:6379/3", task_time_limit=600)
    settings.celery_config_file.write_text(custom.model_dump_json())
    app = programs.load_program(settings).app
    assert app.conf.broker_url == "redis://example:6379/3"
    assert app.conf.task_time_limit == 600


@pytest.mark.parametrize(
    "missing", ["program_name_file", "program_config_file", "celery_config_file"]
)
def test_load_program_not_configured(settings: Settings, missing: str) -> None:
    configure(settings)
    path: Path = getattr(settings, missing)
    path.unlink()
    with pytest.raises(NotConfiguredError) as info:
        programs.load_program(settings)
    assert str(path) in info.value.message
    assert "acoupi setup" in (info.value.help or "")


def test_empty_program_name_is_not_configured(settings: Settings) -> None:
    configure(settings)
    settings.program_name_file.write_text("  \n")
    with pytest.raises(NotConfiguredError, match="empty"):
        programs.load_program(settings)


def test_load_program_with_invalid_config(settings: Settings) -> None:
    configure(settings)
    settings.program_config_file.write_text('{"name": 5}')
    with pytest.raises(ConfigurationError):
        programs.load_program(settings)


def test_program_name_is_stripped(settings: Settings) -> None:
    configure(settings, program="acoupi.programs.test\n")
    assert programs.load_config_schema(settings) is BuiltinConfig


def test_worker_config_matches_the_setup_scripts(
    settings: Settings, make_module: MakeModule
) -> None:
    configure(settings)
    assert programs.load_worker_config(settings) == BuiltinProgram.get_worker_config()

    name = make_module(
        HEADER
        + """
from acoupi.programs.core.workers import DEFAULT_WORKER_CONFIG

class Workers(TestProgram):
    worker_config = DEFAULT_WORKER_CONFIG
"""
    )
    settings.program_name_file.write_text(name)
    assert programs.load_worker_config(settings) == DEFAULT_WORKER_CONFIG


def test_program_state(settings: Settings, make_module: MakeModule) -> None:
    configure(settings)
    assert programs.get_program_state(settings) == programs.ProgramState.OK

    settings.program_config_file.write_text('{"name": "other"}')
    assert programs.get_program_state(settings) == programs.ProgramState.UNHEALTHY

    name = make_module(
        HEADER
        + """
class Crashing(TestProgram):
    def check(self, config):
        raise RuntimeError("sensor exploded")
"""
    )
    settings.program_name_file.write_text(name)
    assert programs.get_program_state(settings) == programs.ProgramState.ERROR
    assert programs.ProgramState.ERROR.value == "error"


def test_program_state_propagates_loading_errors(settings: Settings) -> None:
    with pytest.raises(NotConfiguredError):
        programs.get_program_state(settings)


# app.py ---------------------------------------------------------------------------


def test_app_file_contents(settings: Settings) -> None:
    programs.write_program_file("acoupi.programs.test", settings)
    text = settings.program_file.read_text()
    assert '"""Celery app of the acoupi program acoupi.programs.test.' in text
    assert "from pathlib import Path\n" in text
    assert "from acoupi.system import get_celery_app, Settings\n" in text
    assert f'program_name_file=Path("{settings.program_name_file}")' in text
    assert f'config_file=Path("{settings.program_config_file}")' in text
    assert 'app_name="app",' in text
    assert 'celery_pool_type="threads",' in text
    assert text.rstrip().endswith("app = get_celery_app(settings)")
    for name in Settings.model_fields:
        assert f"    {name}=" in text


def test_app_file_rejects_malformed_program_names(settings: Settings) -> None:
    with pytest.raises(ProgramNotFoundError):
        programs.write_program_file('x"""; import os', settings)
    assert not settings.program_file.exists()


# Celery shares tasks between apps of one process; loading the test program
# again here re-registers ``test_task`` (see AcoupiProgram.add_task).
@pytest.mark.filterwarnings("ignore::celery.exceptions.DuplicateTaskNameWarning")
def test_app_file_round_trips_nasty_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / 'we\'ird "home" \\ $x ü' / ".acoupi"
    settings = Settings(home=home, log_level="DEBUG", celery_pool_type="solo")
    configure(settings)
    programs.write_program_file("acoupi.programs.test", settings)
    source = settings.program_file.read_text(encoding="utf-8")
    compile(source, str(settings.program_file), "exec")

    # The module must not depend on the environment it is loaded in.
    monkeypatch.setenv("ACOUPI_HOME", str(tmp_path / "elsewhere"))
    namespace = runpy.run_path(str(settings.program_file))

    assert namespace["settings"] == settings
    app = namespace["app"]
    assert "test_task" in app.tasks
    assert app.conf.task_serializer == "pickle"


def test_app_file_is_written_atomically(settings: Settings) -> None:
    programs.write_program_file("acoupi.programs.test", settings)
    programs.write_program_file("acoupi.programs.test", settings)
    assert sorted(p.name for p in settings.program_file.parent.iterdir()) == [
        settings.program_file.name
    ]


def test_default_worker_config_unchanged() -> None:
    # load_worker_config no longer falls back to DEFAULT_WORKER_CONFIG.
    assert BuiltinProgram.get_worker_config() != DEFAULT_WORKER_CONFIG
