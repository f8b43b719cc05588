"""Generate the bash scripts that start and stop acoupi's Celery processes.

The systemd units run these scripts: ``celery multi`` for the workers and
``celery beat`` for the scheduler. Every path and name is shell-quoted, so
an acoupi home with spaces or quotes in its path still works; ordinary
paths come out exactly as in acoupi 0.3.
"""

import datetime
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any, Optional

from acoupi.programs.core.workers import WorkerConfig
from acoupi.system.atomic import atomic_write_text
from acoupi.system.constants import Settings
from acoupi.system.templates import render_template

__all__ = [
    "get_celery_bin",
    "give_executable_permissions",
    "write_beat_script",
    "write_scripts",
    "write_workers_restart_script",
    "write_workers_start_script",
    "write_workers_stop_script",
]

SCRIPT_MODE = 0o755


def get_celery_bin() -> Path:
    """Return the path to the ``celery`` executable.

    The one installed next to the running Python (``sys.prefix/bin``) comes
    first: it belongs to the environment acoupi itself runs in, which is
    the one that can import the program. ``PATH`` is the fallback.

    Raises
    ------
    RuntimeError
        If no ``celery`` executable can be found.
    """
    candidate = Path(sys.prefix) / "bin" / "celery"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("celery")
    if found is not None:
        return Path(found)
    raise RuntimeError(
        f"The celery executable was not found in {candidate.parent} or on "
        "PATH. Install acoupi (which depends on celery) in the environment "
        f"you run it from, e.g. `{sys.executable} -m pip install acoupi`."
    )


def give_executable_permissions(path: Path) -> None:
    """Add execute permission for user, group and others to ``path``."""
    mode = os.stat(path).st_mode
    os.chmod(path, mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _common_variables(settings: Settings, celery_bin: Optional[Path]) -> dict[str, Any]:
    return {
        "celery_bin": celery_bin if celery_bin is not None else get_celery_bin(),
        "app_name": settings.app_name,
        "log_level": settings.log_level,
        "run_dir": settings.run_dir,
        "log_dir": settings.log_dir,
        "working_directory": settings.home,
        "now": datetime.datetime.now().isoformat(timespec="seconds"),
    }


def _write_script(path: Path, text: str) -> Path:
    atomic_write_text(path, text, mode=SCRIPT_MODE)
    return path


def write_workers_start_script(
    config: WorkerConfig,
    settings: Settings,
    celery_bin: Optional[Path] = None,
) -> Path:
    """Write the script that starts the workers (``celery multi start``).

    Parameters
    ----------
    config
        Workers to start, with their queues and concurrency.
    settings
        acoupi settings; the script goes to ``settings.start_script_path``.
    celery_bin
        Celery executable; found with :func:`get_celery_bin` if omitted.

    Returns
    -------
    Path
        The script written.
    """
    text = render_template(
        "workers_start.sh.jinja2",
        config=config,
        pool_type=settings.celery_pool_type,
        **_common_variables(settings, celery_bin),
    )
    return _write_script(settings.start_script_path, text)


def write_workers_restart_script(
    config: WorkerConfig,
    settings: Settings,
    celery_bin: Optional[Path] = None,
) -> Path:
    """Write the script that restarts the workers (``celery multi restart``).

    Parameters are those of :func:`write_workers_start_script`; the script
    goes to ``settings.restart_script_path``.
    """
    text = render_template(
        "workers_restart.sh.jinja2",
        config=config,
        pool_type=settings.celery_pool_type,
        **_common_variables(settings, celery_bin),
    )
    return _write_script(settings.restart_script_path, text)


def write_workers_stop_script(
    config: WorkerConfig,
    settings: Settings,
    celery_bin: Optional[Path] = None,
) -> Path:
    """Write the script that stops the workers (``celery multi stopwait``).

    Parameters are those of :func:`write_workers_start_script`; the script
    goes to ``settings.stop_script_path``.
    """
    text = render_template(
        "workers_stop.sh.jinja2",
        config=config,
        **_common_variables(settings, celery_bin),
    )
    return _write_script(settings.stop_script_path, text)


def write_beat_script(
    settings: Settings,
    celery_bin: Optional[Path] = None,
) -> Path:
    """Write the script that runs ``celery beat`` in the foreground.

    Beat keeps its schedule file, pid file and log under ``run_dir`` and
    ``log_dir``, never in the working directory.

    Parameters
    ----------
    settings
        acoupi settings; the script goes to ``settings.beat_script_path``.
    celery_bin
        Celery executable; found with :func:`get_celery_bin` if omitted.

    Returns
    -------
    Path
        The script written.
    """
    text = render_template("beat.sh.jinja2", **_common_variables(settings, celery_bin))
    return _write_script(settings.beat_script_path, text)


def write_scripts(
    config: WorkerConfig,
    settings: Settings,
    celery_bin: Optional[Path] = None,
) -> None:
    """Write the start, stop and restart scripts of the workers and the beat script.

    Parameters
    ----------
    config
        Workers to run; use the program class's ``get_worker_config()``.
    settings
        acoupi settings giving the script paths.
    celery_bin
        Celery executable; found once with :func:`get_celery_bin` if omitted.
    """
    if celery_bin is None:
        celery_bin = get_celery_bin()
    write_workers_start_script(config, settings, celery_bin=celery_bin)
    write_workers_stop_script(config, settings, celery_bin=celery_bin)
    write_workers_restart_script(config, settings, celery_bin=celery_bin)
    write_beat_script(settings, celery_bin=celery_bin)
