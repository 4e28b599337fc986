"""Mails identity sends, by following its own notification log (never in a request)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from pbx_events.envelope import stable_event_id
from pbx_events.relay import FollowerSettings, LogFollower
from pbx_events.store import event_meta
from pbx_identity.app_account import JST
from pbx_identity.application import IdentityService
from pbx_identity.domain.account import Account
from pbx_identity.domain.reminder import PasswordReminder
from pbx_identity.mail_text import japanese_date as japanese_date
from pbx_identity.mail_text import yen as yen
from pbx_identity.mails_email_change import (
    confirm_email_mail,
    email_change_requested_mail,
    email_changed_mail,
)
from pbx_identity.mails_orders import (
    checkout_rejected_mail,
    dispatch_mail,
    order_confirmation_mail,
)
from pbx_kit.mail import Mail
from pbx_kit.mail_outbox import MailOutbox

REGISTRATION_SUBJECT = "クラウドPBXお申し込みありがとうございました"


def registration_mail(event: Any, login_url: str) -> Mail:
    name = event.contractor["name"]
    body = (
        f"{name} 様\n\n"
        "この度はクラウドPBXにお申し込みいただき、誠にありがとうございます。\n"
        "アカウントの登録が完了しました。\n\n"
        f"ログインID: {event.login_id}\n"
        f"ログインURL: {login_url}\n\n"
        "パスワードはお申し込み時にご自身で設定されたものをご利用ください。\n"
        "身分証明書のアップロード（審査）は、ログイン後のアカウント管理ページから行えます。\n\n"
        "本メールは送信専用です。お心当たりのない場合は、お手数ですが本メールを破棄してください。\n"
        "クラウドPBX サポートセンター\n"
    )
    return Mail(
        to=event.contractor["email"],
        subject=REGISTRATION_SUBJECT,
        body=body,
        message_id=stable_event_id(event.originator_id, event.originator_version, "mail"),
    )


RESET_SUBJECT = "【クラウドPBX】パスワード再設定のご案内"
CHANGED_SUBJECT = "【クラウドPBX】パスワード変更のお知らせ"


def reminder_mail(account: Account, token: str, reset_url: str, message_id: str) -> Mail:
    separator = "&" if "?" in reset_url else "?"
    body = (
        f"{account.contractor['name']} 様\n\n"
        "パスワード再設定のお手続きを受け付けました。\n"
        "下記のURLから30分以内に新しいパスワードを設定してください（1回のみ有効です）。\n\n"
        f"{reset_url}{separator}token={token}\n\n"
        "お心当たりのない場合は、本メールを破棄してください。パスワードは変更されません。\n"
        "クラウドPBX サポートセンター\n"
    )
    return Mail(to=account.email, subject=RESET_SUBJECT, body=body, message_id=message_id)


def password_changed_mail(account: Account, message_id: str) -> Mail:
    body = (
        f"{account.contractor['name']} 様\n\n"
        "クラウドPBXアカウントのパスワードが変更されました。\n"
        "これまでのログイン状態はすべて終了しています。新しいパスワードで再度ログインしてください。\n\n"
        "お心当たりのない場合は、至急サポートセンターまでご連絡ください。\n"
        "クラウドPBX サポートセンター\n"
    )
    return Mail(to=account.email, subject=CHANGED_SUBJECT, body=body, message_id=message_id)


LOW_BALANCE_SUBJECT = "【クラウドPBX】プリペイド残高が少なくなっています"


def low_balance_mail(account: Account, event: Any, login_url: str, message_id: str) -> Mail:
    at = event.occurred_at.astimezone(JST)
    body = (
        f"{account.contractor['name']} 様\n\n"
        "いつもクラウドPBXをご利用いただき、誠にありがとうございます。\n"
        "プリペイド残高が、ご設定の通知額を下回りました。\n\n"
        f"残高: {yen(event.balance)}（通知設定額: {yen(event.threshold)}）\n"
        f"（{at.year}年{at.month}月{at.day}日 {at:%H:%M} 時点）\n\n"
        "残高が不足すると、ご注文のお支払いができません。\n"
        "お手数ですが、ログインのうえお早めにチャージしてください。\n"
        f"ログインURL: {login_url}\n\n"
        "本メールは送信専用です。行き違いでチャージがお済みの場合は、本メールは破棄してください。\n"
        "クラウドPBX サポートセンター\n"
    )
    return Mail(to=account.email, subject=LOW_BALANCE_SUBJECT, body=body, message_id=message_id)


SCREENING_APPROVED_SUBJECT = "【クラウドPBX】審査が完了しました"
SCREENING_REJECTED_SUBJECT = "【クラウドPBX】審査結果のお知らせ（再提出のお願い）"

#: kyc's reason codes for a rejected review, as the customer reads them
REJECTION_REASONS = {
    "document_unreadable": "書類の画像が不鮮明で確認できません",
    "document_expired": "有効期限が切れています",
    "name_mismatch": "登録情報と書類の氏名が一致しません",
    "address_mismatch": "登録情報と書類の住所が一致しません",
    "document_incomplete": "必要な面・ページがそろっていません",
    "registry_too_old": "登記簿謄本の発行から3か月を超えています",
    "other": "その他（担当者からの連絡をご確認ください）",
}
#: name_mismatch for a corporation or テレマ: the registered company or representative name
COMPANY_NAME_MISMATCH = "登録情報と書類の会社名または代表者名が一致しません"
#: a code identity does not know (yet): the customer still learns there is a reason
UNKNOWN_REJECTION_REASON = (
    "ご提出書類に不備がありました（詳しくはサポートセンターへお問い合わせください）"
)

SCREENED_SERVICES = "審査が必要なサービス（ユニーク・電話番号・月額サービス）"
RESUBMIT_WHERE = "「アカウント情報 → 身分証明書アップロード」"


def rejection_reasons(codes: Sequence[str], contractor_type: str = "individual") -> list[str]:
    """kyc's reason codes in Japanese, in their order, each text once (none: the fallback);
    a company is told about its company or representative name, not a person's."""
    table = REJECTION_REASONS
    if contractor_type != "individual":
        table = {**REJECTION_REASONS, "name_mismatch": COMPANY_NAME_MISMATCH}
    texts = [table.get(code, UNKNOWN_REJECTION_REASON) for code in codes]
    return list(dict.fromkeys(texts)) or [UNKNOWN_REJECTION_REASON]


