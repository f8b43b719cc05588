"""The overview's "Last error": one line of cause, with its time, while it lasts."""

import datetime
from pathlib import Path

from dashboard_support import Installation
from starlette.testclient import TestClient

from acoupi.dashboard.app import create_app
from acoupi.system.dashboard_settings import DashboardConfig

TASK = "detection_task[ce6d71b6-adad-4084-bb6c-89762b235d54]"
DAMAGED = (
    "The database /h/storages/messages.db is damaged or is not a database "
    "(file is not a database)."
)


def _stamp(when: datetime.datetime) -> str:
    # Celery writes the local time, with milliseconds after a comma.
    return when.strftime("%Y-%m-%d %H:%M:%S,") + f"{when.microsecond // 1000:03d}"


def _failure(when: datetime.datetime) -> str:
    """What a worker logs when detection_task fails (QA F9), tracebacks included."""
    stamp = _stamp(when)
    return f"""\
[{stamp}: INFO/MainProcess] Task {TASK} received
[{stamp}: ERROR/MainProcess] {TASK}: Message 4324ef20 not stored: {DAMAGED} Run `acoupi db reset`.
[{stamp}: ERROR/MainProcess] Task {TASK} raised unexpected: AcoupiError('{DAMAGED}')
Traceback (most recent call last):
  File "/x/celery/app/trace.py", line 564, in trace_task
    R = retval = fun(*args, **kwargs)
  File "/x/acoupi/tasks/detection.py", line 80, in detection_task
    raise AcoupiError(message)
acoupi.system.exceptions.AcoupiError: {DAMAGED}
"""  # noqa: E501


def _success(when: datetime.datetime) -> str:
    return f"[{_stamp(when)}: INFO/MainProcess] Task {TASK} succeeded in 0.3s: None\n"


def _overview(installation: Installation) -> dict:
    app = create_app(installation.settings, DashboardConfig(), system_status=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        page = client.get("/")
        assert page.status_code == 200
        if "Traceback" in page.text:
            raise AssertionError("the page shows a traceback header")
        return client.get("/api/overview").json()


def _write_log(installation: Installation, text: str) -> Path:
    log = Path(installation.settings.log_dir) / "detection.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(text)
    return log


def test_last_error_is_the_cause_in_one_line_with_its_time(
    fresh_installation: Installation,
) -> None:
    failed = datetime.datetime.now().replace(microsecond=421_000)
    _write_log(fresh_installation, _failure(failed))

    error = _overview(fresh_installation)["last_error"]

    assert error is not None
    assert error["text"] == f"detection_task: AcoupiError: {DAMAGED}"
    assert "Traceback" not in error["text"]
    logged = datetime.datetime.fromisoformat(error["time"])
    assert logged == failed.replace(microsecond=0).astimezone()


def test_last_error_goes_when_the_task_works_again(
    fresh_installation: Installation,
) -> None:
    """After `acoupi db reset`, the next detection succeeds: the fault is gone."""
    now = datetime.datetime.now()
    failed, fixed = now - datetime.timedelta(minutes=5), now
    _write_log(fresh_installation, _failure(failed) + _success(fixed))

    assert _overview(fresh_installation)["last_error"] is None


def test_an_old_error_is_no_longer_shown(fresh_installation: Installation) -> None:
    old = datetime.datetime.now() - datetime.timedelta(days=3)
    _write_log(fresh_installation, _failure(old))

    assert _overview(fresh_installation)["last_error"] is None
