"""The triggered program: keep only recordings with sound events.

The AudioMoth trigger idea, on the device: a band-limited energy detector
(no ML download) finds events above an adaptive noise floor in a bat band and
a bird band. Recordings with events are kept and their detections messaged;
recordings without are deleted. Records continuously by default.
"""

import datetime
from typing import List

from pydantic import Field

from acoupi.components import types
from acoupi.components.message_factories import DetectionThresholdMessageBuilder
from acoupi.components.models.energy_detector import (
    BandEnergyDetector,
    BandEnergyDetectorConfig,
)
from acoupi.components.saving_filters import SavingThreshold
from acoupi.programs.templates import (
    AudioConfiguration,
    DetectionProgram,
    DetectionProgramConfiguration,
    MessagingConfig,
)

__all__ = ["Program", "TriggeredAudioConfiguration", "TriggeredConfig"]


class TriggeredAudioConfiguration(AudioConfiguration):
    """Continuous recording in back-to-back clips, all day."""

    duration: int = Field(default=10, gt=0)
    interval: int = Field(default=10, gt=0)
    schedule_start: datetime.time = datetime.time.min
    schedule_end: datetime.time = datetime.time.max


class TriggeredConfig(DetectionProgramConfiguration):
    """Configuration of the triggered program."""

    recording: TriggeredAudioConfiguration = Field(
        default_factory=TriggeredAudioConfiguration
    )
    messaging: MessagingConfig = Field(default_factory=MessagingConfig)
    detector: BandEnergyDetectorConfig = Field(default_factory=BandEnergyDetectorConfig)


class Program(DetectionProgram[TriggeredConfig]):
    """Record, detect sound events by band energy, keep what has events."""

    config_schema = TriggeredConfig

    def configure_model(self, config: TriggeredConfig) -> BandEnergyDetector:
        """Build the band-energy detector from ``config.detector``."""
        return config.detector.build()

    def get_recording_filters(
        self, config: TriggeredConfig
    ) -> List[types.RecordingSavingFilter]:
        """Keep a recording only if a detection reaches the threshold."""
        return [SavingThreshold(config.detections.threshold)]

    def get_message_factories(
        self, config: TriggeredConfig
    ) -> List[types.MessageBuilder]:
        """Message every detection that reaches the threshold."""
        return [DetectionThresholdMessageBuilder(config.detections.threshold)]
