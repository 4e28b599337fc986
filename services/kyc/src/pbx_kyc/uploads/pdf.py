"""PDFs: stored as they are, but only after pypdf parsed them and neither its object tree
nor a raw byte scan shows active content (scripts, actions, embedded files, forms)."""

from __future__ import annotations

import bisect
import io
import re
from typing import Final

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

from pbx_kyc.uploads.limits import MAX_PDF_PAGES
from pbx_kyc.uploads.refusals import Inspected, UploadRefused

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


def inspect_pdf(data: bytes) -> Inspected:
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
