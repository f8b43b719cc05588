"""The embedded broker's kombu transport: kombu's filesystem one, made crash-safe.

Kept apart from :mod:`acoupi.system.broker` (paths, configuration, queue
depths) because it imports kombu, which only processes that move messages
need. Kombu loads it as ``acoupi.system.broker:Transport``, which that
module resolves to :class:`Transport` here on first use.
"""

import logging
import os
import select
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Optional

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

from acoupi.system import broker_exchanges, claims
from acoupi.system.broker import SAFETY_POLL_INTERVAL, prune_results
from acoupi.system.broker_wakeup import Wakeup
from acoupi.system.permissions import private_dir

__all__ = ["Channel", "RECLAIM_INTERVAL", "Transport"]

logger = logging.getLogger(__name__)

RECLAIM_INTERVAL = 5.0
"""Seconds between two looks for messages claimed by consumers that died."""


class Channel(filesystem.Channel):
    """Kombu's filesystem channel, made crash-safe and private.

    Kombu writes a message straight under its final name, so a consumer
    polling at that moment may read it empty, and an unreadable message
    crashes the worker for good (measured: a recording worker died this way
    within 10 s). Here:

    * a message is written under a hidden name (mode 0600) and renamed into
      place;
    * a consumer claims a message by renaming it into its own folder
      ``claimed/<pid>-<start>`` (atomic: exactly one consumer gets it) and
      keeps it there until the task is acknowledged. A message claimed by a
      process that died (kill -9, power cut) goes back to the queue when
      any consumer next starts or polls (see :mod:`acoupi.system.claims`);
      a message requeued by Celery moves back instead of being copied, so
      it is never queued twice;
    * a file the worker's user does not own (or that is not a regular
      file) is refused and set aside: with pickle, reading a message runs
      code, so another local user must not be able to queue one;
    * a file that still cannot be read (e.g. emptied by a power cut) is
      moved to the ``unreadable`` folder and logged instead of stopping
      the worker;
    * exchange tables are changed under a lock and replaced atomically
      (see :mod:`acoupi.system.broker_exchanges`): kombu's in-place update
      let two workers starting together corrupt one.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._claims: Dict[str, str] = {}
        self._claims_lock = threading.Lock()
        # Queues read without acknowledgements (Celery's broadcast and reply
        # queues): their messages are deleted once read, as nothing acks them.
        self._no_ack_queues: set[str] = set()
        self._next_reclaim = 0.0
        self._reclaim()

    def _folder(self, option: str, default: str) -> str:
        folder = self.transport_options.get(option) or os.path.join(
            self.data_folder_in, default
        )
        private_dir(Path(folder))
        return str(folder)

    def _own_claims(self) -> str:
        folder = os.path.join(
            self._folder("claimed_folder", "claimed"), claims.owner_name()
        )
        private_dir(Path(folder))
        return folder

    def _reclaim(self) -> None:
        """Put back the messages of consumers that died; at most every 5 s."""
        now = time.monotonic()
        if now < self._next_reclaim:
            return
        self._next_reclaim = now + RECLAIM_INTERVAL
        try:
            claims.requeue_orphans(
                Path(self._folder("claimed_folder", "claimed")),
                Path(self.data_folder_in),
            )
        except OSError as error:
            logger.warning("Could not look for orphaned broker messages: %s", error)
        results = self.transport_options.get("results_folder")
        if results:
            prune_results(Path(results))

    # kombu's own bases disagree on the name of the second argument.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        name = f"{int(round(time.time() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot keeps the half-written file out of every queue.
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add message {name!r}: {error}") from error

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        self._reclaim()
        wanted = f"{queue}.msg"
        folder = self.data_folder_in
        for name in sorted(os.listdir(folder)):
            if name.startswith(".") or name.partition(".")[2] != wanted:
                continue
            source = os.path.join(folder, name)
            refusal = claims.refusal(source)
            if refusal is not None:
                self._set_aside(source, name, refusal)
                continue
            claimed = os.path.join(self._own_claims(), name)
            try:
                os.rename(source, claimed)
            except OSError:
                continue  # another consumer took it
            try:
                with open(claimed, "rb") as handle:
                    message = loads(bytes_to_str(handle.read()))
                tag = message["properties"]["delivery_tag"]
            except (OSError, ValueError, KeyError, TypeError) as error:
                self._set_aside(claimed, name, error)
                continue
            if str(queue) in self._no_ack_queues:
                os.unlink(claimed)
                return message
            with self._claims_lock:
                self._claims[str(tag)] = claimed
            return message
        raise filesystem.Empty()

    def _wake_consumer(self) -> None:
        """Make a waiting :meth:`Transport.drain_events` look at the queues.

        Called wherever this process may have become able to take a message
        already in the folder, which no file event would announce: a queue
        consumed, the prefetch limit changed or freed by an acknowledgement
        (from a pool thread while the main thread waits).
        """
        wake = getattr(self.connection, "wake", None)
        if wake is not None:
            wake()

    def basic_consume(self, queue: Any, no_ack: Any, *args: Any, **kwargs: Any) -> Any:
        """Consume ``queue``; remember whether its messages get acknowledged."""
        if no_ack:
            self._no_ack_queues.add(str(queue))
        else:
            self._no_ack_queues.discard(str(queue))
        try:
            return super().basic_consume(queue, no_ack, *args, **kwargs)
        finally:
            self._wake_consumer()

    def basic_qos(self, *args: Any, **kwargs: Any) -> Any:
        """Set the prefetch limit; a waiting consumer may take more now."""
        try:
            return super().basic_qos(*args, **kwargs)
        finally:
            self._wake_consumer()

    def basic_recover(self, requeue: bool = False) -> Any:
        """Put back every unacknowledged message (their claims move back)."""
        try:
            return super().basic_recover(requeue=requeue)
        finally:
            self._wake_consumer()

    def basic_get(self, queue: Any, no_ack: bool = False, **kwargs: Any) -> Any:
        """Take one message of ``queue`` (acknowledged later unless ``no_ack``)."""
        if not no_ack:
            return super().basic_get(queue, no_ack=no_ack, **kwargs)
        self._no_ack_queues.add(str(queue))
        try:
            return super().basic_get(queue, no_ack=no_ack, **kwargs)
        finally:
            self._no_ack_queues.discard(str(queue))

    def _release(self, tag: Any) -> Optional[str]:
        with self._claims_lock:
            return self._claims.pop(str(tag), None)

    def basic_ack(self, delivery_tag: Any, multiple: bool = False) -> None:
        """Acknowledge a message: its claimed file is deleted."""
        super().basic_ack(delivery_tag, multiple=multiple)
        claimed = self._release(delivery_tag)
        if claimed is not None:
            try:
                os.unlink(claimed)
            except FileNotFoundError:
                pass
        self._wake_consumer()

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        """Reject a message: back to the queue, or deleted."""
        super().basic_reject(delivery_tag, requeue=requeue)
        claimed = self._release(delivery_tag)
        if claimed is not None and not requeue:
            try:
                os.unlink(claimed)
            except FileNotFoundError:
                pass
        self._wake_consumer()

    def _restore(self, message: Any) -> None:
        """Move a claimed message back to the queue instead of copying it."""
        claimed = self._release(message.delivery_tag)
        if claimed is None:
            # Already acknowledged, or put back: a copy would run it twice.
            return
        try:
            os.replace(claimed, os.path.join(self.data_folder_in, Path(claimed).name))
        except FileNotFoundError:
            pass  # already acknowledged by another thread

    def _table(self, exchange: Any) -> Path:
        folder = Path(self.control_folder)
        path = folder / f"{exchange}.exchange"
        if not exchange or str(exchange).startswith(".") or path.parent != folder:
            raise ChannelError(f"Invalid exchange name: {exchange!r}")
        return path

    def get_table(self, exchange: Any) -> Any:
        """The queues bound to ``exchange``, as kombu's fanout expects them."""
        return [
            filesystem.exchange_queue_t(*row)
            for row in broker_exchanges.read_table(self._table(exchange))
        ]

    def _queue_bind(
        self, exchange: Any, routing_key: Any, pattern: Any, queue: Any
    ) -> None:
        path = self._table(exchange)
        try:
            path.parent.mkdir(exist_ok=True)
            broker_exchanges.bind(path, (routing_key or "", pattern or "", queue or ""))
        except OSError as error:
            raise ChannelError(f"Cannot bind queue {queue!r}: {error}") from error

    def _delete(
        self,
        queue: Any,
        exchange: Any,
        routing_key: Any,
        pattern: Any,
        *args: Any,
        **kwargs: Any,
    ) -> None:  # type: ignore[override]
        # Skip kombu's filesystem version: it rewrites the table in place.
        virtual.Channel._delete(
            self, queue, exchange, routing_key, pattern, *args, **kwargs
        )
        binding = (routing_key or "", pattern or "", queue or "")
        try:
            broker_exchanges.unbind(self._table(exchange), binding)
        except OSError as error:
            raise ChannelError(f"Cannot unbind queue {queue!r}: {error}") from error

    def _set_aside(self, path: str, name: str, error: object) -> None:
        destination = os.path.join(
            self._folder("unreadable_folder", "unreadable"), name
        )
        try:
            os.replace(path, destination)
        except OSError:
            destination = path
        logger.error(
            "Broker message %s not run, kept at %s: %s", name, destination, error
        )


