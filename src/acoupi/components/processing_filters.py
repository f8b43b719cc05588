"""Processing filters: decide whether a recording goes through the model."""

from acoupi import data
from acoupi.components.types import ProcessingFilter

__all__ = ["TrivialProcessingFilter"]


class TrivialProcessingFilter(ProcessingFilter):
    """Process every recording."""

    def should_process_recording(self, recording: data.Recording) -> bool:
        """Return True."""
        return True
