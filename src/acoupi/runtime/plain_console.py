"""What ``acoupi run`` prints with when it shows no live view.

Rich costs the run's process about 4 MB; without the live view nothing
needs it: a headless run (a service, ``nohup``, ``--no-live``) prints
lines, which this does with click, coloured only on a terminal.
"""

import sys
from typing import IO, Any, Optional, Protocol

import click

__all__ = ["ConsoleLike", "PlainConsole"]


class ConsoleLike(Protocol):
    """The part of ``rich.console.Console`` that a run prints with."""

    def print(self, *objects: Any, **options: Any) -> None:
        """Print ``objects`` as one line."""


class PlainConsole:
    """Prints lines as ``rich.console.Console.print`` would, without Rich.

    Parameters
    ----------
    file
        Where to print; the current standard output by default (looked up
        at each line, so click's test runner captures it).
    """

    def __init__(self, file: Optional[IO[str]] = None) -> None:
        self.file = file

    def print(self, *objects: Any, style: Optional[str] = None, **_: Any) -> None:
        """Print ``objects`` on one line, in colour ``style`` (e.g. "yellow").

        Rich's other options (markup, highlighting, wrapping) do not apply:
        the text is printed as it is.
        """
        text = " ".join(str(item) for item in objects)
        click.secho(text, file=self.file or sys.stdout, fg=style)
