"""What a fresh ``acoupi`` process imports for its light commands.

``acoupi deployment status`` on the built-in broker answers from files (the
workers' heartbeat files, the queue folder, the program's SQLite files), so
it must not import the Celery stack, which was most of its time. How fast
it is gets measured in ``bench/cli_latency.py``; this guards the cause,
deterministically, from the modules loaded when the command exits (all of
``sys.modules``: ``python -X importtime`` misses what ``importlib`` loads,
such as the program module and lazily exported names).

The same holds for the programs field devices run (``default``,
``connected``, ``triggered``): loading one imports neither the HTTP or MQTT
clients nor numpy; they are imported when a message is sent or audio is
analysed.
"""

import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, Iterator, Sequence, Set, Tuple

import pytest

from acoupi.system.constants import Settings
from helpers import stop_process, wait_until

CELERY_STACK = {"celery", "kombu", "amqp", "billiard", "vine"}
"""Top-level packages of Celery and its broker clients."""

SENDING_AND_ANALYSIS = {"httpx", "httpcore", "paho", "numpy", "ssl"}
"""What messengers and models import only when they send or analyse."""

SIMULATED_MICROPHONE = ("--microphone.device_name", "simulated")


_RUN_AND_LIST = """
import atexit, runpy, sys
path = sys.argv[1]
def _list():
    with open(path, "w") as listing:
        listing.write("\\n".join(sys.modules))
atexit.register(_list)  # first registered, so it runs last
sys.argv = ["acoupi", *sys.argv[2:]]
runpy.run_module("acoupi", run_name="__main__", alter_sys=True)
"""
"""Run ``python -m acoupi ARGS``; at exit, list ``sys.modules`` in a file."""


