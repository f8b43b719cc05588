"""Outboxes: messages waiting to be sent and the responses they got."""

from acoupi.components.message_stores.sqlite import SqliteMessageStore

__all__ = ["SqliteMessageStore"]
