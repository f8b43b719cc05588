"""acoupi 0.8's module path of :class:`SqliteMessageStore`."""

from acoupi.components.message_stores.sqlite.store import SqliteMessageStore

__all__ = ["SqliteMessageStore"]
