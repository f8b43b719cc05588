"""A bare Celery app on the embedded broker, for the broker wake-up tests.

Worker and test import it alike; the transport options come from the
environment (``WAKE_TRANSPORT_OPTIONS``, JSON), the home from
``ACOUPI_HOME``, so both sides use the same queue folder and settings.
"""

import json
import os
import time

from celery import Celery

from acoupi.system.broker import celery_conf_for
from acoupi.system.constants import CeleryConfig, Settings

app = Celery("wake_app")
app.config_from_object(
    celery_conf_for(
        CeleryConfig(
            broker_transport_options=json.loads(
                os.environ.get("WAKE_TRANSPORT_OPTIONS", "{}")
            )
        ),
        Settings(),
    )
)


@app.task(name="wake_app.nap")
def nap(seconds: float) -> float:
    """Sleep ``seconds`` (a task that keeps the worker busy); return when done."""
    time.sleep(seconds)
    return time.time()
