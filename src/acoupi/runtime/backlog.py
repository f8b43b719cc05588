"""How far detection lags behind recording."""

from typing import Any

__all__ = ["get_backlog"]


def get_backlog(program: Any) -> int:
    """Return how many recordings wait for detection.

    Programs without detection have no backlog (0). For a
    ``DetectionProgram`` it is the number of messages waiting in its
    detection queue, which ``detections.max_backlog`` bounds.

    Parameters
    ----------
    program
        A loaded acoupi program whose Celery app knows the broker.

    Returns
    -------
    int
        Recordings waiting for the model.

    Raises
    ------
    Exception
        If the broker cannot be reached; a status report should catch it
        and show the backlog as unknown.
    """
    measure = getattr(program, "detection_backlog", None)
    if measure is None:
        return 0
    return int(measure())
