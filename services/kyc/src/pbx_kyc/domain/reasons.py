"""Why a review or a document was turned down, said to the customer in Japanese.

A reviewer turns a review or a document down with one of :data:`REJECTION_REASONS`; the
system itself uses :data:`SYSTEM_REASONS`; a document the rules say cannot count carries
the rules' own code and message (``pbx_kyc.domain.rules``), recorded with the decision.
"""

from __future__ import annotations

from typing import Literal, get_args

RejectionReason = Literal[
    "document_unreadable",
    "document_expired",
    "name_mismatch",
    "address_mismatch",
    "document_incomplete",
    "registry_too_old",
    "other",
]
REJECTION_REASONS: tuple[str, ...] = get_args(RejectionReason)

_MESSAGES: dict[str, str] = {
    "document_unreadable": (
        "書類の画像が不鮮明なため、記載内容を確認できませんでした。"
        "文字がはっきり写るように撮影し直してアップロードしてください。"
    ),
    "document_expired": (
        "書類の有効期限が切れています。有効期限内の書類をアップロードしてください。"
    ),
    "address_mismatch": (
        "ご登録の住所と書類の住所が一致しません。"
        "アカウント管理ページで住所をご確認いただくか、現住所の記載された書類をアップロードしてください。"
    ),
    "document_incomplete": (
        "書類の一部が写っていないか、必要な面がそろっていません。"
        "書類の全体が写るようにアップロードしてください。"
    ),
    "registry_too_old": (
        "登記簿謄本（履歴事項全部証明書）は発行から3か月以内のものが必要です。"
        "新しく取得したものをアップロードしてください。"
    ),
    "other": (
        "提出いただいた書類では本人確認ができませんでした。"
        "詳しくはサポート窓口までお問い合わせください。"
    ),
    # the system's own
    "malware_detected": (
        "ファイルからウイルスが検出されたため、受け付けられません。"
        "別のファイルをアップロードしてください。"
    ),
    "validity_ended": (
        "書類の有効期限が過ぎたため、審査の承認が終了しました。"
        "有効期限内の書類をアップロードしてください。"
    ),
}

_NAME_MISMATCH = {
    "individual": (
        "ご登録の氏名と書類の氏名が一致しません。アカウント管理ページでご登録内容をご確認ください。"
    ),
    "business": (
        "ご登録の会社名または代表者名と書類の記載が一致しません。"
        "アカウント管理ページでご登録内容をご確認ください。"
    ),
}

SYSTEM_REASONS: tuple[str, ...] = ("malware_detected", "validity_ended")

#: for a code this release does not know (stored by an older one)
UNKNOWN_REASON = "書類に不備があります。詳しくはサポート窓口までお問い合わせください。"


def reason_message(code: str, contractor_type: str) -> str:
    """The Japanese text for a reviewer's or the system's reason code (company wording for
    corporations and テレマ)."""
    if code == "name_mismatch":
        return _NAME_MISMATCH["individual" if contractor_type == "individual" else "business"]
    return _MESSAGES.get(code, UNKNOWN_REASON)


def all_reason_messages() -> dict[str, str]:
    """Every text this module can say (the string catalogue reads them)."""
    texts = dict(_MESSAGES)
    for kind, text in _NAME_MISMATCH.items():
        texts[f"name_mismatch.{kind}"] = text
    texts["unknown"] = UNKNOWN_REASON
    return texts
