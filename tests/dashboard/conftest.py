"""Fixtures of the dashboard tests: a stored installation and web clients."""

from typing import Iterator

import pytest
from dashboard_support import Installation, make_installation
from starlette.testclient import TestClient

from acoupi.dashboard.app import create_app
from acoupi.system.constants import Settings
from acoupi.system.dashboard_settings import DashboardConfig


@pytest.fixture(scope="session")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Installation:
    """Six recordings with known detections, stored for real; shared, read-only.

    Tests that write to the store, or run ``acoupi`` in the isolated home,
    use ``fresh_installation``.
    """
    home = tmp_path_factory.mktemp("dashboard") / ".acoupi"
    return make_installation(Settings(home=home))


@pytest.fixture
def fresh_installation(settings: Settings) -> Installation:
    """The same installation, in this test's isolated home."""
    return make_installation(settings)


@pytest.fixture
def client(installation: Installation) -> Iterator[TestClient]:
    """The dashboard on loopback (no password) over the installation."""
    app = create_app(installation.settings, DashboardConfig(), system_status=False)
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client
