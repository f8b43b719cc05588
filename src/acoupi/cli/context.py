"""Shared state of a command-line invocation: settings and setup checks."""

import functools
import sys
from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

import click

from acoupi.cli.errors import NOT_SETUP_MESSAGE
from acoupi.system.exceptions import NotConfiguredError

if TYPE_CHECKING:
    from acoupi.system.constants import Settings

__all__ = ["get_settings", "needs_setup", "ensure_setup", "stdin_is_interactive"]

F = TypeVar("F", bound=Callable[..., Any])


def get_settings(ctx: click.Context) -> "Settings":
    """Return the settings of this invocation, creating them on first use.

    Tests inject their own with ``obj={"settings": ...}``; otherwise they
    are read from the ``ACOUPI_*`` environment variables.
    """
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        # Imported here: pydantic-settings costs ~0.1 s, which ``--help``
        # and ``--version`` should not pay.
        from acoupi.system.constants import Settings

        obj["settings"] = Settings()
    return cast("Settings", obj["settings"])


def ensure_setup(settings: "Settings") -> None:
    """Raise :class:`NotConfiguredError` unless ``acoupi setup`` has run."""
    from acoupi import system

    if not system.is_configured(settings):
        raise NotConfiguredError(
            NOT_SETUP_MESSAGE,
            help=f"acoupi looks for its files in {settings.home}; if you set "
            "it up elsewhere, point ACOUPI_HOME at that folder.",
        )


def needs_setup(func: F) -> F:
    """Make a command fail with a clear message when acoupi is not set up.

    The check runs when the command runs, not in the group callback, so
    ``acoupi config get --help`` works before setup.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ensure_setup(get_settings(click.get_current_context()))
        return func(*args, **kwargs)

    return cast(F, wrapper)


def stdin_is_interactive() -> bool:
    """Whether a person can answer prompts (stdin is a terminal)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # closed stream
        return False
