"""The links in customer mails follow the address the system is reached at: the one
``./pbx up`` serves on, or ``PBX_PUBLIC_URL`` behind a gateway; a link set one by one wins."""

from __future__ import annotations

import pytest

from pbx_kit.settings import Settings, http_base

LINKS = ("PBX_PUBLIC_URL", "PBX_LOGIN_URL", "PBX_PASSWORD_RESET_URL", "PBX_EMAIL_CONFIRM_URL")


@pytest.fixture(autouse=True)
def no_links_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LINKS:
        monkeypatch.delenv(name, raising=False)


def test_unset_links_point_at_the_address_served_on() -> None:
    served = Settings().served_at("127.0.0.1", 8123)
    assert served.login_url == "http://127.0.0.1:8123/login"
    assert served.password_reset_url == "http://127.0.0.1:8123/password-reset"
    assert served.email_confirm_url == "http://127.0.0.1:8123/email-confirmation"


def test_a_wildcard_or_ipv6_address_gives_a_reachable_link() -> None:
    assert http_base("0.0.0.0", 80) == "http://127.0.0.1:80"  # noqa: S104 - not bound
    assert http_base("::", 80) == "http://[::1]:80"
    assert http_base("2001:db8::1", 80) == "http://[2001:db8::1]:80"


def test_the_public_url_overrides_the_address_served_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PBX_PUBLIC_URL", "https://portal.example.jp/")
    for settings in (Settings(), Settings().served_at("127.0.0.1", 8123)):
        assert settings.login_url == "https://portal.example.jp/login"
        assert settings.password_reset_url == "https://portal.example.jp/password-reset"
        assert settings.email_confirm_url == "https://portal.example.jp/email-confirmation"


def test_a_link_set_explicitly_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PBX_PUBLIC_URL", "https://portal.example.jp")
    monkeypatch.setenv("PBX_LOGIN_URL", "https://login.example.jp/signin")
    served = Settings().served_at("127.0.0.1", 8123)
    assert served.login_url == "https://login.example.jp/signin"
    assert served.password_reset_url == "https://portal.example.jp/password-reset"
    monkeypatch.delenv("PBX_PUBLIC_URL")
    served = Settings().served_at("127.0.0.1", 8123)
    assert served.login_url == "https://login.example.jp/signin"
    assert served.email_confirm_url == "http://127.0.0.1:8123/email-confirmation"
