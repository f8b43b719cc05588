"""Tests of acoupi.system.celery with real workers on the real broker."""

import os
import stat
import time
from pathlib import Path
from typing import Iterator

import pytest

from acoupi.system import celery as system_celery
from acoupi.system.celery import (
    CeleryState,
    WorkerState,
    check_broker,
    get_celery_status,
    purge_queue,
    purge_queues,
    restart_workers,
    run_celery_command,
    start_workers,
    stop_workers,
)
from acoupi.system.constants import CeleryConfig, Settings
from acoupi.system.exceptions import AcoupiError, CeleryUnavailableError
from acoupi.system.lifecycle import setup_program
from acoupi.system.programs import load_program

DEAD_BROKER = "pyamqp://guest:guest@127.0.0.1:1//"


def _write_celery_config(settings: Settings, broker_url: str) -> None:
    settings.celery_config_file.parent.mkdir(parents=True, exist_ok=True)
    settings.celery_config_file.write_text(
        CeleryConfig(broker_url=broker_url).model_dump_json()
    )


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"  # zombies linger where PID 1 does not reap orphans


def _pids(settings: Settings) -> dict[str, int]:
    return {
        path.stem: int(path.read_text().strip())
        for path in settings.run_dir.glob("*.pid")
    }


@pytest.fixture
def configured(settings: Settings, rabbitmq_url: str) -> Settings:
    setup_program(settings, "acoupi.programs.test", args=["--broker_url", rabbitmq_url])
    return settings


@pytest.fixture
def workers(configured: Settings) -> Iterator[Settings]:
    """A configured home whose workers are always stopped afterwards."""
    yield configured
    stop_workers(configured)
    for pid in _pids(configured).values():  # never leak a worker
        if _alive(pid):
            os.kill(pid, 9)


@pytest.mark.celery
def test_workers_start_run_a_task_and_stop(workers: Settings) -> None:
    settings = workers

    start_workers(settings, timeout=60)

    status = get_celery_status(settings)
    assert status.state == CeleryState.AVAILABLE
    assert [w.worker_name.split("@")[0] for w in status.workers] == ["acoupi"]
    assert all(w.state == WorkerState.OK for w in status.workers)
    pids = _pids(settings)
    assert set(pids) == {"acoupi"}
    assert list(settings.log_dir.glob("acoupi*.log"))

    program = load_program(settings)
    assert program.tasks["test_task"].delay().get(timeout=30) is None

    with pytest.raises(AcoupiError, match="already running"):
        start_workers(settings)

    restart_workers(settings, timeout=60)
    restarted = _pids(settings)
    assert set(restarted) == {"acoupi"}
    assert restarted != pids
    assert not _alive(pids["acoupi"])
    assert program.tasks["test_task"].delay().get(timeout=30) is None
    pids = restarted

    stop_workers(settings)

    assert not list(settings.run_dir.glob("*.pid"))
    assert not any(_alive(pid) for pid in pids.values())
    status = get_celery_status(settings)
    assert status.state == CeleryState.UNAVAILABLE
    assert status.workers == []


@pytest.mark.celery
def test_status_lists_a_dead_worker_as_notok(workers: Settings) -> None:
    settings = workers
    start_workers(settings, timeout=60)
    pid = _pids(settings)["acoupi"]

    os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    status = get_celery_status(settings)

    # The stale pidfile says a worker should be running: report it as down.
    assert status.state == CeleryState.UNAVAILABLE
    assert [(w.worker_name.split("@")[0], w.state) for w in status.workers] == [
        ("acoupi", WorkerState.NOTOK)
    ]


@pytest.mark.celery
def test_stop_without_running_workers_is_harmless(configured: Settings) -> None:
    result = stop_workers(configured)

    assert result.returncode == 0
    assert get_celery_status(configured).state == CeleryState.UNAVAILABLE


@pytest.mark.celery
def test_no_workers_but_broker_up_is_unavailable(configured: Settings) -> None:
    started = time.monotonic()
    status = get_celery_status(configured)

    assert time.monotonic() - started < 3
    assert status.state == CeleryState.UNAVAILABLE
    assert status.workers == []
    assert status.detail == "No Celery worker is running."
    check_broker(configured)  # does not raise


def test_dead_broker_is_unavailable_quickly(settings: Settings) -> None:
    _write_celery_config(settings, DEAD_BROKER)

    started = time.monotonic()
    status = get_celery_status(settings)

    assert time.monotonic() - started < 3
    assert status.state == CeleryState.UNAVAILABLE
    assert status.workers == []
    assert status.detail is not None
    assert "Cannot reach the Celery broker at" in status.detail
    assert "guest:guest" not in status.detail  # password hidden


def test_unresponsive_broker_times_out(settings: Settings) -> None:
    # A listening socket that never answers the AMQP handshake.
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        _write_celery_config(settings, f"pyamqp://guest@127.0.0.1:{port}//")

        started = time.monotonic()
        status = get_celery_status(settings, connect_timeout=1.0)

    assert time.monotonic() - started < 4
    assert status.state == CeleryState.UNAVAILABLE


def test_status_without_setup(settings: Settings) -> None:
    status = get_celery_status(settings)

    assert status.state == CeleryState.UNAVAILABLE
    assert status.detail is not None
    assert "not set up" in status.detail


