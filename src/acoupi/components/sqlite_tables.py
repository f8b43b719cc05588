"""Table definitions, and rebuilding tables written by other versions.

Files written by upstream acoupi 0.3 to 0.8 hold the same tables under other
shapes: Pony ORM's (0.3, 0.4), and plain SQLite with boxes split into four
columns (0.4 on), ``UNIQUE`` constraints on times, a ``message_type`` (0.8).
SQLite cannot drop a constraint or change a column in place, so such a
table is *rebuilt*: a new table with this package's definition is filled from
the old one (each column taken from the old column of that name, or computed
by its :attr:`Column.source`), the old one is dropped and the new one renamed.
Columns this package does not know are carried over as they are, so nothing
in the file is lost.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Set

__all__ = ["Column", "Table", "conform_tables", "table_columns"]

SourceExpression = Callable[[Set[str]], Optional[str]]
"""Given the old table's column names, the SQL computing the new column."""


@dataclass(frozen=True)
class Column:
    """A column: its name, SQL definition and how to fill it from old files.

    Parameters
    ----------
    name
        Column name.
    definition
        Type and constraints, e.g. ``"BLOB NOT NULL PRIMARY KEY"``.
    source
        Returns the SQL expression over the old table's columns that fills
        this column, or None to use the old column of the same name (NULL
        when there is none).
    """

    name: str
    definition: str
    source: Optional[SourceExpression] = None

    def expression(self, old_columns: Set[str]) -> str:
        """Return the SQL filling this column from a table with ``old_columns``."""
        if self.source is not None:
            expression = self.source(old_columns)
            if expression is not None:
                return expression
        return f'"{self.name}"' if self.name in old_columns else "NULL"


@dataclass(frozen=True)
class Table:
    """A table of this package's schema."""

    name: str
    columns: Sequence[Column]
    constraints: Sequence[str] = field(default_factory=tuple)

    def create_sql(self, name: Optional[str] = None, extra: Sequence[str] = ()) -> str:
        """Return ``CREATE TABLE`` for this table (under ``name`` if given).

        ``extra`` are further column definitions appended before the table
        constraints.
        """
        parts = [f'"{c.name}" {c.definition}' for c in self.columns]
        parts.extend(extra)
        parts.extend(self.constraints)
        return (
            f'CREATE TABLE "{name or self.name}" (\n    '
            + ",\n    ".join(parts)
            + "\n)"
        )


def table_columns(connection: sqlite3.Connection, table: str) -> Dict[str, str]:
    """Return the columns of ``table`` and their declared types, in order."""
    return {
        row[1]: row[2]
        for row in connection.execute(f'PRAGMA table_info("{table}")').fetchall()
    }


def conform_tables(connection: sqlite3.Connection, tables: Sequence[Table]) -> None:
    """Give every table of ``tables`` this package's definition, keeping rows.

    Missing tables are created; existing ones are rebuilt. Must run inside a
    transaction on a connection with ``PRAGMA foreign_keys = OFF`` (dropping
    a parent table would otherwise cascade to its children). Other indexes
    on rebuilt tables are dropped with them; the caller creates its own.

    Raises
    ------
    RuntimeError
        If a rebuilt table would hold a different number of rows (the
        caller's transaction must then be rolled back).
    """
    for table in tables:
        old = table_columns(connection, table.name)
        if not old:
            connection.execute(table.create_sql())
            continue
        _rebuild(connection, table, old)


def _rebuild(connection: sqlite3.Connection, table: Table, old: Dict[str, str]) -> None:
    known = {c.name for c in table.columns}
    # Unknown columns keep their name and declared type, without constraints
    # (new rows written by this package leave them NULL).
    extras = [name for name in old if name not in known]
    new_name = f"{table.name}__rebuild"
    connection.execute(f'DROP TABLE IF EXISTS "{new_name}"')
    connection.execute(
        table.create_sql(new_name, [f'"{n}" {old[n]}'.rstrip() for n in extras])
    )
    targets = [f'"{c.name}"' for c in table.columns] + [f'"{n}"' for n in extras]
    sources = [c.expression(set(old)) for c in table.columns]
    sources += [f'"{n}"' for n in extras]
    connection.execute(
        f'INSERT INTO "{new_name}" ({", ".join(targets)})'
        f' SELECT {", ".join(sources)} FROM "{table.name}"'
    )
    before = _count(connection, table.name)
    after = _count(connection, new_name)
    if before != after:
        raise RuntimeError(
            f"rebuilding table {table.name} kept {after} of {before} rows"
        )
    connection.execute(f'DROP TABLE "{table.name}"')
    connection.execute(f'ALTER TABLE "{new_name}" RENAME TO "{table.name}"')


def _count(connection: sqlite3.Connection, table: str) -> int:
    return int(connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])
