"""One Celery worker of ``acoupi run``, started without Celery's command line.

``celery worker`` first imports Celery's whole command-line tool, which
brings in ``click_repl``, ``prompt_toolkit``, ``pygments`` and an XML parser
for its ``shell`` and ``repl`` commands: about 12 MB in every worker
process for code a worker never runs. This module starts the same worker
(:meth:`celery.Celery.Worker`, as ``celery worker`` does) from a handful of
options. ``acoupi run`` runs it either forked from itself
(:mod:`acoupi.runtime.forker`) or as ``python -m
acoupi.runtime.worker_process``. The services keep running ``celery multi``.
"""

import argparse
import importlib
import sys
from typing import Any, List, Optional, Sequence

from acoupi.system.constants import Settings

__all__ = ["APP_MODULE", "PRELOAD_MODULES", "main", "prepare", "worker_argv"]

APP_MODULE = "acoupi.runtime.celery_app"
"""Module of the workers' Celery app: the program's, broker applied."""

PRELOAD_MODULES = (
    "celery.apps.worker",
    "celery.worker.consumer.consumer",
    "celery.worker.control",
    "celery.worker.heartbeat",
    "celery.worker.loops",
    "celery.worker.pidbox",
    "celery.worker.request",
    "celery.app.trace",
    "celery.concurrency.base",
    "celery.concurrency.thread",
    "celery.utils.timer2",
    "kombu.asynchronous.hub",
)
"""What every worker imports before it takes a task (see :func:`prepare`)."""

_prepared: Optional[Any] = None
"""The workers' Celery app, when :func:`prepare` built it before the fork."""


def prepare(settings: Settings) -> None:
    """Build the workers' program here, for the workers forked from here.

    ``acoupi run`` calls this before it forks its first worker: each worker
    then starts from this program, never used here, instead of loading
    the program again (about 3 MB each), and from Celery's worker modules
    already imported. Loading from ``settings`` gives the program a worker
    loads from the environment it is given
    (:func:`acoupi.runtime.environment.child_environment`). Like the
    children of Celery's prefork pool, the workers get it as it is before
    any use: no connection, no thread.

    Parameters
    ----------
    settings
        The settings the workers run with.
    """
    global _prepared
    from acoupi.system.programs import load_program

    for module in PRELOAD_MODULES:
        importlib.import_module(module)
    _prepared = load_program(settings).app


def _app(module: str) -> Any:
    if module == APP_MODULE and _prepared is not None:
        return _prepared
    return importlib.import_module(module).app


def worker_argv(
    python: str,
    name: str,
    queues: Sequence[str],
    concurrency: Optional[int],
    pool: str,
    log_level: str,
    pidfile: str,
) -> List[str]:
    """Return the command line that runs one worker as its own program.

    Parameters
    ----------
    python
        The Python interpreter.
    name
        Worker name; the node name is ``<name>@<host>``.
    queues
        Queues it consumes (empty: Celery's default queue).
    concurrency
        Tasks at once (None: Celery's default).
    pool
        Celery pool (``threads``, ``prefork``, ``solo``, ...).
    log_level
        Log level, e.g. ``"INFO"``.
    pidfile
        Where the worker writes its pid.

    Returns
    -------
    list of str
        ``python -m acoupi.runtime.worker_process -n <name>@%h ...``.
    """
    argv = [
        python,
        "-m",
        __name__,
        "-n",
        f"{name}@%h",
        "-P",
        pool,
        f"--loglevel={log_level}",
        f"--pidfile={pidfile}",
    ]
    if queues:
        argv += ["-Q", ",".join(queues)]
    if concurrency is not None:
        argv += ["-c", str(concurrency)]
    return argv


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__name__}", description=__doc__.split("\n")[0]
    )
    parser.add_argument("-A", "--app", default=APP_MODULE, help="module with `app`")
    parser.add_argument("-n", "--hostname", required=True)
    parser.add_argument("-P", "--pool", default="threads")
    parser.add_argument("-Q", "--queues", default="")
    parser.add_argument("-c", "--concurrency", type=int, default=None)
    parser.add_argument("--loglevel", default="INFO")
    parser.add_argument("--pidfile", default=None)
    return parser


def main(args: Optional[Sequence[str]] = None) -> int:
    """Run one worker until it is stopped; return its exit code.

    Parameters
    ----------
    args
        Options as :func:`worker_argv` writes them after the module name;
        ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        The worker's exit code (0 after a warm shutdown).
    """
    options = _parser().parse_args(args)
    from celery import concurrency as pools
    from celery.platforms import maybe_drop_privileges
    from celery.utils.nodenames import default_nodename, host_format, node_format

    app = _app(options.app)
    hostname = host_format(default_nodename(options.hostname))
    queues = [q for q in options.queues.split(",") if q]
    maybe_drop_privileges(uid=None, gid=None)  # as `celery worker` does
    worker = app.Worker(
        hostname=hostname,
        pool_cls=pools.get_implementation(options.pool),
        loglevel=options.loglevel,
        pidfile=node_format(options.pidfile, hostname),
        queues=queues or None,
        concurrency=options.concurrency,
        quiet=True,  # no start-up banner in the log file
        no_color=True,
    )
    worker.start()
    return int(worker.exitcode or 0)


if __name__ == "__main__":
    sys.exit(main())
