"""The order mails: the confirmation of a placed order, the dispatch notice with the carrier
and tracking number, and a refused checkout with its reason and what to do next."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pbx_identity.domain.account import Account
from pbx_identity.mail_text import japanese_time, yen
from pbx_identity.views import phone_in_national_form
from pbx_kit.jp.errors import RuleViolation
from pbx_kit.jp.prefectures import prefecture_name
from pbx_kit.mail import Mail

ORDER_CONFIRMATION_SUBJECT = "【クラウドPBX】ご注文ありがとうございました"
DISPATCH_SUBJECT = "【クラウドPBX】ご注文の商品を発送しました"
CHECKOUT_REJECTED_SUBJECT = "【クラウドPBX】ご注文を承れませんでした"

_GREETING = "いつもクラウドPBXをご利用いただき、誠にありがとうございます。\n"
_SIGNATURE = "クラウドPBX サポートセンター\n"

#: fulfillment's carrier codes, as the customer knows the companies
CARRIERS = {
    "yamato": "ヤマト運輸",
    "sagawa": "佐川急便",
    "japan_post": "日本郵便",
    "seino": "西濃運輸",
    "fukuyama": "福山通運",
}

#: fulfillment's reasons for a refused checkout: (why, what to do next)
CHECKOUT_REJECTION_REASONS: Mapping[str, tuple[str, str]] = {
    "mixed_billing": (
        "機器と月額・解約のお申し込みは同じご注文にできません。",
        "お手数ですが、機器と、月額の商品・解約の商品とを分けて、別々にご注文ください。",
    ),
    "empty_cart": (
        "カートに商品がありませんでした。",
        "商品をカートに入れてから、あらためてご注文ください。",
    ),
    "kyc_required": (
        "本人確認（審査）が承認されていないため、"
        "審査が必要なサービス（ユニーク・電話番号・月額サービス）をご注文いただけません。",
        "ログインのうえ「アカウント情報 → 身分証明書アップロード」から書類を提出し、"
        "審査の承認後にあらためてご注文ください。",
    ),
    "price_changed": (
        "ご注文の手続き中に、商品の価格・内容が変更されました。",
        "お手数ですが、カートを確認し、最新の価格・内容でよろしければ、あらためてご注文ください。",
    ),
    "product_unavailable": (
        "ご注文の商品に、現在お取り扱いできない商品がありました。",
        "カートを確認し、その商品を削除してから、あらためてご注文ください。",
    ),
    "circle_unknown": (
        "ご注文で指定されたサークル・ユニーク・番号が、ご利用中のものではありませんでした"
        "（解約済みの可能性があります）。",
        "カートの機器設定・お申し込み内容で、ご利用中のサークルを選び直してから、"
        "あらためてご注文ください。",
    ),
    "shipping_address_required": (
        "機器の配送先が入力されていませんでした。",
        "カートで配送先を入力してから、あらためてご注文ください。",
    ),
    "insufficient_funds": (
        "プリペイド残高が不足しています。",
        "ログインのうえ、ご注文の合計金額以上をチャージしてから、あらためてご注文ください。",
    ),
    "timeout": (
        "お支払いの確認が時間内に完了しなかったため、ご注文の手続きを終了しました。",
        "お手数ですが、カートを確認してから、あらためてご注文ください。",
    ),
}
#: a reason identity does not know (yet): the customer still learns what to do
UNKNOWN_CHECKOUT_REJECTION = (
    "ご注文の内容を確認できませんでした。",
    "お手数ですが、カートの内容を確認してから、あらためてご注文いただくか、"
    "サポートセンターまでお問い合わせください。",
)
#: the reasons whose detail is the product's SKU (型番), worth showing
_SKU_DETAIL = ("price_changed", "product_unavailable")


def checkout_rejection_texts(reason: str) -> tuple[str, str]:
    """A refused checkout's reason code as (why, what to do next), in Japanese."""
    return CHECKOUT_REJECTION_REASONS.get(reason, UNKNOWN_CHECKOUT_REJECTION)


def _line(line: Mapping[str, Any]) -> str:
    kind = line.get("billing_kind")
    note = ""
    if kind == "monthly":
        prorated = line.get("prorated_unit_price")
        if prorated is not None:
            note = f"（月額 {yen(line['unit_price'])}、今月分は日割 {yen(prorated)}）"
        else:
            note = f"（月額 {yen(line['unit_price'])}）"
    elif kind == "cancellation":
        note = "（解約）"
    return f"・{line['name']} × {line['quantity']}: {yen(line['amount'])}{note}\n"


