"""Celery app of the beat child of ``acoupi run`` (``-A`` target).

Lean when the supervisor wrote a beat plan (see
:mod:`acoupi.runtime.beat_plan`), else the full program's app. Settings
come from the ``ACOUPI_*`` variables the supervisor sets.
"""

from acoupi.runtime.beat_plan import build_beat_app
from acoupi.system.constants import Settings

app = build_beat_app(Settings())
