"""The mails of an e-mail change: the link to the new address, notices to the old one.

The new address may be mistyped (or a thief's), so its mail names neither the customer
nor the login ID; the old address learns the new one only masked (``ta***@example.jp``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pbx_events.envelope import stable_event_id
from pbx_identity.app_account import JST
from pbx_identity.domain.account import Account
from pbx_kit.mail import Mail, mask_address

CONFIRM_SUBJECT = "【クラウドPBX】メールアドレス変更の確認のお願い"
REQUESTED_SUBJECT = "【クラウドPBX】メールアドレス変更手続きのお知らせ"
COMPLETED_SUBJECT = "【クラウドPBX】メールアドレス変更完了のお知らせ"

_SIGNATURE = "クラウドPBX サポートセンター\n"


def _when(at: datetime) -> str:
    local = at.astimezone(JST)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def confirm_email_mail(event: Any, token: str, confirm_url: str) -> Mail:
    """To the new address: the link that applies the change."""
    separator = "&" if "?" in confirm_url else "?"
    body = (
        "クラウドPBXをご利用のお客様\n\n"
        "クラウドPBXアカウントのメールアドレスを、このメールアドレスに変更するお手続きを"
        "受け付けました。\n"
        "下記のURLから24時間以内に確認を完了してください。"
        "確認が完了した時点でメールアドレスが変更されます（URLは1回のみ有効です）。\n\n"
        f"{confirm_url}{separator}token={token}\n\n"
        "お手続きを複数回行った場合は、最後にお送りしたメールのURLのみが有効です。\n"
        "お心当たりのない場合は、本メールを破棄してください。メールアドレスは変更されません。\n"
        f"{_SIGNATURE}"
    )
    return Mail(
        to=event.new_email,
        subject=CONFIRM_SUBJECT,
        body=body,
        message_id=stable_event_id(event.originator_id, event.originator_version, "mail"),
    )


def email_change_requested_mail(account: Account, event: Any, login_url: str) -> Mail:
    """To the old address: a change was asked for, and how to stop it."""
    body = (
        f"{account.contractor['name']} 様\n\n"
        "クラウドPBXアカウントのメールアドレスを変更するお手続きを受け付けました。\n\n"
        f"変更後のメールアドレス: {mask_address(event.new_email)}\n"
        f"受付日時: {_when(event.timestamp)}\n\n"
        "変更後のメールアドレスに確認メールをお送りしました。"
        "そのメールのURLから確認が完了するまで、メールアドレスは変更されません。\n\n"
        "お心当たりのない場合は、第三者がお客様のアカウントにログインしている"
        "おそれがあります。次の方法で変更を止めてください。\n"
        "・ログイン画面の「パスワードをお忘れの方」からパスワードを再設定する"
        "（すべてのログイン状態が終了し、このメールアドレス変更のお手続きも取り消されます）\n"
        "・ログインできる場合は、アカウント管理ページから変更のお手続きを取り消す\n"
        "あわせて、サポートセンターまでご連絡ください。\n"
        f"ログインURL: {login_url}\n\n"
        "本メールは送信専用です。\n"
        f"{_SIGNATURE}"
    )
    return Mail(
        to=event.previous_email,
        subject=REQUESTED_SUBJECT,
        body=body,
        message_id=stable_event_id(event.originator_id, event.originator_version, "mail-old"),
    )


def email_changed_mail(account: Account, event: Any) -> Mail:
    """To the old address: the change has applied."""
    body = (
        f"{account.contractor['name']} 様\n\n"
        "クラウドPBXアカウントのメールアドレスの変更が完了しました。\n\n"
        f"変更後のメールアドレス: {mask_address(event.new_email)}\n"
        f"変更日時: {_when(event.timestamp)}\n\n"
        "今後のお知らせ（パスワード再設定のご案内を含みます）は、"
        "変更後のメールアドレスにお送りします。このメールアドレスには届きません。\n\n"
        "お心当たりのない場合は、至急サポートセンターまでご連絡ください。\n"
        "本メールは送信専用です。\n"
        f"{_SIGNATURE}"
    )
    return Mail(
        to=event.previous_email,
        subject=COMPLETED_SUBJECT,
        body=body,
        message_id=stable_event_id(event.originator_id, event.originator_version, "mail"),
    )