class Transport(filesystem.Transport):
    """The embedded broker's transport (see :class:`Channel`).

    Kombu's virtual transport polls: with no message waiting, its
    ``drain_events`` sleeps ``polling_interval`` and lists the queue folder
    again, so a task sent to an idle worker waited up to that long, and
    idle workers woke several times a second for nothing. Here an idle
    consumer instead blocks on a :class:`~acoupi.system.broker_wakeup.Wakeup`
    (an inotify watch on the queue folder, plus a pipe the channels nudge
    when an acknowledgement makes room), and lists the folder only when
    something arrived, or at the latest every ``safety_poll_interval``
    seconds in case an event was missed (every ``polling_interval`` where
    the folder cannot be watched). Transport options, besides kombu's:

    ``inotify`` (default True)
        False: never watch the folder (poll at ``polling_interval``).
    ``safety_poll_interval`` (default
    :data:`~acoupi.system.broker.SAFETY_POLL_INTERVAL`)
        Longest time between two listings while the folder is watched.
    """

    Channel = Channel

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        options = client.transport_options
        self.folder = str(options.get("data_folder_in", "data_in"))  # as kombu's
        self.use_inotify = bool(options.get("inotify", True))
        self.safety_poll_interval = float(
            options.get("safety_poll_interval", SAFETY_POLL_INTERVAL)
        )
        # Made on the first drain_events: connections that only publish
        # (beat, the command line, Celery's producer pool) need none.
        self._wakeup: Optional[Wakeup] = None
        self._wakeup_failed = not hasattr(select, "poll")
        self._next_poll = 0.0

    @property
    def default_connection_params(self) -> Dict[str, Any]:
        """Only the port: the embedded broker has no host."""
        # Folders, not a host: with kombu's default "localhost" every
        # connection logged "No hostname was supplied" in the worker logs.
        return {"port": self.default_port}

    def wake(self) -> None:
        """End a wait of :meth:`drain_events` early; safe from any thread."""
        wakeup = self._wakeup
        if wakeup is not None:
            wakeup.notify()

    # kombu's base declares **kwargs; its virtual transport takes timeout.
    def drain_events(  # type: ignore[override]
        self, connection: Any, timeout: Optional[float] = None
    ) -> None:
        """Deliver one message, waiting up to ``timeout`` seconds for one.

        Raises
        ------
        socket.timeout
            If no message came within ``timeout``.
        """
        wakeup = self._get_wakeup()
        if wakeup is None:
            super().drain_events(connection, timeout=timeout)
            return
        get = self.cycle.get  # type: ignore[union-attr]  # set by kombu's __init__
        deadline = None if timeout is None else time.monotonic() + timeout
        changed = wakeup.wait(0.0, self._consumes)
        while True:
            now = time.monotonic()
            if changed or now >= self._next_poll:
                # Cleared before listing: what arrives meanwhile wakes the wait.
                wakeup.clear()
                interval = (
                    self.safety_poll_interval
                    if wakeup.watching
                    else self.polling_interval or 0.0
                )
                self._next_poll = now + interval
                try:
                    get(self._deliver, timeout=timeout)
                except filesystem.Empty:
                    now = time.monotonic()
                else:
                    self._next_poll = 0.0  # more may wait: list again next time
                    return
            if deadline is not None and now >= deadline:
                raise TimeoutError()  # socket.timeout, what Celery expects
            wait = self._next_poll - now
            if deadline is not None:
                wait = min(wait, deadline - now)
            changed = wakeup.wait(max(wait, 0.0), self._consumes)

    def close_connection(self, connection: Any) -> None:
        """Close the channels, then what idle consumers waited on."""
        try:
            super().close_connection(connection)
        finally:
            wakeup, self._wakeup = self._wakeup, None
            if wakeup is not None:
                wakeup.close()

    def _get_wakeup(self) -> Optional[Wakeup]:
        if self._wakeup is None and not self._wakeup_failed:
            try:
                self._wakeup = Wakeup(self.folder, use_inotify=self.use_inotify)
                self._next_poll = 0.0  # nothing known yet: list at once
            except OSError as error:
                # No descriptors left: kombu's polling still works.
                self._wakeup_failed = True
                logger.warning("Broker consumer falls back to polling: %s", error)
        return self._wakeup

    def _consumes(self, name: str) -> bool:
        """Whether message file ``name`` is for a queue consumed here."""
        # The same test as Channel._get: ``<id>.<queue>.msg``.
        suffix = name.partition(".")[2]
        return any(
            suffix == f"{queue}.msg"
            for channel in list(self.channels)
            for queue in list(getattr(channel, "_active_queues", ()))
        )
