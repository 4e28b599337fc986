"""The malware-scanner port for uploads, and a fake that knows only the EICAR test file.

``Scanner`` is the port: the upload handler scans the bytes as received
(before ``pbx_kyc.uploads.inspect`` re-encodes them) and refuses the upload
when the result is not clean (``require_clean``). ``EicarFakeScanner`` is for
tests and development. A real scanner (ClamAV's clamd, over its socket with
INSTREAM) plugs in behind the same port as another class with a ``scan``
method; the service takes the scanner as a dependency and never names the
implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from pbx_kyc.uploads import UploadRefused

#: the EICAR anti-virus test string, assembled from two halves so that this
#: source file is not itself quarantined by a scanner on a developer's machine
EICAR_TEST_STRING: Final = (
    rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$" + rb"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
)
EICAR_SIGNATURE: Final = "Eicar-Test-Signature"


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The verdict on one upload; ``signature`` names what was found."""

    clean: bool
    signature: str | None = None


class Scanner(Protocol):
    """Scans an upload's bytes for malware."""

    def scan(self, data: bytes) -> ScanResult: ...


class EicarFakeScanner:
    """Flags content containing the EICAR test string anywhere; everything else is clean."""

    def scan(self, data: bytes) -> ScanResult:
        if EICAR_TEST_STRING in data:
            return ScanResult(clean=False, signature=EICAR_SIGNATURE)
        return ScanResult(clean=True)


def require_clean(scanner: Scanner, data: bytes) -> None:
    """Raise ``UploadRefused("malware_detected")`` unless the scanner finds the data clean."""
    result = scanner.scan(data)
    if not result.clean:
        raise UploadRefused("malware_detected", detail=f"signature {result.signature}")
