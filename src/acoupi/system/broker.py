"""The embedded message broker: Celery queues as files in the acoupi home.

By default acoupi needs no broker daemon. Kombu's ``filesystem`` transport
keeps every queued message as a file under ``<home>/broker/queue`` and
Celery's ``file`` result backend keeps results under
``<home>/broker/results``; workers, beat and the command line all on one
machine share them. A configured ``pyamqp://`` (RabbitMQ) or ``redis://``
URL is used as given instead.

Every place that builds a Celery app from a :class:`CeleryConfig` must pass
it through :func:`celery_conf_for`, which turns the bare ``filesystem://``
and ``file://`` defaults into folders of *this* installation.

Why the filesystem transport: it ships with kombu (no new dependency and
no daemon to keep alive on a Pi) and survives restarts (messages are
files). Kombu's own channel is not crash-safe (torn message files killed a
worker in our tests), so :class:`Transport` replaces its reads and writes;
and kombu's consumer polls the folder, so :class:`Transport` has an idle
consumer wait on an inotify watch instead (see
:mod:`acoupi.system.broker_wakeup`): a task reaches an idle worker as soon
as it is queued. The alternative, ``sqla+sqlite://``, would add SQLAlchemy
(not installed, ~0.3 s more import per process) and only polls.
"""

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional

if TYPE_CHECKING:
    from celery import Celery

from acoupi.system import claims
from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.exceptions import CeleryUnavailableError
from acoupi.system.permissions import private_dir

__all__ = [
    "EMBEDDED_BROKER_URL",
    "EMBEDDED_TRANSPORT",
    "EMBEDDED_RESULT_BACKEND",
    "POLLING_INTERVAL",
    "SAFETY_POLL_INTERVAL",
    "BrokerPaths",
    "broker_paths",
    "celery_conf_for",
    "check_embedded_broker",
    "is_embedded",
    "place_embedded",
    "pending_task_arguments",
    "prune_results",
    "purge_queues",
    "queue_depths",
]

EMBEDDED_BROKER_URL = "filesystem://"
"""Broker URL meaning "the embedded broker in the acoupi home"."""

EMBEDDED_TRANSPORT = "acoupi.system.broker:Transport"
"""Kombu transport of the embedded broker (kombu's, made crash-safe)."""

EMBEDDED_RESULT_BACKEND = "file://"
"""Result backend meaning "result files in the acoupi home"."""

RESULT_TTL = 3600.0
"""Seconds a task result file is kept (Celery's file backend never deletes
them; its daily cleanup does not apply to it)."""

POLLING_INTERVAL = 0.5
"""Seconds between two looks at the queue folder by an idle consumer that
cannot watch it (no inotify: not Linux, or the user's inotify limits
reached; or the ``inotify`` transport option set to False).

Measured with polling only, on one idle ``threads`` worker of the test
program (x86 VM, 20 s each, CPU time of all its threads): 0.1 s polling
cost 0.22-0.30 % of a core, 0.5 s 0.05-0.10 %, 1 s 0.06-0.10 %; a task
round trip took 0.5 s, 0.5 s and 1.0 s.
"""

SAFETY_POLL_INTERVAL = 5.0
"""Longest wait, in seconds, between two looks at a watched queue folder.

A consumer that watches the queue folder with inotify is woken by every
new message, so this only bounds how long a message can wait if an event
is lost (inotify queue overflow, a file system that does not report
writes, such as NFS). Every look also puts back messages claimed by
consumers that died (at most every
:data:`~acoupi.system.broker_transport.RECLAIM_INTERVAL`).
"""


@dataclass(frozen=True)
class BrokerPaths:
    """Folders of the embedded broker."""

    root: Path
    queue: Path
    """Queued messages, one file each (``data_folder_in`` and ``_out``)."""

    control: Path
    """Exchange bindings, for broadcasts such as ``ping``."""

    results: Path
    """Task results, one file each."""

    claimed: Path
    """Messages consumers took and have not finished, one folder per
    consumer process (``<pid>-<start time>``)."""

    unreadable: Path
    """Message files that could not be read, kept for inspection."""

    def all(self) -> tuple[Path, ...]:
        """Return every folder the broker needs."""
        return (self.queue, self.control, self.results, self.claimed, self.unreadable)


def broker_paths(settings: Settings) -> BrokerPaths:
    """Return the embedded broker's folders under ``settings.home``."""
    root = Path(settings.home) / "broker"
    return BrokerPaths(
        root=root,
        queue=root / "queue",
        control=root / "control",
        results=root / "results",
        claimed=root / "claimed",
        unreadable=root / "unreadable",
    )


