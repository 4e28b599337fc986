"""The message envelope (ARCHITECTURE.md, the bus) shared by both buses.

Body: the JSON of the contract. Properties: ``message_id`` (stable event id),
``type``, ``content_type``, ``timestamp``, ``app_id`` (producer). Headers:
``schema_version``, ``correlation_id``, ``causation_id``, ``producer_position``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pbx_events.contracts import IntegrationEvent, contract_for

CONTENT_TYPE = "application/json"
_EVENT_ID_NAMESPACE = uuid.UUID("6f1c7a52-5d0e-4d59-9d7b-1d2b3c4d5e6f")


@dataclass(frozen=True)
class Message:
    routing_key: str
    body: bytes
    message_id: str
    type: str
    app_id: str
    timestamp: datetime
    headers: dict[str, Any] = field(default_factory=dict)
    content_type: str = CONTENT_TYPE

    @property
    def correlation_id(self) -> str | None:
        value = self.headers.get("correlation_id")
        return str(value) if value is not None else None

    @property
    def causation_id(self) -> str | None:
        value = self.headers.get("causation_id")
        return str(value) if value is not None else None

    @property
    def producer_position(self) -> int | None:
        value = self.headers.get("producer_position")
        return int(value) if value is not None else None


def stable_event_id(originator_id: uuid.UUID, originator_version: int, type_name: str) -> str:
    """The id of the integration event made from one domain event: the same on every re-publish."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{originator_id}:{originator_version}:{type_name}"))


def to_message(
    event: IntegrationEvent,
    *,
    message_id: str,
    producer_position: int | None,
    correlation_id: str | None,
    causation_id: str | None,
    timestamp: datetime | None = None,
) -> Message:
    headers: dict[str, Any] = {"schema_version": type(event).schema_version}
    if correlation_id:
        headers["correlation_id"] = correlation_id
    if causation_id:
        headers["causation_id"] = causation_id
    if producer_position is not None:
        headers["producer_position"] = producer_position
    return Message(
        routing_key=event.type_name(),
        body=event.model_dump_json().encode(),
        message_id=message_id,
        type=event.type_name(),
        app_id=type(event).producer,
        timestamp=timestamp or datetime.now(UTC),
        headers=headers,
    )


def parse(message: Message) -> IntegrationEvent:
    """The contract instance a message carries (raises on unknown type or invalid body)."""
    return contract_for(message.type).model_validate_json(message.body)
