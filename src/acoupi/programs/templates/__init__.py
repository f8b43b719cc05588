"""Program templates to build monitoring programs on.

Names are imported from their submodules on first use: a program built on
``BasicProgram`` (the default program) loads neither the messaging nor the
detection template.
"""

from typing import TYPE_CHECKING

from acoupi._lazy import lazy_exports

_SUBMODULE_OF = {
    "AudioConfiguration": "basic",
    "BasicProgram": "basic",
    "BasicProgramConfiguration": "basic",
    "DetectionProgram": "detection",
    "DetectionProgramConfiguration": "detection",
    "DetectionsConfiguration": "detection",
    "MessagingConfig": "messaging",
    "MessagingProgram": "messaging",
    "MessagingProgramConfiguration": "messaging",
    "PathsConfiguration": "basic",
}

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

__getattr__, __dir__ = lazy_exports(__name__, _SUBMODULE_OF)

if TYPE_CHECKING:
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