def _is_embedded_broker(url: str) -> bool:
    # Only the bare default is ours to place; ``filesystem://`` with
    # explicit transport options elsewhere is the user's business too,
    # but the folders are only filled in where none are given.
    return url.strip().rstrip("/") == EMBEDDED_BROKER_URL.rstrip("/")


def _is_embedded_backend(url: str) -> bool:
    return url.strip().rstrip("/") == EMBEDDED_RESULT_BACKEND.rstrip("/")


def is_embedded(config: CeleryConfig) -> bool:
    """Return whether ``config`` uses the embedded (filesystem) broker."""
    return _is_embedded_broker(config.broker_url)


def _make_dirs(paths: BrokerPaths) -> None:
    for folder in paths.all():
        try:
            private_dir(folder)
        except OSError:
            # Building a conf must not fail (a status check calls it too);
            # check_embedded_broker explains the problem.
            pass


def celery_conf_for(config: CeleryConfig, settings: Settings) -> Dict[str, Any]:
    """Return the Celery settings of ``config`` for this installation.

    The embedded defaults (``broker_url="filesystem://"``,
    ``result_backend="file://"``) are given folders under
    ``settings.home/broker``, created if missing; transport options set
    in ``config.broker_transport_options`` win over the embedded ones.
    Any other URL passes through untouched.

    Parameters
    ----------
    config
        The Celery configuration (``celery.json``).
    settings
        The acoupi settings, giving the home.

    Returns
    -------
    dict
        Settings for ``Celery.config_from_object``.
    """
    return place_embedded(config.as_celery_conf(), settings)


def place_embedded(conf: Dict[str, Any], settings: Settings) -> Dict[str, Any]:
    """Return ``conf`` with the bare embedded broker placed in ``settings.home``.

    Parameters
    ----------
    conf
        Celery settings as stored (the fields of a ``CeleryConfig``).
    settings
        The acoupi settings, giving the home.

    Returns
    -------
    dict
        A new mapping; ``conf`` itself is not changed.
    """
    conf = dict(conf)
    embedded_broker = _is_embedded_broker(str(conf.get("broker_url", "")))
    embedded_backend = _is_embedded_backend(str(conf.get("result_backend", "")))
    if not (embedded_broker or embedded_backend):
        return conf
    paths = broker_paths(settings)
    _make_dirs(paths)
    if embedded_broker:
        conf["broker_url"] = EMBEDDED_BROKER_URL
        conf["broker_transport"] = EMBEDDED_TRANSPORT
        conf["broker_transport_options"] = {
            "data_folder_in": str(paths.queue),
            "data_folder_out": str(paths.queue),
            "control_folder": str(paths.control),
            # Processed messages are deleted: kept ones would fill the card.
            "store_processed": False,
            "claimed_folder": str(paths.claimed),
            "unreadable_folder": str(paths.unreadable),
            # acoupi's own option (kombu ignores it): results to prune.
            "results_folder": str(paths.results),
            "polling_interval": POLLING_INTERVAL,
            # acoupi's own options: wake idle consumers through inotify.
            "inotify": True,
            "safety_poll_interval": SAFETY_POLL_INTERVAL,
            **(conf.get("broker_transport_options") or {}),
        }
    if embedded_backend:
        conf["result_backend"] = f"file://{paths.results}"
    return conf


def check_embedded_broker(settings: Settings) -> None:
    """Raise unless the embedded broker's folders exist and are writable.

    Parameters
    ----------
    settings
        The acoupi settings.

    Raises
    ------
    CeleryUnavailableError
        If a folder cannot be created or written, naming it and the fix.
    """
    paths = broker_paths(settings)
    for folder in paths.all():
        try:
            private_dir(folder)
        except OSError as error:
            raise _unwritable(folder, error) from error
        # access() alone can lie (read-only mounts under root); try a file.
        probe = folder / f".write-test-{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise _unwritable(folder, error) from error


def _unwritable(folder: Path, error: OSError) -> CeleryUnavailableError:
    return CeleryUnavailableError(
        f"The embedded message broker cannot write to {folder}: "
        f"{error.strerror or error}.",
        help=f"Make {folder.parent} writable by the user running acoupi "
        f"(e.g. `sudo chown -R $USER {folder.parent}`), free some disk "
        "space, or use another broker with `acoupi setup ... --broker_url "
        "pyamqp://guest@localhost//`.",
    )


