"""Exceptions raised by the acoupi system.

Each carries enough text for the command line to tell the user what is
wrong and, where it can, how to fix it (``help``).
"""

from typing import Optional

__all__ = [
    "ConfigurationError",
    "DeploymentError",
    "HealthCheckError",
    "InvalidProgramError",
    "ParameterError",
    "ProgramNotFoundError",
]


class ConfigurationError(Exception):
    """A configuration is invalid."""

    def __init__(self, message: str, help: Optional[str] = None):
        super().__init__(message)
        self.message = message
        self.help = help

    def __str__(self) -> str:
        return self.message


class ParameterError(Exception):
    """A parameter value is invalid.

    Deliberately not a ``ValueError``: argparse would swallow it.
    """

    def __init__(self, value: str, message: str, help: Optional[str] = None):
        super().__init__(message)
        self.value = value
        self.message = message
        self.help = help

    def __str__(self) -> str:
        return self.message


class HealthCheckError(Exception):
    """A health check failed."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class DeploymentError(Exception):
    """A deployment could not be started, read or ended."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ProgramNotFoundError(Exception):
    """The program module could not be found."""

    def __init__(self, program: str):
        super().__init__(program)
        self.program = program

    def __str__(self) -> str:
        return f"Program {self.program!r} was not found."


class InvalidProgramError(Exception):
    """The program module holds no usable program class."""

    def __init__(self, program: str):
        super().__init__(program)
        self.program = program

    def __str__(self) -> str:
        return f"Program {self.program!r} is not a valid acoupi program."
