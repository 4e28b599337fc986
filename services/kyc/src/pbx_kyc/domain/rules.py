"""The screening rules (審査基準, SPEC §3) as versioned data, and their evaluation.

The rules live in ``pbx_kyc/data/rules.json``: one full snapshot per version, each with the
day it takes effect. :func:`rule_set_for` picks the version in effect on a day and
:func:`evaluate` checks an applicant and their documents against it. Nothing here does I/O
beyond reading that packaged file; nothing here is an if-statement about a particular
document type — which documents count, for whom, how long and with which sides is data.

Dates are inclusive: a document expiring on day D is valid through D, and so is a blanket
``expired_after`` date (the last day on which every document of a type was still valid).
"Issued within N months" means ``issued_on >= today`` minus N calendar months (the day is
clamped to the month's length: 31 May minus 3 months is 28 or 29 February).

Decisions the data records:

- A passport issued on or after 2020-02-01 has no address field. For an individual it counts
  together with one address document: a residence certificate (住民票) or a utility receipt
  (公共料金の領収書), each within its age limit. The paper health insurance card is not an
  address document: its address is handwritten by the holder, and the card is abolished.
  For a corporate representative such a passport does not count at all (the ID must itself
  show the address).
- A residence certificate counts when issued within 6 months (the usual limit for documents
  without an expiry date under Japanese identity-verification rules; SPEC §3 names no limit).
- A card's side: an individual shows the front of a card, a corporate representative both
  sides of a driver's licence. The My Number card's back side is refused outright.
- When documents allow several complete sets, the one that stays valid longest is chosen,
  so ``valid_until`` is as late as the documents allow.
"""

from __future__ import annotations

import calendar
import functools
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
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

_RULES_RESOURCE = "data/rules.json"
_UNKNOWN_TYPE_NAME = "この種類の書類"


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


