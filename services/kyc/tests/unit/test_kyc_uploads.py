"""Upload inspection: content decides the type, images are re-encoded, dangerous files refused.

The corpus is built in code: Pillow draws the images, pypdf writes the PDFs,
and the hostile files are crafted byte by byte (the 50,000 × 50,000 PNG is a
header and a tiny IDAT; its pixels are never allocated).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image, ImageFile
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    StreamObject,
    TextStringObject,
)

from pbx_kyc import uploads
from pbx_kyc.scanner import EICAR_TEST_STRING, EicarFakeScanner, ScanResult, require_clean
from pbx_kyc.uploads import (
    MAX_UPLOAD_BYTES,
    Inspected,
    UploadRefused,
    inspect,
    read_limited,
    safe_filename,
)

# --- corpus ------------------------------------------------------------------------------

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def a_picture(size: tuple[int, int] = (64, 48), mode: str = "RGB") -> Image.Image:
    gradient = Image.linear_gradient("L").resize(size)
    if mode == "L":
        return gradient
    return Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.ROTATE_180), gradient))


def jpeg_bytes(image: Image.Image | None = None, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    picture = image or a_picture()
    if exif is None:
        picture.save(out, "JPEG", quality=85)
    else:
        picture.save(out, "JPEG", quality=85, exif=exif)
    return out.getvalue()


def png_bytes(image: Image.Image | None = None) -> bytes:
    out = io.BytesIO()
    (image or a_picture()).save(out, "PNG")
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


def pdf_bytes(pages: int = 1, *, open_action: DictionaryObject | None = None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if open_action is not None:
        writer.root_object[NameObject("/OpenAction")] = open_action
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def javascript_action() -> DictionaryObject:
    return DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('x');"),
        }
    )


def pdf_with_object_stream(action: bytes) -> bytes:
    """A PDF 1.5 whose catalog and action sit compressed in an object stream.

    No name of them appears in the raw bytes: only the object tree walk sees them.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        action,
    ]
    offsets, body = [], b""
    for number, obj in enumerate(objects, start=1):
        offsets.append(f"{number} {len(body)}")
        body += obj + b"\n"
    header = " ".join(offsets).encode() + b"\n"
    packed = zlib.compress(header + body)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    objstm_at = len(out)
    out += b"5 0 obj\n<< /Type /ObjStm /N 4 /First %d /Filter /FlateDecode /Length %d >>\n" % (
        len(header),
        len(packed),
    )
    out += b"stream\n" + packed + b"\nendstream\nendobj\n"
    xref_at = len(out)
    rows = [(0, 0, 65535), *[(2, 5, i) for i in range(4)], (1, objstm_at, 0), (1, xref_at, 0)]
    table = b"".join(struct.pack(">BIH", *row) for row in rows)
    out += b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >>\n" % len(table)
    out += b"stream\n" + table + b"\nendstream\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


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


def refused(data: bytes, declared_type: str | None = None) -> str:
    with pytest.raises(UploadRefused) as caught:
        inspect(data, declared_type)
    assert caught.value.message_ja  # every refusal speaks to the customer
    return caught.value.code


# --- what passes -------------------------------------------------------------------------


def test_a_jpeg_is_identified_and_re_encoded() -> None:
    data = jpeg_bytes()
    result = inspect(data, "image/jpeg", "免許証.jpg")
    assert (result.kind, result.media_type, result.width, result.height, result.pages) == (
        "jpeg",
        "image/jpeg",
        64,
        48,
        None,
    )
    assert result.content.startswith(b"\xff\xd8\xff")
    assert result.content != data
    with Image.open(io.BytesIO(result.content)) as stored:
        assert stored.format == "JPEG"


def test_a_png_is_identified_and_re_encoded_as_png() -> None:
    result = inspect(png_bytes(), "image/png")
    assert (result.kind, result.media_type, result.width, result.height) == (
        "png",
        "image/png",
        64,
        48,
    )
    with Image.open(io.BytesIO(result.content)) as stored:
        stored.load()
        assert stored.format == "PNG"


def test_a_pdf_is_kept_as_it_is_with_its_page_count() -> None:
    data = pdf_bytes(pages=2)
    result = inspect(data, "application/pdf")
    assert result == Inspected("pdf", data, "application/pdf", None, None, 2)