def queue_depths(app: "Celery", queues: Iterable[str]) -> Dict[str, int]:
    """Return how many messages wait in each queue, over one connection.

    Works with every broker acoupi supports (for the embedded one it counts
    the queue's files). Messages a worker has taken but not yet finished
    are not counted. A queue that does not exist yet counts as empty.

    Parameters
    ----------
    app
        A Celery app configured with :func:`celery_conf_for`.
    queues
        Queue names.

    Returns
    -------
    dict of str to int
        Waiting messages per queue.

    Raises
    ------
    Exception
        Whatever the transport raises when the broker is unreachable;
        callers that must not fail (a live view) catch it.
    """
    if app.conf.broker_transport == EMBEDDED_TRANSPORT:
        return _embedded_depths(app.conf.broker_transport_options or {}, queues)
    depths: Dict[str, int] = {}
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1)
        for queue in queues:
            # A fresh channel per queue: on AMQP a missing queue closes it.
            channel = connection.channel()
            try:
                declared = channel.queue_declare(queue=queue, passive=True)
                depths[queue] = int(declared.message_count or 0)
            except connection.channel_errors:
                depths[queue] = 0
            finally:
                try:
                    channel.close()
                except Exception:  # closing a broken channel may fail too
                    pass
    return depths


def _embedded_depths(options: Dict[str, Any], queues: Iterable[str]) -> Dict[str, int]:
    """Queue depths of the embedded broker, read from its folder.

    What kombu's filesystem channel answers (the files named
    ``<id>.<queue>.msg``), without kombu: a status then needs no Celery.
    As opening a channel does, messages claimed by consumers that died are
    first put back, so they count as waiting.
    """
    folder = Path(options["data_folder_in"])
    try:
        claims.requeue_orphans(
            Path(options.get("claimed_folder") or folder / "claimed"), folder
        )
    except OSError:
        pass  # a worker puts them back when it next polls
    names = os.listdir(folder)
    depths: Dict[str, int] = {}
    for queue in queues:
        wanted = f"{queue}.msg"
        depths[queue] = sum(1 for name in names if name.partition(".")[2] == wanted)
    return depths


def pending_task_arguments(app: "Celery", queue: str) -> Optional[List[str]]:
    """Return the arguments (as text) of every unfinished task of ``queue``.

    Both the tasks waiting in the queue and those a worker has claimed are
    included. Only the embedded broker can be looked into without taking
    messages; for other brokers the answer is None (unknown).

    Parameters
    ----------
    app
        A Celery app configured with :func:`celery_conf_for`.
    queue
        Queue name.

    Returns
    -------
    list of str or None
        Celery's ``argsrepr`` header of each pending task, or None.
    """
    if app.conf.broker_transport != EMBEDDED_TRANSPORT:
        return None
    options = app.conf.broker_transport_options or {}
    folder = Path(options["data_folder_in"])
    claimed = Path(options.get("claimed_folder") or folder / "claimed")
    from kombu.utils.encoding import bytes_to_str
    from kombu.utils.json import loads

    found = []
    for path in claims.pending_messages(folder, claimed, queue):
        if claims.refusal(str(path)) is not None:
            continue
        try:
            headers = loads(bytes_to_str(path.read_bytes())).get("headers") or {}
        except (OSError, ValueError, AttributeError):
            continue  # taken meanwhile, or unreadable: the worker sets it aside
        found.append(str(headers.get("argsrepr") or ""))
    return found


def purge_queues(app: "Celery", queues: Iterable[str]) -> Dict[str, int]:
    """Delete the waiting messages of each queue; return how many per queue."""
    purged: Dict[str, int] = {}
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
        for queue in queues:
            channel = connection.channel()
            try:
                purged[queue] = int(channel.queue_purge(queue) or 0)
            except connection.channel_errors:
                purged[queue] = 0  # the queue does not exist yet
            finally:
                try:
                    channel.close()
                except Exception:  # closing a broken channel may fail too
                    pass
    return purged


def prune_results(folder: Path, ttl: float = RESULT_TTL) -> int:
    """Delete result files older than ``ttl`` seconds; return how many.

    Called by every consumer of the embedded broker as it polls (at most
    every :data:`RECLAIM_INTERVAL`), so results never pile up.
    """
    removed = 0
    cutoff = time.time() - ttl
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue  # read or removed meanwhile
    return removed


def __getattr__(name: str) -> Any:
    """Load the transport classes (and kombu) only when asked for.

    Kombu finds the transport by the name :data:`EMBEDDED_TRANSPORT`
    (``acoupi.system.broker:Transport``); the classes live in
    :mod:`acoupi.system.broker_transport` so that reading the paths or the
    configuration (``acoupi deployment status``) does not import kombu.
    """
    if name in ("Channel", "Transport"):
        from acoupi.system import broker_transport

        return getattr(broker_transport, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
