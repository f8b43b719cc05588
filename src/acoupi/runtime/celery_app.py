"""Celery app of the children that ``acoupi run`` starts (``-A`` target).

The settings come from the ``ACOUPI_*`` variables the supervisor sets (see
:func:`acoupi.runtime.environment.child_environment`).
"""

from acoupi.system.constants import Settings
from acoupi.system.programs import load_program

settings = Settings()
program = load_program(settings)
app = program.app
