"""What a detection program keeps in its outbox when nothing sends it.

Without a messenger every recording's detections still become a message
(as in upstream acoupi, and so that a messenger configured later has the
latest results to send), but nothing ever sends them: the outbox grew by
about 2 kB per recording, forever. :class:`KeepNewestUnsent` keeps only
the newest :data:`UNSENT_LIMIT` unsent messages; the detections themselves
stay in the metadata database.
"""

import sqlite3
from contextlib import closing
from typing import List, Optional

from acoupi import data
from acoupi.components import types

__all__ = ["UNSENT_LIMIT", "KeepNewestUnsent"]

UNSENT_LIMIT = 1000
"""Unsent messages kept without a messenger (about 2 MB)."""


class KeepNewestUnsent(types.MessageStore):
    """A message store that drops the oldest unsent messages beyond a limit.

    Parameters
    ----------
    store
        The program's message store. Only SQLite stores (with a
        ``db_path``) are pruned; any other store is used as it is.
    limit
        Unsent messages to keep; :data:`UNSENT_LIMIT` by default.
    """

    def __init__(self, store: types.MessageStore, limit: Optional[int] = None) -> None:
        self.store = store
        self.limit = UNSENT_LIMIT if limit is None else limit

    def store_message(self, message: data.Message) -> None:
        """Store ``message``, then drop the unsent ones beyond the limit."""
        self.store.store_message(message)
        db_path = getattr(self.store, "db_path", None)
        if db_path is None:
            return
        with closing(sqlite3.connect(db_path, timeout=10)) as db, db:
            # The (limit + 1)-th newest and older, if never tried: a walk of
            # ``limit`` rowids, then the few rows below it.
            db.execute(
                "DELETE FROM message WHERE rowid <= ("
                " SELECT rowid FROM message ORDER BY rowid DESC LIMIT 1 OFFSET ?)"
                " AND NOT EXISTS (SELECT 1 FROM response r"
                "  WHERE r.message_id = message.id)",
                (self.limit,),
            )

    def get_unsent_messages(
        self, limit: Optional[int] = None, order: types.MessageOrder = "oldest_first"
    ) -> List[data.Message]:
        """Return the store's unsent messages."""
        return self.store.get_unsent_messages(limit, order)

    def store_response(self, response: data.Response) -> None:
        """Store a response in the store."""
        self.store.store_response(response)
