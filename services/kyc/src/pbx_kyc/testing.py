"""Test support shipped with the package (like ``pbx_kit.testing``): kyc's own tests and
the contract tests build their upload images here instead of a copy each (issue 11)."""

from __future__ import annotations

import io


def jpeg(color: str = "#336699", size: tuple[int, int] = (64, 40)) -> bytes:
    """A small, valid JPEG of one colour (what a customer's upload looks like to kyc)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()
