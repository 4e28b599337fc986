"""Licences: the project's own packages declare the proprietary licence (LICENSE at the
root), and nothing installed in the venv is under a GNU copyleft licence only (GPL,
AGPL, LGPL), except the packages allowed below, each with its reason.

What a distribution declares is read from its metadata: the PEP 639 License-Expression
when there is one (a GNU licence is fine when an ``OR`` alternative is not GNU, e.g.
dual licensing), else the License field and the ``License ::`` classifiers, any of which
naming a GNU licence counts (without an expression "and" cannot be told from "or").
The metadata does not describe native libraries bundled inside wheels; those were
checked by hand where it mattered (pi-heif, below).
"""

from __future__ import annotations

import importlib.metadata
import re

OWN_LICENCE = "LicenseRef-Proprietary"
OWN_PACKAGES = frozenset(
    {"pbx-events", "pbx-kit", "pbx-identity", "pbx-catalog", "pbx-wallet", "pbx-kyc", "pbx-cli"}
)

#: installed packages that declare a GNU licence, allowed: the reason for each
ALLOWED_GNU: dict[str, str] = {
    # PostgreSQL driver for eventsourcing (psycopg 3), LGPL-3.0-only: used unmodified as a
    # library, installed as its own package (replaceable by the user), which LGPL allows
    # for proprietary programs; the project ships no modified copy
    "psycopg": "LGPL-3.0-only, used as an unmodified, separately installed library",
    # psycopg's C speed-ups and bundled libpq (PostgreSQL licence): same terms as psycopg
    "psycopg-binary": "LGPL-3.0-only, psycopg's optional binary part, same as psycopg",
    # psycopg's connection pool (eventsourcing's PostgresDatastore uses it): same terms
    "psycopg-pool": "LGPL-3.0-only, used as an unmodified, separately installed library",
    # HEIC decoding for kyc: its own code is BSD-3-Clause (License field); the classifier
    # says LGPLv3 because the wheel bundles libheif and libde265 (LGPL-3.0) as shared
    # objects in pi_heif.libs, loaded dynamically (replaceable). It is pillow-heif's
    # decode-only build: no x265 (GPL) encoder inside, checked in the wheel (2026-12)
    "pi-heif": "BSD-3-Clause code; bundled LGPL libheif/libde265 as shared libraries",
}

_GNU = re.compile(r"\b(?:A|L)?GPL|General Public License", re.IGNORECASE)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed() -> dict[str, importlib.metadata.PackageMetadata]:
    return {_canonical(d.metadata["Name"]): d.metadata for d in importlib.metadata.distributions()}


def _gnu_only(metadata: importlib.metadata.PackageMetadata) -> str | None:
    """What makes the distribution GNU-licensed only, or None."""
    expression = metadata.get("License-Expression")
    if expression:
        alternatives = re.split(r"\s+OR\s+", expression.strip("() "), flags=re.IGNORECASE)
        if all(_GNU.search(alternative) for alternative in alternatives):
            return f"License-Expression: {expression}"
        return None
    declared = [f"License: {metadata.get('License') or ''}"]
    declared += [c for c in metadata.get_all("Classifier") or [] if c.startswith("License ::")]
    named = [text for text in declared if _GNU.search(text)]
    return "; ".join(named) if named else None


def test_no_installed_package_is_under_a_gnu_licence_only_unless_allowed() -> None:
    gnu = {name: why for name, md in _installed().items() if (why := _gnu_only(md)) is not None}
    refused = {name: why for name, why in gnu.items() if name not in ALLOWED_GNU}
    assert not refused, f"GNU-licensed packages installed (not in ALLOWED_GNU): {refused}"
    # the allow-list stays honest: each entry is installed and does declare a GNU licence
    stale = sorted(set(ALLOWED_GNU) - set(gnu))
    assert not stale, f"ALLOWED_GNU names packages not installed or not GNU-licensed: {stale}"


def test_the_own_packages_declare_the_proprietary_licence() -> None:
    installed = _installed()
    for name in sorted(OWN_PACKAGES):
        assert name in installed, f"{name} is not installed in the venv"
        declared = installed[name].get("License-Expression")
        assert declared == OWN_LICENCE, f"{name} declares {declared!r}, not {OWN_LICENCE}"


def test_the_gnu_check_reads_expressions_fields_and_classifiers() -> None:
    from email.message import Message

    def metadata(**fields: str | list[str]) -> importlib.metadata.PackageMetadata:
        message = Message()
        for key, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                message[key.replace("_", "-")] = item
        return message  # type: ignore[return-value]

    assert _gnu_only(metadata(License_Expression="GPL-3.0-or-later"))
    assert _gnu_only(metadata(License_Expression="AGPL-3.0-only"))
    assert _gnu_only(metadata(License_Expression="LGPL-2.1-only OR GPL-3.0-only"))
    assert _gnu_only(metadata(License_Expression="MIT AND LGPL-3.0-only"))
    assert not _gnu_only(metadata(License_Expression="GPL-2.0-only OR MIT"))  # dual
    assert not _gnu_only(metadata(License_Expression="Apache-2.0 OR BSD-3-Clause"))
    assert _gnu_only(metadata(License="GNU GPL v2"))
    gpl_classifier = "License :: OSI Approved :: GNU General Public License v3 (GPLv3)"
    assert _gnu_only(metadata(License="BSD", Classifier=[gpl_classifier]))
    assert not _gnu_only(metadata(License="MIT", Classifier=["License :: OSI Approved"]))
