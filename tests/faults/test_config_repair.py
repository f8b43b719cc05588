"""Defect 7: the advice for a wrong type in ``program.json`` failed itself.

``acoupi check`` said to fix the field with `acoupi config set`, which
then failed with the very same error.
"""

import json
from pathlib import Path
from typing import Any


def _break(home: Path, value: object) -> Path:
    config = home / ".acoupi" / "config" / "program.json"
    data = json.loads(config.read_text())
    data["name"] = value
    config.write_text(json.dumps(data))
    return config


def test_the_advised_config_set_repairs_the_field(
    run_acoupi: Any, isolated_home: Path
) -> None:
    assert run_acoupi("setup", "--program", "acoupi.programs.test", "--no-prompt")
    _break(isolated_home, {"not": "a string"})

    check = run_acoupi("check")
    assert check.returncode != 0
    assert "acoupi config set" in check.stdout + check.stderr

    fixed = run_acoupi("config", "set", "name", "test_program")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert run_acoupi("check").returncode == 0
