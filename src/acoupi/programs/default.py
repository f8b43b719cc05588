"""The default program: record on a schedule and keep recordings by rules."""

from typing import List, Optional

from acoupi.components import types
from acoupi.programs.saving_rules import SaveRecordingFilter, build_saving_filters
from acoupi.programs.templates import BasicProgram, BasicProgramConfiguration

__all__ = ["ConfigSchema", "Program", "SaveRecordingFilter"]


class ConfigSchema(BasicProgramConfiguration):
    """Configuration of the default program."""

    recording_saving: Optional[SaveRecordingFilter] = None


class Program(BasicProgram[ConfigSchema]):
    """Record audio and keep the recordings that match the saving rules."""

    config_schema = ConfigSchema

    def get_recording_filters(
        self, config: ConfigSchema
    ) -> List[types.RecordingSavingFilter]:
        """Keep recordings matching any rule of ``recording_saving``."""
        return build_saving_filters(config.recording_saving, config.timezone)
