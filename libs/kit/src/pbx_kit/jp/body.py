"""Reading an untrusted JSON body by a field table, collecting errors instead of raising.

A field's rule, length and label are read from its pydantic declaration (the address
fields in ``pbx_kit.jp.fields``, identity's registration in its ``schema.py``): its
``Read`` marker, its ``max_length`` and its ``title``. The same declaration feeds the
OpenAPI document, so what is documented is what is enforced.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, get_args, get_origin

from annotated_types import MaxLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .errors import FieldError, RuleViolation

T = TypeVar("T")


@dataclass(frozen=True)
class Read:
    """How the reader takes one text field; kept in the field's metadata.

    ``check`` normalises the trimmed text or raises RuleViolation (its code and message
    are the field's). ``length_in_check``: the check itself refuses an over-long value
    with its own code, so the generic ``too_long`` is not applied.
    """

    check: Callable[[str], object] | None = None
    free_text: bool = False  # control characters are refused; otherwise kept as typed
    trim: bool = True
    select: bool = False  # chosen from a list: 「選択してください」
    length_in_check: bool = False


_PLAIN = Read()


def _metadata(info: FieldInfo) -> list[object]:
    """The field's metadata, including that of an ``Annotated[...] | None`` member."""
    found: list[object] = list(info.metadata)
    for member in get_args(info.annotation):
        if get_origin(member) is Annotated:
            for meta in member.__metadata__:
                found.extend(meta.metadata if isinstance(meta, FieldInfo) else [meta])
    return found


def read_spec(info: FieldInfo) -> Read:
    """The field's ``Read`` marker (a plain trimmed text when it has none)."""
    return next((m for m in _metadata(info) if isinstance(m, Read)), _PLAIN)


def max_length_of(info: FieldInfo) -> int | None:
    """The field's documented (and enforced) ``max_length``."""
    return next((m.max_length for m in _metadata(info) if isinstance(m, MaxLen)), None)


def title_of(model: type[BaseModel], key: str) -> str:
    """The Japanese label of a model's field (its title), for messages."""
    return model.model_fields[key].title or key


class BodyReader:
    """Reads fields of a JSON body; every problem becomes a FieldError, nothing raises."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, path: str, code: str, message: str) -> None:
        self.errors.append(FieldError(path, code, message))

    def required(self, path: str, label: str, *, select: bool = False) -> None:
        verb = "選択" if select else "入力"
        self.fail(path, "required", f"{label}を{verb}してください。")

    def invalid_type(self, path: str, label: str) -> None:
        self.fail(path, "invalid_type", f"{label}の形式が正しくありません。")

    def obj(
        self, parent: Mapping[str, Any], key: str, path: str, label: str
    ) -> Mapping[str, Any] | None:
        """Return a required JSON object, or record ``required``/``invalid_type``."""
        value = parent.get(key)
        if value is None:
            self.required(path, label)
            return None
        if not isinstance(value, Mapping):
            self.invalid_type(path, label)
            return None
        return value

    def text(
        self,
        parent: Mapping[str, Any],
        key: str,
        path: str,
        label: str,
        *,
        required: bool = True,
        trim: bool = True,
        select: bool = False,
        max_length: int | None = None,
    ) -> str | None:
        """Return a (trimmed) string; None when absent, blank or broken (then maybe recorded)."""
        value = parent.get(key)
        if value is not None and not isinstance(value, str):
            self.invalid_type(path, label)
            return None
        text = (value.strip() if trim else value) if value is not None else ""
        if not text:
            if required:
                self.required(path, label, select=select)
            return None
        if max_length is not None and len(text) > max_length:
            self.fail(path, "too_long", f"{label}は{max_length}文字以内で入力してください。")
            return None
        return text

    def field(
        self,
        parent: Mapping[str, Any],
        key: str,
        path: str,
        label: str,
        info: FieldInfo,
        *,
        required: bool,
    ) -> object | None:
        """Read one text field by its declaration: type, blank, length, characters, rule."""
        spec = read_spec(info)
        max_length = None if spec.length_in_check else max_length_of(info)
        text = self.text(
            parent,
            key,
            path,
            label,
            required=required,
            trim=spec.trim,
            select=spec.select,
            max_length=max_length,
        )
        if text is None:
            return None
        if spec.free_text and any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
            self.fail(path, "invalid_characters", f"{label}に使用できない文字が含まれています。")
            return None
        return text if spec.check is None else self.rule(path, spec.check, text)

    def section(
        self,
        raw: Mapping[str, Any],
        model: type[BaseModel],
        section: str,
        *,
        prefix: str = "",
        all_required: bool = False,
    ) -> dict[str, Any]:
        """Read every text field a section model declares; a broken or absent one is None.

        ``section`` is the section's path ("" for fields at the top of the body);
        ``prefix`` goes before each label (「使用担当者の」); ``all_required`` makes the
        fields a "different from the contractor" section must have required.
        """
        values: dict[str, Any] = {}
        for key, info in model.model_fields.items():
            if not any(isinstance(m, Read) for m in _metadata(info)):
                continue  # not a text field (e.g. same_as_contractor): the caller reads it
            label = prefix + (info.title or key)
            required = all_required or info.is_required()
            path = f"{section}.{key}" if section else key
            values[key] = self.field(raw, key, path, label, info, required=required)
        return values

    def check(self, path: str, check: Callable[[str], None], value: str) -> bool:
        """Apply a yes/no rule to a value; False (and a recorded violation) when it fails."""
        try:
            check(value)
        except RuleViolation as violation:
            self.fail(path, violation.code, violation.message)
            return False
        return True

    def rule(self, path: str, check: Callable[[str], T], value: str | None) -> T | None:
        """Apply a single-field rule to a present value, recording its violation."""
        if value is None:
            return None
        try:
            return check(value)
        except RuleViolation as violation:
            self.fail(path, violation.code, violation.message)
            return None
