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

One module per concern: ``limits`` (the limits, streaming), ``identification`` (by
content, then the check for the kind), ``images`` (header checks, decode, re-encode),
``pdf`` (parse, active content), ``filenames`` (display names), ``refusals`` (the answers).
"""

from __future__ import annotations

from pbx_kyc.uploads.filenames import FALLBACK_FILENAME, MAX_FILENAME_CHARS, safe_filename
from pbx_kyc.uploads.identification import (
    GENERIC_MEDIA_TYPES,
    HEIC_BRANDS,
    MEDIA_TYPES,
    inspect,
)
from pbx_kyc.uploads.images import JPEG_QUALITY, PILLOW_FORMATS, PNG_SIGNATURE
from pbx_kyc.uploads.limits import (
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    MAX_JPEG_SCANS,
    MAX_PDF_PAGES,
    MAX_UPLOAD_BYTES,
    read_limited,
)
from pbx_kyc.uploads.pdf import PDF_ACTIVE_NAMES
from pbx_kyc.uploads.refusals import (
    HTTP_STATUS,
    MESSAGES_JA,
    Inspected,
    Kind,
    RefusalCode,
    UploadRefused,
)

__all__ = [
    "FALLBACK_FILENAME",
    "GENERIC_MEDIA_TYPES",
    "HEIC_BRANDS",
    "HTTP_STATUS",
    "JPEG_QUALITY",
    "MAX_FILENAME_CHARS",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "MAX_JPEG_SCANS",
    "MAX_PDF_PAGES",
    "MAX_UPLOAD_BYTES",
    "MEDIA_TYPES",
    "MESSAGES_JA",
    "PDF_ACTIVE_NAMES",
    "PILLOW_FORMATS",
    "PNG_SIGNATURE",
    "Inspected",
    "Kind",
    "RefusalCode",
    "UploadRefused",
    "inspect",
    "read_limited",
    "safe_filename",
]
