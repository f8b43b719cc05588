"""Show acoupi's own warnings as one plain line each.

Python prints a warning with the file and line that issued it, which
means nothing to a field technician. The command line shows acoupi's
configuration warnings as ``Warning: <message>`` on stderr instead;
other warnings keep Python's format.
"""

import warnings
from typing import Any, Optional, TextIO

import click

__all__ = ["show_plain_warnings"]

_python_showwarning = warnings.showwarning


def _acoupi_category(category: type) -> bool:
    return category.__module__.startswith("acoupi.")


def _show(
    message: Any,
    category: type,
    filename: str,
    lineno: int,
    file: Optional[TextIO] = None,
    line: Optional[str] = None,
) -> None:
    if not _acoupi_category(category):
        _python_showwarning(message, category, filename, lineno, file, line)
        return
    click.secho(f"Warning: {message}", fg="yellow", err=True)


def show_plain_warnings() -> None:
    """Print acoupi's warnings as ``Warning: ...`` lines for this process."""
    warnings.showwarning = _show
