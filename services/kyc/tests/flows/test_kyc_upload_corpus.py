"""The upload corpus over HTTP on both stacks: every hostile or broken file is a 4xx
problem+json naming the file and a stable code, and nothing of it is stored (no document
on the review, no file in the vault, no ``kyc.DocumentUploaded.v1`` on the bus).

The files are built in code, as in the unit tests: Pillow draws the images, pypdf writes
the PDFs, the hostile ones are crafted byte by byte (the 50,000 × 50,000 PNG is a header
and a tiny IDAT). A valid photo with GPS in its EXIF is accepted, stored encrypted, and
served back to its owner as an attachment without the EXIF.
"""

from __future__ import annotations

import io
import re
import struct
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from PIL import Image
from pypdf import PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from pbx_events.envelope import parse
from pbx_kyc.scanner import EICAR_TEST_STRING
from pbx_kyc.uploads import MAX_UPLOAD_BYTES

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
GPS_IFD = 0x8825

# --- the corpus ----------------------------------------------------------------------


def a_picture(size: tuple[int, int] = (64, 48)) -> Image.Image:
    gradient = Image.linear_gradient("L").resize(size)
    return Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_180), gradient))


def jpeg_bytes(exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    if exif is None:
        a_picture().save(out, "JPEG", quality=85)
    else:
        a_picture().save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def exif_with_gps() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (35.0, 41.0, 22.0)  # Tokyo
    gps[3] = "E"
    gps[4] = (139.0, 41.0, 30.0)
    return exif


def pdf_with_javascript() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.root_object[NameObject("/OpenAction")] = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('x');"),
        }
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` × ``height`` with a tiny IDAT (nothing is allocated)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def truncated_jpeg() -> bytes:
    data = jpeg_bytes()
    return data[: len(data) * 2 // 3]


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script></svg>"
)


@dataclass(frozen=True)
class Case:
    id: str
    content: Callable[[], bytes]
    status: int
    code: str
    #: the part's file name, bytes so that a NUL can be sent as it is
    filename: bytes = b"document.jpg"
    content_type: str = "image/jpeg"
    fields: dict[str, str] = field(default_factory=lambda: {"document_type": "passport"})


CORPUS = [
    Case("eicar", lambda: EICAR_TEST_STRING, 422, "malware_detected", b"eicar.com", "text/plain"),
    Case("eicar-inside-a-jpeg", lambda: jpeg_bytes() + EICAR_TEST_STRING, 422, "malware_detected"),
    Case(
        "jpeg-with-html-appended",
        lambda: jpeg_bytes() + b"<html><script>alert(1)</script></html>",
        422,
        "trailing_data",
    ),
    Case("svg", lambda: SVG, 415, "unsupported_type", b"licence.svg", "image/svg+xml"),
    Case("svg-named-jpeg", lambda: SVG, 415, "unsupported_type"),
    Case(
        "pdf-with-javascript",
        pdf_with_javascript,
        422,
        "pdf_active_content",
        b"passport.pdf",
        "application/pdf",
    ),
    Case("zero-bytes", lambda: b"", 422, "empty_file"),
    Case("truncated-jpeg", truncated_jpeg, 422, "corrupt_file"),
    Case(
        "limit-plus-one-byte",
        lambda: b"\xff\xd8\xff\xe0" + b"\x00" * (MAX_UPLOAD_BYTES + 1 - 4),
        413,
        "file_too_large",
    ),
    Case(
        "png-50000x50000",
        lambda: png_header_only(50_000, 50_000),
        422,
        "image_too_large",
        b"scan.png",
        "image/png",
    ),
    Case("name-with-dot-dot-slash", jpeg_bytes, 422, "invalid_filename", b"../../etc/passwd.jpg"),
    Case("name-with-backslashes", jpeg_bytes, 422, "invalid_filename", b"..\\..\\boot.ini.jpg"),
    Case("name-with-nul", jpeg_bytes, 422, "invalid_filename", b"licence.php\x00.jpg"),
    Case("name-of-300-characters", jpeg_bytes, 422, "invalid_filename", b"a" * 296 + b".jpg"),
    Case("declared-png-is-jpeg", jpeg_bytes, 415, "type_mismatch", b"photo.png", "image/png"),
    Case("declared-html-is-jpeg", jpeg_bytes, 415, "type_mismatch", b"photo.jpg", "text/html"),
    Case(
        "declared-jpeg-is-pdf",
        pdf_with_javascript,  # the declared type is checked before the PDF's content
        415,
        "type_mismatch",
    ),
]


def multipart(case: Case, content: bytes) -> tuple[bytes, str]:
    """The form as a browser would send it, built by hand so the file name goes as is
    (httpx percent-escapes control characters in names)."""
    boundary = uuid.uuid4().hex
    body = bytearray()
    for name, value in case.fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        body += value.encode() + b"\r\n"
    body += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
    body += case.filename + b'"\r\n'
    body += f"Content-Type: {case.content_type}\r\n\r\n".encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"


# --- checks --------------------------------------------------------------------------


def assert_problem(reply: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = reply.json()
    assert (problem["status"], problem["code"]) == (status, code), problem
    assert JAPANESE.search(problem["detail"]), problem
    return problem


def assert_file_refused(reply: httpx.Response, status: int, code: str) -> None:
    problem = assert_problem(reply, status, code)
    assert problem["errors"], problem
    first = problem["errors"][0]
    assert (first["field"], first["code"]) == ("file", code), problem
    assert JAPANESE.search(first["message"]), problem


def document_ids_uploaded(s: Any) -> set[str]:
    return {str(parse(m).document_id) for m in s.of_type("DocumentUploaded")}


async def assert_nothing_stored(s: Any, account: uuid.UUID, version: int) -> None:
    """No document on the review, no event recorded, no file nor key in the vault."""
    review = await s.my_review(account)
    assert review["documents"] == []
    assert s.app.review_of(account).version == version, "the refusal recorded an event"
    assert s.vault_files(account) == []
    assert not (s.vault_root / "keys" / f"{account}.key").exists()


async def assert_nothing_published(s: Any, accounts: list[uuid.UUID]) -> None:
    """One control upload per account: their events arrive, and nothing else was published
    (the relay publishes in order, so a refused upload's event would have come first)."""
    controls: dict[uuid.UUID, str] = {}
    for account in accounts:
        reply = await s.upload(account, "residence_certificate", issued_on=str(s.app.today()))
        assert reply.status_code == 201, reply.text
        controls[account] = reply.json()["document_id"]
    await s.wait_for(lambda: set(controls.values()) <= document_ids_uploaded(s))
    assert document_ids_uploaded(s) == set(controls.values())
    for account, document_id in controls.items():
        assert [p.name for p in s.vault_files(account)] == [f"{document_id}.bin"]


# --- the corpus, refused -------------------------------------------------------------


async def test_every_hostile_or_broken_upload_is_refused_and_nothing_is_stored(
    screening: Any, subtests: pytest.Subtests
) -> None:
    """One account per file, all on one stack (the 10 MiB + 1 file is sent once)."""
    s = screening
    accounts: list[uuid.UUID] = []
    for case in CORPUS:
        with subtests.test(case.id):
            account = await s.register()
            accounts.append(account)
            version = s.app.review_of(account).version
            body, content_type = multipart(case, case.content())
            reply = await s.client.post(
                "/documents",
                content=body,
                headers={**s.auth(account), "Content-Type": content_type},
            )
            assert_file_refused(reply, case.status, case.code)
            await assert_nothing_stored(s, account, version)

    with subtests.test("my-number-card-back-side"):
        account = await s.register()
        accounts.append(account)
        version = s.app.review_of(account).version
        reply = await s.upload(account, "my_number_card", jpeg_bytes(), side="back")
        assert_problem(reply, 422, "forbidden_document")
        await assert_nothing_stored(s, account, version)

    await assert_nothing_published(s, accounts)


# --- a valid photo -------------------------------------------------------------------


async def test_a_photo_with_gps_is_accepted_stored_encrypted_and_served_without_exif(
    screening: Any,
) -> None:
    s = screening
    account = await s.register()
    original = jpeg_bytes(exif_with_gps())
    with Image.open(io.BytesIO(original)) as sent:
        assert sent.getexif().get_ifd(GPS_IFD)  # the test photo does carry GPS

    uploaded = await s.upload(account, "passport", original, filename="パスポート.jpg")
    assert uploaded.status_code == 201, uploaded.text
    document_id = uploaded.json()["document_id"]
    listed = {d["document_id"]: d for d in uploaded.json()["review"]["documents"]}
    assert listed[document_id]["media_type"] == "image/jpeg"

    reply = await s.client.get(f"/documents/{document_id}", headers=s.auth(account))
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "image/jpeg"
    assert reply.headers["content-disposition"].startswith("attachment")
    assert reply.headers["x-content-type-options"] == "nosniff"
    served = reply.content
    assert served.startswith(b"\xff\xd8\xff")
    assert served != original
    assert b"Exif" not in served
    assert b"PhoneMaker" not in served
    with Image.open(io.BytesIO(served)) as image:
        image.load()
        assert image.size == (64, 48)
        assert not image.getexif()
        assert "exif" not in image.info

    # on disk: one file under a server-made name, and it is not the plaintext
    files = s.vault_files(account)
    assert [p.name for p in files] == [f"{document_id}.bin"]
    stored = files[0].read_bytes()
    assert served not in stored
    assert original not in stored
    assert b"\xff\xd8\xff" not in stored[:64]
    assert b"PhoneMaker" not in stored
    assert "パスポート" not in str(files[0])
