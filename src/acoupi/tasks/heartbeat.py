"""The heartbeat task: tell the server that the device is alive."""

import logging
from typing import Callable, List, Optional, TypeVar, Union

from pydantic import BaseModel, Field

import acoupi
from acoupi import data, devices
from acoupi.components import types
from acoupi.tasks.messaging import close_messengers, send_with
from acoupi.timeutil import UTCDateTime, now_utc

__all__ = ["Heartbeat", "HeartbeatSerializer", "MetricFn", "generate_heartbeat_task"]

logger = logging.getLogger(__name__)
logger.setLevel(logging.INFO)


class Heartbeat(BaseModel):
    """Content of a heartbeat message.

    The first three fields are those of acoupi 0.3, in the same (JSON key)
    order; ``acoupi_version`` is new and comes last so parsers of the old
    shape keep working.
    """

    sent_on: UTCDateTime = Field(default_factory=now_utc)
    device_id: str
    status: str = "OK"
    acoupi_version: str = acoupi.__version__
    detection_backlog: Optional[int] = None
    """Recordings waiting for detection, when the program measures it."""
    problem: Optional[str] = Field(
        default=None, exclude_if=lambda problem: problem is None
    )
    """What keeps the device from working normally (``status`` is then
    ``"PROBLEM"``), e.g. recording paused for lack of disk space; left out
    of the JSON when there is none."""
    metrics: List[data.Metric] = Field(
        default_factory=list, exclude_if=lambda metrics: not metrics
    )
    """Measurements taken when the heartbeat was built (acoupi 0.8); left
    out of the JSON when there are none."""


MetricFn = Callable[[], data.Metric]
"""Takes one measurement, e.g. ``acoupi.devices.metrics.get_free_memory``."""

HeartbeatSerializer = Callable[[Heartbeat], Union[str, bytes]]
"""Turns a heartbeat into message content (JSON text by default)."""


def heartbeat_to_json(heartbeat: Heartbeat) -> str:
    """Return the heartbeat as JSON text (the default serializer)."""
    return heartbeat.model_dump_json()


def generate_heartbeat_task(
    messengers: List[types.Messenger],
    logger: logging.Logger = logger,
    message_store: Optional[types.MessageStore] = None,
    backlog: Optional[Callable[[], Optional[int]]] = None,
    metrics: Optional[List[MetricFn]] = None,
    serializer: HeartbeatSerializer = heartbeat_to_json,
    problem: Optional[Callable[[], Optional[str]]] = None,
) -> Callable[[], None]:
    """Build the task that sends a heartbeat through every messenger.

    Parameters
    ----------
    messengers
        Where to send heartbeats; at least one.
    logger
        Logger of the task.
    message_store
        Optional outbox. When given, each heartbeat is stored before it is
        sent and its responses are recorded, so a heartbeat that could not
        be sent is delivered later by the send-messages task: after an
        outage the server still learns when the device was alive.
        Without it (as in 0.3) heartbeats are sent once and not kept.
    backlog
        Optional function returning how many recordings wait for detection;
        reported so a lagging model is visible remotely.
    metrics
        Functions measuring the device when each heartbeat is built (see
        :mod:`acoupi.devices.metrics`; bind arguments with
        ``functools.partial``). A function that fails is logged and left
        out; the heartbeat still goes.
    serializer
        Turns the :class:`Heartbeat` into the message content (``str`` or
        ``bytes``); JSON text by default.
    problem
        Optional function returning what keeps the device from working
        normally (None when all is well), e.g. a full disk; reported with
        status ``PROBLEM`` so the server sees it.

    Returns
    -------
    Callable[[], None]
        The task, named ``heartbeat_task``. It never raises: failures are
        logged.

    Raises
    ------
    ValueError
        If ``messengers`` is empty.
    """
    if not messengers:
        raise ValueError("The heartbeat task needs at least one messenger.")
    messengers = list(messengers)

    def heartbeat_task() -> None:
        now = now_utc()
        try:
            trouble = _measure(problem, logger)
            heartbeat = Heartbeat(
                device_id=devices.get_device_id(),
                sent_on=now,
                status="OK" if trouble is None else "PROBLEM",
                detection_backlog=_measure(backlog, logger),
                metrics=_collect(metrics or [], logger),
                problem=trouble,
            )
            content = serializer(heartbeat)
        except Exception:
            logger.exception("Could not build the heartbeat.")
            return
        message = data.Message(
            content=content, created_on=now, message_type=data.MessageType.HEARTBEAT
        )

        if message_store is not None:
            try:
                message_store.store_message(message)
            except Exception:
                logger.exception("Could not store heartbeat %s.", message.id)

        for messenger in messengers:
            response = send_with(messenger, message, logger)
            if response.status == data.ResponseStatus.SUCCESS:
                logger.info("Heartbeat sent via %s.", type(messenger).__name__)
            else:
                logger.warning(
                    "Heartbeat not sent via %s: %s %s",
                    type(messenger).__name__,
                    response.status.name,
                    response.content,
                )
            if message_store is not None:
                try:
                    message_store.store_response(response)
                except Exception:
                    logger.exception("Could not store the heartbeat response.")
        close_messengers(messengers, logger)

    return heartbeat_task


T = TypeVar("T")


def _measure(
    measure: Optional[Callable[[], Optional[T]]], logger: logging.Logger
) -> Optional[T]:
    if measure is None:
        return None
    try:
        return measure()
    except Exception:  # a heartbeat must go out even when the broker is down
        logger.warning("Could not measure %s.", measure, exc_info=True)
        return None


def _collect(metrics: List[MetricFn], logger: logging.Logger) -> List[data.Metric]:
    measured: List[data.Metric] = []
    for metric in metrics:
        try:
            measured.append(metric())
        except Exception:  # one broken sensor must not silence the device
            logger.warning("Could not measure metric %r.", metric, exc_info=True)
    return measured
