"""The connected program: the default program plus messages and heartbeats."""

import datetime
from typing import List, Optional

from acoupi.components import types
from acoupi.programs import saving_rules
from acoupi.programs.saving_rules import build_saving_filters
from acoupi.programs.templates import MessagingProgram, MessagingProgramConfiguration

__all__ = ["Connected_ConfigSchema", "Program", "SaveRecordingFilter"]


class SaveRecordingFilter(saving_rules.SaveRecordingFilter):
    """Saving rules of the connected program (window starts at 18:30)."""

    starttime: Optional[datetime.time] = datetime.time(hour=18, minute=30)


class Connected_ConfigSchema(MessagingProgramConfiguration):
    """Configuration of the connected program."""

    recording_saving: Optional[SaveRecordingFilter] = None


class Program(MessagingProgram[Connected_ConfigSchema]):
    """Record, keep recordings by rules, and send messages and heartbeats."""

    config_schema = Connected_ConfigSchema

    def get_recording_filters(
        self, config: Connected_ConfigSchema
    ) -> List[types.RecordingSavingFilter]:
        """Keep recordings matching any rule of ``recording_saving``."""
        return build_saving_filters(config.recording_saving, config.timezone)
