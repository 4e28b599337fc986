"""Images (JPEG, PNG, HEIC): the structure checked from the headers before any pixel is
decoded, then a full decode and a re-encode from the pixels (no metadata survives; the EXIF
orientation is applied first; HEIC is stored as JPEG)."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from typing import Final

import pi_heif
from PIL import Image, ImageFile, ImageOps

from pbx_kyc.uploads.limits import MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, MAX_JPEG_SCANS
from pbx_kyc.uploads.refusals import Inspected, Kind, UploadRefused

# process-wide: Pillow opens HEIF as format "HEIF". pi-heif is pillow-heif's decode-only
# build (BSD-3-Clause, libheif + libde265 under LGPL, no GPL x265 encoder): HEIC is only
# ever read here, and stored as JPEG
pi_heif.register_heif_opener()

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
JPEG_QUALITY: Final = 90


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


def inspect_image(data: bytes, kind: Kind) -> Inspected:
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
