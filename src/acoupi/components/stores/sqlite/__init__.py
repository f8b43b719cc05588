"""The SQLite metadata store (schema, writes, reads and the store itself)."""

from acoupi.components.stores.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
