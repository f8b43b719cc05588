"""Shared fixtures: an isolated home for every test and real local brokers."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import pytest

if TYPE_CHECKING:
    from fault_support import FaultTable

from acoupi.system.constants import Settings

RABBITMQ = ("127.0.0.1", 5672)
MOSQUITTO = ("127.0.0.1", 1883)
REDIS = ("127.0.0.1", 6379)

ACOUPI_BIN = Path(sys.executable).parent / "acoupi"

RunAcoupi = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and ACOUPI_HOME into a temporary folder for every test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ACOUPI_HOME", str(home / ".acoupi"))
    for name in list(os.environ):
        if name.startswith("ACOUPI_") and name != "ACOUPI_HOME":
            monkeypatch.delenv(name)
    if os.geteuid() == 0:
        # CI runs as root; Celery refuses pickle workers as root without this.
        monkeypatch.setenv("C_FORCE_ROOT", "1")
    return home


@pytest.fixture
def settings(isolated_home: Path) -> Settings:
    """Settings rooted in the isolated home."""
    return Settings()


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, address: tuple[str, int]) -> None:
    """Fail (not skip) when a service the test needs is down.

    ``.ci/run`` starts every service; a silent skip would hide a broken CI.
    """
    if not _reachable(address):
        pytest.fail(
            f"{name} is not reachable on {address[0]}:{address[1]}. "
            "Run `.ci/services` to install and start the test services."
        )


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """A broker URL on the local RabbitMQ, in a private vhost when possible."""
    require_service("RabbitMQ", RABBITMQ)
    ctl = shutil.which("rabbitmqctl")
    vhost = f"acoupi-test-{uuid.uuid4().hex[:8]}"
    created = False
    if ctl is not None:
        created = (
            subprocess.run(
                [ctl, "add_vhost", vhost], capture_output=True, timeout=60
            ).returncode
            == 0
        )
        if created:
            subprocess.run(
                [ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                capture_output=True,
                timeout=60,
                check=True,
            )
    yield f"pyamqp://guest:guest@127.0.0.1:5672/{vhost if created else ''}"
    if created:
        subprocess.run([ctl, "delete_vhost", vhost], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def mqtt_broker() -> tuple[str, int]:
    """Host and port of the local Mosquitto broker."""
    require_service("Mosquitto", MOSQUITTO)
    return MOSQUITTO


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the local Redis server (a database flushed by tests that use it)."""
    require_service("Redis", REDIS)
    # One database per pytest-xdist worker (gw0 15, gw1 14, ...): tests flush it.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return f"redis://127.0.0.1:6379/{15 - int(worker.removeprefix('gw'))}"


@pytest.fixture
def cli_env(isolated_home: Path) -> dict[str, str]:
    """Environment for a subprocess: the isolated home, no debug output."""
    env = os.environ.copy()
    env["HOME"] = str(isolated_home)
    env["ACOUPI_HOME"] = str(isolated_home / ".acoupi")
    env.pop("ACOUPI_DEBUG", None)
    env["NO_COLOR"] = "1"
    return env


@pytest.fixture
def run_acoupi(cli_env: dict[str, str]) -> RunAcoupi:
    """Run the installed ``acoupi`` console script in the isolated home."""

    def _run(*args: str, timeout: float = 120) -> "subprocess.CompletedProcess[str]":
        return subprocess.run(
            [str(ACOUPI_BIN), *args],
            env=cli_env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
        )

    return _run


@pytest.fixture
def acoupi_bin() -> Path:
    """The installed ``acoupi`` console script."""
    return ACOUPI_BIN


# --- fault suite table (workstream "faults"; see tests/fault_support.py) ---


@pytest.fixture
def fault_table() -> "FaultTable":
    """The fault suite's result table: each fault test adds what it measured."""
    from fault_support import FAULT_TABLE

    return FAULT_TABLE


_FAULT_ROWS = pytest.StashKey[Path]()


def _fault_rows(config: pytest.Config) -> Path:
    """The file this run's pytest-xdist workers write fault rows to."""
    if _FAULT_ROWS not in config.stash:
        folder = Path(tempfile.mkdtemp(prefix="acoupi-fault-rows-"))
        config.stash[_FAULT_ROWS] = folder / "rows.jsonl"
    return config.stash[_FAULT_ROWS]


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each pytest-xdist worker where its fault rows go."""
    node.workerinput["acoupi_fault_rows"] = str(_fault_rows(node.config))


def pytest_configure(config: pytest.Config) -> None:
    """In a pytest-xdist worker, share fault rows with the controller."""
    from fault_support import FAULT_TABLE

    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        FAULT_TABLE.shared = Path(workerinput["acoupi_fault_rows"])


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print the fault suite's table when fault tests ran in this session."""
    from fault_support import FAULT_TABLE

    if _FAULT_ROWS in config.stash:
        rows = config.stash[_FAULT_ROWS]
        FAULT_TABLE.add_shared(rows)
        shutil.rmtree(rows.parent, ignore_errors=True)
    if not FAULT_TABLE.rows:
        return
    terminalreporter.section("fault suite")
    for line in FAULT_TABLE.lines():
        terminalreporter.write_line(line)
    target = os.environ.get("ACOUPI_FAULT_TABLE")
    if target:
        FAULT_TABLE.write_json(Path(target))
