"""Defect 4 (results): Celery result files accumulated until a daily cleanup.

Celery's file result backend never deletes its files; the embedded broker's
consumers now prune those older than an hour as they poll.
"""

import os
import time
import uuid

from kombu import Connection

from acoupi.system.broker import RESULT_TTL, broker_paths, celery_conf_for
from acoupi.system.constants import CeleryConfig, Settings


def test_old_result_files_are_pruned_fresh_ones_kept(settings: Settings) -> None:
    options = celery_conf_for(CeleryConfig(), settings)["broker_transport_options"]
    results = broker_paths(settings).results
    old, fresh = results / "celery-task-meta-old", results / "celery-task-meta-new"
    old.write_text("{}")
    fresh.write_text("{}")
    past = time.time() - RESULT_TTL - 60
    os.utime(old, (past, past))

    # Any consumer of the embedded broker prunes as it starts and polls.
    with Connection(
        "filesystem://",
        transport="acoupi.system.broker:Transport",
        transport_options=options,
    ) as connection:
        connection.SimpleQueue(f"q-{uuid.uuid4().hex[:8]}").qsize()

    assert not old.exists()
    assert fresh.exists()