@pytest.mark.parametrize("declared", [None, "application/octet-stream", "image/jpeg; x=1", ""])
def test_a_generic_or_missing_declared_type_is_not_a_mismatch(declared: str | None) -> None:
    assert inspect(jpeg_bytes(), declared).kind == "jpeg"


def test_the_file_name_does_not_decide_the_type() -> None:
    assert inspect(png_bytes(), None, "passport.pdf").kind == "png"


def test_re_encoding_drops_exif_with_gps() -> None:
    data = jpeg_bytes(exif=exif_with_gps())
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif().get_ifd(GPS_IFD)  # the corpus does carry GPS
    result = inspect(data, "image/jpeg")
    assert b"Exif" not in result.content
    assert b"PhoneMaker" not in result.content
    with Image.open(io.BytesIO(result.content)) as stored:
        assert "exif" not in stored.info
        assert len(stored.getexif()) == 0


def test_the_exif_orientation_is_applied_before_it_is_dropped() -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # rotate 90° clockwise to display
    result = inspect(jpeg_bytes(a_picture((60, 40)), exif=exif))
    assert (result.width, result.height) == (40, 60)


def test_png_text_and_icc_chunks_are_not_stored() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "住所: 東京都千代田区")
    out = io.BytesIO()
    a_picture().save(out, "PNG", pnginfo=info, icc_profile=b"\x00" * 128)
    result = inspect(out.getvalue())
    assert b"tEXt" not in result.content
    assert b"iTXt" not in result.content
    assert b"iCCP" not in result.content


def test_a_transparent_png_keeps_its_alpha() -> None:
    result = inspect(png_bytes(a_picture().convert("RGBA")))
    with Image.open(io.BytesIO(result.content)) as stored:
        assert stored.mode == "RGBA"


def test_a_multi_picture_jpeg_from_a_phone_passes_and_only_the_first_is_stored() -> None:
    out = io.BytesIO()
    a_picture().save(out, "MPO", save_all=True, append_images=[a_picture((32, 24))])
    result = inspect(out.getvalue(), "image/jpeg")
    assert (result.kind, result.width, result.height) == ("jpeg", 64, 48)
    assert result.content.count(b"\xff\xd8") == 1


#: a real HEIC (HEVC) photo: ``a_picture()`` saved as "HEIF" at quality 50, made once on
#: 2026-12-07 with pillow-heif 1.8.1 (libheif 1.23.6, x265 4.3). The service only has the
#: decode-only pi-heif, which cannot encode, so the sample is kept as a file
HEIC_SAMPLE = Path(__file__).parent / "data" / "picture_64x48.heic"


def test_a_heic_photo_is_stored_as_jpeg() -> None:
    heic = HEIC_SAMPLE.read_bytes()
    result = inspect(heic, "image/heic")
    assert (result.kind, result.media_type, result.width, result.height) == (
        "heic",
        "image/jpeg",
        64,
        48,
    )
    assert result.content.startswith(b"\xff\xd8\xff")
    # the pixels survive: the stored JPEG looks like the picture that was encoded
    stored, original = Image.open(io.BytesIO(result.content)).convert("RGB"), a_picture()
    for xy in ((2, 2), (32, 24), (61, 45)):
        pairs = zip(stored.getpixel(xy), original.getpixel(xy), strict=True)
        assert all(abs(a - b) < 24 for a, b in pairs), xy
    assert refused(heic[:-40]) == "corrupt_file"
    assert refused(heic + b"<html></html>") == "trailing_data"


# --- what is refused ---------------------------------------------------------------------


def test_zero_bytes_are_refused() -> None:
    assert refused(b"") == "empty_file"


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>',
        b"<svg onload=alert(1)>",
        b"<!DOCTYPE html><html><body>\xe5\x85\x8d\xe8\xa8\xb1</body></html>",
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x00\x00\x00\x00\x00,"
        b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
        "運転免許証の写しです".encode(),
        b"PK\x03\x04zip",
        EICAR_TEST_STRING,
    ],
    ids=["svg", "svg-short", "html", "gif", "text", "zip", "eicar"],
)
def test_other_types_are_unsupported(data: bytes) -> None:
    assert refused(data) == "unsupported_type"


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (jpeg_bytes(), "image/png"),
        (png_bytes(), "image/jpeg"),
        (pdf_bytes(), "image/jpeg"),
        (jpeg_bytes(), "application/pdf"),
        (jpeg_bytes(), "text/html"),
    ],
)
def test_a_declared_type_other_than_the_content_is_a_mismatch(data: bytes, declared: str) -> None:
    assert refused(data, declared) == "type_mismatch"


