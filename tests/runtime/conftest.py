"""Fixtures for the foreground runtime: configured homes and process checks."""

from pathlib import Path
from typing import Callable

import pytest
from runtime_support import slow_args

from acoupi.system.constants import Settings
from acoupi.system.lifecycle import setup_program
from helpers import importable_everywhere

RUNTIME_DIR = Path(__file__).parent


@pytest.fixture
def on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``slow_pkg`` importable here and in child processes."""
    importable_everywhere(monkeypatch, RUNTIME_DIR)


def _configurer(settings: Settings, home: Path, module: str) -> Callable[..., Settings]:
    def configure(**options: object) -> Settings:
        setup_program(settings, module, args=slow_args(home, **options))
        return settings

    return configure


@pytest.fixture
def slow_program(
    settings: Settings, isolated_home: Path, on_path: None
) -> Callable[..., Settings]:
    """Set up ``slow_pkg`` with the given options; return the settings."""
    return _configurer(settings, isolated_home, "slow_pkg")


@pytest.fixture
def numpy_program(
    settings: Settings, isolated_home: Path, on_path: None
) -> Callable[..., Settings]:
    """Set up ``numpy_pkg`` (slow_pkg's, importing numpy) with the given options."""
    return _configurer(settings, isolated_home, "numpy_pkg")
