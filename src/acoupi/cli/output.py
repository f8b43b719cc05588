"""Printing helpers shared by the commands.

Rich is imported only when something is actually drawn with it, so
commands that print plain text (and ``--help``) do not pay for it.
"""

import sys
from typing import TYPE_CHECKING, Optional

import click

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["make_console", "print_json", "stdout_is_terminal"]


def stdout_is_terminal() -> bool:
    """Whether standard output is a terminal (so colour makes sense)."""
    try:
        return sys.stdout.isatty()
    except ValueError:  # closed stream
        return False


def make_console(color: Optional[bool] = None) -> "Console":
    """Return a Rich console writing to the current standard output.

    Parameters
    ----------
    color
        ``False`` disables colour; ``None`` lets Rich decide (colour on a
        terminal, honouring ``NO_COLOR``).
    """
    from rich.console import Console

    # ``file=sys.stdout`` is looked up now, so click's test runner, which
    # swaps ``sys.stdout``, captures the output.
    return Console(file=sys.stdout, color_system=None if color is False else "auto")


def print_json(text: str, color: bool = True, indent: Optional[int] = 2) -> None:
    """Print a JSON document, highlighted when colour is on and useful.

    Parameters
    ----------
    text
        The JSON document, already serialised.
    color
        Highlight the JSON when standard output is a terminal.
    indent
        Indentation used when re-formatting for highlighting.
    """
    if not (color and stdout_is_terminal()):
        click.echo(text)
        return
    make_console().print_json(text, indent=indent)
