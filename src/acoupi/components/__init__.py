"""Components that acoupi programs are assembled from.

Names are imported from their submodules on first use.
"""

from typing import TYPE_CHECKING

from acoupi._lazy import lazy_exports

_SUBMODULE_OF = {
    "After_DawnDuskTimeInterval": "saving_filters",
    "Before_DawnDuskTimeInterval": "saving_filters",
    "DateFileManager": "saving_managers",
    "DetectionTagValue": "saving_filters",
    "DetectionTags": "saving_filters",
    "DetectionThresholdMessageBuilder": "message_factories",
    "FrequencySchedule": "saving_filters",
    "FullModelOutputMessageBuilder": "message_factories",
    "HTTPConfig": "messengers",
    "HTTPMessenger": "messengers",
    "IDFileManager": "saving_managers",
    "IntervalScheduler": "recording_schedulers",
    "IsInInterval": "recording_conditions",
    "IsInIntervals": "recording_conditions",
    "MQTTConfig": "messengers",
    "MQTTMessenger": "messengers",
    "MicrophoneConfig": "audio_recorder",
    "PARecorder": "audio_recorder",
    "PARecorderConfig": "audio_recorder",
    "PWRecorder": "audio_recorder",
    "PWRecorderConfig": "audio_recorder",
    "PyAudioRecorder": "audio_recorder",
    "SaveIfInInterval": "saving_filters",
    "SaveRecordingManager": "saving_managers",
    "SavingThreshold": "saving_filters",
    "SqliteMessageStore": "message_stores",
    "SqliteStore": "stores",
    "StatisticsDetectionsSummariser": "summariser",
    "ThresholdDetectionCleaner": "output_cleaners",
    "ThresholdsDetectionsSummariser": "summariser",
}

__all__ = [
    "After_DawnDuskTimeInterval",
    "Before_DawnDuskTimeInterval",
    "DateFileManager",
    "DetectionTagValue",
    "DetectionTags",
    "DetectionThresholdMessageBuilder",
    "FrequencySchedule",
    "FullModelOutputMessageBuilder",
    "HTTPConfig",
    "HTTPMessenger",
    "IDFileManager",
    "IntervalScheduler",
    "IsInInterval",
    "IsInIntervals",
    "MQTTConfig",
    "MQTTMessenger",
    "MicrophoneConfig",
    "PARecorder",
    "PARecorderConfig",
    "PWRecorder",
    "PWRecorderConfig",
    "PyAudioRecorder",
    "SaveIfInInterval",
    "SaveRecordingManager",
    "SavingThreshold",
    "SqliteMessageStore",
    "SqliteStore",
    "StatisticsDetectionsSummariser",
    "ThresholdDetectionCleaner",
    "ThresholdsDetectionsSummariser",
]

__getattr__, __dir__ = lazy_exports(__name__, _SUBMODULE_OF)

if TYPE_CHECKING:
    from acoupi.components.audio_recorder import (
        MicrophoneConfig,
        PARecorder,
        PARecorderConfig,
        PWRecorder,
        PWRecorderConfig,
        PyAudioRecorder,
    )
    from acoupi.components.message_factories import (
        DetectionThresholdMessageBuilder,
        FullModelOutputMessageBuilder,
    )
    from acoupi.components.message_stores import SqliteMessageStore
    from acoupi.components.messengers import (
        HTTPConfig,
        HTTPMessenger,
        MQTTConfig,
        MQTTMessenger,
    )
    from acoupi.components.output_cleaners import ThresholdDetectionCleaner
    from acoupi.components.recording_conditions import IsInInterval, IsInIntervals
    from acoupi.components.recording_schedulers import IntervalScheduler
    from acoupi.components.saving_filters import (
        After_DawnDuskTimeInterval,
        Before_DawnDuskTimeInterval,
        DetectionTags,
        DetectionTagValue,
        FrequencySchedule,
        SaveIfInInterval,
        SavingThreshold,
    )
    from acoupi.components.saving_managers import (
        DateFileManager,
        IDFileManager,
        SaveRecordingManager,
    )
    from acoupi.components.stores import SqliteStore
    from acoupi.components.summariser import (
        StatisticsDetectionsSummariser,
        ThresholdsDetectionsSummariser,
    )
