"""The base of every integration-event contract and the registry of all of them.

A contract is a pydantic model with a producer, a name and a major version; its
routing key is ``<producer>.<Name>.v<major>``. Contracts change additively within
a major version; a breaking change is a new class with the next major version.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class IntegrationEvent(BaseModel):
    """An event one service publishes for the others."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    producer: ClassVar[str]
    event_name: ClassVar[str]
    major: ClassVar[int] = 1
    #: bumped on every additive change within the major version
    schema_version: ClassVar[str] = "1.0"
    #: a payload of this version, kept with the contract: it documents the event in the
    #: AsyncAPI and is written to ``examples/<type>/v<schema_version>.json`` (the published
    #: history every consumer must keep accepting)
    example: ClassVar[dict[str, Any]] = {}

    @classmethod
    def type_name(cls) -> str:
        """The AMQP ``type`` and the routing key: ``identity.AccountRegistered.v1``."""
        return f"{cls.producer}.{cls.event_name}.v{cls.major}"


_registry: dict[str, type[IntegrationEvent]] = {}


def contract(cls: type[IntegrationEvent]) -> type[IntegrationEvent]:
    """Register a contract class (decorator) so messages can be parsed by type."""
    key = cls.type_name()
    if key in _registry and _registry[key] is not cls:
        raise ValueError(f"duplicate contract {key}")
    _registry[key] = cls
    return cls


def contract_for(type_name: str) -> type[IntegrationEvent]:
    try:
        return _registry[type_name]
    except KeyError:
        raise UnknownContractError(type_name) from None


def all_contracts() -> list[type[IntegrationEvent]]:
    # importing the producer modules registers their contracts
    from pbx_events import cart, catalog, fulfillment, identity, kyc, wallet  # noqa: F401

    return sorted(_registry.values(), key=lambda c: c.type_name())


class UnknownContractError(LookupError):
    """Raised when a message names a type no contract is registered for."""
