"""Services in circles: fulfillment's ServiceActivated / ServiceCancelled recorded on the
Account's circle (one event per change, a repeat changes nothing), refused for a circle
the account does not have (the consumer then logs and acknowledges), and shown by the
account page's circle view with phone numbers in national form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from pbx_events.envelope import to_message
from pbx_events.fulfillment import ServiceActivated, ServiceCancelled
from pbx_identity.api_circles import circle_out
from pbx_identity.commands import ActivateCircleService, CancelCircleService
from pbx_identity.consumers import ROUTES, SERVICES
from pbx_identity.domain.account import Account, CircleNotFoundError, ServiceNotFoundError
from pbx_identity.errors import AccountNotFoundError
from pbx_identity.integration import to_integration
from pbx_kit.service import decider

CIRCLE = "0b7e3c52-7f7a-4c5e-9d55-0f3a9d7c1e21"
UNIQUE = "4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b"
NUMBER = "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c"
#: 00:30 on 9 September 2024 in Japan (still the 8th in UTC)
ACTIVATED_AT = datetime(2024, 9, 8, 15, 30, tzinfo=UTC)
CANCELLED_AT = datetime(2024, 10, 1, 0, 0, tzinfo=UTC)


def an_account_with_a_circle() -> Account:
    account = Account(
        login_id="PBX12345678",
        contractor_type="individual",
        contractor={"name": "山田 太郎", "email": "taro@example.co.jp"},
        representative=None,
        usage_contact=None,
        billing_contact=None,
        shipping_address=None,
        agency_code=None,
        payment_method="prepaid",
        terms={},
        email_domain_class="business",
        password_hash="x",
    )
    account.add_circle(CIRCLE, "営業部", "佐藤 花子", "2024-09-01")
    account.collect_events()
    return account


def activate(account: Account, service_id: str = UNIQUE, **changes: Any) -> None:
    values: dict[str, Any] = {
        "circle_id": CIRCLE,
        "service_id": service_id,
        "kind": "unique",
        "sku": "UNIQUE-STD",
        "name": "ユニーク（スタンダード）",
        "phone_number": None,
        "activated_on": "2024-09-09",
        **changes,
    }
    account.activate_service(**values)


def test_a_new_circle_has_no_services() -> None:
    [circle] = an_account_with_a_circle().circles
    assert circle["services"] == []
    assert "uniques" not in circle  # shown by the view, from the services


def test_an_activated_service_is_listed_in_its_circle_once() -> None:
    account = an_account_with_a_circle()
    activate(account)
    activate(account)  # the same message again, or a re-publish
    [event] = account.collect_events()
    assert isinstance(event, Account.CircleServiceActivated)
    assert (event.circle_id, event.service_id, event.kind) == (CIRCLE, UNIQUE, "unique")
    [service] = account.circles[0]["services"]
    assert service == {
        "service_id": UNIQUE,
        "kind": "unique",
        "sku": "UNIQUE-STD",
        "name": "ユニーク（スタンダード）",
        "phone_number": None,
        "status": "active",
        "activated_on": "2024-09-09",
        "cancelled_on": None,
    }


def test_a_cancelled_service_stays_listed_as_cancelled_and_a_repeat_changes_nothing() -> None:
    account = an_account_with_a_circle()
    activate(account)
    account.cancel_service(CIRCLE, UNIQUE, "2024-10-01")
    account.cancel_service(CIRCLE, UNIQUE, "2024-10-02")
    activate(account)  # a late activation does not bring it back
    events = account.collect_events()
    assert [type(e).__name__ for e in events] == [
        "CircleServiceActivated",
        "CircleServiceCancelled",
    ]
    [service] = account.circles[0]["services"]
    assert (service["status"], service["cancelled_on"]) == ("cancelled", "2024-10-01")


def test_a_service_for_a_circle_the_account_does_not_have_is_refused() -> None:
    account = an_account_with_a_circle()
    with pytest.raises(CircleNotFoundError):
        activate(account, circle_id=str(uuid4()))
    with pytest.raises(CircleNotFoundError):
        account.cancel_service(str(uuid4()), UNIQUE, "2024-10-01")
    with pytest.raises(ServiceNotFoundError):
        account.cancel_service(CIRCLE, str(uuid4()), "2024-10-01")
    with pytest.raises(ValueError, match="pager"):
        activate(account, kind="pager")
    assert account.collect_events() == []
    assert account.circles[0]["services"] == []


def test_services_in_circles_publish_no_integration_event() -> None:
    account = an_account_with_a_circle()
    activate(account)
    account.cancel_service(CIRCLE, UNIQUE, "2024-10-01")
    assert [to_integration(e) for e in account.collect_events()] == [[], []]


def test_the_circle_view_lists_the_services_and_the_uniques_in_use() -> None:
    account = an_account_with_a_circle()
    activate(account)
    activate(
        account,
        NUMBER,
        kind="phone_number",
        sku="NUMBER-03",
        name="03番号",
        phone_number="+81312345678",
    )
    activate(account, str(UUID(int=7)), kind="rental", sku="RENT-SPA", name="レンタル機器")
    view = circle_out(account.circles[0])
    assert [(s.kind, s.status) for s in view.services] == [
        ("unique", "active"),
        ("phone_number", "active"),
        ("rental", "active"),
    ]
    number = view.services[1]
    assert (number.phone_number, number.phone_number_national) == ("+81312345678", "03-1234-5678")
    assert view.services[0].phone_number_national is None
    assert [str(u.service_id) for u in view.uniques] == [UNIQUE]

    account.cancel_service(CIRCLE, UNIQUE, "2024-10-01")
    view = circle_out(account.circles[0])
    assert view.uniques == []
    assert view.services[0].status == "cancelled"
    assert view.services[0].cancelled_on == "2024-10-01"


# -- the consumers ---------------------------------------------------------------------------


class RecordingApp:
    def __init__(self, account: Account | None) -> None:
        self.account = account
        self.commands: list[Any] = []

    def _account(self) -> Account:
        if self.account is None:
            raise AccountNotFoundError
        return self.account

    def activate_circle_service(self, cmd: ActivateCircleService) -> list[Account]:
        self.commands.append(cmd)
        account = self._account()
        account.activate_service(
            str(cmd.circle_id),
            str(cmd.service_id),
            cmd.kind,
            cmd.sku,
            cmd.name,
            cmd.phone_number,
            cmd.activated_at.date().isoformat(),
        )
        return [account]

    def cancel_circle_service(self, cmd: CancelCircleService) -> list[Account]:
        self.commands.append(cmd)
        account = self._account()
        account.cancel_service(str(cmd.circle_id), str(cmd.service_id), "2024-10-01")
        return [account]


def activated(circle_id: str = CIRCLE) -> ServiceActivated:
    return ServiceActivated(
        service_id=UUID(NUMBER),
        account_id=uuid4(),
        order_id=uuid4(),
        circle_id=UUID(circle_id),
        kind="phone_number",
        product_id=uuid4(),
        sku="NUMBER-050",
        name="050番号",
        phone_number="+815012345678",
        activated_at=ACTIVATED_AT,
    )


def cancelled(service_id: str = NUMBER) -> ServiceCancelled:
    return ServiceCancelled(
        service_id=UUID(service_id),
        account_id=uuid4(),
        order_id=uuid4(),
        circle_id=UUID(CIRCLE),
        kind="phone_number",
        cancelled_at=CANCELLED_AT,
    )


def deliver(app: RecordingApp, event: Any) -> None:
    decide = decider(app, ROUTES[SERVICES])  # type: ignore[arg-type]
    message = to_message(
        event, message_id="msg-1", producer_position=1, correlation_id=None, causation_id=None
    )
    assert decide(event, message) == []  # nothing raised: acknowledged


def test_the_consumers_record_activation_and_cancellation_on_the_circle() -> None:
    app = RecordingApp(an_account_with_a_circle())
    deliver(app, activated())
    deliver(app, cancelled())
    [command, _cancel] = app.commands
    assert command == ActivateCircleService(
        account_id=command.account_id,
        circle_id=UUID(CIRCLE),
        service_id=UUID(NUMBER),
        kind="phone_number",
        sku="NUMBER-050",
        name="050番号",
        phone_number="+815012345678",
        activated_at=ACTIVATED_AT,
    )
    assert app.account is not None
    [service] = app.account.circles[0]["services"]
    assert (service["phone_number"], service["status"]) == ("+815012345678", "cancelled")


def test_an_unknown_account_circle_or_service_is_logged_and_acknowledged() -> None:
    deliver(RecordingApp(None), activated())
    deliver(RecordingApp(None), cancelled())
    account = an_account_with_a_circle()
    app = RecordingApp(account)
    deliver(app, activated(circle_id=str(uuid4())))
    deliver(app, cancelled(service_id=str(uuid4())))
    assert account.collect_events() == []
    assert len(app.commands) == 2


def test_the_activation_day_is_the_day_in_japan() -> None:
    from pbx_identity.app_orders import japan_date

    assert japan_date(ACTIVATED_AT) == "2024-09-09"
    assert japan_date(CANCELLED_AT) == "2024-10-01"
