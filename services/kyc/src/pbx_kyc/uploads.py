"""Inspecting uploaded identity documents before anything is stored (SPEC §3, Uploads).

An upload is identified by its bytes, never by its file name or the media type
the browser declared: magic numbers pick the candidate kind, then a real parse
must succeed. What is stored is ``Inspected.content``:

* images (JPEG, PNG, HEIC) are fully decoded and re-encoded from the pixels,
  so metadata (EXIF with GPS, XMP, ICC, comments, trailing data) never
  reaches storage; the EXIF orientation is applied first so the stored image
  is upright; HEIC is stored as JPEG;
* PDFs are stored as they are, but only after pypdf parsed them and neither
  its object tree nor a raw byte scan shows active content.

Every refusal is an ``UploadRefused`` with a stable ``code`` and a Japanese
message for the customer. The flow of an upload handler is::

    data = await read_limited(request.stream())   # file_too_large while streaming
    require_clean(scanner, data)                   # pbx_kyc.scanner, on the original bytes
    inspected = inspect(data, declared_type=part.content_type)
    store(inspected.content, inspected.media_type)  # under a server-made name

Pure functions, no web framework: the HTTP layer maps ``UploadRefused`` to a
problem response (``status`` is the suggested HTTP status).
"""

from __future__ import annotations

import bisect
import io
import re
import struct
import unicodedata
import warnings
import zlib
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Final, Literal

import pillow_heif
from PIL import Image, ImageFile, ImageOps
from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

pillow_heif.register_heif_opener()  # process-wide: Pillow opens HEIF as format "HEIF"

MAX_UPLOAD_BYTES: Final = 10 * 1024 * 1024
#: images: refused from the header, before any pixel is decoded
MAX_IMAGE_PIXELS: Final = 40_000_000
MAX_IMAGE_SIDE: Final = 12_000
MAX_PDF_PAGES: Final = 20
#: a progressive JPEG has about ten scans; thousands of tiny scans are a CPU bomb
MAX_JPEG_SCANS: Final = 256
JPEG_QUALITY: Final = 90
FALLBACK_FILENAME: Final = "document"
MAX_FILENAME_CHARS: Final = 100

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


# --- streaming ---------------------------------------------------------------------------


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


# --- identification ----------------------------------------------------------------------

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
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
        return _inspect_pdf(data)
    return _inspect_image(data, kind)


# --- images: structure -------------------------------------------------------------------


