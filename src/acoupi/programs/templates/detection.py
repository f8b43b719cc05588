"""DetectionProgram: record, run a model on each recording, keep by results."""

from abc import ABC, abstractmethod
from typing import Any, Callable, Generic, List, TypeVar

from pydantic import BaseModel, Field

from acoupi import data
from acoupi.components import types
from acoupi.components.output_cleaners import ThresholdDetectionCleaner
from acoupi.programs.templates.checks import run_component_check
from acoupi.programs.templates.messaging import (
    MessagingProgram,
    MessagingProgramConfiguration,
)
from acoupi.system.files import get_temp_files
from acoupi.tasks import generate_detection_task

__all__ = [
    "DetectionProgram",
    "DetectionProgramConfiguration",
    "DetectionsConfiguration",
]


class DetectionsConfiguration(BaseModel):
    """How confident a detection must be to be kept."""

    threshold: float = 0.2


class DetectionProgramConfiguration(MessagingProgramConfiguration):
    """Configuration of a DetectionProgram."""

    detections: DetectionsConfiguration = Field(default_factory=DetectionsConfiguration)


C = TypeVar("C", bound=DetectionProgramConfiguration)


class DetectionProgram(MessagingProgram[C], ABC, Generic[C]):
    """Run a model on every new recording (``detection_task`` callback).

    Subclasses implement :meth:`configure_model`; the model's ``name`` must
    equal the ``name_model`` of its outputs, because a recording is filed
    only once that model has run on it.
    """

    config_schema = DetectionProgramConfiguration

    model: types.Model

    def setup(self, config: C) -> None:
        """Build the model, then Messaging's setup."""
        self.model = self.configure_model(config)
        super().setup(config)

    def on_end(self, deployment: data.Deployment) -> None:
        """Process recordings left in tmp, then file and send them."""
        super().on_end(deployment)
        remaining = get_temp_files(self.config.paths.tmp_audio)
        if not remaining:
            return
        print(f"Processing {len(remaining)} remaining recordings...")
        for recording, _ in self.store.get_recordings_by_path(remaining):
            self.tasks["detection_task"].apply((recording,))
        self.tasks["file_management_task"].apply()
        if self.messenger is not None and "send_messages_task" in self.tasks:
            self.tasks["send_messages_task"].apply()

    def check(self, config: C) -> None:
        """Check the model, then Messaging's checks."""
        run_component_check(self.model)
        super().check(config)

    @abstractmethod
    def configure_model(self, config: C) -> types.Model:
        """Return the model to run on each recording."""

    def get_output_cleaners(self, config: C) -> List[types.ModelOutputCleaner]:
        """Drop predictions below ``detections.threshold`` (none if 0)."""
        if not config.detections.threshold:
            return []
        return [ThresholdDetectionCleaner(config.detections.threshold)]

    def get_processing_filters(self, config: C) -> List[types.ProcessingFilter]:
        """Return filters deciding which recordings the model sees (all)."""
        return []

    def get_message_factories(self, config: C) -> List[types.MessageBuilder]:
        """Return builders turning model outputs into messages (none)."""
        return []

    def create_detection_task(self, config: C) -> Callable[[data.Recording], None]:
        """Return the detection task."""
        return generate_detection_task(
            store=self.store,
            model=self.model,
            message_store=self.message_store,
            logger=self.logger.getChild("detection"),
            output_cleaners=self.get_output_cleaners(config),
            processing_filters=self.get_processing_filters(config),
            message_factories=self.get_message_factories(config),
        )

    def get_recording_callbacks(self, config: C) -> List[Callable[[Any], Any]]:
        """Run detection on every new recording."""
        return [self.create_detection_task(config)]

    def get_required_models(self, config: C) -> List[str]:
        """Require this program's model before filing a recording."""
        name = getattr(self.model, "name", None) or getattr(
            self.model, "__name__", None
        )
        if not name:
            raise ValueError("Model must have a name attribute.")
        return [name]
