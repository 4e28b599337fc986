"""Reading the word lists shipped in ``data/`` (the only I/O of the validation package)."""

from __future__ import annotations

from functools import cache
from importlib import resources


@cache
def data_entries(file_name: str) -> frozenset[str]:
    """Return the lower-cased entries of a shipped list: one per line, ``#`` starts a comment."""
    data_dir = resources.files("pbx_identity.validation").joinpath("data")
    text = data_dir.joinpath(file_name).read_text(encoding="utf-8")
    return frozenset(
        entry.lower() for line in text.splitlines() if (entry := line.split("#", 1)[0].strip())
    )
