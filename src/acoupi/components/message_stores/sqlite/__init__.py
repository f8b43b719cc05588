"""The SQLite message store (outbox)."""

from acoupi.components.message_stores.sqlite.store import SqliteMessageStore

__all__ = ["SqliteMessageStore"]
