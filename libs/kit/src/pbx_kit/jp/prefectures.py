"""Prefectures (都道府県) in JIS X 0401 order, plus the overseas pseudo-prefecture 海外."""

from __future__ import annotations

from types import MappingProxyType

from .errors import RuleViolation

OVERSEAS_PREFECTURE_CODE = "99"
OVERSEAS_PREFECTURE_NAME = "海外"

_NAMES = (
    "北海道",
    "青森県",
    "岩手県",
    "宮城県",
    "秋田県",
    "山形県",
    "福島県",
    "茨城県",
    "栃木県",
    "群馬県",
    "埼玉県",
    "千葉県",
    "東京都",
    "神奈川県",
    "新潟県",
    "富山県",
    "石川県",
    "福井県",
    "山梨県",
    "長野県",
    "岐阜県",
    "静岡県",
    "愛知県",
    "三重県",
    "滋賀県",
    "京都府",
    "大阪府",
    "兵庫県",
    "奈良県",
    "和歌山県",
    "鳥取県",
    "島根県",
    "岡山県",
    "広島県",
    "山口県",
    "徳島県",
    "香川県",
    "愛媛県",
    "高知県",
    "福岡県",
    "佐賀県",
    "長崎県",
    "熊本県",
    "大分県",
    "宮崎県",
    "鹿児島県",
    "沖縄県",
)

# (code, name) pairs: the 47 prefectures "01".."47", then 海外 "99". Pull-downs use this order.
PREFECTURES: tuple[tuple[str, str], ...] = (
    *((f"{i:02d}", name) for i, name in enumerate(_NAMES, start=1)),
    (OVERSEAS_PREFECTURE_CODE, OVERSEAS_PREFECTURE_NAME),
)

_NAME_BY_CODE = MappingProxyType(dict(PREFECTURES))
_CODE_BY_NAME = MappingProxyType({name: code for code, name in PREFECTURES})

INVALID_PREFECTURE = "invalid_prefecture"
INVALID_PREFECTURE_MESSAGE = "都道府県は一覧から選択してください。"


def prefecture_code(name_or_code: str) -> str:
    """Return the two-digit code for a prefecture name (東京都) or code ("13"), or raise."""
    key = name_or_code.strip()
    if key in _NAME_BY_CODE:
        return key
    code = _CODE_BY_NAME.get(key)
    if code is None:
        raise RuleViolation(INVALID_PREFECTURE, INVALID_PREFECTURE_MESSAGE)
    return code


def prefecture_name(code: str) -> str:
    """Return the Japanese name for a two-digit prefecture code, or raise."""
    name = _NAME_BY_CODE.get(code)
    if name is None:
        raise RuleViolation(INVALID_PREFECTURE, INVALID_PREFECTURE_MESSAGE)
    return name


def is_overseas_prefecture(code: str) -> bool:
    """Tell whether a prefecture code is the overseas pseudo-prefecture 海外."""
    return code == OVERSEAS_PREFECTURE_CODE