def _check_dimensions(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise UploadRefused("corrupt_file", detail=f"image size {width}x{height}")
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise UploadRefused("image_too_large", detail=f"image size {width}x{height}")


_SOF_MARKERS: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_end(data: bytes, start: int, *, check_size: bool) -> tuple[int, bool]:
    """Walk one JPEG stream from its SOI at ``start``; return (end after EOI, has MPF).

    Raises ``corrupt_file`` when the stream is cut or malformed, and
    ``image_too_large`` from the frame header, before any decoding.
    """

    def corrupt(why: str) -> UploadRefused:
        return UploadRefused("corrupt_file", detail=f"JPEG: {why}")

    n = len(data)
    if data[start : start + 2] != b"\xff\xd8":
        raise corrupt("no SOI")
    pos = start + 2
    frame_seen = False
    has_mpf = False
    scans = 0
    while True:
        if pos >= n:
            raise corrupt("no EOI")
        if data[pos] != 0xFF:
            raise corrupt(f"expected a marker at {pos}")
        while pos < n and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= n:
            raise corrupt("no EOI")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            if not frame_seen or scans == 0:
                raise corrupt("EOI before any image data")
            return pos, has_mpf
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers
            continue
        if marker in (0x00, 0xD8):
            raise corrupt(f"unexpected marker {marker:#x}")
        if pos + 2 > n:
            raise corrupt("cut in a segment header")
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        segment_end = pos + length
        if length < 2 or segment_end > n:
            raise corrupt("cut in a segment")
        if marker in _SOF_MARKERS:
            if length < 8:
                raise corrupt("short frame header")
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            if height == 0:
                raise corrupt("height defined by DNL")
            if check_size:
                _check_dimensions(width, height)
            frame_seen = True
        elif marker == 0xE2 and data[pos + 2 : pos + 6] == b"MPF\x00":
            has_mpf = True
        pos = segment_end
        if marker == 0xDA:  # start of scan: skip the entropy-coded data
            if not frame_seen:
                raise corrupt("scan before frame header")
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise corrupt("too many scans")
            while True:
                i = data.find(b"\xff", pos)
                if i < 0 or i + 1 >= n:
                    raise corrupt("cut in scan data")
                following = data[i + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffing, restart
                    pos = i + 2
                elif following == 0xFF:  # fill byte before a marker
                    pos = i + 1
                else:
                    pos = i
                    break


def _check_jpeg(data: bytes) -> None:
    end, has_mpf = _jpeg_end(data, 0, check_size=True)
    if end == len(data):
        return
    # Multi-picture JPEGs (MPF: phones' HDR gain maps, depth maps) append more
    # complete JPEG streams after the first EOI; they are dropped by re-encoding.
    # Anything else after the EOI is refused.
    if has_mpf:
        try:
            while end < len(data):
                end, _ = _jpeg_end(data, end, check_size=False)
        except UploadRefused:
            pass
        else:
            return
    raise UploadRefused("trailing_data", detail=f"JPEG: {len(data) - end} bytes after EOI")


def _check_png(data: bytes) -> None:
    view = memoryview(data)
    n = len(data)
    pos = len(PNG_SIGNATURE)
    first = True
    while True:
        if pos + 12 > n:
            raise UploadRefused("corrupt_file", detail="PNG: no IEND")
        length, chunk_type = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > n:
            raise UploadRefused("corrupt_file", detail="PNG: cut in a chunk")
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            raise UploadRefused("corrupt_file", detail=f"PNG: bad CRC in {chunk_type!r}")
        if first:
            if chunk_type != b"IHDR" or length != 13:
                raise UploadRefused("corrupt_file", detail="PNG: IHDR is not first")
            width, height = struct.unpack(">II", data[pos + 8 : pos + 16])
            _check_dimensions(width, height)
            first = False
        if chunk_type == b"IEND":
            break
        pos = end
    if end != n:
        raise UploadRefused("trailing_data", detail=f"PNG: {n - end} bytes after IEND")


def _check_heif_boxes(data: bytes) -> None:
    """The top-level ISO-BMFF boxes must cover the file exactly."""
    n = len(data)
    pos = 0
    complete: set[bytes] = set()
    while pos < n:
        size = 0
        box_type = b""
        header = 8
        if pos + 8 <= n:
            size, box_type = struct.unpack(">I4s", data[pos : pos + 8])
            if size == 1 and pos + 16 <= n:
                (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
                header = 16
            elif size == 0:
                size = n - pos
        valid_header = size >= header and all(0x20 <= b <= 0x7E for b in box_type)
        if valid_header and pos + size <= n:
            complete.add(box_type)
            pos += size
            continue
        # a bad box after a complete image is appended data; anything else is a cut
        if {b"ftyp", b"meta", b"mdat"} <= complete:
            raise UploadRefused("trailing_data", detail=f"HEIF: {n - pos} bytes after the boxes")
        raise UploadRefused("corrupt_file", detail=f"HEIF: cut in box {box_type!r}")


# --- images: decode and re-encode --------------------------------------------------------

PILLOW_FORMATS: Final[dict[Kind, tuple[str, ...]]] = {
    "jpeg": ("JPEG", "MPO"),
    "png": ("PNG",),
    "heic": ("HEIF",),
}


def _require_truncated_images_refused() -> None:
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        msg = "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True: truncated uploads would be stored"
        raise RuntimeError(msg)


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    if not has_alpha:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


_PNG_KEPT_MODES: Final = frozenset({"1", "L", "LA", "RGB", "RGBA", "I", "I;16"})


def _for_png(image: Image.Image) -> Image.Image:
    if image.mode in _PNG_KEPT_MODES:
        return image
    if image.mode in ("P", "PA"):
        transparent = image.mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if transparent else "RGB")
    return image.convert("RGBA" if "A" in image.getbands() else "RGB")


def _reencode(image: Image.Image, kind: Kind) -> tuple[bytes, str, tuple[int, int]]:
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # broken EXIF is metadata we drop anyway: keep the pixels as decoded
        upright = image.copy()
    if kind == "png":
        clean, pillow_format, media_type = _for_png(upright), "PNG", "image/png"
    else:
        clean, pillow_format, media_type = _flatten_to_rgb(upright), "JPEG", "image/jpeg"
    if clean is image:
        clean = image.copy()
    clean.info = {}  # no EXIF, XMP, ICC, text chunks or comments are written
    out = io.BytesIO()
    if pillow_format == "JPEG":
        clean.save(out, format="JPEG", quality=JPEG_QUALITY)
    else:
        clean.save(out, format="PNG")
    return out.getvalue(), media_type, clean.size


def _inspect_image(data: bytes, kind: Kind) -> Inspected:
    _require_truncated_images_refused()
    if kind == "jpeg":
        _check_jpeg(data)
    elif kind == "png":
        _check_png(data)
    else:
        _check_heif_boxes(data)
    formats = PILLOW_FORMATS[kind]
    try:
        # Pillow's own bomb limit is above ours, so this only matters if it is lowered;
        # the header checks above and below never depend on it (catch_warnings is not
        # thread-safe, the dimension checks are)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(formats)) as image:
                if image.format not in formats:
                    raise UploadRefused("corrupt_file", detail=f"decoded as {image.format}")
                _check_dimensions(*image.size)
                image.load()
                content, media_type, (width, height) = _reencode(image, kind)
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadRefused("image_too_large", detail=str(exc)) from exc
    except Exception as exc:  # any decoder failure means the file cannot be trusted
        raise UploadRefused("corrupt_file", detail=f"{type(exc).__name__}: {exc}") from exc
    return Inspected(kind, content, media_type, width, height, None)


# --- PDF ---------------------------------------------------------------------------------

#: names that make a PDF active: scripts, launching, actions run by events,
#: embedded files, rich media, XFA forms, form submission and remote go-tos
PDF_ACTIVE_NAMES: Final = frozenset(
    {
        "/JS",
        "/JavaScript",
        "/Launch",
        "/AA",
        "/EmbeddedFile",
        "/EmbeddedFiles",
        "/EF",
        "/FileAttachment",
        "/RichMedia",
        "/XFA",
        "/SubmitForm",
        "/ImportData",
        "/GoToE",
        "/GoToR",
    }
)
#: names this short occur by chance in compressed binary streams; inside a stream
#: body the raw scan ignores them (the object tree walk still sees every object)
_SHORT_NAME_CHARS: Final = 3
_PDF_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]{1,127})")
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM_BODY = re.compile(rb"stream(?:\r\n|\n|\r)(.*?)endstream", re.DOTALL)
_PDF_WHITESPACE: Final = b"\x00\t\n\x0c\r "


