"""Stored (normalised) contract info as people and forms see it: the account page and the
registration's confirmation screen (確認) show the same shape."""

from __future__ import annotations

import dataclasses
from typing import Any

from pbx_kit.jp.errors import RuleViolation
from pbx_kit.jp.phone import format_national
from pbx_kit.jp.prefectures import prefecture_name

_PHONES = ("phone", "contact_phone", "fax")


def _phone_in(value: str | None) -> str | None:
    return format_national(value) if value else None


def phone_in_national_form(e164: str | None) -> str | None:
    """A stored E.164 number as people read it (03-1234-5678); one that does not parse
    is shown as stored."""
    if not e164:
        return None
    try:
        return format_national(e164)
    except RuleViolation:
        return e164


def person_view(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored section with its prefecture's name and phones in national format (the
    E.164 forms beside them)."""
    view = {k: v for k, v in stored.items() if not k.endswith("_e164") and k != "prefecture_code"}
    if "prefecture_code" in stored:
        view["prefecture_code"] = stored["prefecture_code"]
        view["prefecture"] = prefecture_name(stored["prefecture_code"])
    for key in _PHONES:
        if f"{key}_e164" in stored:
            view[f"{key}_e164"] = stored[f"{key}_e164"]
            view[key] = _phone_in(stored[f"{key}_e164"])
    return view


def input_of(stored: dict[str, Any] | None) -> dict[str, Any]:
    """A stored section in the registration's input shape (to merge a change into)."""
    if stored is None:
        return {"same_as_contractor": True}
    view = person_view(stored)
    view.pop("prefecture_code", None)
    for key in _PHONES:
        view.pop(f"{key}_e164", None)
    return {"same_as_contractor": False, **view}


def own_or_same(stored: dict[str, Any] | None) -> dict[str, Any]:
    """A contact or the shipping address: its own values, or "same as contractor"."""
    if stored is None:
        return {"same_as_contractor": True}
    return {"same_as_contractor": False, **person_view(stored)}


def stored(section: Any) -> dict[str, Any] | None:
    """A validated section (a dataclass) as the account stores it."""
    return None if section is None else dataclasses.asdict(section)
