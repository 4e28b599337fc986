"""Mails identity sends, by following its own notification log (never in a request)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pbx_events.envelope import stable_event_id
from pbx_events.relay import LogFollower, RelaySettings
from pbx_events.store import ServiceApplication
from pbx_identity.domain.account import AccountRegisteredEvent
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


class IdentityMailer(LogFollower):
    def __init__(
        self,
        app: ServiceApplication,
        mailer: Mailer,
        login_url: str,
        settings: RelaySettings | None = None,
    ) -> None:
        super().__init__(app, "mailer:identity", settings)
        self.mailer = mailer
        self.login_url = login_url

    async def handle_batch(self, batch: Sequence[tuple[int, Any]], prepared: Any = None) -> None:
        for _position, event in batch:
            if isinstance(event, AccountRegisteredEvent):
                await asyncio.to_thread(self.mailer.send, registration_mail(event, self.login_url))
