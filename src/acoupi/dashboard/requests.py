"""Reading a request's parameters, with 4xx answers for bad ones."""

from typing import Any, Optional, Tuple
from uuid import UUID

from starlette.exceptions import HTTPException
from starlette.requests import Request

from acoupi.dashboard.queries import DetectionQuery, parse_when

__all__ = ["detection_query", "integer", "page_of", "uuid_param"]

MAX_PER_PAGE = 200


def uuid_param(text: Optional[str], what: str) -> UUID:
    """Return ``text`` as a UUID; a 404 when it is not one (no such thing)."""
    try:
        return UUID(str(text))
    except ValueError:
        raise HTTPException(404, f"There is no {what} with id {text!r}.") from None


def integer(request: Request, name: str, default: int, low: int, high: int) -> int:
    """Return an integer query parameter within [low, high]; 400 otherwise."""
    text = request.query_params.get(name)
    if text in (None, ""):
        return default
    try:
        value = int(text)
    except ValueError:
        raise HTTPException(
            400, f"{name} must be a whole number, not {text!r}."
        ) from None
    if not low <= value <= high:
        raise HTTPException(400, f"{name} must be between {low} and {high}.")
    return value


def page_of(request: Request, default_per_page: int = 25) -> Tuple[int, int]:
    """Return (page number from 1, rows per page)."""
    page = integer(request, "page", 1, 1, 1_000_000)
    per_page = integer(request, "per_page", default_per_page, 1, MAX_PER_PAGE)
    return page, per_page


def _when(request: Request, name: str) -> Any:
    text = request.query_params.get(name)
    if not text:
        return None
    try:
        return parse_when(text)
    except ValueError as error:
        raise HTTPException(400, f"{name}: {error}") from None


def detection_query(request: Request) -> DetectionQuery:
    """Return the detection filters of a request (``tag``, ``min_score``, ...)."""
    params = request.query_params
    min_score = params.get("min_score")
    score: Optional[float] = None
    if min_score:
        try:
            score = float(min_score)
        except ValueError:
            raise HTTPException(
                400, f"min_score must be a number from 0 to 1, not {min_score!r}."
            ) from None
        if not 0 <= score <= 1:
            raise HTTPException(400, "min_score must be between 0 and 1.")
    tags = [tag for value in params.getlist("tag") for tag in value.split(",")]
    return DetectionQuery(
        tags=tags or None,
        min_score=score,
        since=_when(request, "since"),
        until=_when(request, "until"),
        deployment=params.get("deployment") or None,
    )
