"""Celery app of the children that ``acoupi run`` starts (``-A`` target).

The settings come from the ``ACOUPI_*`` variables the supervisor sets (see
:func:`acoupi.runtime.environment.child_environment`).
"""

from acoupi.runtime.environment import load_runtime_program
from acoupi.system.constants import Settings

settings = Settings()
program = load_runtime_program(settings)
app = program.app