def _decode_pdf_name(raw: bytes) -> str:
    if b"#" in raw:
        raw = _PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
    return "/" + raw.decode("latin-1")


def _scan_pdf_bytes(data: bytes) -> None:
    """Refuse active-content names anywhere in the raw bytes, escaped names included."""
    bodies: list[tuple[int, int]] | None = None
    for match in _PDF_NAME.finditer(data):
        name = _decode_pdf_name(match.group(1))
        if name not in PDF_ACTIVE_NAMES:
            continue
        if len(name) - 1 <= _SHORT_NAME_CHARS:
            if bodies is None:
                bodies = [m.span(1) for m in _PDF_STREAM_BODY.finditer(data)]
            i = bisect.bisect_right(bodies, (match.start(), len(data))) - 1
            if i >= 0 and bodies[i][0] <= match.start() < bodies[i][1]:
                continue
        raise UploadRefused("pdf_active_content", detail=f"raw name {name} at {match.start()}")


def _check_pdf_tail(data: bytes) -> None:
    eof = data.rfind(b"%%EOF")
    if eof < 0:
        raise UploadRefused("corrupt_file", detail="PDF: no %%EOF")
    rest = data[eof + 5 :]
    if rest.strip(_PDF_WHITESPACE):
        if any(keyword in rest for keyword in (b"endobj", b"startxref", b"trailer")):
            raise UploadRefused("corrupt_file", detail="PDF: cut after an incremental update")
        raise UploadRefused("trailing_data", detail=f"PDF: {len(rest)} bytes after %%EOF")


