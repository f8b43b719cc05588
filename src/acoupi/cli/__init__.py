"""The ``acoupi`` command line.

Importing the command modules registers their commands on the root
group; each imports only click and light acoupi modules so that
``acoupi --help`` stays fast.
"""

from acoupi.cli.base import acoupi
from acoupi.cli.config import config
from acoupi.cli.dashboard import dashboard
from acoupi.cli.db import db
from acoupi.cli.deployment import deployment
from acoupi.cli.detections import detections, recordings
from acoupi.cli.logs import logs
from acoupi.cli.programs import programs
from acoupi.cli.run import recover, run
from acoupi.cli.tasks import task
from acoupi.cli.workers import workers

acoupi.add_command(run)
acoupi.add_command(recover)
acoupi.add_command(logs)
acoupi.add_command(programs)
acoupi.add_command(db)
acoupi.add_command(dashboard)
acoupi.add_command(detections)
acoupi.add_command(recordings)

__all__ = [
    "acoupi",
    "config",
    "db",
    "dashboard",
    "deployment",
    "detections",
    "logs",
    "programs",
    "recordings",
    "recover",
    "run",
    "task",
    "workers",
]
