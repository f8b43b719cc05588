"""Exceptions raised by the acoupi system.

Each carries enough text for the command line to tell the user what is
wrong and, where it can, how to fix it (``help``).
"""

from typing import Optional

__all__ = [
    "AcoupiError",
    "CeleryUnavailableError",
    "ConfigurationError",
    "DeploymentError",
    "DeviceConfigurationError",
    "DeviceError",
    "DeviceUnavailableError",
    "HealthCheckError",
    "InvalidProgramError",
    "MessageSendError",
    "MessageStoreError",
    "MetadataStoreError",
    "NotConfiguredError",
    "ParameterError",
    "ProgramNotFoundError",
    "RecordingError",
    "ServiceError",
]


class AcoupiError(Exception):
    """Base of acoupi's own errors: a message and an optional fix.

    The command line prints ``message`` and ``help`` instead of a traceback.
    """

    help: Optional[str] = None

    def __init__(self, message: str, help: Optional[str] = None):
        super().__init__(message)
        self.message = message
        if help is not None:
            self.help = help

    def __str__(self) -> str:
        return self.message


class ConfigurationError(AcoupiError):
    """A configuration is invalid."""

    def __init__(self, message: str, help: Optional[str] = None):
        super().__init__(message, help)
        self.help = help


class ParameterError(AcoupiError):
    """A parameter value is invalid.

    Deliberately not a ``ValueError``: argparse would swallow it.
    """

    def __init__(self, value: str, message: str, help: Optional[str] = None):
        super().__init__(message, help)
        self.value = value
        self.help = help


class HealthCheckError(AcoupiError):
    """A health check failed."""

    def __init__(self, message: str, help: Optional[str] = None):
        super().__init__(message, help)


class DeploymentError(AcoupiError):
    """A deployment could not be started, read or ended."""

    def __init__(self, message: str, help: Optional[str] = None):
        super().__init__(message, help)


class ProgramNotFoundError(AcoupiError):
    """The program module could not be found."""

    def __init__(self, program: str, help: Optional[str] = None):
        super().__init__(
            f"Program {program!r} was not found.",
            help
            or "Check the module name (for example `acoupi.programs.test`) "
            "and that the package providing it is installed.",
        )
        self.program = program


class InvalidProgramError(AcoupiError):
    """The program module holds no usable program class."""

    def __init__(self, program: str, help: Optional[str] = None):
        super().__init__(
            f"Program {program!r} is not a valid acoupi program.",
            help
            or "The module must define one concrete subclass of "
            "acoupi.programs.AcoupiProgram.",
        )
        self.program = program


class NotConfiguredError(AcoupiError):
    """acoupi has not been set up in this home."""

    def __init__(
        self, message: str = "Acoupi is not set up.", help: Optional[str] = None
    ):
        super().__init__(message, help or "Run `acoupi setup` first.")


class ServiceError(AcoupiError):
    """The systemd user services cannot be managed here."""


class CeleryUnavailableError(AcoupiError):
    """Celery or its broker cannot be reached."""


# Errors of components (acoupi 0.8). Each takes a message and an optional
# ``help``, like every AcoupiError, so the command line can show both.


class DeviceError(AcoupiError):
    """An operation on a device (microphone, audio backend) failed."""


class DeviceUnavailableError(DeviceError):
    """A device or audio backend is missing or busy."""


class DeviceConfigurationError(DeviceError):
    """A device does not support the requested settings."""


class RecordingError(DeviceError):
    """A recording could not be made."""


class MessageSendError(AcoupiError):
    """A message could not be handed to the network (a local failure).

    The send-messages task records it as a FAILED attempt and moves on.
    """


class MessageStoreError(AcoupiError):
    """The message store (outbox) is unusable or inconsistent."""


class MetadataStoreError(AcoupiError):
    """The metadata store (recordings, detections) is unusable or inconsistent."""