def _walk_pdf_objects(reader: PdfReader) -> None:
    """Visit every object reachable from the trailer and every object in the xref."""
    stack: list[object] = [reader.trailer]
    xref: dict[int, dict[int, object]] = reader.xref
    for generation, entries in xref.items():
        stack.extend(IndirectObject(idnum, generation, reader) for idnum in entries)
    stack.extend(IndirectObject(idnum, 0, reader) for idnum in reader.xref_objStm)
    seen: set[tuple[int, int]] = set()
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            key = (obj.idnum, obj.generation)
            if key in seen:
                continue
            seen.add(key)
            obj = obj.get_object()
        if isinstance(obj, NameObject):
            if str(obj) in PDF_ACTIVE_NAMES:
                raise UploadRefused("pdf_active_content", detail=f"name {obj}")
        elif isinstance(obj, DictionaryObject):  # stream objects included
            for name, value in obj.items():
                if str(name) in PDF_ACTIVE_NAMES:
                    raise UploadRefused("pdf_active_content", detail=f"key {name}")
                stack.append(value)
        elif isinstance(obj, ArrayObject):
            stack.extend(obj)


def _inspect_pdf(data: bytes) -> Inspected:
    _check_pdf_tail(data)
    _scan_pdf_bytes(data)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise UploadRefused("pdf_encrypted")
        pages = len(reader.pages)
        if pages == 0:
            raise UploadRefused("corrupt_file", detail="PDF: no pages")
        if pages > MAX_PDF_PAGES:
            raise UploadRefused("pdf_too_many_pages", detail=f"{pages} pages")
        _walk_pdf_objects(reader)
    except UploadRefused:
        raise
    except Exception as exc:  # pypdf raises many kinds on malformed input
        raise UploadRefused("corrupt_file", detail=f"PDF: {type(exc).__name__}: {exc}") from exc
    return Inspected("pdf", data, "application/pdf", None, None, pages)


# --- display names -----------------------------------------------------------------------

#: control, format (bidi overrides, zero-width), surrogate, private-use, unassigned,
#: line and paragraph separators
_DROPPED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_MAX_EXTENSION_CHARS: Final = 10


def safe_filename(name: str | None) -> str:
    """The customer's file name made safe to display (the stored name is server-made).

    Keeps the last path component (``/`` or ``\\``), drops control and format
    characters (NUL, newlines, bidi overrides), leading dots and spaces, and
    limits it to 100 characters, keeping a short extension. Falls back to
    ``"document"``. HTML or header escaping is still the renderer's job.
    """
    if not name:
        return FALLBACK_FILENAME
    text = unicodedata.normalize("NFC", name)  # macOS sends decomposed kana (NFD)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = text.strip().lstrip(". ").strip()
    if not text:
        return FALLBACK_FILENAME
    if len(text) > MAX_FILENAME_CHARS:
        stem, dot, extension = text.rpartition(".")
        if dot and stem and len(extension) <= _MAX_EXTENSION_CHARS:
            keep = MAX_FILENAME_CHARS - len(extension) - 1
            text = f"{stem[:keep].rstrip()}.{extension}"
        else:
            text = text[:MAX_FILENAME_CHARS].rstrip()
    return text or FALLBACK_FILENAME
