"""The send-messages task: store-and-forward delivery of the outbox.

Every message is in the message store before anyone tries to send it (the
detection and summary tasks store what builders make). Each run of the task
takes the unsent messages oldest first, in bounded batches, and sends them in
order through every messenger, storing every response. A message leaves the
outbox only when a messenger acknowledged it (a SUCCESS response).

When a messenger fails, the task stops using it for the rest of the run, so
message N+1 never overtakes message N, and waits before trying it again
(exponential backoff with jitter). Delivery is at least once: a crash after
the receiver acknowledged a message but before the response was stored sends
that one message again; the messengers attach the message id so receivers can
drop such duplicates.
"""

import inspect
import logging
import random
import time
from typing import Callable, Dict, List, Optional, Sequence, Set
from uuid import UUID

from acoupi import data
from acoupi.components import types
from acoupi.components.sqlite_errors import DatabaseFileError

__all__ = [
    "MAX_DEBUG_CONTENT_LENGTH",
    "NOT_SENT",
    "Backoff",
    "close_messengers",
    "generate_send_messages_task",
    "send_with",
]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)

MAX_DEBUG_CONTENT_LENGTH = 200
"""Characters (or bytes) of a message shown in debug logs."""

NOT_SENT = "acoupi_not_sent"
"""Log record attribute holding the one-line cause of a failed send.

The tasks never raise on a failed send (the next run retries), so
``acoupi task run`` looks for records carrying this attribute to tell the
technician that nothing went out, and why.
"""


class Backoff:
    """Exponential backoff with jitter, for one messenger.

    After the n-th consecutive failure the next attempt waits a delay drawn
    uniformly from ``[d/2, d]`` with ``d = min(maximum, base * 2**(n-1))``:
    a broker that comes back is not hit by every device at the same moment,
    and a long outage costs at most one attempt per ``maximum`` seconds.

    The state is kept in memory: a restarted worker tries again at once,
    which is what one wants after a reboot.

    Parameters
    ----------
    base
        Delay after the first failure, in seconds (0 disables waiting).
    maximum
        Upper bound of the delay, in seconds.
    clock
        Monotonic clock in seconds (injectable for tests).
    rng
        Random generator for the jitter (injectable for tests).
    """

    def __init__(
        self,
        base: float = 30.0,
        maximum: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        rng: Optional[random.Random] = None,
    ):
        self.base = base
        self.maximum = maximum
        self.clock = clock
        self.rng = rng or random.Random()
        self.failures = 0
        self.next_attempt = float("-inf")

    def ready(self) -> bool:
        """Whether an attempt is allowed now."""
        return self.clock() >= self.next_attempt

    def remaining(self) -> float:
        """Seconds until the next attempt is allowed (0 when ready)."""
        return max(0.0, self.next_attempt - self.clock())

    def failed(self) -> float:
        """Record a failure; return the delay before the next attempt."""
        self.failures += 1
        ceiling = min(self.maximum, self.base * 2 ** (self.failures - 1))
        delay = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        self.next_attempt = self.clock() + delay
        return delay

    def succeeded(self) -> None:
        """Record a success: the next failure starts from ``base`` again."""
        self.failures = 0
        self.next_attempt = float("-inf")


def _accepts_limit(message_store: types.MessageStore) -> bool:
    try:
        parameters = inspect.signature(message_store.get_unsent_messages).parameters
    except (TypeError, ValueError):
        return False
    return "limit" in parameters and "order" in parameters


def _fetch_unsent(
    message_store: types.MessageStore,
    limit: int,
    accepts_limit: bool,
    order: types.MessageOrder = "oldest_first",
) -> List[data.Message]:
    """Return up to ``limit`` unsent messages, in ``order``."""
    if accepts_limit:
        # SqliteMessageStore and 0.8 stores: ordered and bounded in SQL.
        return list(message_store.get_unsent_messages(limit=limit, order=order))
    # A store with the plain 0.3 interface: order is not promised.
    messages = sorted(
        message_store.get_unsent_messages(),  # type: ignore[call-arg]
        key=lambda m: m.created_on,
        reverse=order == "newest_first",
    )
    return messages[:limit]


def close_messengers(
    messengers: Sequence[types.Messenger], logger: logging.Logger
) -> None:
    """Release connections between runs (the next send reconnects)."""
    for messenger in messengers:
        close = getattr(messenger, "close", None)
        if not callable(close):
            continue
        try:
            close()
        except Exception:
            logger.exception("Could not close messenger %r", messenger)


def send_with(
    messenger: types.Messenger, message: data.Message, logger: logging.Logger
) -> data.Response:
    """Send through ``messenger``; an exception becomes a FAILED response.

    Built-in messengers never raise, but a plugin's might; one bad send must
    not end the run with its response unrecorded.
    """
    try:
        return messenger.send_message(message)
    except Exception as error:
        logger.exception("Messenger %r raised while sending", messenger)
        return data.Response(
            status=data.ResponseStatus.FAILED,
            message=message,
            content=f"{type(error).__name__}: {error}",
        )


