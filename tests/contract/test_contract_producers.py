"""Each producer's mapping emits only registered contracts, valid against their schemas.

Each producing service's application runs a few commands on the in-memory store, so its
relay mapping (``integration.py``) runs over real domain events. Every integration event
it emits must be a registered contract (``contract_for``), validate against the checked-in
JSON schema (``libs/events/schemas/<type>.json``), and every contract the producer's
module declares must be emitted by some domain event here.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import jsonschema
import pytest

from pbx_events.contracts import IntegrationEvent, all_contracts, contract_for
from pbx_kit.testing import memory_infrastructure

SCHEMAS = Path(__file__).resolve().parents[2] / "libs" / "events" / "schemas"

#: contracts whose producer is not a service of this repository: consumers' side only
COVERED_ELSEWHERE = {
    "fulfillment": "no fulfillment service here yet: its contracts are checked by the "
    "consumer tests (test_contract_consumers) against their published examples",
    "cart": "no cart service here yet (issue 13): CheckoutRequested is agreed with "
    "fulfillment (issue 14) and checked against its published example",
}


def emitted(app: Any, mapping: Callable[[Any], Sequence[IntegrationEvent]]) -> list[Any]:
    """What the relay would publish for everything the application stored so far."""
    return [
        event
        for notification in app.notifications_after(0, 10_000)
        for event in mapping(app.mapper.to_domain_event(notification))
    ]


def identity_events(data_dir: Path) -> list[Any]:
    """Register, change the contract info and shipping address, add and cancel a circle,
    end every session."""
    from pbx_identity.api import REGISTRATION_EXAMPLE
    from pbx_identity.commands import (
        AddCircle,
        CancelCircle,
        ChangeContractInfo,
        LogOut,
        RegisterAccount,
    )
    from pbx_identity.integration import IdentityMapping
    from pbx_identity.main import make_application
    from pbx_identity.validation import validate_registration
    from pbx_identity.validation.registration import ContractInfo

    app = make_application(memory_infrastructure(data_dir))
    data, errors = validate_registration(REGISTRATION_EXAMPLE)
    assert data is not None and not errors
    account_id = app.register_account(RegisterAccount(registration=data)).account_id
    contractor = dataclasses.replace(data.contractor, name=data.contractor.name + "二")
    info = ContractInfo(
        contractor, data.representative, data.usage_contact, data.billing_contact, None
    )
    app.change_contract_info(ChangeContractInfo(account_id, info))
    circle_id = uuid4()
    app.add_circle(AddCircle(account_id, circle_id, "営業部", "山田"))
    app.cancel_circle(CancelCircle(account_id, circle_id))
    app.log_out(LogOut(account_id, everywhere=True))
    return emitted(app, IdentityMapping(app))


def kyc_events(data_dir: Path) -> list[Any]:
    """Two accounts: one uploads a licence (submitted), is approved and expires later;
    the other is rejected."""
    from pbx_kyc.application import DecideReview, OpenReview, UploadDocument
    from pbx_kyc.integration import KycMapping
    from pbx_kyc.main import make_application
    from pbx_kyc.testing import jpeg

    now = [datetime.now(UTC)]
    app = make_application(memory_infrastructure(data_dir), clock=lambda: now[0])
    today = app.today()
    reviews = []
    for _ in range(2):
        account_id = uuid4()
        app.open_review(OpenReview(account_id, "individual", "free", True))
        app.upload_document(
            UploadDocument(
                account_id=account_id,
                document_type="drivers_license",
                side="front",
                issued_on=today - timedelta(days=400),
                expires_on=today + timedelta(days=30),
                content=jpeg(),
                media_type="image/jpeg",
                display_name="licence.jpg",
            )
        )
        review = app.review_of(account_id)
        app.claim_review(review.id, "reviewer-1")
        reviews.append(review.id)
    approved, rejected = reviews
    app.approve_review(DecideReview(approved, "reviewer-1"))
    app.reject_review(DecideReview(rejected, "reviewer-1", reasons=("illegible",)))
    now[0] += timedelta(days=60)
    assert app.expire_review(approved)
    return emitted(app, KycMapping(app))


def catalog_events(data_dir: Path) -> list[Any]:
    """Publish a product, change its price, discontinue it."""
    from pbx_catalog.commands import ChangeProduct, PublishProduct
    from pbx_catalog.integration import CatalogMapping
    from pbx_catalog.main import make_application

    app = make_application(memory_infrastructure(data_dir))
    app.publish_product(
        PublishProduct(
            sku="GS-GXP1400",
            name="Grandstream GXP1400",
            category="voip_phone",
            billing_kind="one_time",
            unit_price=9800,
            tax_category="standard_10",
            status="on_sale",
            specs=("SIPアカウント 2",),
            warranty_months=6,
            image={"shape": "phone", "color": "#333333"},
        )
    )
    app.change_product(ChangeProduct("GS-GXP1400", expected_version=1, unit_price=8800))
    app.change_product(ChangeProduct("GS-GXP1400", expected_version=2, status="discontinued"))
    return emitted(app, CatalogMapping(app))


def wallet_events(data_dir: Path) -> list[Any]:
    """A card top-up, a debit that falls below the threshold, a refused debit, a refund."""
    from pbx_wallet.commands import (
        DebitWallet,
        OpenWallet,
        RefundOrder,
        RequestTopUp,
        SetLowBalanceThreshold,
    )
    from pbx_wallet.integration import WalletMapping
    from pbx_wallet.main import make_application

    app = make_application(memory_infrastructure(data_dir))
    account_id = uuid4()
    app.open_wallet(OpenWallet(account_id))
    app.set_low_balance_threshold(SetLowBalanceThreshold(account_id, 3000))
    app.request_top_up(RequestTopUp(account_id, 5000, "credit_card", card_token="tok_visa"))
    order = uuid4()
    app.debit_wallet(DebitWallet(account_id, order, 4000))
    app.debit_wallet(DebitWallet(account_id, uuid4(), 100_000))
    app.refund_order(RefundOrder(account_id, order, 1000))
    return emitted(app, WalletMapping(app))


PRODUCERS: dict[str, Callable[[Path], list[Any]]] = {
    "identity": identity_events,
    "kyc": kyc_events,
    "catalog": catalog_events,
    "wallet": wallet_events,
}


def declared(producer: str) -> set[str]:
    return {c.type_name() for c in all_contracts() if c.producer == producer}


def test_every_producer_of_a_contract_is_driven_here_or_covered_elsewhere() -> None:
    producers = {c.producer for c in all_contracts()}
    assert producers == set(PRODUCERS) | set(COVERED_ELSEWHERE)


@pytest.mark.parametrize("producer", sorted(PRODUCERS))
def test_the_mapping_emits_registered_contracts_valid_against_their_schemas(
    producer: str, tmp_path: Path
) -> None:
    events = PRODUCERS[producer](tmp_path)
    assert events
    for event in events:
        name = type(event).type_name()
        assert contract_for(name) is type(event)
        assert type(event).producer == producer
        schema = json.loads((SCHEMAS / f"{name}.json").read_text())
        jsonschema.validate(json.loads(event.model_dump_json()), schema)
    assert {type(event).type_name() for event in events} == declared(producer)
