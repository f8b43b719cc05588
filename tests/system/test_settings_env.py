"""Settings read ACOUPI_* variables without pydantic-settings' import cost."""

import subprocess
import sys
from pathlib import Path

import pytest

from acoupi.system.constants import Settings


def test_variables_set_fields_and_arguments_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACOUPI_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("acoupi_log_level", "DEBUG")  # any case, as upstream
    monkeypatch.setenv("ACOUPI_RUN_DIR", str(tmp_path / "elsewhere"))

    settings = Settings()

    assert settings.home == tmp_path / "h"
    assert settings.log_level == "DEBUG"
    assert settings.run_dir == tmp_path / "elsewhere"
    assert settings.log_dir == tmp_path / "h" / "log"  # follows home
    assert Settings(home=tmp_path / "x").home == tmp_path / "x"
    assert Settings(log_level="WARNING").log_level == "WARNING"


def test_invalid_variable_is_a_validation_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACOUPI_CELERY_POOL_TYPE", "nonsense")

    with pytest.raises(ValueError, match="celery_pool_type"):
        Settings()


def test_settings_import_stays_light() -> None:
    # pydantic-settings pulled asyncio and dotenv into every worker, beat
    # and command: ~3 MB PSS per process and tens of ms per command.
    code = (
        "import sys, acoupi.system.constants; "
        "print(sorted(m for m in ('pydantic_settings', 'asyncio', 'dotenv') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
