"""MessagingProgram: a BasicProgram that also sends messages and heartbeats."""

from pathlib import Path
from typing import Callable, Generic, Literal, Optional, TypeVar

from pydantic import BaseModel, Field

from acoupi import data
from acoupi.components import types
from acoupi.components.message_stores import SqliteMessageStore
from acoupi.components.messengers import (
    HTTPConfig,
    HTTPMessenger,
    MQTTConfig,
    MQTTMessenger,
)
from acoupi.programs.templates.basic import (
    BasicProgram,
    BasicProgramConfiguration,
)
from acoupi.programs.templates.checks import run_component_check
from acoupi.system.folders import storage_path
from acoupi.tasks import generate_heartbeat_task, generate_send_messages_task

__all__ = [
    "MessagingConfig",
    "MessagingProgram",
    "MessagingProgramConfiguration",
]


class MessagingConfig(BaseModel):
    """Where messages are kept and how they are sent."""

    messages_db: Path = Field(default_factory=lambda: storage_path("messages.db"))
    message_send_interval: int = Field(default=120, gt=0)
    """Seconds between two runs of the send task."""

    max_messages: Optional[int] = Field(default=None, gt=0)
    """Most messages one run of the send task tries; the task's own bound
    (1000) when not set. A backlog drains over several runs."""

    message_order: Literal["oldest_first", "newest_first"] = "oldest_first"
    """Which unsent messages go first: the oldest (the server sees events in
    order) or the newest (fresh news first after an outage)."""

    heartbeat_interval: int = Field(default=3600, gt=0)
    """Seconds between two heartbeats."""

    http: Optional[HTTPConfig] = None
    mqtt: Optional[MQTTConfig] = None


class MessagingProgramConfiguration(BasicProgramConfiguration):
    """Configuration of a MessagingProgram."""

    messaging: MessagingConfig


C = TypeVar("C", bound=MessagingProgramConfiguration)


class MessagingProgram(BasicProgram[C], Generic[C]):
    """Record, and send stored messages and heartbeats over HTTP or MQTT.

    Adds ``send_messages_task`` and ``heartbeat_task`` when a messenger is
    configured (HTTP takes precedence over MQTT).
    """

    config_schema = MessagingProgramConfiguration

    messenger: Optional[types.Messenger]
    message_store: types.MessageStore

    def setup(self, config: C) -> None:
        """Build the message store and messenger, register tasks, then Basic."""
        self.validate_dirs(config)
        self.message_store = self.configure_message_store(config)
        self.messenger = self.configure_messenger(config)
        self.register_messaging_task(config)
        self.register_heartbeat_task(config)
        super().setup(config)

    def on_end(self, deployment: data.Deployment) -> None:
        """Run Basic's end, then send what is still unsent."""
        super().on_end(deployment)
        if self.messenger is not None and "send_messages_task" in self.tasks:
            print("Sending remaining messages...")
            self.tasks["send_messages_task"].apply()

    def check(self, config: C) -> None:
        """Check the messenger, then Basic's checks."""
        run_component_check(self.messenger)
        super().check(config)

    def configure_message_store(self, config: C) -> types.MessageStore:
        """Return the message store (the outbox)."""
        return SqliteMessageStore(config.messaging.messages_db)

    def configure_messenger(self, config: C) -> Optional[types.Messenger]:
        """Return the HTTP or MQTT messenger, or None if neither is set."""
        logger = self.logger.getChild("messenger")
        if config.messaging.http is not None:
            return HTTPMessenger.from_config(config.messaging.http, logger=logger)
        if config.messaging.mqtt is not None:
            return MQTTMessenger.from_config(config.messaging.mqtt, logger=logger)
        return None

    def create_messaging_task(self, config: C) -> Optional[Callable[[], None]]:
        """Return the send task, or None without a messenger."""
        if self.messenger is None:
            return None
        return generate_send_messages_task(
            message_store=self.message_store,
            messengers=[self.messenger],
            logger=self.logger.getChild("messaging"),
            max_messages=config.messaging.max_messages,
            order=config.messaging.message_order,
        )

    def create_heartbeat_task(self, config: C) -> Optional[Callable[[], None]]:
        """Return the heartbeat task, or None without a messenger."""
        if self.messenger is None:
            return None
        from acoupi.runtime.backlog import get_backlog

        # Stored like any message: a heartbeat due during an outage is sent
        # later by the send-messages task, so the server sees when the device
        # was alive (upstream dropped it).
        return generate_heartbeat_task(
            messengers=[self.messenger],
            logger=self.logger.getChild("heartbeat"),
            message_store=self.message_store,
            backlog=lambda: get_backlog(self),
            problem=getattr(self, "storage_problem", None),
        )

    def register_messaging_task(self, config: C) -> None:
        """Send messages every ``message_send_interval`` seconds."""
        task = self.create_messaging_task(config)
        if task is not None:
            self.add_task(
                task,
                schedule=config.messaging.message_send_interval,
                queue="celery",
            )

    def register_heartbeat_task(self, config: C) -> None:
        """Send a heartbeat every ``heartbeat_interval`` seconds."""
        task = self.create_heartbeat_task(config)
        if task is not None:
            self.add_task(
                task,
                schedule=config.messaging.heartbeat_interval,
                queue="celery",
            )

    def validate_dirs(self, config: C) -> None:
        """Create Basic's folders and the message database's folder."""
        super().validate_dirs(config)
        config.messaging.messages_db.parent.mkdir(parents=True, exist_ok=True)
