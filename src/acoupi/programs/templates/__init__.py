"""Program templates to build monitoring programs on."""

from acoupi.programs.templates.basic import (
    AudioConfiguration,
    BasicProgram,
    BasicProgramConfiguration,
    PathsConfiguration,
)
from acoupi.programs.templates.detection import (
    DetectionProgram,
    DetectionProgramConfiguration,
    DetectionsConfiguration,
)
from acoupi.programs.templates.messaging import (
    MessagingConfig,
    MessagingProgram,
    MessagingProgramConfiguration,
)

__all__ = [
    "AudioConfiguration",
    "BasicProgram",
    "BasicProgramConfiguration",
    "DetectionProgram",
    "DetectionProgramConfiguration",
    "DetectionsConfiguration",
    "MessagingConfig",
    "MessagingProgram",
    "MessagingProgramConfiguration",
    "PathsConfiguration",
]
