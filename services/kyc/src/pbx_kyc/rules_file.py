"""Reading ``data/rules.json`` into the domain's rule sets (checked: a bad entry is named).

The file's shape is declared as pydantic models (strict, unknown keys refused) and read with a
``TypeAdapter``; what a shape cannot say (document names, references between sections, the
messages the evaluation needs) is checked while building the domain's dataclasses. Either way a
malformed file raises :class:`RuleDataError` naming the path of the bad entry, e.g.
``rule_sets[0].documents.passport.max_age: unknown key``. The domain stays free of pydantic.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import date
from importlib import resources
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

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
    Role,
    RuleDataError,
    RuleSet,
    Withdrawal,
)

_RULES_RESOURCE = "data/rules.json"


# --- field types --------------------------------------------------------------------------


def _template(text: str) -> str:
    try:
        text.format_map(dict.fromkeys(PLACEHOLDERS, "x"))
    except (KeyError, ValueError, IndexError) as error:
        raise ValueError(f"bad message template ({error!r})") from error
    return text


def _iso_day(value: object) -> date:
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("expected a date YYYY-MM-DD")


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("duplicate entries")
    return values


def _positive(value: int) -> int:
    if value < 1:
        raise ValueError("expected a positive integer")
    return value


def _document_type(value: str) -> str:
    if value not in DOCUMENT_NAMES:
        raise ValueError("unknown document type")
    return value


Text = Annotated[str, StringConstraints(min_length=1)]
Template = Annotated[Text, AfterValidator(_template)]
Day = Annotated[date, BeforeValidator(_iso_day)]
Strings = Annotated[list[Text], AfterValidator(_distinct)]
DocumentType = Annotated[str, AfterValidator(_document_type)]
PositiveInt = Annotated[int, AfterValidator(_positive)]


# --- the file's shape ---------------------------------------------------------------------


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class MessageIn(_Shape):
    code: Text
    message_ja: Template


class WithdrawalIn(_Shape):
    expired_after: Day
    code: Text
    message_ja: Template


class DocumentRuleIn(_Shape):
    sides: Strings = []
    refused_sides: dict[str, MessageIn] = {}
    required_sides: dict[Role, Strings] = {}
    requires_expiry: bool = False
    requires_issue_date: bool = False
    max_age_months: PositiveInt | None = None
    expired_after: WithdrawalIn | None = None
    needs_address_document_if_issued_on_or_after: Day | None = None


class IndividualIn(_Shape):
    contractor_types: Strings
    one_document_ids: Strings
    supporting_documents: Strings
    supporting_documents_needed: int
    address_documents: Strings = []


class ApplicantRequirementIn(_Shape):
    fact: ApplicantFact
    accepted: list[str | bool]
    code: Text
    message_ja: Template
    by_value: dict[str, MessageIn] = {}


class CorporateIn(_Shape):
    contractor_types: Strings
    registry_document: Text
    representative_ids: Strings
    applicant_requirements: list[ApplicantRequirementIn]


class RuleSetIn(_Shape):
    version: Text
    effective_from: Day
    note: Text
    counted_statuses: Strings
    refused_types: dict[str, Text]
    documents: dict[DocumentType, DocumentRuleIn]
    individual: IndividualIn
    corporate: CorporateIn
    messages: dict[str, Template] = {}


class RulesFileIn(_Shape):
    format: Literal[1]
    note: str | None = None
    messages: dict[str, Template]
    rule_sets: list[RuleSetIn]


_RULES_FILE = TypeAdapter(RulesFileIn)


# --- loading ------------------------------------------------------------------------------


def parse_rule_sets(text: str) -> tuple[RuleSet, ...]:
    """Parse and check rule data (the format of ``rules.json``), oldest version first."""
    try:
        shape = _RULES_FILE.validate_json(text)
    except ValidationError as error:
        raise RuleDataError(_complaints(error)) from None
    sets = tuple(
        _rule_set(item, f"rule_sets[{index}]", shape.messages)
        for index, item in enumerate(shape.rule_sets)
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


def _complaints(error: ValidationError) -> str:
    lines = []
    for detail in error.errors(include_url=False):
        path = ""
        for part in detail["loc"]:
            if part == "[key]":
                continue
            path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
        if detail["type"] == "extra_forbidden":
            complaint = "unknown key"
        elif detail["type"] == "missing":
            complaint = "is required"
        else:
            complaint = detail["msg"].removeprefix("Value error, ")
        lines.append(f"{path or 'rules'}: {complaint}")
    return "; ".join(lines)


# --- what the shape cannot say ------------------------------------------------------------


def _message(item: MessageIn) -> Message:
    return Message(item.code, item.message_ja)


def _document_rule(document_type: str, item: DocumentRuleIn, where: str) -> DocumentRule:
    sides = frozenset(item.sides)
    for role, role_sides in item.required_sides.items():
        if not role_sides or not set(role_sides) <= sides:
            raise RuleDataError(f"{where}.required_sides.{role}: not among the sides")
    refused = set(item.refused_sides)
    if refused & sides or (sides | refused) - set(SIDE_NAMES):
        raise RuleDataError(f"{where}: sides must be front/back, refused ones not allowed")
    withdrawal = item.expired_after
    rule = DocumentRule(
        document_type=document_type,
        sides=sides,
        refused_sides={side: _message(message) for side, message in item.refused_sides.items()},
        required_sides={
            role: tuple(role_sides) for role, role_sides in item.required_sides.items()
        },
        requires_expiry=item.requires_expiry,
        requires_issue_date=item.requires_issue_date,
        max_age_months=item.max_age_months,
        expired_after=None
        if withdrawal is None
        else Withdrawal(withdrawal.expired_after, withdrawal.code, withdrawal.message_ja),
        needs_address_document_if_issued_on_or_after=(
            item.needs_address_document_if_issued_on_or_after
        ),
    )
    needs_issue_date = (
        rule.max_age_months is not None
        or rule.needs_address_document_if_issued_on_or_after is not None
    )
    if needs_issue_date and not rule.requires_issue_date:
        raise RuleDataError(f"{where}: an age or address rule needs requires_issue_date")
    return rule


def _requirement(item: ApplicantRequirementIn) -> ApplicantRequirement:
    return ApplicantRequirement(
        fact=item.fact,
        accepted=frozenset(item.accepted),
        code=item.code,
        message_ja=item.message_ja,
        by_value={value: _message(message) for value, message in item.by_value.items()},
    )


def _rule_set(item: RuleSetIn, where: str, shared_messages: Mapping[str, str]) -> RuleSet:
    messages = {**shared_messages, **item.messages}
    absent = sorted(MESSAGE_CODES - set(messages))
    if absent:
        raise RuleDataError(f"{where}: messages missing for {absent}")
    documents = {
        document_type: _document_rule(document_type, rule, f"{where}.documents.{document_type}")
        for document_type, rule in item.documents.items()
    }

    def known(types: Iterable[str], section: str) -> None:
        unknown = sorted(set(types) - set(documents))
        if unknown:
            raise RuleDataError(f"{where}.{section}: no document rule for {unknown}")

    def card_sides_for(types: Iterable[str], role: Role, section: str) -> None:
        for document_type in types:
            rule = documents[document_type]
            if rule.sides and not rule.sides_for(role):
                raise RuleDataError(f"{where}.{section}: {document_type} has no {role} sides")

    ind = item.individual
    individual = IndividualRules(
        contractor_types=frozenset(ind.contractor_types),
        one_document_ids=tuple(ind.one_document_ids),
        supporting_documents=tuple(ind.supporting_documents),
        supporting_documents_needed=ind.supporting_documents_needed,
        address_documents=tuple(ind.address_documents),
    )
    individual_types = (
        individual.one_document_ids + individual.supporting_documents + individual.address_documents
    )
    known(individual_types, "individual")
    card_sides_for(individual_types, "individual", "individual")
    if not 1 <= individual.supporting_documents_needed <= len(individual.supporting_documents):
        raise RuleDataError(f"{where}.individual.supporting_documents_needed: out of range")

    corp = item.corporate
    corporate = CorporateRules(
        contractor_types=frozenset(corp.contractor_types),
        registry_document=corp.registry_document,
        representative_ids=tuple(corp.representative_ids),
        applicant_requirements=tuple(_requirement(r) for r in corp.applicant_requirements),
    )
    known([corporate.registry_document, *corporate.representative_ids], "corporate")
    card_sides_for(corporate.representative_ids, "representative", "corporate")
    registry = documents[corporate.registry_document]
    if registry.sides or registry.max_age_months is None:
        raise RuleDataError(
            f"{where}.corporate.registry_document: a single sheet with max_age_months"
        )
    contractor_types = individual.contractor_types | corporate.contractor_types
    if individual.contractor_types & corporate.contractor_types or contractor_types != set(
        CONTRACTOR_TYPES
    ):
        raise RuleDataError(f"{where}: each contractor type needs exactly one section")

    if set(item.refused_types) & set(documents):
        raise RuleDataError(f"{where}.refused_types: a refused type also has a rule")
    return RuleSet(
        version=item.version,
        effective_from=item.effective_from,
        note=item.note,
        counted_statuses=frozenset(item.counted_statuses),
        documents=documents,
        refused_types=dict(item.refused_types),
        individual=individual,
        corporate=corporate,
        messages=messages,
    )