def generate_send_messages_task(
    message_store: types.MessageStore,
    messengers: Optional[List[types.Messenger]] = None,
    logger: logging.Logger = logger,
    *,
    batch_size: int = 100,
    max_messages_per_run: int = 1000,
    max_messages: Optional[int] = None,
    order: types.MessageOrder = "oldest_first",
    backoff_base: float = 30.0,
    backoff_max: float = 3600.0,
    max_rejections: int = 5,
    max_run_seconds: Optional[float] = 20.0,
    clock: Callable[[], float] = time.monotonic,
    rng: Optional[random.Random] = None,
) -> Callable[[], None]:
    """Build the task that sends the outbox through the messengers.

    Parameters
    ----------
    message_store
        The outbox. A store whose ``get_unsent_messages`` takes ``limit``
        (like ``SqliteMessageStore``) is read in bounded batches, oldest
        first; any other store is read whole and sorted by ``created_on``.
    messengers
        Where to send. With none, messages stay in the outbox.
    logger
        Logger of the task.
    batch_size
        Messages read from the store at a time.
    max_messages_per_run
        Most messages one run tries to send; a large backlog drains over
        several runs instead of holding a worker for long.
    max_messages
        acoupi 0.8's name for ``max_messages_per_run``; when given, it wins.
    order
        ``"oldest_first"`` (default: the server sees events in order) or
        ``"newest_first"`` (after an outage, fresh news first).
    backoff_base, backoff_max
        Delay after a messenger's first failure, and its upper bound, in
        seconds (see :class:`Backoff`).
    max_rejections
        After a receiver rejected (ERROR) the same message this many times,
        that message stops holding back the ones after it: later runs of
        this worker skip it. It stays unsent in the store for inspection.
    max_run_seconds
        No new message is started after this many seconds, so a slow link
        never runs into Celery's task time limit (30 s soft by default) in
        the middle of a send. None means no limit.
    clock, rng
        Injectable monotonic clock and jitter generator, for tests.

    Returns
    -------
    Callable[[], None]
        The task, named ``send_messages_task``.

    Notes
    -----
    The outbox records delivery per message, not per messenger (as in 0.3):
    with several messengers a message counts as delivered once any of them
    acknowledged it.
    """
    if max_messages is not None:
        max_messages_per_run = max_messages
    if batch_size < 1 or max_messages_per_run < 1:
        raise ValueError(
            "batch_size and max_messages (max_messages_per_run) must be positive"
        )
    if order not in ("oldest_first", "newest_first"):
        raise ValueError(
            f"order must be 'oldest_first' or 'newest_first', got {order!r}"
        )
    messengers = list(messengers or [])
    backoffs = [
        Backoff(backoff_base, backoff_max, clock=clock, rng=rng) for _ in messengers
    ]
    accepts_limit = _accepts_limit(message_store)
    rejections: Dict[UUID, int] = {}
    parked: Set[UUID] = set()

    def record_failure(index: int, response: data.Response) -> None:
        message = response.message
        if response.status == data.ResponseStatus.ERROR:
            rejections[message.id] = rejections.get(message.id, 0) + 1
            if rejections[message.id] >= max_rejections and message.id not in parked:
                parked.add(message.id)
                logger.error(
                    "Message %s was rejected %d times; skipping it so that "
                    "later messages can be sent. It stays in the store.",
                    message.id,
                    rejections[message.id],
                )
        delay = backoffs[index].failed()
        logger.warning(
            "Messenger %d (%s) failed on message %s (%s: %s); "
            "its remaining messages wait, next attempt in about %.0f s.",
            index,
            type(messengers[index]).__name__,
            message.id,
            response.status.name,
            response.content,
            delay,
            extra={NOT_SENT: str(response.content)},
        )

    def send_messages_task() -> None:
        try:
            send_messages()
        except DatabaseFileError as error:
            # One clear line naming the file and the fix, not a traceback
            # repeated every run.
            cause = error.explain()
            logger.error("Messages not sent: %s", cause, extra={NOT_SENT: cause})

    def send_messages() -> None:
        if not messengers:
            logger.warning("No messengers configured: messages stay in the store.")
            return
        active = [index for index, backoff in enumerate(backoffs) if backoff.ready()]
        if not active:
            wait = min(backoff.remaining() for backoff in backoffs)
            logger.info("All messengers are backing off; next attempt in %.0f s.", wait)
            return

        attempted: Set[UUID] = set()
        delivered = 0
        started = clock()

        def out_of_time() -> bool:
            return max_run_seconds is not None and clock() - started >= max_run_seconds

        try:
            while active and len(attempted) < max_messages_per_run:
                limit = min(batch_size, max_messages_per_run - len(attempted))
                batch = [
                    message
                    for message in _fetch_unsent(
                        message_store, limit + len(parked), accepts_limit, order
                    )
                    if message.id not in parked and message.id not in attempted
                ][:limit]
                if not batch:
                    break
                for message in batch:
                    if out_of_time():
                        break
                    attempted.add(message.id)
                    logger.debug(
                        "Sending message %s: %r",
                        message.id,
                        message.content[:MAX_DEBUG_CONTENT_LENGTH],
                    )
                    sent = False
                    for index in list(active):
                        response = send_with(messengers[index], message, logger)
                        message_store.store_response(response)
                        if response.status == data.ResponseStatus.SUCCESS:
                            backoffs[index].succeeded()
                            rejections.pop(message.id, None)
                            sent = True
                        else:
                            active.remove(index)
                            record_failure(index, response)
                    delivered += sent
                    if not active:
                        break
                if out_of_time():
                    logger.info(
                        "Run time limit reached; the rest waits for the next run."
                    )
                    break
        finally:
            close_messengers(messengers, logger)

        count_unsent = getattr(message_store, "count_unsent", None)
        left = f"{count_unsent()}" if callable(count_unsent) else "unknown"
        logger.info("Delivered %d message(s); %s left unsent.", delivered, left)

    return send_messages_task
