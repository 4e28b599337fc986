"""Small pieces of the mails' Japanese text: amounts in yen, dates and times in Japan."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


def yen(amount: int) -> str:
    """``4800`` → ``4,800円``."""
    return f"{amount:,}円"


def japanese_date(value: date) -> str:
    """``2028-05-31`` → ``2028年5月31日``."""
    return f"{value.year}年{value.month}月{value.day}日"


def japanese_time(at: datetime) -> str:
    """An instant as the day and time in Japan: ``2024年9月8日 10:00``."""
    local = at.astimezone(JST)
    return f"{japanese_date(local.date())} {local:%H:%M}"
