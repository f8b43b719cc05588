"""Turn every failure of a command into a short, readable error.

Field technicians run acoupi over SSH; a Python traceback tells them
nothing. All command groups use :class:`AcoupiGroup`, whose ``invoke``
converts exceptions into :class:`CliError`, a :class:`click.ClickException`
that click prints as ``Error: <message>`` followed by a hint on how to fix
it, and exits non-zero. Only when ``--debug`` (or ``ACOUPI_DEBUG=1``) is
given is the traceback printed as well.

Heavy modules (pydantic, argparse, subprocess) are never imported here:
an exception can only be an instance of a class whose module is already
loaded, so the checks look the classes up in ``sys.modules``.
"""

import os
import sys
import traceback
from typing import IO, Any, Optional

import click

from acoupi.system.exceptions import (
    AcoupiError,
    HealthCheckError,
    NotConfiguredError,
    ParameterError,
)

__all__ = [
    "AcoupiGroup",
    "CliError",
    "CliUsageError",
    "NOT_SETUP_MESSAGE",
    "debug_enabled",
    "describe_validation_error",
    "to_cli_error",
]

NOT_SETUP_MESSAGE = "Acoupi is not set up. Run `acoupi setup` first."

DEBUG_ENV_VAR = "ACOUPI_DEBUG"

_BUG_HELP = (
    "This looks like a bug in acoupi or in the program. Run the command "
    "again with `acoupi --debug ...` (or ACOUPI_DEBUG=1) to see the full "
    "traceback, and include it when reporting the problem."
)


class CliError(click.ClickException):
    """An error shown to the user as a message plus a hint on fixing it.

    Parameters
    ----------
    message
        What went wrong, in one or two sentences.
    help
        How to fix it; printed on the line after the message.
    """

    exit_code = 1

    def __init__(self, message: str, help: Optional[str] = None) -> None:
        super().__init__(message)
        self.help = help

    def show(self, file: Optional[IO[Any]] = None) -> None:
        """Print the error in red and the hint in yellow on stderr."""
        file = file if file is not None else sys.stderr
        color = self.show_color
        click.secho(f"Error: {self.format_message()}", file=file, fg="red", color=color)
        if self.help:
            click.secho(self.help, file=file, fg="yellow", color=color)


class CliUsageError(CliError):
    """A :class:`CliError` caused by bad command-line input (exit status 2).

    2 is click's exit status for usage errors, e.g. an unknown option.
    """

    exit_code = 2


def debug_enabled(ctx: Optional[click.Context] = None) -> bool:
    """Whether tracebacks should be shown (``--debug`` or ``ACOUPI_DEBUG``)."""
    if ctx is not None and ctx.find_root().params.get("debug"):
        return True
    return os.environ.get(DEBUG_ENV_VAR, "").lower() in {"1", "true", "yes", "on"}


def _loaded_class(module: str, name: str) -> Optional[type]:
    """Return ``module.name`` if that module was already imported."""
    loaded = sys.modules.get(module)
    value = getattr(loaded, name, None) if loaded is not None else None
    return value if isinstance(value, type) else None


def _is(exc: BaseException, module: str, name: str) -> bool:
    cls = _loaded_class(module, name)
    return cls is not None and isinstance(exc, cls)


def describe_validation_error(exc: Any) -> str:
    """Describe a pydantic ``ValidationError`` as ``field: reason; ...``."""
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error.get("loc", ()))
        reason = str(error.get("msg", "invalid value"))
        reason = reason.removeprefix("Value error, ")
        lines.append(f"{location}: {reason}" if location else reason)
    return "; ".join(lines) or str(exc)


