"""Outgoing mail: SMTP (``PBX_SMTP_URL``) or a maildir under the data dir.

Mails are queued by log followers (never inside a request) in the service's
mail outbox (``pbx_kit.mail_outbox``) and sent from there, at least once: every
mail has a stable ``Message-ID`` so the maildir writes it once and a receiving
MTA or mail client can drop the duplicate.

A mailer that cannot hand a mail over raises ``PermanentMailError`` (the server
refused this mail for good: 5xx, a malformed address; retrying cannot help) or
``TemporaryMailError`` (4xx, the server unreachable or gone mid-session: try
again later). Neither carries the address or the body (personal data): only
the SMTP code and the server's reply with addresses blanked out.
"""

from __future__ import annotations

import contextlib
import hashlib
import mailbox
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
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
    #: the correlation id of the request or message that caused the mail (for the logs)
    correlation_id: str | None = None


class Mailer(Protocol):
    def send(self, mail: Mail) -> None:
        """Hand the mail over; raises ``MailError`` (or any exception: treated as temporary)."""
        ...


class MailError(Exception):
    """Raised when a mail could not be handed over (never names the address or the body)."""

    kind = "failed"

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(f"{code} {reason}" if code is not None else reason)
        #: the SMTP reply code, when the server gave one
        self.code = code
        #: what went wrong, with any address in the server's reply blanked out
        self.reason = reason


class PermanentMailError(MailError):
    """Raised when this mail was refused for good (a 5xx reply, a malformed address)."""

    kind = "permanent"


class TemporaryMailError(MailError):
    """Raised when the mail could not be handed over now (4xx, server unreachable)."""

    kind = "temporary"

    def __init__(self, reason: str, code: int | None = None, *, server: bool = False) -> None:
        super().__init__(reason, code)
        #: the server or the session failed, not this mail: the next mail would fail too
        self.server = server


_ADDRESS = re.compile(r"<?[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+>?")
_REASON_LENGTH = 200


def redact(reply: bytes | str) -> str:
    """A server reply fit to store and show: addresses blanked, one line, bounded."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    text = " ".join(_ADDRESS.sub("<address>", text).split())
    return text[:_REASON_LENGTH]


def mask_address(address: str) -> str:
    """``taro@example.jp`` → ``ta***@example.jp``: enough for an operator to tell mails apart."""
    local, at, domain = address.rpartition("@")
    if not at:
        return "***"
    return f"{local[:2] if len(local) > 2 else local[:1]}***@{domain}"


def check_address(address: str) -> None:
    """Raise ``PermanentMailError`` unless ``address`` is one plain ``local@domain``."""
    if any(ord(c) < 32 or c.isspace() for c in address) or address.count("@") != 1:
        raise PermanentMailError("malformed address")
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, HeaderParseError):
        raise PermanentMailError("malformed address") from None
    if not parsed.username or "." not in parsed.domain:
        raise PermanentMailError("malformed address")


def smtp_failure(exc: BaseException) -> MailError:
    """What a failure while the message itself was being sent means for that mail."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        codes = [code for code, _ in replies]
        text = redact(replies[0][1]) if replies else ""
        if codes and all(code >= 500 for code in codes):
            return PermanentMailError(f"recipient refused: {text}", codes[0])
        code = next((c for c in codes if c < 500), codes[0] if codes else None)
        return TemporaryMailError(f"recipient deferred: {text}", code)
    if isinstance(exc, smtplib.SMTPHeloError):
        return TemporaryMailError(
            f"greeting refused: {redact(exc.smtp_error)}", exc.smtp_code, server=True
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        what = {
            smtplib.SMTPSenderRefused: "sender refused",
            smtplib.SMTPDataError: "message refused",
        }.get(type(exc), "refused")
        reason = f"{what}: {redact(exc.smtp_error)}"
        if exc.smtp_code >= 500:
            return PermanentMailError(reason, exc.smtp_code)
        return TemporaryMailError(reason, exc.smtp_code)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        # e.g. an internationalised address and a server without SMTPUTF8
        return PermanentMailError(f"not supported by the server: {redact(str(exc))}")
    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
        return TemporaryMailError(f"connection lost: {type(exc).__name__}", server=True)
    return TemporaryMailError(f"failed: {type(exc).__name__}")


def _session_failure(exc: BaseException) -> TemporaryMailError:
    """Connecting, greeting, STARTTLS or logging in failed: the server (or our credentials),
    not the mail, so the mail waits and is never parked for it."""
    if isinstance(exc, smtplib.SMTPResponseException):
        reason = f"session refused: {redact(exc.smtp_error)}"
        return TemporaryMailError(reason, exc.smtp_code, server=True)
    return TemporaryMailError(f"server unreachable: {type(exc).__name__}", server=True)


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
    """One SMTP session per mail; failures raised as ``PermanentMailError`` or
    ``TemporaryMailError`` (their original exceptions, which name the address, are
    dropped)."""

    def __init__(self, url: str, sender: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        self.tls = parts.scheme == "smtps"
        self.starttls = parts.scheme == "smtp+starttls"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (465 if self.tls else 25)
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender
        self.timeout = timeout

    def send(self, mail: Mail) -> None:
        check_address(mail.to)
        try:
            msg = _build(mail, self.sender)
        except (ValueError, TypeError):
            raise PermanentMailError("malformed message") from None
        try:
            client = self._session()
        except (smtplib.SMTPException, OSError) as exc:
            raise _session_failure(exc) from None
        try:
            client.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise smtp_failure(exc) from None
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
            client.close()

    def _session(self) -> smtplib.SMTP:
        if self.tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.user:
                client.login(self.user, self.password or "")
        except BaseException:
            client.close()
            raise
        return client


def mailer_for(smtp_url: str | None, data_dir: Path, sender: str) -> Mailer:
    if smtp_url:
        return SmtpMailer(smtp_url, sender)
    return MaildirMailer(data_dir / "mail", sender)
