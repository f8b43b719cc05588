"""Dawn and dusk, shared by ``DawnTimeInterval`` and the dawn/dusk filters.

Where the sun is computed matters: upstream acoupi always used astral's
default location (Greenwich), whatever the deployment. Here the location
comes, in order, from explicit coordinates, then from the recording's
deployment, and only then from :data:`DEFAULT_LATITUDE` /
:data:`DEFAULT_LONGITUDE`, with a logged warning.

Polar day and polar night: on days when the sun never reaches the civil
depression (6° below the horizon), astral raises ``ValueError``. Such a day
simply has no dawn (or no dusk), so no window around it exists and the
checks answer False for it; nothing crashes.
"""

import datetime
import logging
from typing import Literal, Optional, Tuple

from astral import Observer
from astral.sun import dawn, dusk

from acoupi import data
from acoupi.timeutil import as_utc

__all__ = [
    "DEFAULT_LATITUDE",
    "DEFAULT_LONGITUDE",
    "LocationResolver",
    "SunEvent",
    "is_near_sun_event",
    "sun_event_time",
]

DEFAULT_LATITUDE = 51.4733
"""Fallback latitude: astral's default location (Greenwich), as upstream."""

DEFAULT_LONGITUDE = -0.0008333
"""Fallback longitude: astral's default location (Greenwich), as upstream."""

SunEvent = Literal["dawn", "dusk"]


def sun_event_time(
    event: SunEvent,
    day: datetime.date,
    latitude: float,
    longitude: float,
    timezone: datetime.tzinfo,
) -> Optional[datetime.datetime]:
    """Return the aware time of ``event`` on the local ``day``.

    Returns None when the event does not happen that day (polar day or
    night), instead of letting astral's ``ValueError`` escape.
    """
    function = dawn if event == "dawn" else dusk
    try:
        return function(
            Observer(latitude=latitude, longitude=longitude),
            date=day,
            tzinfo=timezone,
        )
    except ValueError:
        return None


def is_near_sun_event(
    moment: datetime.datetime,
    event: SunEvent,
    latitude: float,
    longitude: float,
    timezone: datetime.tzinfo,
    before: datetime.timedelta,
    after: datetime.timedelta,
) -> bool:
    """Return whether ``moment`` is in ``[event - before, event + after]``.

    The event is looked up on the local day of ``moment`` and on the days
    either side, so a window that crosses midnight (a dusk at 23:50 with a
    30 minute window, or high-latitude summer dawns) is still honoured.
    """
    moment = as_utc(moment)
    local_day = moment.astimezone(timezone).date()
    for offset in (-1, 0, 1):
        day = local_day + datetime.timedelta(days=offset)
        when = sun_event_time(event, day, latitude, longitude, timezone)
        if when is not None and when - before <= moment <= when + after:
            return True
    return False


class LocationResolver:
    """Chooses the coordinates used for dawn and dusk.

    Parameters
    ----------
    latitude, longitude
        Explicit coordinates; when both are given they always win. Giving
        only one of them is an error.
    logger
        Where the fallback warning goes (once per resolver, not per call:
        a filter sees thousands of recordings).
    """

    def __init__(
        self,
        latitude: Optional[float] = None,
        longitude: Optional[float] = None,
        logger: Optional[logging.Logger] = None,
    ):
        if (latitude is None) != (longitude is None):
            raise ValueError("Give both latitude and longitude, or neither.")
        if latitude is not None and not -90 <= latitude <= 90:
            raise ValueError("latitude must be between -90 and 90")
        if longitude is not None and not -180 <= longitude <= 180:
            raise ValueError("longitude must be between -180 and 180")
        self.latitude = latitude
        self.longitude = longitude
        self.logger = logger or logging.getLogger(__name__)
        self._warned = False

    def resolve(
        self, deployment: Optional[data.Deployment] = None
    ) -> Tuple[float, float]:
        """Return ``(latitude, longitude)`` for a recording's deployment."""
        if self.latitude is not None and self.longitude is not None:
            return self.latitude, self.longitude
        if (
            deployment is not None
            and deployment.latitude is not None
            and deployment.longitude is not None
        ):
            return deployment.latitude, deployment.longitude
        if not self._warned:
            self._warned = True
            self.logger.warning(
                "No latitude/longitude configured or set on the deployment; "
                "computing dawn and dusk for the default location "
                "(Greenwich, %s, %s). Set the deployment's coordinates to "
                "get local sun times.",
                DEFAULT_LATITUDE,
                DEFAULT_LONGITUDE,
            )
        return DEFAULT_LATITUDE, DEFAULT_LONGITUDE
