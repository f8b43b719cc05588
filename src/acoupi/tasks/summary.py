"""The summary task: build periodic summary messages and queue them."""

import logging
from typing import Callable, List, Optional

from acoupi.components import types
from acoupi.components.message_lists import as_messages
from acoupi.components.sqlite_errors import DatabaseFileError
from acoupi.components.timewindows import Clock
from acoupi.timeutil import now_utc

__all__ = ["generate_summariser_task"]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


def generate_summariser_task(
    summarisers: List[types.Summariser],
    message_store: types.MessageStore,
    logger: logging.Logger = logger,
    clock: Optional[Clock] = None,
) -> Callable[[], None]:
    """Build the ``summary_task``.

    Parameters
    ----------
    summarisers
        Each builds one summary message per run.
    message_store
        Outbox the summaries are stored in.
    logger
        Task logger.
    clock
        Returns the current time (injectable for tests); UTC now by default.

    Returns
    -------
    Callable[[], None]
        The task. A summariser that fails is logged and skipped, so the
        others still report. One returning None produces no message; one
        returning a list (acoupi 0.8), one message per item.
    """
    summarisers = list(summarisers)
    get_now = clock or now_utc

    def summary_task() -> None:
        now = get_now()
        for summariser in summarisers:
            try:
                messages = as_messages(summariser.build_summary(now))
            except Exception:
                logger.exception(
                    "Error building summary message with %s.",
                    type(summariser).__name__,
                )
                continue
            for message in messages:
                try:
                    message_store.store_message(message)
                except DatabaseFileError as error:
                    logger.error(
                        "Summary %s not stored: %s", message.id, error.explain()
                    )

    return summary_task
