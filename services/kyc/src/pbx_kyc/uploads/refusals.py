"""What an inspection answers: a refusal (a stable code, a Japanese message, a suggested
HTTP status) or what passed (``Inspected``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

Kind = Literal["jpeg", "png", "pdf", "heic"]
RefusalCode = Literal[
    "file_too_large",
    "empty_file",
    "unsupported_type",
    "type_mismatch",
    "corrupt_file",
    "trailing_data",
    "image_too_large",
    "pdf_active_content",
    "pdf_encrypted",
    "pdf_too_many_pages",
    "malware_detected",
    "invalid_filename",
]

MESSAGES_JA: Final[dict[RefusalCode, str]] = {
    "file_too_large": (
        "ファイルサイズが上限（10MB）を超えています。10MB以下のファイルをアップロードしてください。"
    ),
    "empty_file": "ファイルが空です。内容のあるファイルを選択してアップロードしてください。",
    "unsupported_type": (
        "対応していないファイル形式です。JPEG・PNG・HEIC の画像、"
        "または PDF をアップロードしてください。"
    ),
    "type_mismatch": (
        "ファイルの種類（拡張子）と内容が一致しません。"
        "名前や拡張子を変更していない元のファイルをアップロードしてください。"
    ),
    "corrupt_file": (
        "ファイルが壊れているか、途中までしか送信されていません。"
        "撮影またはスキャンし直して、もう一度アップロードしてください。"
    ),
    "trailing_data": (
        "ファイルの末尾に余分なデータが含まれているため受け付けられません。"
        "撮影し直すか、画像や PDF として保存し直してからアップロードしてください。"
    ),
    "image_too_large": (
        "画像の縦横のサイズが大きすぎます（一辺 12,000 ピクセル、合計 4,000 万画素まで）。"
        "縮小してからアップロードしてください。"
    ),
    "pdf_active_content": (
        "PDF にスクリプト・自動実行の動作・添付ファイルなどが含まれているため受け付けられません。"
        "印刷用の PDF として保存し直すか、画像でアップロードしてください。"
    ),
    "pdf_encrypted": (
        "パスワードで保護（暗号化）された PDF は受け付けられません。"
        "保護を解除した PDF をアップロードしてください。"
    ),
    "pdf_too_many_pages": (
        "PDF のページ数が多すぎます（20 ページまで）。必要なページだけをアップロードしてください。"
    ),
    "invalid_filename": "ファイル名に使えない文字が含まれているか、長すぎます（255文字まで）。",
    "malware_detected": (
        "ファイルからウイルスなどの有害な内容が検出されたため受け付けられません。"
        "お使いの端末をご確認のうえ、別のファイルをアップロードしてください。"
    ),
}

#: suggested HTTP status for the web layer
HTTP_STATUS: Final[dict[RefusalCode, int]] = {
    "file_too_large": 413,
    "unsupported_type": 415,
    "type_mismatch": 415,
}


class UploadRefused(Exception):
    """Raised when an upload is refused; nothing of it may be stored."""

    def __init__(
        self, code: RefusalCode, message_ja: str | None = None, *, detail: str = ""
    ) -> None:
        self.code: RefusalCode = code
        self.message_ja: str = message_ja or MESSAGES_JA[code]
        #: English, for logs only; never shown to the customer
        self.detail = detail
        self.status: int = HTTP_STATUS.get(code, 422)
        super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True, slots=True)
class Inspected:
    """An upload that passed inspection.

    ``kind`` is what was uploaded; ``content`` is what will be stored and
    ``media_type`` describes ``content`` (a HEIC upload is stored as JPEG).
    ``width``/``height`` are set for images, ``pages`` for PDFs.
    """

    kind: Kind
    content: bytes = field(repr=False)
    media_type: str
    width: int | None
    height: int | None
    pages: int | None