_CONTRACTOR_TYPES: Mapping[str, ContractorType] = {
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
    if value not in _CONTRACTOR_TYPES:
        raise ValueError(f"unknown contractor type {value!r}")
    return _CONTRACTOR_TYPES[value]


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
        _CONTRACTOR_TYPES
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


# --- evaluation ---------------------------------------------------------------------------

#: a group of documents that together present one thing (a card's sides; ID + address proof)
_Unit = tuple[DocumentFacts, ...]


def evaluate(
    rule_set: RuleSet, applicant: Applicant, documents: Sequence[DocumentFacts], today: date
) -> Evaluation:
    """Check an applicant's documents (and, for businesses, their contract facts) on ``today``."""
    evaluation = _Evaluation(rule_set, documents, today)
    if applicant.contractor_type in rule_set.individual.contractor_types:
        return evaluation.individual()
    if applicant.contractor_type in rule_set.corporate.contractor_types:
        return evaluation.corporate(applicant)
    raise ValueError(f"unknown contractor type {applicant.contractor_type!r}")


def months_before(day: date, months: int) -> date:
    """``day`` minus calendar months, the day clamped to the month's length."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def format_date_ja(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _end_key(end: date | None) -> date:
    return date.max if end is None else end


class _Evaluation:
    def __init__(self, rule_set: RuleSet, documents: Sequence[DocumentFacts], today: date) -> None:
        self.rules = rule_set
        self.today = today
        self.counted = [doc for doc in documents if doc.status in rule_set.counted_statuses]
        self.problems: dict[str, list[Problem]] = {}
        for doc in self.counted:
            problems = self._problems(doc)
            if problems:
                self.problems.setdefault(doc.document_id, []).extend(problems)
        self.usable = [doc for doc in self.counted if doc.document_id not in self.problems]

    # per document

    def _problem(self, code: str, **values: str) -> Problem:
        return Problem(code, self.rules.message(code, **values))

    def _problems(self, doc: DocumentFacts) -> list[Problem]:
        rule = self.rules.documents.get(doc.document_type)
        if rule is None:
            name = self.rules.refused_types.get(doc.document_type, _UNKNOWN_TYPE_NAME)
            return [self._problem("document_type_not_accepted", name=name)]
        name = rule.name
        problems: list[Problem] = []
        if rule.sides:
            if doc.side is None:
                problems.append(self._problem("side_missing", name=name))
            elif doc.side in rule.refused_sides:
                refusal = rule.refused_sides[doc.side]
                problems.append(Problem(refusal.code, refusal.message_ja))
            elif doc.side not in rule.sides:
                side = SIDE_NAMES.get(doc.side, doc.side)
                problems.append(self._problem("side_not_accepted", name=name, side=side))
        if rule.expired_after is not None and rule.withdrawn_on(self.today):
            withdrawal = rule.expired_after
            first_invalid = withdrawal.expired_after + timedelta(days=1)
            text = withdrawal.message_ja.format_map({"date": format_date_ja(first_invalid)})
            problems.append(Problem(withdrawal.code, text))
        if doc.expires_on is None:
            if rule.requires_expiry:
                problems.append(self._problem("expiry_missing", name=name))
        elif doc.expires_on < self.today:
            problems.append(
                self._problem("expired", name=name, date=format_date_ja(doc.expires_on))
            )
        if doc.issued_on is None:
            if rule.requires_issue_date:
                problems.append(self._problem("issue_date_missing", name=name))
        elif doc.issued_on > self.today:
            problems.append(
                self._problem("issued_in_future", name=name, date=format_date_ja(doc.issued_on))
            )
        elif rule.max_age_months is not None and doc.issued_on < months_before(
            self.today, rule.max_age_months
        ):
            problems.append(
                self._problem(
                    "issued_too_long_ago",
                    name=name,
                    months=str(rule.max_age_months),
                    date=format_date_ja(doc.issued_on),
                )
            )
        return problems

    # units and sets

    def _end(self, unit: _Unit) -> date:
        """The last day on which every document of ``unit`` is valid (date.max: no end)."""
        ends = [_end_key(self.rules.documents[doc.document_type].end_date(doc)) for doc in unit]
        return min(ends, default=date.max)

    def _units(self, document_type: str, role: Role) -> list[_Unit]:
        """The ways the usable documents present ``document_type`` for ``role``.

        A single sheet: each document is one way. A card: the best usable document for each
        side the role needs, or nothing when a side is missing.
        """
        rule = self.rules.documents[document_type]
        docs = [doc for doc in self.usable if doc.document_type == document_type]
        if not rule.sides:
            return [(doc,) for doc in docs]
        unit: list[DocumentFacts] = []
        for side in rule.sides_for(role):
            on_side = [doc for doc in docs if doc.side == side]
            if not on_side:
                return []
            unit.append(max(on_side, key=lambda doc: self._end((doc,))))
        return [tuple(unit)]

    def _best(self, units: Iterable[_Unit]) -> _Unit | None:
        return max(units, key=self._end, default=None)

    def _missing_sides(self, document_type: str, role: Role) -> tuple[str, ...]:
        """The sides still needed when some, but not all, usable sides of a card are there."""
        rule = self.rules.documents[document_type]
        present = {doc.side for doc in self.usable if doc.document_type == document_type}
        needed = rule.sides_for(role)
        missing = tuple(side for side in needed if side not in present)
        return missing if present and missing else ()

    def _without_address(self, unit: _Unit) -> date | None:
        """The address cut-off date when a document of ``unit`` has no address field."""
        for doc in unit:
            rule = self.rules.documents[doc.document_type]
            cutoff = rule.needs_address_document_if_issued_on_or_after
            if cutoff is not None and doc.issued_on is not None and doc.issued_on >= cutoff:
                return cutoff
        return None

    def _offered(self, types: Iterable[str]) -> list[str]:
        """The types still worth asking for today (not withdrawn)."""
        return [t for t in types if not self.rules.documents[t].withdrawn_on(self.today)]

    def _describe(self, types: Iterable[str]) -> str:
        parts = []
        for document_type in types:
            rule = self.rules.documents[document_type]
            age = (
                "" if rule.max_age_months is None else f"（発行から{rule.max_age_months}か月以内）"
            )
            parts.append(rule.name + age)
        return "・".join(parts)

    def _describe_representative_ids(self) -> str:
        parts = []
        for document_type in self._offered(self.rules.corporate.representative_ids):
            rule = self.rules.documents[document_type]
            text = rule.name
            sides = rule.sides_for("representative")
            if rule.sides and len(sides) > 1:
                text += "（" + "と".join(SIDE_NAMES[side] for side in sides) + "）"
            cutoff = rule.needs_address_document_if_issued_on_or_after
            if cutoff is not None:
                last = format_date_ja(cutoff - timedelta(days=1))
                text = f"住所が記載された{text}（{last}以前に発行されたもの）"
            parts.append(text)
        return "、または".join(parts)

    def _result(self, missing: list[Missing], chosen: list[_Unit]) -> Evaluation:
        complete = not missing
        end = min((self._end(unit) for unit in chosen), default=date.max)
        return Evaluation(
            complete=complete,
            missing=missing,
            document_problems=self.problems,
            valid_until=None if not complete or end == date.max else end,
        )

    # individuals

    def individual(self) -> Evaluation:
        rules = self.rules.individual
        address_unit = self._best(
            unit for t in rules.address_documents for unit in self._units(t, "individual")
        )
        ways: list[_Unit] = []
        address_cutoffs: list[date] = []
        missing: list[Missing] = []
        for document_type in rules.one_document_ids:
            for unit in self._units(document_type, "individual"):
                cutoff = self._without_address(unit)
                if cutoff is None:
                    ways.append(unit)
                elif address_unit is not None:
                    ways.append(unit + address_unit)
                else:
                    address_cutoffs.append(cutoff)
        for document_type in rules.one_document_ids + rules.supporting_documents:
            sides = self._missing_sides(document_type, "individual")
            if sides:
                text = self.rules.message(
                    "document_side_required",
                    name=self.rules.documents[document_type].name,
                    missing="と".join(SIDE_NAMES[side] for side in sides),
                )
                missing.append(Missing("document_side_required", text))
        supporting: dict[str, _Unit] = {}
        for document_type in rules.supporting_documents:
            best = self._best(self._units(document_type, "individual"))
            if best is not None:
                supporting[document_type] = best
        for combination in itertools.combinations(
            supporting.values(), rules.supporting_documents_needed
        ):
            ways.append(tuple(doc for unit in combination for doc in unit))
        best_way = self._best(ways)
        if best_way is not None:
            return self._result([], [best_way])

        group_a = self._describe(self._offered(rules.one_document_ids))
        if address_cutoffs:
            text = self.rules.message(
                "address_document_required",
                date=format_date_ja(min(address_cutoffs)),
                documents=self._describe(self._offered(rules.address_documents)),
            )
            missing.insert(0, Missing("address_document_required", text))
        if supporting:
            others = [t for t in rules.supporting_documents if t not in supporting]
            text = self.rules.message(
                "supporting_document_required",
                needed=str(rules.supporting_documents_needed),
                have="・".join(self.rules.documents[t].name for t in supporting),
                others=self._describe(self._offered(others)),
                group_a=group_a,
            )
            missing.append(Missing("supporting_document_required", text))
        if not missing:
            text = self.rules.message(
                "identity_document_required",
                group_a=group_a,
                needed=str(rules.supporting_documents_needed),
                group_b=self._describe(self._offered(rules.supporting_documents)),
            )
            missing.append(Missing("identity_document_required", text))
        return self._result(missing, [])

    # corporations and telemarketing businesses

    def corporate(self, applicant: Applicant) -> Evaluation:
        rules = self.rules.corporate
        missing: list[Missing] = []
        chosen: list[_Unit] = []

        registry = self.rules.documents[rules.registry_document]
        registry_unit = self._best(self._units(rules.registry_document, "representative"))
        if registry_unit is not None:
            chosen.append(registry_unit)
        else:
            uploaded = any(doc.document_type == registry.document_type for doc in self.counted)
            code = "corporate_registry_not_valid" if uploaded else "corporate_registry_required"
            months = str(registry.max_age_months)
            text = self.rules.message(code, name=registry.name, months=months)
            missing.append(Missing(code, text))

        ways: list[_Unit] = []
        hints: list[Missing] = []
        documents = self._describe_representative_ids()
        for document_type in rules.representative_ids:
            for unit in self._units(document_type, "representative"):
                cutoff = self._without_address(unit)
                if cutoff is None:
                    ways.append(unit)
                    continue
                for doc in unit:
                    problem = self._problem("passport_without_address", date=format_date_ja(cutoff))
                    self.problems.setdefault(doc.document_id, []).append(problem)
                code = "representative_passport_without_address"
                text = self.rules.message(code, date=format_date_ja(cutoff), documents=documents)
                hints.append(Missing(code, text))
            sides = self._missing_sides(document_type, "representative")
            if sides:
                rule = self.rules.documents[document_type]
                text = self.rules.message(
                    "representative_id_side_required",
                    name=rule.name,
                    sides="と".join(SIDE_NAMES[s] for s in rule.sides_for("representative")),
                    missing="と".join(SIDE_NAMES[side] for side in sides),
                )
                hints.append(Missing("representative_id_side_required", text))
        representative = self._best(ways)
        if representative is not None:
            chosen.append(representative)
        elif hints:
            missing.extend(dict.fromkeys(hints))
        else:
            uploaded = any(doc.document_type in rules.representative_ids for doc in self.counted)
            code = "representative_id_not_valid" if uploaded else "representative_id_required"
            missing.append(Missing(code, self.rules.message(code, documents=documents)))

        for requirement in rules.applicant_requirements:
            refusal = requirement.refusal(applicant)
            if refusal is not None:
                missing.append(Missing(refusal.code, refusal.message_ja))
        return self._result(missing, chosen)
