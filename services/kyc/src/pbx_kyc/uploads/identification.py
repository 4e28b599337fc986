"""Identifying an upload by its bytes (magic numbers), never by its name or declared type,
and handing it to the check for its kind."""

from __future__ import annotations

import struct
from typing import Final

from pbx_kyc.uploads.images import PNG_SIGNATURE, inspect_image
from pbx_kyc.uploads.limits import MAX_UPLOAD_BYTES
from pbx_kyc.uploads.pdf import inspect_pdf
from pbx_kyc.uploads.refusals import Inspected, Kind, UploadRefused

HEIC_BRANDS: Final = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
GENERIC_MEDIA_TYPES: Final = frozenset({"", "application/octet-stream"})
MEDIA_TYPES: Final[dict[Kind, frozenset[str]]] = {
    "jpeg": frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
    "png": frozenset({"image/png", "image/x-png"}),
    "pdf": frozenset({"application/pdf", "application/x-pdf"}),
    "heic": frozenset({"image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"}),
}


def _is_heic(data: bytes) -> bool:
    if len(data) < 16 or data[4:8] != b"ftyp":
        return False
    (size,) = struct.unpack(">I", data[:4])
    if size < 16 or size > min(len(data), 4096):
        return False
    brands = {data[8:12]} | {data[i : i + 4] for i in range(16, size - 3, 4)}
    return not brands.isdisjoint(HEIC_BRANDS)


def _detect(data: bytes) -> Kind:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if _is_heic(data):
        return "heic"
    raise UploadRefused("unsupported_type", detail=f"unknown magic {data[:8]!r}")


def _check_declared(declared_type: str | None, kind: Kind) -> None:
    if declared_type is None:
        return
    media_type = declared_type.split(";", 1)[0].strip().lower()
    if media_type in GENERIC_MEDIA_TYPES or media_type in MEDIA_TYPES[kind]:
        return
    raise UploadRefused("type_mismatch", detail=f"declared {media_type!r}, content is {kind}")


def inspect(
    data: bytes, declared_type: str | None = None, filename: str | None = None
) -> Inspected:
    """Identify an upload by its content and return what may be stored.

    ``declared_type`` (the multipart part's media type) only has to agree with
    the content; ``filename`` is never consulted (display it with
    ``safe_filename``). Raises ``UploadRefused``.
    """
    if not data:
        raise UploadRefused("empty_file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused("file_too_large", detail=f"{len(data)} bytes")
    kind = _detect(data)
    _check_declared(declared_type, kind)
    if kind == "pdf":
        return inspect_pdf(data)
    return inspect_image(data, kind)
