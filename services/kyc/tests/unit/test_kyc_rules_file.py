"""Reading rules.json with pydantic: the shipped file as before, a malformed entry named by path."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from importlib import resources

import pytest

from pbx_kyc.domain.rules import RuleDataError
from pbx_kyc.rules_file import parse_rule_sets, rule_sets

#: the canonical form of what the hand-written reader (before the pydantic one) produced from
#: the shipped file; a change to rules.json changes it on purpose
SHIPPED_DIGEST = "0719c150310dc3fb2690bf9fbf668ea112b677d2df48ba0988e8174ace5944ac"


def _canonical(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, frozenset | set):
        return sorted((_canonical(item) for item in value), key=repr)
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in sorted(value.items())}
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else value


def _shipped() -> dict[str, object]:
    text = resources.files("pbx_kyc").joinpath("data/rules.json").read_text(encoding="utf-8")
    data: dict[str, object] = json.loads(text)
    return data


def test_the_shipped_file_loads_to_what_the_hand_written_reader_produced() -> None:
    canonical = json.dumps(_canonical(rule_sets()), ensure_ascii=False, sort_keys=True)
    assert hashlib.sha256(canonical.encode()).hexdigest() == SHIPPED_DIGEST


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (
            ["rule_sets", 0, "documents", "drivers_licence"],
            {"requires_expiry": True},
            "rule_sets[0].documents.drivers_licence: unknown document type",
        ),
        (
            ["rule_sets", 1, "effective_from"],
            "2024-13-01",
            "rule_sets[1].effective_from: expected a date YYYY-MM-DD",
        ),
        (
            ["rule_sets", 2, "corporate", "registry_document"],
            None,
            "rule_sets[2].corporate.registry_document: is required",
        ),
    ],
)
def test_a_malformed_file_is_refused_naming_the_bad_entry(
    path: list[str | int], value: object, named: str
) -> None:
    data = _shipped()
    target: object = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    if value is None:
        del target[path[-1]]  # type: ignore[attr-defined]
    else:
        target[path[-1]] = value  # type: ignore[index]
    with pytest.raises(RuleDataError, match=re.escape(named)):
        parse_rule_sets(json.dumps(data, ensure_ascii=False))
