"""One-line causes from exceptions, log records and Celery worker logs."""

import datetime
import logging
import sys
from pathlib import Path

from acoupi.runtime.metrics import LogWatcher
from acoupi.system.errors_summary import (
    LogErrorReader,
    describe_error,
    describe_record,
    one_line,
)
from acoupi.system.exceptions import ConfigurationError

# What a Celery worker writes when a task raises (threads pool).
TASK_FAILED = """\
[2026-11-29 16:25:05,101: INFO/MainProcess] Task recording_task[0b7e1c52-7d1e-4a55-9a43-3a0f8d6c1e2a] received
[2026-11-29 16:25:05,202: ERROR/MainProcess] Task recording_task[0b7e1c52-7d1e-4a55-9a43-3a0f8d6c1e2a] raised unexpected: FileNotFoundError(2, 'No such file or directory')
Traceback (most recent call last):
  File "/x/celery/app/trace.py", line 453, in trace_task
    R = retval = fun(*args, **kwargs)
                 ^^^^^^^^^^^^^^^^^^^^
  File "/x/acoupi/tasks/recording.py", line 50, in recording_task
    recording = recorder.record(deployment)
FileNotFoundError: [Errno 2] No such file or directory: '/run/shm/20261129_162505.wav'
[2026-11-29 16:25:06,000: INFO/MainProcess] Task file_management_task[9a3e1c52-7d1e-4a55-9a43-3a0f8d6c1e2a] succeeded in 0.01s: None
"""  # noqa: E501


def test_exception_in_one_line_with_its_file() -> None:
    error = FileNotFoundError(2, "No such file or directory", "/tmp/a.wav")
    assert describe_error(error) == (
        "FileNotFoundError: No such file or directory: /tmp/a.wav"
    )
    assert describe_error(ValueError("bad\n  value")) == "ValueError: bad value"
    assert describe_error(RuntimeError()) == "RuntimeError"
    acoupi = ConfigurationError("The config is broken.", help="Fix it.")
    assert describe_error(acoupi) == "ConfigurationError: The config is broken."
    assert one_line("x" * 500).endswith("…") and len(one_line("x" * 500)) == 200


def test_log_record_with_exception() -> None:
    try:
        raise OSError(19, "No such device", "/dev/snd/pcmC1D0c")
    except OSError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "acoupi", logging.ERROR, __file__, 1, "Could not record", None, exc_info
    )
    assert describe_record(record) == (
        "Could not record: OSError: No such device: /dev/snd/pcmC1D0c"
    )


def test_celery_task_failure_names_task_exception_and_file() -> None:
    reader = LogErrorReader()
    reader.feed_all(TASK_FAILED.splitlines())
    assert reader.errors == 1
    assert reader.last is not None
    assert reader.last.task == "recording_task"
    assert reader.last.cause == (
        "FileNotFoundError: [Errno 2] No such file or directory: "
        "'/run/shm/20261129_162505.wav'"
    )
    assert reader.failed == {"recording_task": 1}
    assert reader.succeeded == {"file_management_task": 1}


def test_failure_line_alone_is_enough() -> None:
    # The traceback has not been written yet: the first line already tells.
    reader = LogErrorReader()
    reader.feed_all(TASK_FAILED.splitlines()[:2])
    assert reader.last is not None
    assert reader.last.cause == "FileNotFoundError: No such file or directory"


def test_error_line_joined_with_its_traceback() -> None:
    reader = LogErrorReader()
    reader.feed_all(
        [
            "[2026-11-29 16:25:05,202: ERROR/MainProcess] Could not file x.wav.",
            "Traceback (most recent call last):",
            '  File "/x/files.py", line 3, in move',
            "    raise FileExistsError('taken')",
            "FileExistsError: taken",
            "[2026-11-29 16:25:06,000: WARNING/MainProcess] just a warning",
        ]
    )
    assert reader.errors == 1
    assert reader.last is not None
    assert reader.last.cause == "Could not file x.wav: FileExistsError: taken"


def test_log_watcher_shows_the_cause_never_traceback(tmp_path: Path) -> None:
    log = tmp_path / "recording.log"
    log.write_text("")
    watcher = LogWatcher([log])
    with log.open("a") as handle:
        handle.write(TASK_FAILED)
    watcher.poll()
    assert watcher.last_error is not None
    assert "Traceback" not in watcher.last_error
    assert watcher.last_error.startswith("recording_task: FileNotFoundError:")
    assert watcher.tasks_failed == 1 and watcher.tasks_ok == 1
    assert watcher.failed == {"recording_task": 1}


def test_a_failure_has_its_time_and_is_resolved_by_a_later_success() -> None:
    reader = LogErrorReader()
    reader.feed_all(TASK_FAILED.splitlines())
    assert reader.last is not None and reader.last.time is not None
    assert reader.last.time.replace(tzinfo=None) == datetime.datetime(
        2026, 11, 29, 16, 25, 5, 202_000
    )
    # Another task's success says nothing about recording_task.
    assert not reader.last.resolved
    reader.feed(TASK_FAILED.splitlines()[-1].replace("file_management", "recording"))
    assert reader.last.resolved


def test_an_error_of_no_task_is_resolved_by_any_later_success() -> None:
    reader = LogErrorReader()
    reader.feed("[2026-11-29 16:25:05,101: ERROR/MainProcess] Could not file x.wav")
    assert reader.last is not None and not reader.last.resolved
    reader.feed(TASK_FAILED.splitlines()[-1])
    assert reader.last.resolved