def test_a_jpeg_with_html_appended_is_refused() -> None:
    data = jpeg_bytes() + b"<html><script>alert(1)</script></html>"
    assert refused(data, "image/jpeg") == "trailing_data"


def test_a_multi_picture_jpeg_with_something_else_appended_is_refused() -> None:
    out = io.BytesIO()
    a_picture().save(out, "MPO", save_all=True, append_images=[a_picture((32, 24))])
    assert refused(out.getvalue() + b"<html></html>") == "trailing_data"


def test_a_png_with_data_after_iend_is_refused() -> None:
    assert refused(png_bytes() + b"PK\x03\x04") == "trailing_data"


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_a_truncated_jpeg_is_refused(keep: float) -> None:
    data = jpeg_bytes()
    assert refused(data[: int(len(data) * keep)]) == "corrupt_file"


def test_a_jpeg_without_its_eoi_marker_is_refused() -> None:
    data = jpeg_bytes()
    assert data.endswith(b"\xff\xd9")
    assert refused(data[:-2]) == "corrupt_file"


def test_a_truncated_png_and_a_bad_crc_are_refused() -> None:
    data = png_bytes()
    assert refused(data[: len(data) // 2]) == "corrupt_file"
    damaged = bytearray(data)
    damaged[40] ^= 0xFF
    assert refused(bytes(damaged)) == "corrupt_file"


@pytest.mark.parametrize(
    ("width", "height"),
    [(50_000, 50_000), (7_000, 7_000), (12_001, 10), (10, 12_001)],
)
def test_a_huge_png_is_refused_from_its_header(width: int, height: int) -> None:
    assert refused(png_header_only(width, height)) == "image_too_large"


def test_a_huge_jpeg_is_refused_from_its_frame_header() -> None:
    data = bytearray(jpeg_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 50_000, 50_000)
    assert refused(bytes(data)) == "image_too_large"


@pytest.mark.parametrize("limit", [1000, 2000], ids=["bomb-error", "bomb-warning"])
def test_pillows_decompression_bomb_checks_become_refusals(
    monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)  # 64 × 48 = 3072 pixels
    assert refused(png_bytes()) == "image_too_large"


def test_truncated_images_are_never_tolerated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        inspect(jpeg_bytes())


def test_a_pdf_with_a_javascript_open_action_is_refused() -> None:
    assert refused(pdf_bytes(open_action=javascript_action())) == "pdf_active_content"


def test_a_pdf_with_document_javascript_is_refused() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    scripts = DictionaryObject(
        {
            NameObject("/Names"): ArrayObject(
                [TextStringObject("startup"), writer._add_object(javascript_action())]
            )
        }
    )
    writer.root_object[NameObject("/Names")] = DictionaryObject(
        {NameObject("/JavaScript"): writer._add_object(scripts)}
    )
    out = io.BytesIO()
    writer.write(out)
    assert refused(out.getvalue()) == "pdf_active_content"


def test_javascript_hidden_in_a_compressed_object_stream_is_refused() -> None:
    harmless = pdf_with_object_stream(b"<< /S /URI /URI (https://example.jp/) >>")
    assert inspect(harmless).pages == 1
    hidden = pdf_with_object_stream(b"<< /S /JavaScript /JS (app.alert(1)) >>")
    assert b"JavaScript" not in hidden
    assert refused(hidden) == "pdf_active_content"


@pytest.mark.parametrize(
    "name",
    [b"/J#61vaScript", b"/#4A#53", b"/Launch", b"/EmbeddedFile", b"/RichMedia", b"/XFA"],
)
def test_active_names_are_found_in_the_raw_bytes_also_when_hex_escaped(name: bytes) -> None:
    placeholder = b"/" + b"Z" * (len(name) - 1)
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.root_object[NameObject("/PieceInfo")] = NameObject(placeholder.decode())
    out = io.BytesIO()
    writer.write(out)
    data = out.getvalue().replace(placeholder, name)  # same length: offsets stay right
    assert name in data
    assert refused(data) == "pdf_active_content"


def test_short_names_by_chance_inside_binary_stream_data_are_not_active_content() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    blob = StreamObject()
    blob.set_data(b"\x8f\x00/JS \x13\x37/AA\n\xfe/EF(\x01")  # like compressed image data
    writer.root_object[NameObject("/PieceInfo")] = writer._add_object(blob)
    out = io.BytesIO()
    writer.write(out)
    assert b"/JS " in out.getvalue()
    assert inspect(out.getvalue()).pages == 1


def test_an_additional_actions_dictionary_is_refused() -> None:
    action = DictionaryObject({NameObject("/O"): javascript_action()})
    writer = PdfWriter()
    page = writer.add_blank_page(width=200, height=200)
    page[NameObject("/AA")] = action
    out = io.BytesIO()
    writer.write(out)
    assert refused(out.getvalue()) == "pdf_active_content"


def test_an_encrypted_pdf_is_refused() -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    assert refused(out.getvalue()) == "pdf_encrypted"


def test_a_pdf_of_more_than_twenty_pages_is_refused() -> None:
    assert inspect(pdf_bytes(pages=20)).pages == 20
    assert refused(pdf_bytes(pages=21)) == "pdf_too_many_pages"


def test_a_truncated_pdf_and_one_with_data_appended_are_refused() -> None:
    data = pdf_bytes()
    assert refused(data[: len(data) // 2]) == "corrupt_file"
    assert refused(data + b"<html><script>x</script></html>") == "trailing_data"
    assert refused(b"%PDF-1.7\nnot really a pdf\n%%EOF\n") == "corrupt_file"


def test_more_than_the_limit_is_refused_even_as_bytes() -> None:
    assert refused(b"\xff\xd8\xff" + b"\x00" * MAX_UPLOAD_BYTES) == "file_too_large"


# --- streaming ---------------------------------------------------------------------------


async def chunks_of(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        chunk = b"\x00" * min(size, total - sent)
        sent += len(chunk)
        yield chunk


async def test_limit_plus_one_byte_is_refused_while_streaming() -> None:
    with pytest.raises(UploadRefused) as caught:
        await read_limited(chunks_of(MAX_UPLOAD_BYTES + 1))
    assert caught.value.code == "file_too_large"
    assert caught.value.status == 413


async def test_exactly_the_limit_is_read() -> None:
    assert len(await read_limited(chunks_of(MAX_UPLOAD_BYTES))) == MAX_UPLOAD_BYTES


async def test_an_endless_body_is_cut_at_the_limit() -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 10

    with pytest.raises(UploadRefused):
        await read_limited(endless(), limit=95)
    assert pulled == 10


# --- malware scanner ---------------------------------------------------------------------


def test_the_eicar_test_file_is_refused_by_the_fake_scanner() -> None:
    scanner = EicarFakeScanner()
    assert scanner.scan(EICAR_TEST_STRING) == ScanResult(False, "Eicar-Test-Signature")
    with pytest.raises(UploadRefused) as caught:
        require_clean(scanner, jpeg_bytes() + EICAR_TEST_STRING)
    assert caught.value.code == "malware_detected"


def test_a_clean_file_passes_the_fake_scanner() -> None:
    data = jpeg_bytes()
    assert EicarFakeScanner().scan(data) == ScanResult(clean=True, signature=None)
    require_clean(EicarFakeScanner(), data)


# --- display names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\免許証.jpg", "免許証.jpg"),
        ("C:\\Users\\山田\\Desktop\\住民票.pdf", "住民票.pdf"),
        ("passport\x00.php.jpg", "passport.php.jpg"),
        ("line\r\nbreak.png", "linebreak.png"),
        ("evil\u202egpj.exe", "evilgpj.exe"),
        ("..", "document"),
        ("../", "document"),
        (".hidden.pdf", "hidden.pdf"),
        ("   ", "document"),
        ("", "document"),
        (None, "document"),
        ("\u30cf\u309a\u30b9\u30db\u309a\u30fc\u30c8.jpg", "パスポート.jpg"),
    ],
)
def test_safe_filename(name: str | None, expected: str) -> None:
    assert safe_filename(name) == expected


def test_a_300_character_name_is_cut_to_100_keeping_the_extension() -> None:
    name = "あ" * 296 + ".pdf"
    safe = safe_filename(name)
    assert len(safe) == 100
    assert safe == "あ" * 96 + ".pdf"
    assert len(safe_filename("x" * 300)) == 100


def test_the_refusal_codes_all_have_japanese_messages() -> None:
    for code, message in uploads.MESSAGES_JA.items():
        assert UploadRefused(code).message_ja == message
        assert code.islower()
