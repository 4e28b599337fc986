"""Loading the rule sets from ``rules.json`` (checked: a bad entry is named), and picking one."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from importlib import resources

from pbx_kyc.domain.documents import DOCUMENT_NAMES
from pbx_kyc.domain.rules.model import (
    CONTRACTOR_TYPES,
    MESSAGE_CODES,
    PLACEHOLDERS,
    SIDE_NAMES,
    ApplicantFact,
    ApplicantRequirement,
    CorporateRules,
    DocumentRule,
    IndividualRules,
    Message,
    NoRuleSetError,
    Role,
    RuleDataError,
    RuleSet,
    Withdrawal,
)

_RULES_RESOURCE = "data/rules.json"


# --- loading ------------------------------------------------------------------------------


def parse_rule_sets(text: str) -> tuple[RuleSet, ...]:
    """Parse and check rule data (the format of ``rules.json``), oldest version first."""
    try:
        raw: object = json.loads(text)
    except json.JSONDecodeError as error:
        raise RuleDataError(f"rules: not JSON ({error})") from error
    top = _Obj(raw, "rules")
    top.only("format", "note", "messages", "rule_sets")
    if top.integer("format") != 1:
        raise RuleDataError("rules: unknown format")
    messages = top.obj("messages").str_map()
    sets = tuple(
        _rule_set(_Obj(item, f"rule_sets[{index}]"), messages)
        for index, item in enumerate(top.items("rule_sets"))
    )
    if not sets:
        raise RuleDataError("rules: no rule set")
    if len({rule_set.version for rule_set in sets}) != len(sets):
        raise RuleDataError("rules: duplicate version")
    if len({rule_set.effective_from for rule_set in sets}) != len(sets):
        raise RuleDataError("rules: two versions take effect on the same day")
    return tuple(sorted(sets, key=lambda rule_set: rule_set.effective_from))


@functools.cache
def rule_sets() -> tuple[RuleSet, ...]:
    """The packaged rule sets, oldest first (loaded once)."""
    text = resources.files("pbx_kyc").joinpath(_RULES_RESOURCE).read_text(encoding="utf-8")
    return parse_rule_sets(text)


def rule_set_for(on: date, available: Sequence[RuleSet] | None = None) -> RuleSet:
    """The rule set in effect on ``on``: the latest one whose ``effective_from`` is not after it."""
    candidates = [
        rule_set for rule_set in (available or rule_sets()) if rule_set.effective_from <= on
    ]
    if not candidates:
        raise NoRuleSetError(f"no screening rule set is in effect on {on.isoformat()}")
    return max(candidates, key=lambda rule_set: rule_set.effective_from)


class _Obj:
    """A JSON object being read, with its path for error messages."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise RuleDataError(f"{where}: expected an object")
        self.where = where
        self.values: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise RuleDataError(f"{where}: keys must be strings")
            self.values[key] = item

    def only(self, *keys: str) -> None:
        unknown = sorted(set(self.values) - set(keys))
        if unknown:
            raise RuleDataError(f"{self.where}: unknown keys {unknown}")

    def _get(self, key: str) -> object:
        if key not in self.values:
            raise RuleDataError(f"{self.where}: {key} is required")
        return self.values[key]

    def string(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise RuleDataError(f"{self.where}.{key}: expected a non-empty string")
        return value

    def integer(self, key: str) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RuleDataError(f"{self.where}.{key}: expected an integer")
        return value

    def optional_positive_integer(self, key: str) -> int | None:
        if key not in self.values:
            return None
        value = self.integer(key)
        if value < 1:
            raise RuleDataError(f"{self.where}.{key}: expected a positive integer")
        return value

    def flag(self, key: str) -> bool:
        value = self.values.get(key, False)
        if not isinstance(value, bool):
            raise RuleDataError(f"{self.where}.{key}: expected true or false")
        return value

    def day(self, key: str) -> date:
        text = self.string(key)
        try:
            return date.fromisoformat(text)
        except ValueError as error:
            raise RuleDataError(f"{self.where}.{key}: expected a date YYYY-MM-DD") from error

    def optional_day(self, key: str) -> date | None:
        return self.day(key) if key in self.values else None

    def items(self, key: str, default: list[object] | None = None) -> list[object]:
        value = self.values.get(key, default) if default is not None else self._get(key)
        if not isinstance(value, list):
            raise RuleDataError(f"{self.where}.{key}: expected a list")
        return [item for item in value]

    def strings(self, key: str, default: list[object] | None = None) -> tuple[str, ...]:
        result: list[str] = []
        for item in self.items(key, default):
            if not isinstance(item, str) or not item:
                raise RuleDataError(f"{self.where}.{key}: expected strings")
            result.append(item)
        if len(set(result)) != len(result):
            raise RuleDataError(f"{self.where}.{key}: duplicate entries")
        return tuple(result)

    def obj(self, key: str) -> _Obj:
        return _Obj(self._get(key), f"{self.where}.{key}")

    def optional_obj(self, key: str) -> _Obj | None:
        return self.obj(key) if key in self.values else None

    def str_map(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for key, value in self.values.items():
            if not isinstance(value, str) or not value:
                raise RuleDataError(f"{self.where}.{key}: expected a non-empty string")
            result[key] = value
        return result

    def obj_map(self) -> dict[str, _Obj]:
        return {key: _Obj(value, f"{self.where}.{key}") for key, value in self.values.items()}


def _template(text: str, where: str) -> str:
    sample = dict.fromkeys(PLACEHOLDERS, "x")
    try:
        text.format_map(sample)
    except (KeyError, ValueError, IndexError) as error:
        raise RuleDataError(f"{where}: bad message template ({error!r})") from error
    return text


def _message(obj: _Obj) -> Message:
    obj.only("code", "message_ja")
    return Message(obj.string("code"), _template(obj.string("message_ja"), obj.where))


def _document_rule(document_type: str, obj: _Obj) -> DocumentRule:
    obj.only(
        "sides",
        "refused_sides",
        "required_sides",
        "requires_expiry",
        "requires_issue_date",
        "max_age_months",
        "expired_after",
        "needs_address_document_if_issued_on_or_after",
    )
    if document_type not in DOCUMENT_NAMES:
        raise RuleDataError(f"{obj.where}: unknown document type")
    sides = frozenset(obj.strings("sides", []))
    refused_obj = obj.optional_obj("refused_sides")
    refused = {} if refused_obj is None else refused_obj.obj_map()
    required_obj = obj.optional_obj("required_sides")
    required: dict[str, tuple[str, ...]] = {}
    if required_obj is not None:
        for role in required_obj.values:
            if role not in ("individual", "representative"):
                raise RuleDataError(f"{required_obj.where}: unknown role {role}")
            required[role] = required_obj.strings(role)
    for role, role_sides in required.items():
        if not role_sides or not set(role_sides) <= sides:
            raise RuleDataError(f"{obj.where}.required_sides.{role}: not among the sides")
    if set(refused) & sides or set(sides | set(refused)) - set(SIDE_NAMES):
        raise RuleDataError(f"{obj.where}: sides must be front/back, refused ones not allowed")
    withdrawal_obj = obj.optional_obj("expired_after")
    withdrawal = None
    if withdrawal_obj is not None:
        withdrawal_obj.only("expired_after", "code", "message_ja")
        withdrawal = Withdrawal(
            withdrawal_obj.day("expired_after"),
            withdrawal_obj.string("code"),
            _template(withdrawal_obj.string("message_ja"), withdrawal_obj.where),
        )
    rule = DocumentRule(
        document_type=document_type,
        sides=sides,
        refused_sides={side: _message(item) for side, item in refused.items()},
        required_sides=required,
        requires_expiry=obj.flag("requires_expiry"),
        requires_issue_date=obj.flag("requires_issue_date"),
        max_age_months=obj.optional_positive_integer("max_age_months"),
        expired_after=withdrawal,
        needs_address_document_if_issued_on_or_after=obj.optional_day(
            "needs_address_document_if_issued_on_or_after"
        ),
    )
    needs_issue_date = (
        rule.max_age_months is not None
        or rule.needs_address_document_if_issued_on_or_after is not None
    )
    if needs_issue_date and not rule.requires_issue_date:
        raise RuleDataError(f"{obj.where}: an age or address rule needs requires_issue_date")
    return rule


def _requirement(obj: _Obj) -> ApplicantRequirement:
    obj.only("fact", "accepted", "code", "message_ja", "by_value")
    fact = obj.string("fact")
    if fact == "email_domain_class":
        checked: ApplicantFact = "email_domain_class"
    elif fact == "screening_phone_is_fixed_line":
        checked = "screening_phone_is_fixed_line"
    elif fact == "has_public_notice":
        checked = "has_public_notice"
    else:
        raise RuleDataError(f"{obj.where}.fact: unknown applicant fact {fact}")
    accepted: set[str | bool] = set()
    for item in obj.items("accepted"):
        if not isinstance(item, str | bool):
            raise RuleDataError(f"{obj.where}.accepted: expected strings or booleans")
        accepted.add(item)
    by_value_obj = obj.optional_obj("by_value")
    by_value = {} if by_value_obj is None else by_value_obj.obj_map()
    return ApplicantRequirement(
        fact=checked,
        accepted=frozenset(accepted),
        code=obj.string("code"),
        message_ja=_template(obj.string("message_ja"), obj.where),
        by_value={value: _message(item) for value, item in by_value.items()},
    )


def _rule_set(obj: _Obj, shared_messages: Mapping[str, str]) -> RuleSet:
    obj.only(
        "version",
        "effective_from",
        "note",
        "counted_statuses",
        "refused_types",
        "documents",
        "individual",
        "corporate",
        "messages",
    )
    own_messages = obj.optional_obj("messages")
    messages = {**shared_messages, **({} if own_messages is None else own_messages.str_map())}
    absent = sorted(MESSAGE_CODES - set(messages))
    if absent:
        raise RuleDataError(f"{obj.where}: messages missing for {absent}")
    for code, text in messages.items():
        _template(text, f"{obj.where}.messages.{code}")
    documents = {
        document_type: _document_rule(document_type, item)
        for document_type, item in obj.obj("documents").obj_map().items()
    }

    def known(types: Iterable[str], where: str) -> None:
        unknown = sorted(set(types) - set(documents))
        if unknown:
            raise RuleDataError(f"{obj.where}.{where}: no document rule for {unknown}")

    def card_sides_for(types: Iterable[str], role: Role, where: str) -> None:
        for document_type in types:
            rule = documents[document_type]
            if rule.sides and not rule.sides_for(role):
                raise RuleDataError(f"{obj.where}.{where}: {document_type} has no {role} sides")

    ind = obj.obj("individual")
    ind.only(
        "contractor_types",
        "one_document_ids",
        "supporting_documents",
        "supporting_documents_needed",
        "address_documents",
    )
    individual = IndividualRules(
        contractor_types=frozenset(ind.strings("contractor_types")),
        one_document_ids=ind.strings("one_document_ids"),
        supporting_documents=ind.strings("supporting_documents"),
        supporting_documents_needed=ind.integer("supporting_documents_needed"),
        address_documents=ind.strings("address_documents", []),
    )
    individual_types = (
        individual.one_document_ids + individual.supporting_documents + individual.address_documents
    )
    known(individual_types, "individual")
    card_sides_for(individual_types, "individual", "individual")
    if not 1 <= individual.supporting_documents_needed <= len(individual.supporting_documents):
        raise RuleDataError(f"{ind.where}.supporting_documents_needed: out of range")

    corp = obj.obj("corporate")
    corp.only(
        "contractor_types", "registry_document", "representative_ids", "applicant_requirements"
    )
    corporate = CorporateRules(
        contractor_types=frozenset(corp.strings("contractor_types")),
        registry_document=corp.string("registry_document"),
        representative_ids=corp.strings("representative_ids"),
        applicant_requirements=tuple(
            _requirement(_Obj(item, f"{corp.where}.applicant_requirements[{index}]"))
            for index, item in enumerate(corp.items("applicant_requirements"))
        ),
    )
    known([corporate.registry_document, *corporate.representative_ids], "corporate")
    card_sides_for(corporate.representative_ids, "representative", "corporate")
    registry = documents[corporate.registry_document]
    if registry.sides or registry.max_age_months is None:
        raise RuleDataError(f"{corp.where}.registry_document: a single sheet with max_age_months")
    contractor_types = individual.contractor_types | corporate.contractor_types
    if individual.contractor_types & corporate.contractor_types or contractor_types != set(
        CONTRACTOR_TYPES
    ):
        raise RuleDataError(f"{obj.where}: each contractor type needs exactly one section")

    refused_types = obj.obj("refused_types").str_map()
    if set(refused_types) & set(documents):
        raise RuleDataError(f"{obj.where}.refused_types: a refused type also has a rule")
    return RuleSet(
        version=obj.string("version"),
        effective_from=obj.day("effective_from"),
        note=obj.string("note"),
        counted_statuses=frozenset(obj.strings("counted_statuses")),
        documents=documents,
        refused_types=refused_types,
        individual=individual,
        corporate=corporate,
        messages=messages,
    )
