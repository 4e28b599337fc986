"""Mails identity sends, by following its own notification log (never in a request)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pbx_events.envelope import stable_event_id
from pbx_events.relay import LogFollower, RelaySettings
from pbx_identity.app_account import JST
from pbx_identity.application import IdentityService
from pbx_identity.domain.account import Account, AccountRegisteredEvent
from pbx_identity.domain.reminder import PasswordReminder
from pbx_kit.mail import Mail, Mailer

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
        "身分証明書のアップロード（審査）は、ログイン後のアカウントページから行えます。\n\n"
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


def yen(amount: int) -> str:
    """``4800`` → ``4,800円``."""
    return f"{amount:,}円"


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


class IdentityMailer(LogFollower):
    def __init__(
        self,
        app: IdentityService,
        mailer: Mailer,
        login_url: str,
        settings: RelaySettings | None = None,
        *,
        reset_url: str = "",
    ) -> None:
        super().__init__(app, "mailer:identity", settings)
        self.identity = app
        self.mailer = mailer
        self.login_url = login_url
        self.reset_url = reset_url

    def mails_for(self, event: Any) -> list[Mail]:
        message_id = stable_event_id(event.originator_id, event.originator_version, "mail")
        if isinstance(event, AccountRegisteredEvent):
            return [registration_mail(event, self.login_url)]
        if isinstance(event, PasswordReminder.Requested):  # type: ignore[attr-defined]
            reminder = self.identity.repository.get(event.originator_id)
            account = self.identity.find_login(reminder.login_id_key)
            if not isinstance(account, Account):
                return []  # an unknown login ID: nobody to write to, and the caller never knows
            token = self.identity.reset_token(event.originator_id, event.reset_id)
            return [reminder_mail(account, token, self.reset_url, message_id)]
        if isinstance(event, Account.PasswordChanged):  # type: ignore[attr-defined]
            account = self.identity.get_account(event.originator_id)
            return [password_changed_mail(account, message_id)]
        if isinstance(event, Account.LowBalanceNoticeRequested):  # type: ignore[attr-defined]
            account = self.identity.get_account(event.originator_id)
            return [low_balance_mail(account, event, self.login_url, message_id)]
        return []

    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        for _position, event in batch:
            for mail in await asyncio.to_thread(self.mails_for, event):
                await asyncio.to_thread(self.mailer.send, mail)
