"""Timezone-aware time helpers.

acoupi creates only timezone-aware datetimes (UTC). Naive datetimes coming
from users or older files are read as UTC, so that comparisons never mix
naive and aware values.
"""

import datetime
from typing import Annotated

from pydantic import AfterValidator

__all__ = ["UTCDateTime", "as_utc", "now_utc"]


def now_utc() -> datetime.datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.datetime.now(datetime.timezone.utc)


def as_utc(value: datetime.datetime) -> datetime.datetime:
    """Attach UTC to a naive datetime; leave aware datetimes untouched."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value


UTCDateTime = Annotated[datetime.datetime, AfterValidator(as_utc)]
"""A datetime field that is always timezone-aware (naive input means UTC)."""
