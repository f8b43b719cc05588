"""Defect 4 (logs): log files grew without bound.

A missing microphone wrote ~2 KB of traceback every 10 s, forever.
"""

import logging
import logging.handlers
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acoupi.system import logfiles
from acoupi.system.errors_summary import LogErrorReader


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(logfiles, "MAX_BYTES", 10_000)
    return 10_000


def test_celery_log_files_become_rotating(tmp_path: Path, small_limit: int) -> None:
    from celery import signals

    tmp_path = tmp_path / "logs"
    tmp_path.mkdir()
    logfiles.install_log_rotation()
    logger = logging.getLogger(f"acoupi-test-{time.monotonic_ns()}")
    logger.propagate = False
    logger.addHandler(logging.FileHandler(tmp_path / "worker.log"))
    # What Celery sends once it has opened --logfile.
    signals.after_setup_logger.send(
        sender=None, logger=logger, loglevel=logging.INFO, logfile=None,
        format="", colorize=False,
    )  # fmt: skip
    (handler,) = logger.handlers
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    for _ in range(200):
        logger.error("Microphone missing " + "x" * 200)
    handler.close()
    sizes = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert set(sizes) == {"worker.log", "worker.log.1", "worker.log.2", "worker.log.3"}
    assert all(size <= small_limit + 300 for size in sizes.values())


def test_child_output_file_is_rotated_while_the_child_writes(
    tmp_path: Path, small_limit: int
) -> None:
    tmp_path = tmp_path / "logs"
    tmp_path.mkdir()
    log = tmp_path / "recording.log"
    writer = (
        "import sys, time\n"
        "for i in range(400):\n"
        "    sys.stdout.write(f'line {i} ' + 'y' * 100 + '\\n'); sys.stdout.flush()\n"
        "    time.sleep(0.001)\n"
    )
    with open(log, "ab", buffering=0) as handle:
        child = subprocess.Popen([sys.executable, "-c", writer], stdout=handle)
        rotations = 0
        while child.poll() is None:
            rotations += logfiles.rotate_appended_file(log)
            time.sleep(0.01)
        rotations += logfiles.rotate_appended_file(log)
    assert rotations >= 2
    assert log.stat().st_size <= small_limit + 2_000
    assert (tmp_path / "recording.log.1").exists()
    # The child went on writing at the start of the truncated file: no hole.
    assert b"\0" not in log.read_bytes()
    assert "line 399" in log.read_text()
    assert len(os.listdir(tmp_path)) <= 1 + logfiles.BACKUPS


def test_a_repeated_failure_logs_its_traceback_once(tmp_path: Path) -> None:
    """A missing microphone wrote a 2 KB traceback every 10 s."""
    logger = logging.getLogger(f"acoupi-test-repeat-{time.monotonic_ns()}")
    logger.propagate = False
    log = tmp_path / "repeat.log"
    handler = logging.FileHandler(log)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.addFilter(logfiles.RepeatedTracebackFilter())

    for _ in range(5):
        try:
            raise OSError(19, "No such device")
        except OSError:
            logger.exception("Task recording_task raised unexpected")
    try:
        raise ValueError("another problem")
    except ValueError:
        logger.exception("Task recording_task raised unexpected")
    handler.close()

    text = log.read_text()
    assert text.count('File "') == 2  # one stack per cause
    assert text.count("same error as before: traceback omitted") == 4
    assert text.count("OSError: [Errno 19] No such device") == 5
    assert text.count("Task recording_task raised unexpected") == 6
    # The run summary still reads each failure's cause from the log.
    reader = LogErrorReader()
    reader.feed_all(text.splitlines())
    assert reader.errors == 6
