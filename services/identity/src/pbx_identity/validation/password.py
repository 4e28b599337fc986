"""Login password policy (SPEC §2.2): length, character classes, allowed set, common words."""

from __future__ import annotations

import re

from pbx_kit.jp.errors import RuleViolation

from ._data import data_entries


class PasswordPolicyViolation(RuleViolation):
    """Raised when a password breaks the policy; ``problems`` lists the failed sub-rules."""

    def __init__(self, problems: tuple[str, ...], message: str) -> None:
        super().__init__("password_policy", message)
        self.problems = problems


MIN_LENGTH = 8
MAX_LENGTH = 128  # argon2 copes with more; this only bounds the work per request
SYMBOLS = "!@#$%^&*?_-"  # the 11 characters of `! @ # $ % ^ & * ? _ -`

_ALLOWED = re.compile(r"\A[0-9A-Za-z!@#$%^&*?_\-]*\Z")
_EDGE_CHARS = "0123456789" + SYMBOLS  # peeled off both ends: Welcome#2024 -> welcome
_MAX_PEEL = 8
_LEET = {"@": "a", "0": "o", "3": "e", "$": "s", "5": "s", "7": "t", "!": "i"}
_LEET_I = str.maketrans({**_LEET, "1": "i"})
_LEET_L = str.maketrans({**_LEET, "1": "l"})

PROBLEM_MESSAGES = {
    "too_short": f"パスワードは{MIN_LENGTH}文字以上で入力してください。",
    "too_long": f"パスワードは{MAX_LENGTH}文字以内で入力してください。",
    "no_upper": "英大文字（A-Z）を1文字以上含めてください。",
    "no_lower": "英小文字（a-z）を1文字以上含めてください。",
    "no_symbol": "記号（! @ # $ % ^ & * ? _ -）を1文字以上含めてください。",
    "forbidden_character": (
        "パスワードに使用できるのは半角英数字と記号 ! @ # $ % ^ & * ? _ - のみです"
        "（スペースや全角文字、その他の記号は使用できません）。"
    ),
    "common_password": (
        "推測されやすい単語や、よく使われるパスワードは使用できません。"
        "別のパスワードを入力してください。"
    ),
}
PASSWORD_MISMATCH = "password_mismatch"  # noqa: S105 - an error code, not a password
PASSWORD_MISMATCH_MESSAGE = "パスワードと確認用パスワードが一致しません。"  # noqa: S105


def password_problems(password: str) -> list[str]:
    """Return the failed sub-rules, in a stable order; an empty list means the password is fine."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append("too_short")
    if len(password) > MAX_LENGTH:
        problems.append("too_long")
    if not any("A" <= c <= "Z" for c in password):
        problems.append("no_upper")
    if not any("a" <= c <= "z" for c in password):
        problems.append("no_lower")
    if not any(c in SYMBOLS for c in password):
        problems.append("no_symbol")
    if not _ALLOWED.fullmatch(password):
        problems.append("forbidden_character")
    if len(password) <= MAX_LENGTH and _is_common(password):
        problems.append("common_password")
    return problems


def password_policy_message(problems: list[str]) -> str:
    """Return the Japanese message naming every failed sub-rule."""
    return "".join(PROBLEM_MESSAGES[p] for p in problems)


def check_password(password: str, confirmation: str | None = None) -> None:
    """Raise ``password_policy`` (a PasswordPolicyViolation) or ``password_mismatch``.

    The password is never trimmed or otherwise altered: what is typed is what is hashed.
    The mismatch is only judged when a confirmation is given.
    """
    problems = password_problems(password)
    if problems:
        raise PasswordPolicyViolation(tuple(problems), password_policy_message(problems))
    if confirmation is not None and confirmation != password:
        raise RuleViolation(PASSWORD_MISMATCH, PASSWORD_MISMATCH_MESSAGE)


def _is_common(password: str) -> bool:
    common = data_entries("common_passwords.txt")
    text = password.lower()
    lead = len(text) - len(text.lstrip(_EDGE_CHARS))
    trail = len(text) - len(text.rstrip(_EDGE_CHARS))
    # Peel every combination of edge characters (bounded), because an edge character may be
    # leet (@dmin123, Passwor!) or padding (Password1!); the full strip is always tried.
    cores = {text.strip(_EDGE_CHARS)}
    for i in range(min(lead, _MAX_PEEL) + 1):
        for j in range(min(trail, _MAX_PEEL) + 1):
            if i + j < len(text):
                cores.add(text[i : len(text) - j])
    for core in cores:
        if not {core, core.translate(_LEET_I), core.translate(_LEET_L)}.isdisjoint(common):
            return True
    return False
