"""Run acoupi in the foreground: child workers, live view, recovery.

``acoupi run`` (see :mod:`acoupi.cli.run`) uses :func:`run_foreground`;
the pieces are usable on their own:

* :mod:`.supervisor` starts, watches and stops the Celery children;
* :mod:`.recovery` processes recordings a crash left behind;
* :mod:`.metrics` and :mod:`.live_view` show what is going on;
* :mod:`.backlog` measures how far detection lags behind recording.
"""

from acoupi.runtime.backlog import get_backlog

__all__ = ["get_backlog"]
