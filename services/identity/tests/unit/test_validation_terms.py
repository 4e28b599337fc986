"""Which terms version a registration may accept: the one in effect today."""

from __future__ import annotations

from datetime import date

import pytest

from pbx_identity.validation import terms as terms_module
from pbx_identity.validation.terms import TermsVersion, current_terms, terms_version_problem


def test_the_shipped_terms_have_a_version_in_effect_with_text() -> None:
    for document in ("privacy_policy", "terms_of_service"):
        current = current_terms(document, date(2026, 12, 7))
        assert current.version and current.text and current.title


def test_a_version_accepted_before_a_revision_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def version(v: str, since: date) -> TermsVersion:
        return TermsVersion("terms_of_service", "利用規約", v, since, "…")

    published = {
        "terms_of_service": (
            version("2024-04-01", date(2024, 4, 1)),
            version("2027-01-01", date(2027, 1, 1)),
        ),
        "privacy_policy": (),
    }
    monkeypatch.setattr(terms_module, "published_terms", lambda: published)
    assert terms_version_problem("terms_of_service", "2024-04-01", date(2026, 12, 31)) is None
    code, message = terms_version_problem("terms_of_service", "2024-04-01", date(2027, 1, 1)) or (
        "",
        "",
    )
    assert code == "terms_version_outdated"
    assert message == "利用規約が改定されました。最新の内容をご確認のうえ、改めて同意してください。"