def _from_acoupi_error(exc: AcoupiError) -> CliError:
    if _is(exc, "acoupi.system.config.options", "UnknownOptionError"):
        # Like click's own "No such option": a usage error (exit 2).
        return CliUsageError(exc.message, exc.help)
    if isinstance(exc, ParameterError):
        message = exc.message
        # Name the parameter unless the message already does.
        if exc.value and exc.value not in message:
            message = f"Invalid value for '{exc.value}': {message}"
        return CliError(message, exc.help or "Check the value and try again.")
    if isinstance(exc, HealthCheckError):
        message = exc.message
        # Messages of plugins written for upstream may already say it.
        if not message.lower().startswith("health check failed"):
            message = f"Health check failed: {message}"
        return CliError(
            message,
            exc.help
            or "Fix the configuration with `acoupi config set`, then run "
            "`acoupi check` again.",
        )
    if isinstance(exc, NotConfiguredError) and exc.message == "Acoupi is not set up.":
        return CliError(NOT_SETUP_MESSAGE)
    return CliError(exc.message, exc.help)


def to_cli_error(exc: Exception) -> CliError:
    """Map any exception to the message and hint the user should see.

    Parameters
    ----------
    exc
        The exception raised while running a command.

    Returns
    -------
    CliError
        The error to show. Unknown exception types get a generic message
        pointing at ``--debug``.
    """
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, AcoupiError):
        return _from_acoupi_error(exc)
    if _is(exc, "pydantic_core._pydantic_core", "ValidationError"):
        return CliError(
            f"Invalid value: {describe_validation_error(exc)}.",
            "Check the values you gave and try again.",
        )
    if _is(exc, "argparse", "ArgumentError"):
        # Raised by the config parser when a value is missing or malformed
        # and it may not prompt (``--no-prompt`` or no terminal).
        return CliError(
            str(getattr(exc, "message", exc)),
            "Give the value on the command line, e.g. `acoupi setup "
            "--program <program> --<field> <value>`, or run `acoupi setup` "
            "in a terminal to be asked for it.",
        )
    if _is(exc, "subprocess", "CalledProcessError"):
        return _from_called_process_error(exc)
    if isinstance(exc, PermissionError):
        return CliError(
            f"Permission denied: {exc.filename or exc}.",
            "Run acoupi as the user that set it up, or fix the file's permissions.",
        )
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename:
        # mkdir of a configured folder whose path (or a parent) is a file.
        return CliError(
            f"{exc.filename} (or a folder above it) is a file where acoupi "
            "needs a folder.",
            "Move that file away, or set the folder to another path with "
            "`acoupi config set` (`acoupi config show` lists the paths).",
        )
    if isinstance(exc, IsADirectoryError) and exc.filename:
        return CliError(
            f"{exc.filename} is a folder where acoupi needs a file.",
            "Move the folder away, or set that path to a file with "
            "`acoupi config set` (`acoupi config show` lists the paths).",
        )
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return CliError(
            f"File not found: {exc.filename}.",
            "If this is one of acoupi's files, run `acoupi setup` again.",
        )
    return CliError(f"Unexpected error ({type(exc).__name__}): {exc}", _BUG_HELP)


def _from_called_process_error(exc: Any) -> CliError:
    command = exc.cmd if isinstance(exc.cmd, str) else " ".join(map(str, exc.cmd))
    message = f"`{command}` failed with exit code {exc.returncode}."
    stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr
    detail = (stderr or "").strip().splitlines()[-3:]
    if detail:
        message += "\n" + "\n".join(detail)
    return CliError(message, "Run with `--debug` for more details.")


class AcoupiGroup(click.Group):
    """A click group that shows errors as messages, not tracebacks.

    It is used for the root group and every subgroup, so a group invoked
    on its own (as tests do) behaves like the full command line.
    """

    def invoke(self, ctx: click.Context) -> Any:
        """Run the group and its subcommand, translating any exception."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`acoupi logs | head`): not an error of
            # ours. click's main() exits quietly on it.
            raise
        except Exception as exc:
            if debug_enabled(ctx):
                traceback.print_exc(file=sys.stderr)
            raise to_cli_error(exc) from exc
