"""The customer's file name made safe to display (the stored name is server-made)."""

from __future__ import annotations

import unicodedata
from typing import Final

FALLBACK_FILENAME: Final = "document"
MAX_FILENAME_CHARS: Final = 100

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