def screening_approved_mail(account: Account, event: Any, login_url: str, message_id: str) -> Mail:
    validity = ""
    if event.valid_until is not None:
        valid_until = japanese_date(date.fromisoformat(event.valid_until))
        validity = (
            f"有効期限: {valid_until}\n"
            "（有効期限を過ぎると、あらためて書類のご提出と審査が必要になります）\n\n"
        )
    body = (
        f"{account.contractor['name']} 様\n\n"
        "いつもクラウドPBXをご利用いただき、誠にありがとうございます。\n"
        "ご提出いただいた身分証明書の審査が完了し、承認されました。\n\n"
        f"{validity}"
        f"これにより、{SCREENED_SERVICES}をご利用いただけるようになりました。\n"
        "ログインのうえ、ご注文・お手続きをお進めください。\n"
        f"ログインURL: {login_url}\n\n"
        "本メールは送信専用です。\n"
        "クラウドPBX サポートセンター\n"
    )
    return Mail(
        to=account.email, subject=SCREENING_APPROVED_SUBJECT, body=body, message_id=message_id
    )


def screening_rejected_mail(account: Account, event: Any, login_url: str, message_id: str) -> Mail:
    reasons = "".join(
        f"・{text}\n" for text in rejection_reasons(event.reasons, account.contractor_type)
    )
    body = (
        f"{account.contractor['name']} 様\n\n"
        "いつもクラウドPBXをご利用いただき、誠にありがとうございます。\n"
        "ご提出いただいた身分証明書を審査いたしましたが、"
        "以下の理由により承認できませんでした。\n\n"
        "【理由】\n"
        f"{reasons}\n"
        "お手数ですが、ログインのうえ"
        f"{RESUBMIT_WHERE}から書類を再提出してください。\n"
        "再提出いただいた書類をあらためて審査いたします。\n"
        f"ログインURL: {login_url}\n\n"
        f"審査が完了するまで、{SCREENED_SERVICES}はご利用いただけません。\n"
        "本メールは送信専用です。ご不明な点はサポートセンターまでお問い合わせください。\n"
        "クラウドPBX サポートセンター\n"
    )
    return Mail(
        to=account.email, subject=SCREENING_REJECTED_SUBJECT, body=body, message_id=message_id
    )


SCREENING_EXPIRED_SUBJECT = "【クラウドPBX】審査の有効期限が切れました（再提出のお願い）"


