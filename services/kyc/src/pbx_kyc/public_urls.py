"""A corporation's website or public notice (公告) URL: a reviewer opens it, so it must be
a well-formed http(s) address of a public host, never an IP literal, ``localhost`` or an
internal name (a link into the provider's own network)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pbx_kit.problems import FieldProblem, RuleViolationError

MAX_LENGTH = 2048
_LABEL = re.compile(r"\A(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
#: names that never reach the public internet (RFC 6761, 6762, 8375, 2606 and common LAN use)
_INTERNAL_SUFFIXES = (
    "localhost",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "lan",
    "home",
    "home.arpa",
    "corp",
    "private",
    "test",
    "invalid",
    "example",
    "arpa",
)

INVALID = "ウェブサイトのURLを正しく入力してください（例: https://www.example.co.jp/）。"
NOT_PUBLIC = (
    "インターネット上で公開されているウェブサイトのURLを入力してください。"
    "IPアドレスや社内向けのアドレスは使用できません。"
)


def _host_is_public(host: str) -> bool:
    try:
        ascii_host = host.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        return False
    labels = ascii_host.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return False
    if labels[-1].isdigit() or not re.fullmatch(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}", labels[-1]):
        return False  # IPv4 literals and numeric top-level names
    return not any(
        ascii_host == suffix or ascii_host.endswith("." + suffix) for suffix in _INTERNAL_SUFFIXES
    )


def check_public_url(url: str, field: str) -> str:
    """The URL as given, or a 422 naming ``field`` (``invalid_url``, ``url_not_public``)."""

    def refuse(code: str, message: str) -> RuleViolationError:
        return RuleViolationError(message, errors=[FieldProblem(field, code, message)])

    text = url.strip()
    if not text or len(text) > MAX_LENGTH or not text.isprintable() or " " in text:
        raise refuse("invalid_url", INVALID)
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port  # raises on a malformed port
    except ValueError:
        raise refuse("invalid_url", INVALID) from None
    if parts.scheme not in ("http", "https") or not host or not parts.netloc:
        raise refuse("invalid_url", INVALID)
    if parts.username is not None or parts.password is not None:
        raise refuse("invalid_url", INVALID)
    if port is not None and port not in (80, 443):
        raise refuse("url_not_public", NOT_PUBLIC)
    if "[" in parts.netloc or not _host_is_public(host):
        code = "invalid_url" if not re.fullmatch(r"[\w.\-\[\]:]+", host) else "url_not_public"
        raise refuse(code, INVALID if code == "invalid_url" else NOT_PUBLIC)
    return text
