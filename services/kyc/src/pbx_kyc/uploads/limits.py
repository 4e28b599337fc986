"""The limits on an upload, and reading a streamed body within the size limit."""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Final

from pbx_kyc.uploads.refusals import UploadRefused

MAX_UPLOAD_BYTES: Final = 10 * 1024 * 1024
#: images: refused from the header, before any pixel is decoded
MAX_IMAGE_PIXELS: Final = 40_000_000
MAX_IMAGE_SIDE: Final = 12_000
MAX_PDF_PAGES: Final = 20
#: a progressive JPEG has about ten scans; thousands of tiny scans are a CPU bomb
MAX_JPEG_SCANS: Final = 256


async def read_limited(chunks: AsyncIterable[bytes], limit: int = MAX_UPLOAD_BYTES) -> bytes:
    """Read a streamed body, refusing it as soon as more than ``limit`` bytes arrived.

    Counts what actually arrives; a Content-Length header is never trusted.
    """
    buffer = bytearray()
    async for chunk in chunks:
        if len(buffer) + len(chunk) > limit:
            raise UploadRefused("file_too_large", detail=f"more than {limit} bytes")
        buffer += chunk
    return bytes(buffer)