def screening_expired_mail(account: Account, event: Any, login_url: str, message_id: str) -> Mail:
    at = event.decided_at.astimezone(JST)
    body = (
        f"{account.contractor['name']} 様\n\n"
        "いつもクラウドPBXをご利用いただき、誠にありがとうございます。\n"
        f"ご提出いただいた身分証明書の有効期限が切れたため、{at.year}年{at.month}月{at.day}日"
        "をもって審査の承認が終了しました。\n\n"
        "お手数ですが、ログインのうえ"
        f"{RESUBMIT_WHERE}から有効期限内の書類を提出してください。\n"
        "あらためて審査いたします。\n"
        f"ログインURL: {login_url}\n\n"
        f"再度承認されるまで、{SCREENED_SERVICES}の新たなお申し込みはできません。\n"
        "本メールは送信専用です。ご不明な点はサポートセンターまでお問い合わせください。\n"
        "クラウドPBX サポートセンター\n"
    )
    return Mail(
        to=account.email, subject=SCREENING_EXPIRED_SUBJECT, body=body, message_id=message_id
    )


def screening_decision_mail(account: Account, event: Any, login_url: str, message_id: str) -> Mail:
    if event.decision == "approved":
        return screening_approved_mail(account, event, login_url, message_id)
    if event.decision == "expired":
        return screening_expired_mail(account, event, login_url, message_id)
    return screening_rejected_mail(account, event, login_url, message_id)


#: the order notices and the mail each sends
_ORDER_MAILS: dict[type, Callable[[Account, Any, str, str], Mail]] = {
    Account.OrderConfirmationNoticeRequested: order_confirmation_mail,
    Account.DispatchNoticeRequested: dispatch_mail,
    Account.CheckoutRejectionNoticeRequested: checkout_rejected_mail,
}


class IdentityMailer(LogFollower):
    def __init__(
        self,
        app: IdentityService,
        outbox: MailOutbox,
        login_url: str,
        settings: FollowerSettings | None = None,
        *,
        reset_url: str = "",
        email_confirm_url: str = "",
    ) -> None:
        super().__init__(app, "mailer:identity", settings)
        self.identity = app
        self.outbox = outbox
        self.login_url = login_url
        self.reset_url = reset_url
        self.email_confirm_url = email_confirm_url

    def mails_for(self, event: Any) -> list[Mail]:
        message_id = stable_event_id(event.originator_id, event.originator_version, "mail")
        if isinstance(event, Account.Registered):
            return [registration_mail(event, self.login_url)]
        if isinstance(event, PasswordReminder.Requested):
            reminder = self.identity.repository.get(event.originator_id)
            account = self.identity.find_login(reminder.login_id_key)
            if not isinstance(account, Account):
                return []  # an unknown login ID: nobody to write to, and the caller never knows
            token = self.identity.reset_token(event.originator_id, event.reset_id)
            return [reminder_mail(account, token, self.reset_url, message_id)]
        if isinstance(event, Account.PasswordChanged):
            account = self.identity.get_account(event.originator_id)
            return [password_changed_mail(account, message_id)]
        if isinstance(event, Account.LowBalanceNoticeRequested):
            account = self.identity.get_account(event.originator_id)
            return [low_balance_mail(account, event, self.login_url, message_id)]
        if isinstance(event, Account.ScreeningDecisionNoticeRequested):
            account = self.identity.get_account(event.originator_id)
            return [screening_decision_mail(account, event, self.login_url, message_id)]
        order_mail = _ORDER_MAILS.get(type(event))
        if order_mail is not None:
            account = self.identity.get_account(event.originator_id)
            return [order_mail(account, event, self.login_url, message_id)]
        if isinstance(event, Account.EmailChangeRequested):
            # both, even for a request a newer one replaced: the old address hears of each
            account = self.identity.get_account(event.originator_id)
            token = self.identity.email_change_token(event.originator_id, event.change_id)
            return [
                confirm_email_mail(event, token, self.email_confirm_url),
                email_change_requested_mail(account, event, self.login_url),
            ]
        if isinstance(event, Account.EmailChangeConfirmed):
            account = self.identity.get_account(event.originator_id)
            return [email_changed_mail(account, event)]
        return []

    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        """Queue the batch's mails in the outbox (committed before the position is saved);
        the outbox's sender sends them, so one refused address never holds up the rest."""
        mails: list[Mail] = []
        for _position, event in batch:
            correlation_id = event_meta(event).get("correlation_id")
            for mail in await asyncio.to_thread(self.mails_for, event):
                mails.append(replace(mail, correlation_id=mail.correlation_id or correlation_id))
        if mails:
            await self.outbox.enqueue(mails)
