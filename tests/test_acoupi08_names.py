"""Every public name of acoupi 0.8.0 imports from the same module here.

The list (``tests/data/acoupi08_public_names.txt``) was generated from
upstream's source by ``tests/data/list_acoupi08_names.py``; upstream is
never imported at test time. Names deliberately missing are listed below
with the reason.
"""

import importlib
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

NAMES_FILE = Path(__file__).parent / "data" / "acoupi08_public_names.txt"

SQL_INTERNALS = (
    "upstream's SQL helpers over its own schema and cursors; programs use "
    "SqliteStore / SqliteMessageStore, whose schema lives in schema.py"
)

# module (or module prefix ending with '.') -> why its names are missing.
MISSING_MODULES: Dict[str, str] = {
    "acoupi.components.stores.sqlite.queries": SQL_INTERNALS,
    "acoupi.components.stores.sqlite.database": SQL_INTERNALS,
    "acoupi.components.message_stores.sqlite.queries": SQL_INTERNALS,
    "acoupi.components.message_stores.sqlite.database": SQL_INTERNALS,
}

# (module, name) -> why it is missing.
MISSING_NAMES: Dict[Tuple[str, str], str] = {
    ("acoupi.tasks.recording", "T"): (
        "a TypeVar used only inside upstream's own annotations, not an API"
    ),
}


def _names() -> List[Tuple[str, str]]:
    pairs = []
    for line in NAMES_FILE.read_text(encoding="utf-8").splitlines():
        module, name = line.split("\t")
        pairs.append((module, name))
    return pairs


def _why_missing(module: str, name: str) -> str:
    if (module, name) in MISSING_NAMES:
        return MISSING_NAMES[(module, name)]
    for prefix, reason in MISSING_MODULES.items():
        if module == prefix or (prefix.endswith(".") and module.startswith(prefix)):
            return reason
    return ""


def _importable(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


def test_the_list_is_upstreams_and_not_empty() -> None:
    names = _names()
    assert len(names) == len(set(names)) > 300
    assert ("acoupi.data", "PredictionType") in names


@pytest.mark.parametrize(("module", "name"), _names())
def test_acoupi_08_name_imports_from_its_module(module: str, name: str) -> None:
    if _importable(module, name):
        return
    reason = _why_missing(module, name)
    if reason:
        pytest.skip(f"deliberately missing: {reason}")
    pytest.fail(f"from {module} import {name} fails")


def test_the_allow_list_holds_only_missing_names() -> None:
    # A name listed as missing that now imports (e.g. once the plugins
    # workstream lands) must leave the list, so it is tested for real.
    stale = [
        f"{module}.{name}"
        for module, name in _names()
        if _why_missing(module, name) and _importable(module, name)
    ]
    assert stale == []


def test_coverage_report(capsys: pytest.CaptureFixture[str]) -> None:
    names = _names()
    present = sum(_importable(module, name) for module, name in names)
    with capsys.disabled():
        print(f"\nacoupi 0.8.0 public names importable: {present}/{len(names)}")
    allowed = sum(bool(_why_missing(m, n)) for m, n in names)
    assert present + allowed >= len(names)
