"""The screening rules' model: the inputs, the results, and a versioned rule set."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pbx_kyc.domain.documents import DOCUMENT_NAMES

ContractorType = Literal["individual", "corporation", "telemarketing"]
EmailDomainClass = Literal["business", "free", "carrier"]
ApplicantFact = Literal["email_domain_class", "screening_phone_is_fixed_line", "has_public_notice"]
#: who shows a card: the individual contractor, or a corporation's representative
Role = Literal["individual", "representative"]

SIDE_NAMES: Mapping[str, str] = {"front": "表面", "back": "裏面"}

#: the placeholders message templates may use
PLACEHOLDERS = frozenset(
    {"name", "date", "months", "documents", "sides", "missing", "side", "needed", "have"}
    | {"others", "group_a", "group_b"}
)
#: the message codes the evaluation uses; each rule set's data must define all of them
MESSAGE_CODES = frozenset(
    {
        "document_type_not_accepted",
        "side_missing",
        "side_not_accepted",
        "expiry_missing",
        "expired",
        "issue_date_missing",
        "issued_in_future",
        "issued_too_long_ago",
        "passport_without_address",
        "identity_document_required",
        "supporting_document_required",
        "address_document_required",
        "document_side_required",
        "corporate_registry_required",
        "corporate_registry_not_valid",
        "representative_id_required",
        "representative_id_side_required",
        "representative_passport_without_address",
        "representative_id_not_valid",
    }
)


class RuleDataError(ValueError):
    """The rule data is malformed (raised when it is loaded, never during an evaluation)."""


class NoRuleSetError(LookupError):
    """No rule set is in effect on the requested day (it is before the first version)."""


# --- inputs and results -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applicant:
    """What screening needs to know about the contractor (from the account's contract info)."""

    contractor_type: ContractorType
    email_domain_class: EmailDomainClass
    screening_phone_is_fixed_line: bool
    has_public_notice: bool

    def fact(self, name: ApplicantFact) -> str | bool:
        """One fact by name, as the rule data refers to it."""
        facts: dict[str, str | bool] = {
            "email_domain_class": self.email_domain_class,
            "screening_phone_is_fixed_line": self.screening_phone_is_fixed_line,
            "has_public_notice": self.has_public_notice,
        }
        return facts[name]


CONTRACTOR_TYPES: Mapping[str, ContractorType] = {
    "individual": "individual",
    "corporation": "corporation",
    "telemarketing": "telemarketing",
}
_EMAIL_DOMAIN_CLASSES: Mapping[str, EmailDomainClass] = {
    "business": "business",
    "free": "free",
    "carrier": "carrier",
}


def parse_contractor_type(value: str) -> ContractorType:
    """Narrow a stored contractor type (``ValueError`` when it is not one)."""
    if value not in CONTRACTOR_TYPES:
        raise ValueError(f"unknown contractor type {value!r}")
    return CONTRACTOR_TYPES[value]


def parse_email_domain_class(value: str) -> EmailDomainClass:
    """Narrow a stored e-mail domain class (``ValueError`` when it is not one)."""
    if value not in _EMAIL_DOMAIN_CLASSES:
        raise ValueError(f"unknown e-mail domain class {value!r}")
    return _EMAIL_DOMAIN_CLASSES[value]


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    """One uploaded document as screening sees it (the file itself is not needed)."""

    document_id: str
    document_type: str
    side: str | None
    issued_on: date | None
    expires_on: date | None
    status: str


@dataclass(frozen=True, slots=True)
class Missing:
    """Something still needed before the set is complete, said in Japanese."""

    code: str
    message_ja: str


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one document does not count, said in Japanese."""

    code: str
    message_ja: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The result: complete or what is missing, per-document problems, and until when.

    ``document_problems`` holds only the documents that have problems (by document id);
    documents whose status does not count (rejected, expired) are ignored entirely.
    ``valid_until`` is the last day on which every document of the chosen complete set is
    still valid (None when the set is incomplete or none of its documents has an end date).
    """

    complete: bool
    missing: list[Missing]
    document_problems: dict[str, list[Problem]]
    valid_until: date | None


# --- the rule set -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    code: str
    message_ja: str


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """Every document of a type stops being valid after ``expired_after`` (inclusive)."""

    expired_after: date
    code: str
    #: template; ``{date}`` is the first day on which the type is no longer valid
    message_ja: str


@dataclass(frozen=True, slots=True)
class DocumentRule:
    document_type: str
    #: the sides a card may be uploaded with; empty for single sheets (their side is ignored)
    sides: frozenset[str]
    #: sides refused outright, with their own problem (the My Number card's back side)
    refused_sides: Mapping[str, Message]
    #: per role, the sides that together make the document
    required_sides: Mapping[str, tuple[str, ...]]
    requires_expiry: bool
    requires_issue_date: bool
    max_age_months: int | None
    expired_after: Withdrawal | None
    needs_address_document_if_issued_on_or_after: date | None

    @property
    def name(self) -> str:
        return DOCUMENT_NAMES[self.document_type]

    def sides_for(self, role: Role) -> tuple[str, ...]:
        return self.required_sides.get(role, ())

    def end_date(self, document: DocumentFacts) -> date | None:
        """The last day this document is valid: its expiry or the type's withdrawal."""
        ends = [document.expires_on]
        if self.expired_after is not None:
            ends.append(self.expired_after.expired_after)
        known = [end for end in ends if end is not None]
        return min(known) if known else None

    def withdrawn_on(self, today: date) -> bool:
        return self.expired_after is not None and today > self.expired_after.expired_after


@dataclass(frozen=True, slots=True)
class IndividualRules:
    contractor_types: frozenset[str]
    #: one of these alone completes the set (group A)
    one_document_ids: tuple[str, ...]
    #: this many DIFFERENT ones of these complete the set (group B)
    supporting_documents: tuple[str, ...]
    supporting_documents_needed: int
    #: what may accompany a passport that has no address field
    address_documents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ApplicantRequirement:
    fact: ApplicantFact
    accepted: frozenset[str | bool]
    code: str
    message_ja: str
    #: a more precise message for some refused (string) values
    by_value: Mapping[str, Message]

    def refusal(self, applicant: Applicant) -> Message | None:
        value = applicant.fact(self.fact)
        if value in self.accepted:
            return None
        if isinstance(value, str) and value in self.by_value:
            return self.by_value[value]
        return Message(self.code, self.message_ja)


@dataclass(frozen=True, slots=True)
class CorporateRules:
    contractor_types: frozenset[str]
    registry_document: str
    #: the representative's photo ID: any one of these, showing the address
    representative_ids: tuple[str, ...]
    applicant_requirements: tuple[ApplicantRequirement, ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    effective_from: date
    note: str
    #: document statuses that count (the others are ignored)
    counted_statuses: frozenset[str]
    documents: Mapping[str, DocumentRule]
    #: types known to be refused, with their Japanese names (e.g. the international licence)
    refused_types: Mapping[str, str]
    individual: IndividualRules
    corporate: CorporateRules
    messages: Mapping[str, str]

    def message(self, code: str, **values: str) -> str:
        return self.messages[code].format_map(values)


def rule_set_for(on: date, available: Sequence[RuleSet]) -> RuleSet:
    """The rule set in effect on ``on``: the latest one whose ``effective_from`` is not after it."""
    candidates = [rule_set for rule_set in available if rule_set.effective_from <= on]
    if not candidates:
        raise NoRuleSetError(f"no screening rule set is in effect on {on.isoformat()}")
    return max(candidates, key=lambda rule_set: rule_set.effective_from)
