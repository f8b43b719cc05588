"""Messengers: send messages to a server and report acknowledged delivery.

Both messengers deliver *at least once*: a message is SUCCESS only when the
receiver acknowledged it, and a lost acknowledgement means it is sent again.
Each message's id travels with it (MQTT v5 user property
``acoupi-message-id``; HTTP headers ``X-Acoupi-Message-Id`` and
``Idempotency-Key``) so receivers can drop duplicates.
"""

from acoupi.components.messengers.http import HTTPConfig, HTTPMessenger
from acoupi.components.messengers.mqtt import MQTTConfig, MQTTMessenger

__all__ = ["HTTPConfig", "HTTPMessenger", "MQTTConfig", "MQTTMessenger"]
