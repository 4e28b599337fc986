"""Reading an untrusted JSON body field by field, collecting errors instead of raising."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .errors import FieldError, RuleViolation

T = TypeVar("T")

_TOP_LABELS = {
    "terms": "規約への同意",
    "password": "パスワード",
    "password_confirmation": "パスワード（確認用）",
    "payment_method": "お支払い方法",
    "contractor_type": "契約者区分",
    "contractor": "契約者情報",
    "representative": "代表者",
    "usage_contact": "使用担当者",
    "billing_contact": "請求担当者",
    "shipping_address": "送付先",
    "agency_code": "取次店コード",
}
_LEAF_LABELS = {
    "name": "氏名",
    "name_kana": "フリガナ",
    "postal_code": "郵便番号",
    "prefecture": "都道府県",
    "city": "市区町村",
    "city_kana": "市区町村フリガナ",
    "street": "番地・建物名",
    "street_kana": "番地・建物名フリガナ",
    "email": "メールアドレス",
    "email_confirmation": "メールアドレス（確認用）",
    "phone": "電話番号",
    "contact_phone": "希望連絡先",
    "fax": "FAX番号",
    "same_as_contractor": "契約者と同じかどうか",
    "privacy_policy_accepted": "個人情報の取扱いに関する事項への同意",
    "terms_of_service_accepted": "利用規約への同意",
    "privacy_policy_version": "個人情報の取扱いに関する事項の版",
    "terms_of_service_version": "利用規約の版",
}
_OVERRIDES = {
    "contractor.name": "契約者名（会社名）",
    "contractor.phone": "審査用固定番号",
    "representative.name": "代表者名",
    "representative.name_kana": "代表者名フリガナ",
    "shipping_address.name": "送付先の宛名",
}
_SELECTS = {"prefecture", "payment_method", "contractor_type", "same_as_contractor"}


def label(path: str) -> str:
    """Return the Japanese label of a dotted field path, for messages."""
    if path in _OVERRIDES:
        return _OVERRIDES[path]
    section, _, leaf = path.rpartition(".")
    if not section:
        return _TOP_LABELS.get(leaf, leaf)
    base = _LEAF_LABELS.get(leaf, leaf)
    if section in ("contractor", "terms"):
        return base
    return f"{_TOP_LABELS.get(section, section)}の{base}"


class BodyReader:
    """Reads fields of a JSON body; every problem becomes a FieldError, nothing raises."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, code: str, message: str) -> None:
        self.errors.append(FieldError(path, code, message))

    def required(self, path: str) -> None:
        verb = "選択" if path.rpartition(".")[2] in _SELECTS else "入力"
        self.fail(path, "required", f"{label(path)}を{verb}してください。")

    def invalid_type(self, path: str) -> None:
        self.fail(path, "invalid_type", f"{label(path)}の形式が正しくありません。")

    def obj(self, parent: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any] | None:
        """Return a required JSON object, or record ``required``/``invalid_type``."""
        value = parent.get(key)
        if value is None:
            self.required(path)
            return None
        if not isinstance(value, Mapping):
            self.invalid_type(path)
            return None
        return value

    def text(
        self,
        parent: Mapping[str, Any],
        key: str,
        path: str,
        *,
        max_length: int,
        required: bool = True,
        trim: bool = True,
    ) -> str | None:
        """Return a (trimmed) string; None when absent, blank or broken (then maybe recorded)."""
        value = parent.get(key)
        if value is not None and not isinstance(value, str):
            self.invalid_type(path)
            return None
        text = (value.strip() if trim else value) if value is not None else ""
        if not text:
            if required:
                self.required(path)
            return None
        if len(text) > max_length:
            self.fail(path, "too_long", f"{label(path)}は{max_length}文字以内で入力してください。")
            return None
        return text

    def free_text(
        self, parent: Mapping[str, Any], key: str, path: str, *, max_length: int
    ) -> str | None:
        """Return a required, trimmed free-text value (a name, city, street) kept as typed."""
        text = self.text(parent, key, path, max_length=max_length)
        if text is not None and any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
            self.fail(
                path, "invalid_characters", f"{label(path)}に使用できない文字が含まれています。"
            )
            return None
        return text

    def check(self, path: str, check: Callable[[str], None], value: str) -> bool:
        """Apply a yes/no rule to a value; False (and a recorded violation) when it fails."""
        try:
            check(value)
        except RuleViolation as violation:
            self.fail(path, violation.code, violation.message)
            return False
        return True

    def rule(self, path: str, check: Callable[[str], T], value: str | None) -> T | None:
        """Apply a single-field rule to a present value, recording its violation."""
        if value is None:
            return None
        try:
            return check(value)
        except RuleViolation as violation:
            self.fail(path, violation.code, violation.message)
            return None
