"""Product images, drawn as small SVGs from the product's shape and colour (no downloads)."""

from __future__ import annotations

from html import escape

_SHAPES = {
    "phone": (
        '<rect x="14" y="30" width="68" height="46" rx="6" fill="{c}"/>'
        '<rect x="22" y="36" width="30" height="14" rx="2" fill="#dfe9f3"/>'
        '<path d="M10 26 q38 -22 76 0 l-6 10 q-32 -16 -64 0 z" fill="{c}"/>'
        + "".join(
            f'<circle cx="{62 + 7 * (i % 3)}" cy="{40 + 7 * (i // 3)}" r="2.4" fill="#fff"/>'
            for i in range(9)
        )
    ),
    "adapter": (
        '<rect x="16" y="34" width="64" height="34" rx="5" fill="{c}"/>'
        '<rect x="24" y="58" width="10" height="6" fill="#fff"/><rect x="40" y="58" width="10" '
        'height="6" fill="#fff"/><circle cx="70" cy="44" r="3" fill="#7CFC00"/>'
    ),
    "router": (
        '<rect x="12" y="44" width="72" height="26" rx="4" fill="{c}"/>'
        '<line x1="28" y1="44" x2="22" y2="18" stroke="{c}" stroke-width="4"/>'
        '<line x1="68" y1="44" x2="74" y2="18" stroke="{c}" stroke-width="4"/>'
        + "".join(
            f'<rect x="{20 + 12 * i}" y="60" width="8" height="6" fill="#fff"/>' for i in range(5)
        )
    ),
    "headset": (
        '<path d="M20 56 v-10 a28 28 0 0 1 56 0 v10" fill="none" stroke="{c}" stroke-width="6"/>'
        '<rect x="12" y="50" width="16" height="24" rx="6" fill="{c}"/>'
        '<rect x="68" y="50" width="16" height="24" rx="6" fill="{c}"/>'
        '<path d="M24 74 q10 12 26 8" fill="none" stroke="{c}" stroke-width="3"/>'
    ),
    "number": (
        '<rect x="12" y="22" width="72" height="52" rx="8" fill="{c}"/>'
        '<text x="48" y="56" font-size="24" text-anchor="middle" fill="#fff" '
        'font-family="sans-serif">TEL</text>'
    ),
    "box": (
        '<path d="M16 34 l32 -14 l32 14 v36 l-32 14 l-32 -14 z" fill="{c}"/>'
        '<path d="M16 34 l32 14 l32 -14 M48 48 v36" fill="none" stroke="#fff" stroke-width="2"/>'
    ),
    "truck": (
        '<rect x="10" y="32" width="46" height="32" fill="{c}"/>'
        '<path d="M56 42 h16 l12 12 v10 h-28 z" fill="{c}"/>'
        '<circle cx="26" cy="68" r="7" fill="#333"/><circle cx="70" cy="68" r="7" fill="#333"/>'
    ),
    "cancel": (
        '<circle cx="48" cy="48" r="30" fill="none" stroke="{c}" stroke-width="8"/>'
        '<line x1="27" y1="69" x2="69" y2="27" stroke="{c}" stroke-width="8"/>'
    ),
}


def product_svg(shape: str, color: str, label: str) -> str:
    """A 96×96 icon: the product kind in its colour, with the product name as its title."""
    body = _SHAPES.get(shape, _SHAPES["box"]).replace("{c}", escape(color, quote=True))
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96" '
        f'role="img"><title>{escape(label)}</title>'
        f'<rect width="96" height="96" fill="#f6f8fa"/>{body}</svg>'
    )
