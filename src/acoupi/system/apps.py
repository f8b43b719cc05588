"""The Celery app of the configured acoupi program."""

from typing import TYPE_CHECKING

from acoupi.system.constants import Settings

if TYPE_CHECKING:
    from celery import Celery

__all__ = ["get_celery_app"]


def get_celery_app(settings: Settings) -> "Celery":
    """Return the Celery app of the configured program.

    Called by the generated ``app.py`` that Celery workers and beat load.
    The program is fully loaded, so its tasks are registered on the app.

    Parameters
    ----------
    settings
        Settings of the acoupi installation.

    Returns
    -------
    celery.Celery
        The program's Celery app.
    """
    # Looked up at call time so that tests can patch ``programs.load_program``.
    from acoupi.system import programs
    from acoupi.system.logfiles import install_log_rotation
    from acoupi.system.permissions import restrict_umask
    from acoupi.system.time_limits import install_time_limits

    # Workers started by systemd or celery multi write logs, results and
    # recordings: private whatever umask the service has.
    restrict_umask()
    install_log_rotation()
    # Celery enforces time limits only in its prefork pool.
    install_time_limits()

    return programs.load_program(settings).app
