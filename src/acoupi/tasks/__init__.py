"""Task generators: build the functions programs register as Celery tasks.

Names are imported from their submodules on first use.
"""

from typing import TYPE_CHECKING

from acoupi._lazy import lazy_exports

_SUBMODULE_OF = {
    "aligned_schedule": "schedules",
    "generate_detection_task": "detection",
    "generate_file_management_task": "management",
    "generate_heartbeat_task": "heartbeat",
    "generate_recording_task": "recording",
    "generate_send_messages_task": "messaging",
    "generate_summariser_task": "summary",
}

__all__ = [
    "aligned_schedule",
    "generate_detection_task",
    "generate_file_management_task",
    "generate_heartbeat_task",
    "generate_recording_task",
    "generate_send_messages_task",
    "generate_summariser_task",
]

__getattr__, __dir__ = lazy_exports(__name__, _SUBMODULE_OF)

if TYPE_CHECKING:
    from acoupi.tasks.detection import generate_detection_task
    from acoupi.tasks.heartbeat import generate_heartbeat_task
    from acoupi.tasks.management import generate_file_management_task
    from acoupi.tasks.messaging import generate_send_messages_task
    from acoupi.tasks.recording import generate_recording_task
    from acoupi.tasks.schedules import aligned_schedule
    from acoupi.tasks.summary import generate_summariser_task
