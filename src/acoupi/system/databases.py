"""The SQLite files a configured program uses, and their health.

Found from the saved program configuration (``program.json``) rather than by
loading the program, so they can be inspected and repaired even when a
damaged file stops the program from loading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from acoupi.components.sqlite_errors import DatabaseFileError, diagnose_database
from acoupi.system.constants import Settings
from acoupi.system.exceptions import ParameterError

__all__ = [
    "DatabaseState",
    "configured_databases",
    "database_states",
    "resolve_database",
]

# Configuration fields of the built-in programs, and the short names users
# type (`acoupi db reset messages`).
_KNOWN_FIELDS = {"db_metadata": "metadata", "messages_db": "messages"}


@dataclass(frozen=True)
class DatabaseState:
    """One configured database file and what is wrong with it, if anything."""

    name: str
    path: Path
    problem: Optional[DatabaseFileError]

    @property
    def exists(self) -> bool:
        """Whether the file exists yet (it is created on first use)."""
        return self.path.exists()

    def describe_problem(self) -> str:
        """Say what is wrong (naming the database) and how to fix it."""
        if self.problem is None:
            return f"The {self.name} database {self.path} is fine."
        return f"({self.name} database) {self.problem.explain()}"


def configured_databases(settings: Settings) -> Dict[str, Path]:
    """Return the program's database files by short name (``metadata`` ...).

    Any configuration field whose value is a path ending in ``.db`` counts,
    so custom programs' databases are found too (named by their field).
    """
    path = settings.program_config_file
    if not path.exists():
        return {}
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    found: Dict[str, Path] = {}
    for field, value in _walk(config):
        name = _KNOWN_FIELDS.get(field, field)
        found.setdefault(name, Path(value).expanduser())
    return found


def database_states(settings: Settings) -> List[DatabaseState]:
    """Diagnose every configured database (read-only; changes nothing)."""
    return [
        DatabaseState(name, path, diagnose_database(path))
        for name, path in configured_databases(settings).items()
    ]


def resolve_database(settings: Settings, target: str) -> Path:
    """Return the file meant by ``target``: a configured name or a path.

    Raises
    ------
    ParameterError
        If ``target`` is neither a configured database nor an existing file.
    """
    databases = configured_databases(settings)
    if target in databases:
        return databases[target]
    path = Path(target).expanduser()
    if path.exists():
        return path.resolve()
    names = ", ".join(sorted(databases)) or "none (run `acoupi setup` first)"
    raise ParameterError(
        target,
        f"{target!r} is neither a database of the configured program nor a file.",
        f"Give one of: {names}, or the path of a database file. "
        "`acoupi db status` lists them.",
    )


def _walk(value: Any, key: str = "") -> Iterator[Tuple[str, str]]:
    if isinstance(value, dict):
        for child_key, child in value.items():
            yield from _walk(child, str(child_key))
    elif isinstance(value, str) and key and value.endswith(".db"):
        yield key, value
