"""Celery's task loggers, without importing Celery.

Programs and components log through Celery's task loggers, which a Celery
worker formats with the task's name and id. Getting one from
``celery.utils.log`` imports Celery and kombu, which a process that only
reads a program (``acoupi deployment status``) has no other use for;
:func:`task_logger` gives the very same logger without them.
"""

import logging
from typing import Optional

__all__ = ["task_logger"]


def _named(name: str) -> logging.Logger:
    # As kombu's get_logger, which Celery's uses: a logger without a handler
    # gets a NullHandler, so its records never reach logging's last-resort
    # handler (stderr) in a process that did not configure logging.
    logger = logging.getLogger(name)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger


def _descends(logger: logging.Logger, ancestor: logging.Logger) -> bool:
    current: Optional[logging.Logger] = logger
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent
    return False


def task_logger(name: str) -> logging.Logger:
    """Celery's ``get_task_logger(name)``, without importing Celery.

    The same logger object, with the same parent (Celery's ``celery.task``
    logger, which a Celery worker gives its task log format) and handlers,
    as ``celery.utils.log.get_task_logger`` returns, so that reading a
    program (``acoupi deployment status``) does not import Celery.

    Parameters
    ----------
    name
        The logger's name (a program uses its class name).

    Returns
    -------
    logging.Logger
        The logger.
    """
    if name in ("celery", "celery.task"):
        raise RuntimeError(f"Logger name {name!r} is reserved!")
    celery_logger = _named("celery")
    parent = _named("celery.task")
    logger = _named(name)
    if (
        logging.root not in (logger, logger.parent)
        and logger is not celery_logger
        and not _descends(logger, celery_logger)
    ):
        logger.parent = celery_logger
    if not _descends(logger, parent):
        logger.parent = parent
    return logger
