"""The embedded broker's kombu transport: kombu's filesystem one, made crash-safe.

Kept apart from :mod:`acoupi.system.broker` (paths, configuration, queue
depths) because it imports kombu, which only processes that move messages
need. Kombu loads it as ``acoupi.system.broker:Transport``, which that
module resolves to :class:`Transport` here on first use.
"""

import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, Optional

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

from acoupi.system import claims
from acoupi.system.broker import prune_results
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
      the worker.
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

    def basic_consume(self, queue: Any, no_ack: Any, *args: Any, **kwargs: Any) -> Any:
        """Consume ``queue``; remember whether its messages get acknowledged."""
        if no_ack:
            self._no_ack_queues.add(str(queue))
        else:
            self._no_ack_queues.discard(str(queue))
        return super().basic_consume(queue, no_ack, *args, **kwargs)

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

    def basic_reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        """Reject a message: back to the queue, or deleted."""
        super().basic_reject(delivery_tag, requeue=requeue)
        claimed = self._release(delivery_tag)
        if claimed is not None and not requeue:
            try:
                os.unlink(claimed)
            except FileNotFoundError:
                pass

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
    """The embedded broker's transport (see :class:`Channel`)."""

    Channel = Channel

    @property
    def default_connection_params(self) -> Dict[str, Any]:
        """Only the port: the embedded broker has no host."""
        # Folders, not a host: with kombu's default "localhost" every
        # connection logged "No hostname was supplied" in the worker logs.
        return {"port": self.default_port}