def _loaded(
    env: Dict[str, str], *args: str
) -> Tuple[Set[str], "subprocess.CompletedProcess[str]"]:
    """Run ``acoupi ARGS`` in a fresh interpreter; every module it loaded."""
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "modules.txt"
        result = subprocess.run(
            [sys.executable, "-c", _RUN_AND_LIST, str(listing), *args],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        return set(listing.read_text().split()), result


def _imports(
    env: Dict[str, str], *args: str
) -> Tuple[Set[str], "subprocess.CompletedProcess[str]"]:
    """Run ``acoupi ARGS`` in a fresh interpreter; its top-level packages."""
    modules, result = _loaded(env, *args)
    return {name.split(".")[0] for name in modules}, result


def _setup(run_acoupi, *options: str, program: str = "acoupi.programs.test") -> None:
    result = run_acoupi("setup", "--program", program, "--no-prompt", *options)
    assert result.returncode == 0, result.stderr


@contextlib.contextmanager
def _running(
    cli_env: Dict[str, str], settings: Settings, workers: Sequence[str]
) -> Iterator[None]:
    """``acoupi run`` in the foreground until the block ends."""
    run = subprocess.Popen(
        [sys.executable, "-m", "acoupi", "run", "--no-live", "--name", "site"],
        env=cli_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        # Up once every worker proves it is connected (its heartbeat file).
        wait_until(
            lambda: all(
                (settings.run_dir / f"{worker}.alive").exists() for worker in workers
            ),
            timeout=60,
        )
        yield
    finally:
        stop_process(run, 40)


def test_help_imports_neither_pydantic_nor_celery(cli_env: Dict[str, str]) -> None:
    modules, result = _imports(cli_env, "--help")

    assert result.returncode == 0, result.stderr
    assert "deployment" in result.stdout
    assert "acoupi" in modules  # the listing is real
    assert modules.isdisjoint(CELERY_STACK | {"pydantic", "pydantic_core", "rich"})


def test_status_on_the_built_in_broker_imports_no_celery(
    run_acoupi, cli_env: Dict[str, str]
) -> None:
    _setup(run_acoupi)  # the built-in broker is the default

    text_modules, text = _imports(cli_env, "deployment", "status")
    json_modules, as_json = _imports(cli_env, "deployment", "status", "--json")

    assert text.returncode == 0 and as_json.returncode == 0, text.stderr
    assert "Acoupi status" in text.stdout
    status = json.loads(as_json.stdout)
    assert status["program"] == "ok"  # the program was loaded and checked
    assert status["celery"]["detail"] == "No Celery worker is running."
    for modules in (text_modules, json_modules):
        assert "pydantic" in modules and "acoupi" in modules
        assert modules.isdisjoint(CELERY_STACK | {"ssl"}), modules & CELERY_STACK


def test_status_asks_another_broker_only_when_files_cannot_tell(
    run_acoupi, cli_env: Dict[str, str]
) -> None:
    # No worker runs, so only the broker can say whether it is up: here the
    # broker check runs, and imports what it needs.
    _setup(run_acoupi, "--broker_url", "pyamqp://guest@127.0.0.1:1//")

    modules, result = _imports(cli_env, "deployment", "status", "--json")

    assert result.returncode == 0, result.stderr
    detail = json.loads(result.stdout)["celery"]["detail"]
    assert "Cannot reach the Celery broker at pyamqp://" in detail
    assert {"celery", "kombu", "amqp"} <= modules


@pytest.mark.celery
def test_status_of_running_workers_imports_no_celery(
    run_acoupi, cli_env: Dict[str, str], settings: Settings
) -> None:
    _setup(run_acoupi)
    with _running(cli_env, settings, ["acoupi"]):
        modules, result = _imports(cli_env, "deployment", "status", "--json")

    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["running"]["mode"] == "foreground"
    assert status["celery"]["state"] == "available"
    assert [w["state"] for w in status["celery"]["workers"]] == ["ok"]
    assert modules.isdisjoint(CELERY_STACK | {"ssl"}), modules & CELERY_STACK


@pytest.mark.celery
def test_status_of_a_running_detection_program_imports_no_clients_nor_numpy(
    run_acoupi, cli_env: Dict[str, str], settings: Settings
) -> None:
    # The triggered program: a model (numpy), messengers (httpx, paho) in its
    # templates, and three workers.
    _setup(run_acoupi, *SIMULATED_MICROPHONE, program="acoupi.programs.triggered")
    with _running(cli_env, settings, ["recording", "detection", "default"]):
        modules, result = _imports(cli_env, "deployment", "status", "--json")

    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["program"] == "ok"  # loaded and checked, model included
    assert status["running"]["mode"] == "foreground"
    workers = {
        w["worker_name"].split("@")[0]: w["state"] for w in status["celery"]["workers"]
    }
    assert workers == {"recording": "ok", "detection": "ok", "default": "ok"}
    assert "acoupi" in modules
    heavy = CELERY_STACK | SENDING_AND_ANALYSIS
    assert modules.isdisjoint(heavy), modules & heavy


@pytest.mark.parametrize(
    "program",
    [
        "acoupi.programs.default",
        "acoupi.programs.connected",
        "acoupi.programs.triggered",
    ],
)
def test_reading_a_built_in_programs_config_imports_no_clients_nor_numpy(
    run_acoupi, cli_env: Dict[str, str], program: str
) -> None:
    _setup(run_acoupi, *SIMULATED_MICROPHONE, program=program)

    modules, result = _imports(cli_env, "config", "get")

    assert result.returncode == 0, result.stderr
    assert "microphone" in result.stdout  # the program's schema was read
    heavy = CELERY_STACK | SENDING_AND_ANALYSIS
    assert modules.isdisjoint(heavy), modules & heavy


def test_status_of_the_default_program_loads_only_the_template_it_uses(
    run_acoupi, cli_env: Dict[str, str]
) -> None:
    _setup(run_acoupi, *SIMULATED_MICROPHONE, program="acoupi.programs.default")

    modules, result = _loaded(cli_env, "deployment", "status", "--json")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["program"] == "ok"
    assert "acoupi.programs.templates.basic" in modules
    unused = {
        "acoupi.programs.templates.messaging",
        "acoupi.programs.templates.detection",
        "acoupi.components.messengers",
    }
    assert modules.isdisjoint(unused), modules & unused
