"""fulfillment's order outcomes at identity: OrderPlaced, ShipmentDispatched and
CheckoutRejected become a notice on the Account (noted once per message) and a Japanese
mail — the order's lines, totals and 配送先; the carrier and お問い合わせ番号; the reason
of a refused checkout and what to do next, for every reason fulfillment can give."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args
from uuid import UUID, uuid4

import pytest

from pbx_events.cart import CheckoutLine
from pbx_events.envelope import to_message
from pbx_events.fulfillment import (
    CheckoutRejected,
    CheckoutRejectionReason,
    OrderPlaced,
    ShipmentDispatched,
)
from pbx_events.identity import Address
from pbx_events.kyc import KycApproved
from pbx_identity.commands import (
    RequestCheckoutRejectionNotice,
    RequestDispatchNotice,
    RequestOrderConfirmationNotice,
)
from pbx_identity.consumers import (
    ORDERS,
    ROUTES,
    on_checkout_rejected,
    on_order_placed,
    on_shipment_dispatched,
)
from pbx_identity.domain.account import Account
from pbx_identity.errors import AccountNotFoundError
from pbx_identity.integration import to_integration
from pbx_identity.mails_orders import (
    CARRIERS,
    CHECKOUT_REJECTED_SUBJECT,
    CHECKOUT_REJECTION_REASONS,
    DISPATCH_SUBJECT,
    ORDER_CONFIRMATION_SUBJECT,
    UNKNOWN_CHECKOUT_REJECTION,
    checkout_rejected_mail,
    checkout_rejection_texts,
    dispatch_mail,
    order_confirmation_mail,
)
from pbx_kit.service import decider

LOGIN_URL = "https://pbx.example.jp/login"
#: 10:00 on 8 September 2024 in Japan
PLACED_AT = datetime(2024, 9, 8, 1, 0, tzinfo=UTC)
ORDER_ID = UUID("6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")
ACCOUNT_ID = UUID("3f0c6c3e-2a51-4e0a-9b1a-6b8f6a1d2c11")
SHIPPING = Address(
    name="株式会社サンプル 大阪支店",
    name_kana="カブシキガイシャサンプル　オオサカシテン",
    postal_code="5300001",
    prefecture_code="27",
    city="大阪市北区",
    city_kana="オオサカシキタク",
    street="梅田1-1-1",
    street_kana="ウメダ1-1-1",
    phone_e164="+81661234567",
)


def a_line(line_no: int, sku: str, name: str, kind: str, price: int, **more: Any) -> CheckoutLine:
    quantity = more.pop("quantity", 1)
    charged = more.get("prorated_unit_price", price)
    return CheckoutLine.model_validate(
        {
            "line_no": line_no,
            "product_id": str(uuid4()),
            "product_version": 1,
            "sku": sku,
            "name": name,
            "billing_kind": kind,
            "unit_price": price,
            "quantity": quantity,
            "amount": charged * quantity,
            "tax_category": "standard_10",
            **more,
        }
    )


def devices_order() -> OrderPlaced:
    """Two phones and the domestic shipping line, to the Osaka branch."""
    return OrderPlaced(
        order_id=ORDER_ID,
        checkout_id=ORDER_ID,
        account_id=ACCOUNT_ID,
        cart_version=7,
        subtotal=25000,
        tax=2500,
        total=27500,
        placed_at=PLACED_AT,
        lines=[
            a_line(1, "SPA-504G", "Cisco SPA504G", "one_time", 12000, quantity=2),
            a_line(2, "SHIPPING-JP", "国内配送料", "shipping", 1000),
        ],
        shipping_address=SHIPPING,
    )


def monthly_order() -> OrderPlaced:
    """Two uniques and a 050 number from 8 September (日割), nothing to ship."""
    return OrderPlaced(
        order_id=ORDER_ID,
        checkout_id=ORDER_ID,
        account_id=ACCOUNT_ID,
        cart_version=3,
        subtotal=1302,
        tax=130,
        total=1432,
        placed_at=PLACED_AT,
        lines=[
            a_line(
                1, "UNIQUE-STD", "ユニーク（スタンダード）", "monthly", 700,
                prorated_unit_price=536, quantity=2,
            ),
            a_line(2, "NUMBER-050", "050番号", "monthly", 300, prorated_unit_price=230),
        ],
        shipping_address=None,
    )  # fmt: skip


def dispatched(carrier: str = "yamato") -> ShipmentDispatched:
    return ShipmentDispatched(
        shipment_id=uuid4(),
        order_id=ORDER_ID,
        account_id=ACCOUNT_ID,
        carrier=carrier,
        tracking_number="1234-5678-9012",
        dispatched_at=datetime(2024, 9, 9, 7, 0, tzinfo=UTC),
    )


def rejected(reason: str, detail: str = "") -> CheckoutRejected:
    return CheckoutRejected(
        checkout_id=ORDER_ID,
        account_id=ACCOUNT_ID,
        reason=reason,  # type: ignore[arg-type]
        detail=detail,
        rejected_at=PLACED_AT,
    )


def an_account() -> Account:
    account = Account(
        login_id="PBX12345678",
        contractor_type="corporation",
        contractor={"name": "株式会社サンプル", "email": "info@sample.co.jp"},
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
    account.collect_events()
    return account


class RecordingApp:
    """The application as the consumers see it: each command applied to one Account."""

    def __init__(self, known: bool = True) -> None:
        self.known = known
        self.account = an_account()
        self.commands: list[Any] = []

    def _apply(self, cmd: Any, record: Any) -> list[Account]:
        self.commands.append(cmd)
        if not self.known:
            raise AccountNotFoundError
        record()
        return [self.account]

    def request_order_confirmation_notice(
        self, cmd: RequestOrderConfirmationNotice
    ) -> list[Account]:
        return self._apply(
            cmd,
            lambda: self.account.request_order_confirmation_notice(
                cmd.notice_id,
                str(cmd.order_id),
                cmd.lines,
                cmd.subtotal,
                cmd.tax,
                cmd.total,
                cmd.shipping_address,
                cmd.placed_at,
            ),
        )

    def request_dispatch_notice(self, cmd: RequestDispatchNotice) -> list[Account]:
        return self._apply(
            cmd,
            lambda: self.account.request_dispatch_notice(
                cmd.notice_id,
                str(cmd.order_id),
                cmd.carrier,
                cmd.tracking_number,
                cmd.dispatched_at,
            ),
        )

    def request_checkout_rejection_notice(
        self, cmd: RequestCheckoutRejectionNotice
    ) -> list[Account]:
        return self._apply(
            cmd,
            lambda: self.account.request_checkout_rejection_notice(
                cmd.notice_id, str(cmd.checkout_id), cmd.reason, cmd.detail, cmd.rejected_at
            ),
        )


def message_of(event: Any, message_id: str = "msg-1") -> Any:
    return to_message(
        event, message_id=message_id, producer_position=3, correlation_id=None, causation_id=None
    )


def notice_for(event: Any, app: RecordingApp | None = None) -> tuple[Account, Any]:
    """What the consumer records for the event: (the account, its one new notice)."""
    app = app or RecordingApp()
    decide = decider(app, ROUTES[ORDERS])  # type: ignore[arg-type]
    decide(event, message_of(event))
    [notice] = app.account.collect_events()
    return app.account, notice


def mail_body(mail_of: Any, event: Any) -> str:
    account, notice = notice_for(event)
    mail = mail_of(account, notice, LOGIN_URL, "mid-1")
    assert (mail.to, mail.message_id) == ("info@sample.co.jp", "mid-1")
    body: str = mail.body
    assert body.startswith("株式会社サンプル 様\n"), body
    assert body.endswith("クラウドPBX サポートセンター\n")
    return body


# -- the notices on the Account ----------------------------------------------------------


def test_an_order_placed_is_noted_with_its_lines_totals_and_address() -> None:
    _account, notice = notice_for(devices_order())
    assert isinstance(notice, Account.OrderConfirmationNoticeRequested)
    assert (notice.notice_id, notice.order_id) == ("msg-1", str(ORDER_ID))
    assert (notice.subtotal, notice.tax, notice.total) == (25000, 2500, 27500)
    assert notice.placed_at == PLACED_AT
    assert [(li["sku"], li["quantity"], li["amount"]) for li in notice.lines] == [
        ("SPA-504G", 2, 24000),
        ("SHIPPING-JP", 1, 1000),
    ]
    assert set(notice.lines[0]) == {
        "line_no",
        "sku",
        "name",
        "billing_kind",
        "unit_price",
        "prorated_unit_price",
        "quantity",
        "amount",
    }
    assert notice.shipping_address == SHIPPING.model_dump()


def test_the_same_message_is_noted_once_and_another_message_again() -> None:
    account = an_account()
    for _ in range(2):
        account.request_dispatch_notice("msg-1", str(ORDER_ID), "yamato", "1", PLACED_AT)
        account.request_checkout_rejection_notice("msg-2", str(ORDER_ID), "timeout", "", PLACED_AT)
    account.request_order_confirmation_notice(
        "msg-1", str(ORDER_ID), [], 0, 0, 0, None, PLACED_AT
    )  # an id already noted, whatever the kind
    assert [type(e).__name__ for e in account.collect_events()] == [
        "DispatchNoticeRequested",
        "CheckoutRejectionNoticeRequested",
    ]
    account.request_dispatch_notice("msg-3", str(ORDER_ID), "sagawa", "2", PLACED_AT)
    assert [e.notice_id for e in account.collect_events()] == ["msg-3"]  # type: ignore[attr-defined]
    assert account.order_notices == ("msg-1", "msg-2", "msg-3")


def test_order_notices_publish_no_integration_event() -> None:
    for event in (devices_order(), dispatched(), rejected("timeout")):
        _account, notice = notice_for(event)
        assert to_integration(notice) == []


def test_a_notice_for_an_unknown_account_is_dropped() -> None:
    app = RecordingApp(known=False)
    decide = decider(app, ROUTES[ORDERS])  # type: ignore[arg-type]
    for event in (devices_order(), dispatched(), rejected("insufficient_funds")):
        assert decide(event, message_of(event)) == []
    assert [type(c).__name__ for c in app.commands] == [
        "RequestOrderConfirmationNotice",
        "RequestDispatchNotice",
        "RequestCheckoutRejectionNotice",
    ]
    assert app.account.collect_events() == []


def test_another_event_on_the_orders_queue_is_acknowledged_without_effect() -> None:
    app = RecordingApp()
    event = KycApproved(
        account_id=ACCOUNT_ID,
        review_id=uuid4(),
        revision=1,
        approved_at=PLACED_AT,
        valid_until=None,
    )
    decide = decider(app, ROUTES[ORDERS])  # type: ignore[arg-type]
    assert decide(event, message_of(event)) == []
    assert app.commands == []


def test_the_consumers_translate_the_message_id_into_the_notice_id() -> None:
    app = RecordingApp()
    on_order_placed(app, devices_order(), message_of(devices_order(), "m-a"))  # type: ignore[arg-type]
    on_shipment_dispatched(app, dispatched(), message_of(dispatched(), "m-b"))  # type: ignore[arg-type]
    event = rejected("kyc_required")
    on_checkout_rejected(app, event, message_of(event, "m-c"))  # type: ignore[arg-type]
    assert [c.notice_id for c in app.commands] == ["m-a", "m-b", "m-c"]
    assert app.account.order_notices == ("m-a", "m-b", "m-c")


# -- the order confirmation ----------------------------------------------------------------


def test_the_confirmation_lists_the_lines_the_totals_the_address_and_the_payment() -> None:
    body = mail_body(order_confirmation_mail, devices_order())
    assert ORDER_CONFIRMATION_SUBJECT == "【クラウドPBX】ご注文ありがとうございました"
    assert f"ご注文番号: {ORDER_ID}\n" in body
    assert "ご注文日時: 2024年9月8日 10:00\n" in body
    listed = [line for line in body.splitlines() if line.startswith("・")]
    assert listed == ["・Cisco SPA504G × 2: 24,000円", "・国内配送料 × 1: 1,000円"]
    assert "小計（税抜）: 25,000円\n" in body
    assert "消費税: 2,500円\n" in body
    assert "合計金額（税込）: 27,500円\n" in body
    assert "合計金額 27,500円 は、プリペイド残高からお支払いいただきました。" in body
    assert (
        "【配送先】\n"
        "〒530-0001 大阪府大阪市北区梅田1-1-1\n"
        "株式会社サンプル 大阪支店 様\n"
        "電話番号: 06-6123-4567\n"
    ) in body
    assert "発送時にあらためてお知らせします" in body
    assert f"ログインURL: {LOGIN_URL}\n" in body
    for code in ("one_time", "shipping", "SPA-504G", "+81661234567", "standard_10", "27\n"):
        assert code not in body


def test_monthly_lines_show_the_monthly_fee_and_the_prorated_charge() -> None:
    body = mail_body(order_confirmation_mail, monthly_order())
    listed = [line for line in body.splitlines() if line.startswith("・")]
    assert listed == [
        "・ユニーク（スタンダード） × 2: 1,072円（月額 700円、今月分は日割 536円）",
        "・050番号 × 1: 230円（月額 300円、今月分は日割 230円）",
    ]
    assert "小計（税抜）: 1,302円\n" in body
    assert "消費税: 130円\n" in body
    assert "合計金額（税込）: 1,432円\n" in body
    assert "配送先" not in body
    assert "発送" not in body


def test_a_monthly_line_without_proration_and_a_cancellation_line_say_so() -> None:
    order = monthly_order().model_copy(
        update={
            "lines": [
                a_line(1, "UNIQUE-STD", "ユニーク（スタンダード）", "monthly", 700),
                a_line(2, "CANCEL-UNIQUE", "ユニーク解約", "cancellation", 0),
            ],
            "subtotal": 700,
            "tax": 70,
            "total": 770,
        }
    )
    body = mail_body(order_confirmation_mail, order)
    listed = [line for line in body.splitlines() if line.startswith("・")]
    assert listed == [
        "・ユニーク（スタンダード） × 1: 700円（月額 700円）",
        "・ユニーク解約 × 1: 0円（解約）",
    ]


# -- the dispatch notice ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("carrier", "name"),
    [
        ("yamato", "ヤマト運輸"),
        ("sagawa", "佐川急便"),
        ("japan_post", "日本郵便"),
        ("seino", "西濃運輸"),
        ("fukuyama", "福山通運"),
    ],
)
def test_the_dispatch_notice_names_the_carrier_in_japanese_with_the_tracking_number(
    carrier: str, name: str
) -> None:
    body = mail_body(dispatch_mail, dispatched(carrier))
    assert DISPATCH_SUBJECT == "【クラウドPBX】ご注文の商品を発送しました"
    assert "ご注文の商品を発送しました。\n" in body
    assert f"ご注文番号: {ORDER_ID}\n" in body
    assert f"配送業者: {name}\n" in body
    assert "お問い合わせ番号: 1234-5678-9012\n" in body
    assert "発送日時: 2024年9月9日 16:00\n" in body
    assert carrier not in body
    assert CARRIERS[carrier] == name


def test_a_carrier_identity_does_not_know_is_shown_as_reported() -> None:
    body = mail_body(dispatch_mail, dispatched("Kintetsu World Express"))
    assert "配送業者: Kintetsu World Express\n" in body


# -- the refused checkout ---------------------------------------------------------------------

REASONS: tuple[str, ...] = get_args(CheckoutRejectionReason)


def test_every_reason_fulfillment_can_give_has_a_japanese_text() -> None:
    """A new code in pbx_events.fulfillment.CheckoutRejectionReason fails here until the
    mail says it in Japanese."""
    assert len(REASONS) >= 9
    assert set(REASONS) <= set(CHECKOUT_REJECTION_REASONS), set(REASONS) - set(
        CHECKOUT_REJECTION_REASONS
    )
    texts = [checkout_rejection_texts(reason) for reason in REASONS]
    assert all(texts), texts
    assert len({why for why, _next in texts}) == len(REASONS)  # each its own
    assert UNKNOWN_CHECKOUT_REJECTION not in texts


@pytest.mark.parametrize("reason", REASONS)
def test_the_refusal_mail_gives_the_reason_and_what_to_do_in_japanese(reason: str) -> None:
    body = mail_body(checkout_rejected_mail, rejected(reason))
    why, next_step = CHECKOUT_REJECTION_REASONS[reason]
    assert CHECKOUT_REJECTED_SUBJECT == "【クラウドPBX】ご注文を承れませんでした"
    assert f"【理由】\n{why}\n" in body
    assert f"【今後のお手続き】\n{next_step}\n" in body
    assert f"ご注文手続き番号: {ORDER_ID}\nお手続き日時: 2024年9月8日 10:00\n" in body
    assert "このご注文の代金はいただいておりません" in body
    assert ("カートの内容はそのまま残っています" in body) is (reason != "empty_cart")
    assert reason not in body
    assert all("\u3040" <= ch <= "\u9fff" for ch in why[:3]), why


def test_the_reasons_say_what_the_customer_needs_to_hear() -> None:
    def both(reason: str) -> str:
        return "".join(checkout_rejection_texts(reason))

    assert "プリペイド残高が不足しています" in both("insufficient_funds")
    assert "チャージしてから" in both("insufficient_funds")
    assert "本人確認（審査）が承認されていない" in both("kyc_required")
    assert "身分証明書アップロード" in both("kyc_required")
    assert "機器と月額・解約のお申し込みは同じご注文にできません" in both("mixed_billing")
    assert "価格・内容が変更されました" in both("price_changed")
    assert "カートを確認" in both("price_changed")
    assert "時間内に完了しなかった" in both("timeout")
    assert "配送先" in both("shipping_address_required")
    assert "サークル" in both("circle_unknown")


def test_an_unknown_reason_gets_the_generic_text_and_never_the_code() -> None:
    event = rejected("timeout").model_copy(update={"reason": "warehouse_on_fire"})
    body = mail_body(checkout_rejected_mail, event)
    why, next_step = UNKNOWN_CHECKOUT_REJECTION
    assert f"【理由】\n{why}\n" in body
    assert next_step in body
    assert "warehouse_on_fire" not in body


def test_the_product_concerned_is_named_for_a_price_change_but_no_other_detail() -> None:
    body = mail_body(checkout_rejected_mail, rejected("price_changed", "SPA-504G"))
    assert "対象の商品（型番）: SPA-504G\n" in body
    circle = str(uuid4())
    body = mail_body(checkout_rejected_mail, rejected("circle_unknown", circle))
    assert circle not in body