def test_status_with_corrupt_config_is_error(settings: Settings) -> None:
    settings.celery_config_file.parent.mkdir(parents=True)
    settings.celery_config_file.write_text("{broken")

    status = get_celery_status(settings)

    assert status.state == CeleryState.ERROR
    assert status.detail


@pytest.mark.celery
def test_start_with_dead_broker_fails_clearly(configured: Settings) -> None:
    _write_celery_config(configured, DEAD_BROKER)

    started = time.monotonic()
    with pytest.raises(CeleryUnavailableError) as info:
        start_workers(configured)

    assert time.monotonic() - started < 5
    assert "Cannot reach the Celery broker" in info.value.message
    assert info.value.help is not None
    assert "broker_url" in info.value.help
    # Nothing was started that could crash-loop.
    assert not list(configured.run_dir.glob("*.pid"))


@pytest.mark.celery
def test_start_as_root_with_pickle_explains_itself(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("C_FORCE_ROOT", raising=False)
    monkeypatch.setattr(system_celery.os, "geteuid", lambda: 0)

    with pytest.raises(CeleryUnavailableError, match="as root") as info:
        start_workers(configured)

    assert info.value.help is not None
    assert not list(configured.run_dir.glob("*.pid"))


@pytest.mark.celery
def test_purge_removes_waiting_tasks(configured: Settings) -> None:
    program = load_program(configured)
    for _ in range(3):
        program.tasks["test_task"].delay()

    assert purge_queues(configured) == {"celery": 3}
    assert purge_queues(configured) == {"celery": 0}
    assert purge_queue(configured, "no-such-queue") == 0


def test_purge_with_dead_broker_fails_clearly(settings: Settings) -> None:
    _write_celery_config(settings, DEAD_BROKER)

    with pytest.raises(CeleryUnavailableError) as info:
        purge_queue(settings, "celery")

    assert info.value.help


@pytest.mark.celery
def test_run_celery_command_loads_the_app(configured: Settings) -> None:
    result = run_celery_command(
        configured, ["report"], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert "broker_url" in result.stdout


def _fake_celery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "fake-celery"
    script.write_text(
        '#!/bin/sh\necho "cwd=$(pwd)"\necho "path=$PYTHONPATH"\necho "args=$*"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    from acoupi.system import scripts

    monkeypatch.setattr(scripts, "get_celery_bin", lambda: script)
    return script


def test_run_celery_command_builds_the_command(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_celery(tmp_path, monkeypatch)
    settings.home.mkdir(parents=True)

    result = run_celery_command(
        settings, ["status", "--json"], quiet=True, capture_output=True, text=True
    )

    lines = result.stdout.splitlines()
    assert lines[0] == f"cwd={settings.home}"
    assert lines[1].startswith(f"path={settings.home}")
    assert lines[2] == "args=-A app -q status --json"

    without_app = run_celery_command(
        settings, ["--version"], with_app=False, capture_output=True, text=True
    )
    assert without_app.stdout.splitlines()[2] == "args=--version"


def test_app_outside_home_is_found_through_pythonpath(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_celery(tmp_path, monkeypatch)
    elsewhere = tmp_path / "elsewhere"
    settings = Settings(program_file=elsewhere / "myapp.py")

    result = run_celery_command(settings, ["status"], capture_output=True, text=True)

    lines = result.stdout.splitlines()
    assert lines[1].startswith(f"path={elsewhere}")
    assert lines[2] == "args=-A myapp status"


def test_get_celery_bin_follows_scripts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _fake_celery(tmp_path, monkeypatch)

    assert system_celery.get_celery_bin() == script


MULTI_PROGRAM = """
from pydantic import BaseModel

from acoupi.programs.core.base import AcoupiProgram
from acoupi.programs.core.workers import DEFAULT_WORKER_CONFIG


class Config(BaseModel):
    pass


class MultiWorkerProgram(AcoupiProgram[Config]):
    config_schema = Config
    worker_config = DEFAULT_WORKER_CONFIG
"""


@pytest.mark.celery
def test_multi_gets_per_worker_options(
    settings: Settings,
    rabbitmq_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "acoupi_multi_probe.py").write_text(MULTI_PROGRAM)
    monkeypatch.syspath_prepend(str(modules))
    monkeypatch.delitem(sys.modules, "acoupi_multi_probe", raising=False)
    setup_program(settings, "acoupi_multi_probe", args=["--broker_url", rabbitmq_url])
    _fake_celery(tmp_path, monkeypatch)
    run, log = settings.run_dir, settings.log_dir
    files = f"--pidfile={run}/%n.pid --logfile={log}/%n%I.log"

    started = start_workers(settings, pool="solo", log_level="DEBUG")
    restarted = restart_workers(settings)
    stopped = stop_workers(settings)

    assert started.stdout.splitlines()[2] == (
        "args=-A app --no-color multi start "
        "recording -Q:recording recording -c:recording 1 default -Q:default celery "
        f"--pool=solo --loglevel=DEBUG {files}"
    )
    assert restarted.stdout.splitlines()[2] == (
        "args=-A app --no-color multi restart "
        "recording -Q:recording recording -c:recording 1 default -Q:default celery "
        f"--pool=threads --loglevel=INFO {files}"
    )
    assert stopped.stdout.splitlines()[2] == (
        f"args=-A app --no-color multi stopwait recording default "
        f"--loglevel=INFO {files}"
    )
    assert purge_queues(settings) == {"recording": 0, "celery": 0}
