"""The screening rules (審査基準, SPEC §3) as versioned data, and their evaluation.

The rules live in ``pbx_kyc/data/rules.json`` (read by :mod:`pbx_kyc.rules_file`): one full
snapshot per version, each with the day it takes effect. :func:`rule_set_for` picks the version
in effect on a day and :func:`evaluate` checks an applicant and their documents against it.
Nothing here does I/O; nothing here is an if-statement about a particular
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

from pbx_kyc.domain.rules.evaluation import evaluate, format_date_ja, months_before
from pbx_kyc.domain.rules.model import (
    MESSAGE_CODES,
    PLACEHOLDERS,
    SIDE_NAMES,
    Applicant,
    ApplicantFact,
    ApplicantRequirement,
    ContractorType,
    CorporateRules,
    DocumentFacts,
    DocumentRule,
    EmailDomainClass,
    Evaluation,
    IndividualRules,
    Message,
    Missing,
    NoRuleSetError,
    Problem,
    Role,
    RuleDataError,
    RuleSet,
    Withdrawal,
    parse_contractor_type,
    parse_email_domain_class,
    rule_set_for,
)

__all__ = [
    "MESSAGE_CODES",
    "PLACEHOLDERS",
    "SIDE_NAMES",
    "Applicant",
    "ApplicantFact",
    "ApplicantRequirement",
    "ContractorType",
    "CorporateRules",
    "DocumentFacts",
    "DocumentRule",
    "EmailDomainClass",
    "Evaluation",
    "IndividualRules",
    "Message",
    "Missing",
    "NoRuleSetError",
    "Problem",
    "Role",
    "RuleDataError",
    "RuleSet",
    "Withdrawal",
    "evaluate",
    "format_date_ja",
    "months_before",
    "parse_contractor_type",
    "parse_email_domain_class",
    "rule_set_for",
]