def _postal(code: str) -> str:
    return f"〒{code[:3]}-{code[3:]} " if len(code) == 7 and code.isdigit() else ""


def _address(address: Mapping[str, Any]) -> str:
    try:
        prefecture = prefecture_name(str(address["prefecture_code"]))
    except RuleViolation:
        prefecture = ""
    return (
        f"{_postal(str(address['postal_code']))}"
        f"{prefecture}{address['city']}{address['street']}\n"
        f"{address['name']} 様\n"
        f"電話番号: {phone_in_national_form(address['phone_e164'])}\n"
    )


def order_confirmation_mail(account: Account, event: Any, login_url: str, message_id: str) -> Mail:
    lines = "".join(_line(line) for line in event.lines)
    shipping = ""
    if event.shipping_address is not None:
        shipping = (
            "【配送先】\n"
            f"{_address(event.shipping_address)}\n"
            "機器は発送の準備ができしだいお送りし、発送時にあらためてお知らせします。\n\n"
        )
    body = (
        f"{account.contractor['name']} 様\n\n"
        f"{_GREETING}"
        "以下のとおりご注文を承りました。\n\n"
        f"ご注文番号: {event.order_id}\n"
        f"ご注文日時: {japanese_time(event.placed_at)}\n\n"
        "【ご注文内容】（金額は税抜）\n"
        f"{lines}\n"
        f"小計（税抜）: {yen(event.subtotal)}\n"
        f"消費税: {yen(event.tax)}\n"
        f"合計金額（税込）: {yen(event.total)}\n\n"
        f"合計金額 {yen(event.total)} は、プリペイド残高からお支払いいただきました。\n\n"
        f"{shipping}"
        "ご注文の内容と状況は、ログインのうえご確認いただけます。\n"
        f"ログインURL: {login_url}\n\n"
        "本メールは送信専用です。ご不明な点はサポートセンターまでお問い合わせください。\n"
        f"{_SIGNATURE}"
    )
    return Mail(
        to=account.email, subject=ORDER_CONFIRMATION_SUBJECT, body=body, message_id=message_id
    )


def dispatch_mail(account: Account, event: Any, login_url: str, message_id: str) -> Mail:
    carrier = CARRIERS.get(event.carrier, event.carrier)
    body = (
        f"{account.contractor['name']} 様\n\n"
        f"{_GREETING}"
        "ご注文の商品を発送しました。\n\n"
        f"ご注文番号: {event.order_id}\n"
        f"発送日時: {japanese_time(event.dispatched_at)}\n"
        f"配送業者: {carrier}\n"
        f"お問い合わせ番号: {event.tracking_number}\n\n"
        "お届けの状況は、配送業者のお問い合わせ窓口・ホームページで、"
        "お問い合わせ番号からご確認いただけます。\n"
        "ご注文の内容は、ログインのうえご確認いただけます。\n"
        f"ログインURL: {login_url}\n\n"
        "本メールは送信専用です。ご不明な点はサポートセンターまでお問い合わせください。\n"
        f"{_SIGNATURE}"
    )
    return Mail(to=account.email, subject=DISPATCH_SUBJECT, body=body, message_id=message_id)


def checkout_rejected_mail(account: Account, event: Any, login_url: str, message_id: str) -> Mail:
    why, next_step = checkout_rejection_texts(event.reason)
    product = ""
    if event.reason in _SKU_DETAIL and event.detail:
        product = f"対象の商品（型番）: {event.detail}\n"
    cart = "" if event.reason == "empty_cart" else "カートの内容はそのまま残っています。\n"
    body = (
        f"{account.contractor['name']} 様\n\n"
        f"{_GREETING}"
        "誠に申し訳ございませんが、以下の理由により、ご注文を承ることができませんでした。\n\n"
        f"ご注文手続き番号: {event.checkout_id}\n"
        f"お手続き日時: {japanese_time(event.rejected_at)}\n\n"
        "【理由】\n"
        f"{why}\n"
        f"{product}\n"
        "【今後のお手続き】\n"
        f"{next_step}\n"
        f"ログインURL: {login_url}\n\n"
        "このご注文の代金はいただいておりません"
        "（プリペイド残高から引き落とされていた場合は、全額を残高にお戻しします）。\n"
        f"{cart}\n"
        "本メールは送信専用です。ご不明な点はサポートセンターまでお問い合わせください。\n"
        f"{_SIGNATURE}"
    )
    return Mail(
        to=account.email, subject=CHECKOUT_REJECTED_SUBJECT, body=body, message_id=message_id
    )
