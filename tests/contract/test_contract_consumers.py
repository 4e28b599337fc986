"""Every consumer accepts every published example of every contract it claims, once.

For each queue of each service's ``ROUTES``, for each contract the queue takes, every
example under ``libs/events/examples/<type>/`` (the whole published history, all schema
versions) goes through the consumer's inbox on its application on the in-memory store:
it is applied (no exception, the message is tracked) and the same message delivered again
is a duplicate.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pbx_events.contracts import IntegrationEvent
from pbx_events.envelope import Message, parse
from pbx_events.inbox import Inbox, tracking_for
from pbx_events.store import ServiceApplication
from pbx_kit.service import ConsumerRoutes, decider
from pbx_kit.testing import memory_infrastructure

EXAMPLES = Path(__file__).resolve().parents[2] / "libs" / "events" / "examples"


def identity_consumer(data_dir: Path, payload: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """Identity on the in-memory store, with the example's account registered (a notice
    needs an account to write to: the example is addressed to the new account)."""
    from pbx_identity.api import REGISTRATION_EXAMPLE
    from pbx_identity.commands import RegisterAccount
    from pbx_identity.main import make_application
    from pbx_identity.validation import validate_registration

    app = make_application(memory_infrastructure(data_dir))
    data, errors = validate_registration(REGISTRATION_EXAMPLE)
    assert data is not None and not errors
    registered = app.register_account(RegisterAccount(registration=data))
    return app, {**payload, "account_id": str(registered.account_id)}


def kyc_consumer(data_dir: Path, payload: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from pbx_kyc.main import make_application

    return make_application(memory_infrastructure(data_dir)), payload


def wallet_consumer(data_dir: Path, payload: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The wallet, with the example's account's wallet open (debits and refunds need it)."""
    from pbx_wallet.commands import OpenWallet
    from pbx_wallet.main import make_application

    app = make_application(memory_infrastructure(data_dir))
    app.open_wallet(OpenWallet(uuid.UUID(payload["account_id"])))
    return app, payload


@dataclass(frozen=True)
class Consumer:
    service: str
    routes: ConsumerRoutes[Any]
    #: the application on the in-memory store, ready for the example (and the payload to send)
    prepare: Callable[[Path, dict[str, Any]], tuple[Any, dict[str, Any]]]


def consumers() -> list[Consumer]:
    from pbx_identity.consumers import ROUTES as IDENTITY
    from pbx_kyc.consumers import ROUTES as KYC
    from pbx_wallet.consumers import ROUTES as WALLET

    return [
        Consumer("identity", IDENTITY, identity_consumer),
        Consumer("kyc", KYC, kyc_consumer),
        Consumer("wallet", WALLET, wallet_consumer),
    ]


@dataclass(frozen=True)
class Case:
    consumer: Consumer
    queue: str
    contract: type[IntegrationEvent]
    example: Path

    @property
    def id(self) -> str:
        return (
            f"{self.consumer.service}:{self.queue}:{self.example.parent.name}/{self.example.name}"
        )


def cases() -> list[Case]:
    found = []
    for consumer in consumers():
        for queue, handlers in consumer.routes.items():
            for contract in handlers:
                examples = sorted((EXAMPLES / contract.type_name()).glob("*.json"))
                assert examples, f"no published example of {contract.type_name()}"
                found.extend(Case(consumer, queue, contract, path) for path in examples)
    return found


CASES = cases()


def message_of(contract: type[IntegrationEvent], example: Path, body: bytes) -> Message:
    version = example.stem[1:] if example.stem.startswith("v") else contract.schema_version
    return Message(
        routing_key=contract.type_name(),
        body=body,
        message_id=str(uuid.uuid4()),
        type=contract.type_name(),
        app_id=contract.producer,
        timestamp=datetime.now(UTC),
        headers={"schema_version": version, "producer_position": 1},
    )


def test_every_claimed_contract_has_published_examples() -> None:
    claimed = {case.contract for case in CASES}
    assert claimed, "no consumer routes found"
    for contract in claimed:
        assert (EXAMPLES / contract.type_name() / f"v{contract.schema_version}.json").is_file()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_consumer_applies_the_example_once(case: Case, tmp_path: Path) -> None:
    raw = case.example.read_bytes()
    app, payload = case.consumer.prepare(tmp_path, json.loads(raw))
    assert isinstance(app, ServiceApplication)
    # the published bytes themselves, unless the example had to name a live account
    body = raw if payload == json.loads(raw) else json.dumps(payload).encode()
    message = message_of(case.contract, case.example, body)
    assert isinstance(parse(message), case.contract)
    inbox = Inbox(app, case.queue)
    decide = decider(app, case.consumer.routes[case.queue])

    assert inbox.handle(message, decide) is True
    assert app.is_tracked(tracking_for(case.queue, message))
    assert inbox.handle(message, decide) is False
