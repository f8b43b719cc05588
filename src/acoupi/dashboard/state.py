"""What every request of the dashboard shares: settings, data, caches."""

import datetime
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional

from acoupi.dashboard import health
from acoupi.dashboard.cache import FileCache
from acoupi.dashboard.counters import StoreCounters
from acoupi.dashboard.sources import DataSources, open_metadata
from acoupi.system.constants import Settings
from acoupi.system.dashboard_settings import DashboardConfig

__all__ = ["Dashboard"]


@dataclass
class Dashboard:
    """The dashboard of one installation."""

    settings: Settings
    config: DashboardConfig
    sources: DataSources
    status: health.StatusCache
    cache: FileCache
    counters: StoreCounters = field(default_factory=StoreCounters)
    password_required: bool = False

    @classmethod
    def create(
        cls,
        settings: Settings,
        config: DashboardConfig,
        password_required: bool,
        system_status: bool = True,
    ) -> "Dashboard":
        """Build the shared state for ``settings``' installation.

        ``system_status=False`` skips asking ``acoupi deployment status``
        (workers, backlog): for tests and benchmarks of the data pages.
        """
        sources = DataSources.from_settings(settings)
        return cls(
            settings=settings,
            config=config,
            sources=sources,
            status=health.StatusCache(settings, enabled=system_status),
            cache=FileCache(sources.cache_dir),
            password_required=password_required,
        )

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """Open the metadata database read-only for one request."""
        connection = open_metadata(self.sources)
        try:
            yield connection
        finally:
            connection.close()

    def recording_schedule(self) -> Dict[str, Optional[float]]:
        """Return the configured recording duration and interval (s), if known."""
        section = self.sources.program_config.get("recording")
        if not isinstance(section, dict):
            return {"duration": None, "interval": None}
        return {
            "duration": _number(section.get("duration")),
            "interval": _number(section.get("interval")),
        }

    def plays_expanded(self, samplerate: int) -> bool:
        """Whether recordings at ``samplerate`` are played time-expanded."""
        return samplerate >= self.config.ultrasonic_from_hz

    @staticmethod
    def now() -> datetime.datetime:
        """Return the current time (UTC)."""
        return datetime.datetime.now(datetime.timezone.utc)


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) else None
