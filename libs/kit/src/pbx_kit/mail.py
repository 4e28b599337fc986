"""Outgoing mail: SMTP (``PBX_SMTP_URL``) or a maildir under the data dir.

Mails are sent by log followers (never inside a request), which may send a
mail again after a crash; every mail has a stable ``Message-ID`` so the maildir
writes it once and a receiving MTA or mail client can drop the duplicate.
"""

from __future__ import annotations

import hashlib
import mailbox
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    #: stable id (e.g. the event id): the same mail is never delivered twice
    message_id: str


class Mailer(Protocol):
    def send(self, mail: Mail) -> None: ...


def _build(mail: Mail, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = f"<{mail.message_id}@cloudpbx.example.jp>"
    msg.set_content(mail.body, charset="utf-8")
    return msg


class MaildirMailer:
    def __init__(self, path: Path, sender: str) -> None:
        self.path = path
        self.sender = sender
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self._box = mailbox.Maildir(str(path), create=False)
        self._sent = path / ".sent"
        self._sent.mkdir(exist_ok=True)

    def send(self, mail: Mail) -> None:
        marker = self._sent / hashlib.sha256(mail.message_id.encode()).hexdigest()
        if marker.exists():
            return
        self._box.add(mailbox.MaildirMessage(_build(mail, self.sender)))
        marker.touch()

    def messages(self) -> list[EmailMessage]:
        """Every mail in the maildir (tests, the dev console)."""
        from email import policy
        from email.parser import BytesParser

        parser = BytesParser(policy=policy.default)
        result = []
        for key in self._box.keys():  # noqa: SIM118 - iterating a Mailbox yields messages
            with self._box.get_file(key) as fh:
                parsed = parser.parse(fh)  # type: ignore[arg-type]
                assert isinstance(parsed, EmailMessage)
                result.append(parsed)
        return result


class SmtpMailer:
    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme == "smtps"
        self.starttls = parts.scheme == "smtp+starttls"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender

    def send(self, mail: Mail) -> None:
        msg = _build(mail, self.sender)
        if self.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=30, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=30)
        with client:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.user:
                client.login(self.user, self.password or "")
            client.send_message(msg)


def mailer_for(smtp_url: str | None, data_dir: Path, sender: str) -> Mailer:
    if smtp_url:
        return SmtpMailer(smtp_url, sender)
    return MaildirMailer(data_dir / "mail", sender)
