"""Every Japanese text in one place (docs/strings-ja.md), kept up to date, and read by rules
that caught wording customers found wrong: 「代表者の代表者の…」, 「規約への同意を入力して
ください」, 「パスワードは使用できるのは…」, 「アカウントページ」 (the manual says アカウント管理
ページ), 外国人登録証明書 (now 在留カード), half-width kana, ヶ月 beside か月."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from pbx_cli.strings import CATALOGUE, all_strings, collect, render
from pbx_kyc.domain.documents import DOCUMENT_NAMES
from pbx_kyc.rules_file import rule_sets

STRINGS = all_strings()
#: the devices' feature lists, as the manual's product pages give them (6ヶ月保証)
PRODUCT_COPY = "pbx_catalog/data/seed.json"

#: (what is wrong, a pattern that finds it)
RULES = [
    ("a phrase said twice in a row (代表者の代表者の)", re.compile(r"(\S{2,}?の)\1")),
    (
        "「アカウントページ」: the manual's page is アカウント管理ページ",
        re.compile("アカウントページ"),
    ),
    ("an agreement is given, not typed (同意を入力)", re.compile("同意を入力")),
    ("「パスワードは使用できるのは」", re.compile("パスワードは使用できる")),
    ("外国人登録証明書 without 在留カード（旧 …）", re.compile(r"(?<!旧 )外国人登録証明書")),
    ("half-width katakana", re.compile(r"[\uff66-\uff9f]")),
    ("ヶ月/カ月: this project writes か月", re.compile("[ヶカ]月")),
    ("a doubled 。", re.compile("。。")),
    (
        "an ASCII ? or ! closing a Japanese sentence",
        re.compile(r"[\u3040-\u30ff\u4e00-\u9fff][?!]$"),
    ),
]


def test_the_catalogue_is_up_to_date() -> None:
    """After changing a message: python -m pbx_cli.strings --write, and read the diff."""
    assert CATALOGUE.read_text(encoding="utf-8") == render(collect())


def test_the_catalogue_covers_every_service() -> None:
    files = " ".join(collect())
    for place in ("services/identity", "services/kyc", "services/wallet", "services/catalog"):
        assert place in files
    assert len(STRINGS) > 300


@pytest.mark.parametrize(("problem", "pattern"), RULES, ids=[r[0] for r in RULES])
def test_no_string_reads_wrong(problem: str, pattern: re.Pattern[str]) -> None:
    wrong = [
        (file, text)
        for file, text in STRINGS
        if pattern.search(text) and not (file.endswith(PRODUCT_COPY) and "月" in problem)
    ]
    assert wrong == [], problem


def test_the_screening_messages_read_right_with_every_document_name() -> None:
    """The rules' templates filled in with each document's name, as customers see them."""
    today = date(2026, 12, 7)
    for rule_set in rule_sets():
        for code, template in rule_set.messages.items():
            for name in DOCUMENT_NAMES.values():
                text = template.format_map(
                    {
                        "name": name,
                        "date": "2026年12月7日",
                        "months": "3",
                        "documents": "運転免許証",
                        "sides": "表面と裏面",
                        "missing": "裏面",
                        "side": "裏面",
                        "needed": "2",
                        "have": "住民票",
                        "others": "公共料金の領収書",
                        "group_a": "運転免許証",
                        "group_b": "住民票",
                    }
                )
                for problem, pattern in RULES:
                    assert not pattern.search(text), (rule_set.version, code, problem, text)
    assert today - timedelta(days=1) < today


def test_a_document_list_never_lists_the_document_it_asks_for() -> None:
    """「代表者の顔写真付き本人確認書類（…代表者の顔写真付き本人確認書類…）」 listed itself."""
    for rule_set in rule_sets():
        template = rule_set.messages["representative_id_required"]
        head = template.split("（", 1)[0]
        for name in DOCUMENT_NAMES.values():
            assert head not in name, (rule_set.version, name)
