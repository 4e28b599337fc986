"""The screening rule table (SPEC §3): versions, individual and corporate sets, validity dates."""

from __future__ import annotations

import itertools
import json
import re
from datetime import date, timedelta
from importlib import resources

import pytest

from pbx_kyc.domain.documents import CARDS, DOCUMENT_NAMES
from pbx_kyc.domain.rules import (
    Applicant,
    ContractorType,
    DocumentFacts,
    Evaluation,
    NoRuleSetError,
    RuleDataError,
    RuleSet,
    evaluate,
    months_before,
    parse_contractor_type,
    parse_email_domain_class,
    rule_set_for,
)
from pbx_kyc.rules_file import parse_rule_sets, rule_sets

TODAY = date(2026, 3, 15)


def rules_on(day: date) -> RuleSet:
    return rule_set_for(day, rule_sets())


V2024_04 = rules_on(date(2024, 4, 1))
V2024_12 = rules_on(date(2024, 12, 2))
V2025_12 = rules_on(date(2025, 12, 1))
CURRENT = rules_on(TODAY)

ONE_DOCUMENT_IDS = ["drivers_license", "passport", "residence_card", "my_number_card"]
SUPPORTING = [
    "health_insurance_card",
    "residence_certificate",
    "resident_register_card",
    "utility_receipt",
]
#: a passport issued before 2020-02-01 still has the address field
OLD_PASSPORT_ISSUED = date(2019, 6, 1)
NEW_PASSPORT_ISSUED = date(2020, 2, 1)

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

_ids = itertools.count(1)


def doc(
    document_type: str,
    side: str | None = "auto",
    *,
    today: date = TODAY,
    issued_on: date | str | None = "auto",
    expires_on: date | str | None = "auto",
    status: str = "pending",
) -> DocumentFacts:
    """A document that is valid on ``today`` unless told otherwise."""
    if side == "auto":
        side = "front" if document_type in CARDS else None
    if issued_on == "auto":
        issued_on = OLD_PASSPORT_ISSUED if document_type == "passport" else today - timedelta(10)
    if expires_on == "auto":
        expires_on = (
            None
            if document_type
            in {
                "health_insurance_card",
                "residence_certificate",
                "utility_receipt",
                "corporate_registry",
            }
            else today + timedelta(days=700)
        )
    assert not isinstance(issued_on, str) and not isinstance(expires_on, str)
    return DocumentFacts(
        document_id=f"doc-{next(_ids)}",
        document_type=document_type,
        side=side,
        issued_on=issued_on,
        expires_on=expires_on,
        status=status,
    )


def person(contractor_type: ContractorType = "individual") -> Applicant:
    return Applicant(
        contractor_type=contractor_type,
        email_domain_class="free",
        screening_phone_is_fixed_line=True,
        has_public_notice=False,
    )


def business(
    contractor_type: ContractorType = "corporation",
    *,
    email: str = "business",
    fixed: bool = True,
    notice: bool = True,
) -> Applicant:
    return Applicant(
        contractor_type=contractor_type,
        email_domain_class=parse_email_domain_class(email),
        screening_phone_is_fixed_line=fixed,
        has_public_notice=notice,
    )


def codes(result: Evaluation) -> list[str]:
    return [m.code for m in result.missing]


def problem_codes(result: Evaluation, document: DocumentFacts) -> list[str]:
    return [p.code for p in result.document_problems.get(document.document_id, [])]


def check(
    rules: RuleSet, applicant: Applicant, documents: list[DocumentFacts], today: date = TODAY
) -> Evaluation:
    result = evaluate(rules, applicant, documents, today)
    assert result.complete == (not result.missing)
    for text in [m.message_ja for m in result.missing] + [
        p.message_ja for ps in result.document_problems.values() for p in ps
    ]:
        assert JAPANESE.search(text), text
        assert "{" not in text and "}" not in text, text
    return result


# --- the data and its versions -----------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "version"),
    [
        (date(2024, 4, 1), "2024-04"),
        (date(2024, 12, 1), "2024-04"),
        (date(2024, 12, 2), "2024-12"),
        (date(2025, 11, 30), "2024-12"),
        (date(2025, 12, 1), "2025-12"),
        (date(2030, 1, 1), "2025-12"),
    ],
)
def test_the_rule_set_in_effect_on_a_day(day: date, version: str) -> None:
    assert rules_on(day).version == version


def test_no_rule_set_before_the_first_version() -> None:
    with pytest.raises(NoRuleSetError):
        rules_on(date(2024, 3, 31))


def test_rule_sets_are_ordered_and_distinct() -> None:
    sets = rule_sets()
    assert [s.version for s in sets] == ["2024-04", "2024-12", "2025-12"]
    assert [s.effective_from for s in sets] == sorted(s.effective_from for s in sets)


@pytest.mark.parametrize("rules", rule_sets(), ids=lambda r: r.version)
def test_every_version_knows_every_document_type_and_its_sides(rules: RuleSet) -> None:
    assert set(rules.documents) == set(DOCUMENT_NAMES)
    assert {t for t, rule in rules.documents.items() if rule.sides} == set(CARDS)
    assert "back" in rules.documents["my_number_card"].refused_sides
    assert "international_drivers_license" not in rules.documents


def _packaged() -> dict[str, object]:
    text = resources.files("pbx_kyc").joinpath("data/rules.json").read_text(encoding="utf-8")
    data: dict[str, object] = json.loads(text)
    return data


@pytest.mark.parametrize(
    ("path", "value", "complaint"),
    [
        (["rule_sets", 0, "documents", "passport", "max_age"], 3, "unknown key"),
        (["messages", "expired"], "{name}の期限{when}", "bad message template"),
        (["rule_sets", 0, "documents", "utility_receipt", "requires_issue_date"], False, "issue"),
        (["rule_sets", 0, "individual", "one_document_ids"], ["drivers_licence"], "no document"),
        (["rule_sets", 1, "effective_from"], "2024-04-01", "same day"),
        (["rule_sets", 0, "corporate", "contractor_types"], ["corporation"], "contractor type"),
    ],
)
def test_malformed_rule_data_is_refused_when_loaded(
    path: list[str | int], value: object, complaint: str
) -> None:
    data = _packaged()
    target: object = data
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    with pytest.raises(RuleDataError, match=complaint):
        parse_rule_sets(json.dumps(data, ensure_ascii=False))


def test_a_message_the_evaluation_needs_must_be_in_the_data() -> None:
    data = _packaged()
    del data["messages"]["corporate_registry_required"]  # type: ignore[attr-defined]
    with pytest.raises(RuleDataError, match="corporate_registry_required"):
        parse_rule_sets(json.dumps(data, ensure_ascii=False))


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 3, 15), 3, date(2025, 12, 15)),
        (date(2026, 5, 31), 3, date(2026, 2, 28)),
        (date(2024, 5, 31), 3, date(2024, 2, 29)),
        (date(2026, 1, 31), 1, date(2025, 12, 31)),
        (date(2026, 3, 15), 6, date(2025, 9, 15)),
    ],
)
def test_calendar_months_before(day: date, months: int, expected: date) -> None:
    assert months_before(day, months) == expected


# --- individuals ---------------------------------------------------------------------------


@pytest.mark.parametrize("document_type", ONE_DOCUMENT_IDS)
@pytest.mark.parametrize("rules", rule_sets(), ids=lambda r: r.version)
def test_each_one_document_id_alone_completes(rules: RuleSet, document_type: str) -> None:
    document = doc(document_type)
    result = check(rules, person(), [document])
    assert result.complete
    assert result.missing == []
    assert result.document_problems == {}
    assert result.valid_until == document.expires_on


def test_the_my_number_back_side_never_counts() -> None:
    back = doc("my_number_card", "back")
    result = check(CURRENT, person(), [back])
    assert not result.complete
    assert problem_codes(result, back) == ["my_number_back_side"]
    assert "裏面" in result.document_problems[back.document_id][0].message_ja
    assert codes(result) == ["identity_document_required"]

    front = doc("my_number_card", "front")
    result = check(CURRENT, person(), [back, front])
    assert result.complete
    assert problem_codes(result, back) == ["my_number_back_side"]


@pytest.mark.parametrize(
    ("first", "second"), list(itertools.combinations(SUPPORTING, 2)), ids="+".join
)
def test_every_pair_of_different_supporting_documents_completes(first: str, second: str) -> None:
    day = date(2025, 6, 15)
    rules = rules_on(day)
    result = check(rules, person(), [doc(first, today=day), doc(second, today=day)], day)
    assert result.complete, result.missing
    assert result.document_problems == {}


@pytest.mark.parametrize("document_type", SUPPORTING)
def test_one_supporting_document_alone_is_refused(document_type: str) -> None:
    day = date(2025, 6, 15)
    result = check(rules_on(day), person(), [doc(document_type, today=day)], day)
    assert not result.complete
    assert codes(result) == ["supporting_document_required"]
    message = result.missing[0].message_ja
    assert DOCUMENT_NAMES[document_type] in message
    assert "異なる種類で2点" in message
    assert "運転免許証" in message  # or one ID document
    for other in SUPPORTING:
        if other != document_type:
            assert DOCUMENT_NAMES[other] in message


@pytest.mark.parametrize("document_type", SUPPORTING)
def test_two_of_the_same_supporting_document_are_refused(document_type: str) -> None:
    day = date(2025, 6, 15)
    documents = [doc(document_type, today=day), doc(document_type, today=day)]
    result = check(rules_on(day), person(), documents, day)
    assert not result.complete
    assert codes(result) == ["supporting_document_required"]
    assert "同じ種類の書類は1点" in result.missing[0].message_ja


def test_nothing_uploaded_names_both_ways_to_complete() -> None:
    result = check(CURRENT, person(), [])
    assert codes(result) == ["identity_document_required"]
    message = result.missing[0].message_ja
    assert message.startswith("本人確認書類を1点（運転免許証・パスポート・")
    assert "補助書類を異なる種類で2点" in message
    # withdrawn types are no longer offered
    assert "健康保険証" not in message and "住民基本台帳カード" not in message


@pytest.mark.parametrize(
    ("expires_on", "complete"),
    [
        (TODAY - timedelta(days=1), False),
        (TODAY, True),
        (TODAY + timedelta(days=1), True),
    ],
)
def test_an_expired_licence_is_refused(expires_on: date, complete: bool) -> None:
    licence = doc("drivers_license", expires_on=expires_on)
    result = check(CURRENT, person(), [licence])
    assert result.complete is complete
    if complete:
        assert result.valid_until == expires_on
    else:
        assert problem_codes(result, licence) == ["expired"]
        assert "有効期限" in result.document_problems[licence.document_id][0].message_ja
        assert result.valid_until is None


@pytest.mark.parametrize("document_type", ["drivers_license", "passport", "my_number_card"])
def test_an_id_without_an_expiry_date_is_refused(document_type: str) -> None:
    document = doc(document_type, expires_on=None)
    result = check(CURRENT, person(), [document])
    assert not result.complete
    assert problem_codes(result, document) == ["expiry_missing"]


@pytest.mark.parametrize(
    ("issued_on", "complete"),
    [
        (date(2025, 12, 15), True),  # exactly 3 months before 2026-03-15
        (date(2025, 12, 14), False),  # one day older
        (TODAY, True),
        (TODAY + timedelta(days=1), False),  # issued in the future
    ],
)
def test_a_utility_receipt_must_be_issued_within_3_months(issued_on: date, complete: bool) -> None:
    receipt = doc("utility_receipt", issued_on=issued_on)
    result = check(CURRENT, person(), [receipt, doc("residence_certificate")])
    assert result.complete is complete
    if not complete:
        assert problem_codes(result, receipt) in (["issued_too_long_ago"], ["issued_in_future"])


def test_a_utility_receipt_without_an_issue_date_is_refused() -> None:
    receipt = doc("utility_receipt", issued_on=None)
    result = check(CURRENT, person(), [receipt, doc("residence_certificate")])
    assert not result.complete
    assert problem_codes(result, receipt) == ["issue_date_missing"]


def test_a_too_old_utility_receipt_says_so_in_japanese() -> None:
    receipt = doc("utility_receipt", issued_on=date(2025, 11, 1))
    result = check(CURRENT, person(), [receipt])
    (problem,) = result.document_problems[receipt.document_id]
    assert problem.message_ja.startswith("公共料金の領収書は発行から3か月を超えています")


@pytest.mark.parametrize(
    ("rules", "day", "accepted"),
    [
        (V2024_04, date(2025, 11, 30), True),
        (V2024_04, date(2025, 12, 1), True),  # the old set did not know yet
        (V2024_12, date(2025, 11, 30), True),
        (V2025_12, date(2025, 11, 30), True),
        (V2025_12, date(2025, 12, 1), False),
        (V2025_12, date(2026, 6, 1), False),
    ],
    ids=lambda v: getattr(v, "version", str(v)),
)
def test_the_paper_health_insurance_card_is_withdrawn_from_2025_12_01(
    rules: RuleSet, day: date, accepted: bool
) -> None:
    card = doc("health_insurance_card", today=day)
    result = check(rules, person(), [card, doc("residence_certificate", today=day)], day)
    assert result.complete is accepted
    if not accepted:
        assert problem_codes(result, card) == ["paper_health_insurance_card_abolished"]
        message = result.document_problems[card.document_id][0].message_ja
        assert "2025年12月1日以降" in message


def test_an_approval_resting_on_a_paper_health_insurance_card_ends_on_2025_11_30() -> None:
    day = date(2025, 11, 15)
    rules = rules_on(day)
    assert rules.version == "2024-12"
    documents = [doc("health_insurance_card", today=day), doc("utility_receipt", today=day)]
    result = check(rules, person(), documents, day)
    assert result.complete
    assert result.valid_until == date(2025, 11, 30)
    # under the baseline the card had no end, so neither had the approval
    assert check(V2024_04, person(), documents, day).valid_until is None


@pytest.mark.parametrize(
    ("day", "accepted"),
    [(date(2025, 12, 15), True), (date(2025, 12, 31), True), (date(2026, 1, 1), False)],
)
def test_the_resident_register_card_is_withdrawn_from_2026(day: date, accepted: bool) -> None:
    card = doc("resident_register_card", today=day, expires_on=date(2027, 5, 1))
    result = check(V2025_12, person(), [card, doc("utility_receipt", today=day)], day)
    assert result.complete is accepted
    if accepted:
        assert result.valid_until == date(2025, 12, 31)
    else:
        assert problem_codes(result, card) == ["resident_register_card_abolished"]
        assert "2026年1月1日以降" in result.document_problems[card.document_id][0].message_ja


def test_the_resident_register_card_still_counts_under_the_earlier_sets() -> None:
    day = date(2026, 1, 5)
    card = doc("resident_register_card", today=day)
    result = check(V2024_12, person(), [card, doc("utility_receipt", today=day)], day)
    assert result.complete


@pytest.mark.parametrize(
    ("issued_on", "alone_complete"),
    [(date(2020, 1, 31), True), (date(2020, 2, 1), False), (date(2024, 8, 1), False)],
)
def test_a_passport_issued_since_2020_02_01_needs_an_address_document(
    issued_on: date, alone_complete: bool
) -> None:
    passport = doc("passport", issued_on=issued_on)
    result = check(CURRENT, person(), [passport])
    assert result.complete is alone_complete
    if not alone_complete:
        assert codes(result) == ["address_document_required"]
        message = result.missing[0].message_ja
        assert "2020年2月1日以降に発行されたパスポート" in message
        assert "住民票" in message and "公共料金の領収書" in message
        assert result.document_problems == {}  # the passport itself is fine


@pytest.mark.parametrize(
    ("address_document", "complete"),
    [
        ("residence_certificate", True),
        ("utility_receipt", True),
        ("health_insurance_card", False),  # handwritten address: not an address document
        ("resident_register_card", False),
    ],
)
def test_which_documents_prove_the_address_next_to_a_new_passport(
    address_document: str, complete: bool
) -> None:
    day = date(2025, 6, 15)
    passport = doc("passport", today=day, issued_on=NEW_PASSPORT_ISSUED)
    result = check(rules_on(day), person(), [passport, doc(address_document, today=day)], day)
    assert result.complete is complete
    if not complete:
        assert "address_document_required" in codes(result)
        assert "supporting_document_required" in codes(result)


def test_a_too_old_address_document_does_not_help_a_new_passport() -> None:
    passport = doc("passport", issued_on=NEW_PASSPORT_ISSUED)
    receipt = doc("utility_receipt", issued_on=date(2025, 1, 1))
    result = check(CURRENT, person(), [passport, receipt])
    assert not result.complete
    assert codes(result) == ["address_document_required"]
    assert problem_codes(result, receipt) == ["issued_too_long_ago"]


def test_a_passport_without_an_issue_date_is_refused() -> None:
    passport = doc("passport", issued_on=None)
    result = check(CURRENT, person(), [passport])
    assert not result.complete
    assert problem_codes(result, passport) == ["issue_date_missing"]


def test_an_international_licence_is_not_accepted() -> None:
    licence = doc("international_drivers_license", side=None)
    result = check(CURRENT, person(), [licence])
    assert not result.complete
    assert problem_codes(result, licence) == ["document_type_not_accepted"]
    assert result.document_problems[licence.document_id][0].message_ja.startswith(
        "国際運転免許証は"
    )


def test_a_licence_back_alone_asks_for_the_front() -> None:
    back = doc("drivers_license", "back")
    result = check(CURRENT, person(), [back])
    assert not result.complete
    assert codes(result) == ["document_side_required"]
    assert result.missing[0].message_ja == "運転免許証の表面をアップロードしてください。"
    assert result.document_problems == {}


def test_a_card_without_a_side_is_refused() -> None:
    card = doc("residence_card", side=None)
    result = check(CURRENT, person(), [card])
    assert not result.complete
    assert problem_codes(result, card) == ["side_missing"]


@pytest.mark.parametrize(
    ("status", "counts"),
    [("pending", True), ("approved", True), ("rejected", False), ("expired", False)],
)
def test_only_pending_and_approved_documents_count(status: str, counts: bool) -> None:
    licence = doc("drivers_license", status=status, expires_on=TODAY - timedelta(days=400))
    fresh = doc("drivers_license", status=status)
    assert check(CURRENT, person(), [fresh]).complete is counts
    # a rejected or expired document is not even looked at
    assert bool(check(CURRENT, person(), [licence]).document_problems) is counts


# --- valid_until ---------------------------------------------------------------------------


def test_valid_until_is_the_earliest_expiry_of_the_documents_that_made_the_set() -> None:
    day = date(2025, 6, 15)
    card = doc("health_insurance_card", today=day, expires_on=date(2026, 3, 31))
    juki = doc("resident_register_card", today=day, expires_on=date(2025, 9, 30))
    result = check(V2024_04, person(), [card, juki], day)
    assert result.complete
    assert result.valid_until == date(2025, 9, 30)


def test_valid_until_counts_the_address_document_next_to_a_new_passport() -> None:
    passport = doc("passport", issued_on=NEW_PASSPORT_ISSUED, expires_on=date(2030, 1, 1))
    result = check(CURRENT, person(), [passport, doc("residence_certificate")])
    assert result.valid_until == date(2030, 1, 1)  # a residence certificate has no end


def test_the_set_that_stays_valid_longest_is_chosen() -> None:
    licence = doc("drivers_license", expires_on=date(2026, 6, 1))
    card = doc("my_number_card", expires_on=date(2031, 2, 1))
    result = check(CURRENT, person(), [licence, card])
    assert result.valid_until == date(2031, 2, 1)


def test_a_set_of_documents_without_an_end_has_no_valid_until() -> None:
    documents = [doc("residence_certificate"), doc("utility_receipt")]
    result = check(CURRENT, person(), documents)
    assert result.complete
    assert result.valid_until is None


# --- corporations and telemarketing businesses ---------------------------------------------

BUSINESSES: list[ContractorType] = ["corporation", "telemarketing"]


def licence_both_sides(expires_on: date = TODAY + timedelta(days=700)) -> list[DocumentFacts]:
    return [
        doc("drivers_license", "front", expires_on=expires_on),
        doc("drivers_license", "back", expires_on=expires_on),
    ]


def complete_business_set() -> list[DocumentFacts]:
    return [doc("corporate_registry"), *licence_both_sides()]


@pytest.mark.parametrize("contractor_type", BUSINESSES)
@pytest.mark.parametrize(
    "documents",
    [
        pytest.param(complete_business_set, id="licence both sides"),
        pytest.param(
            lambda: [doc("corporate_registry"), doc("passport")], id="passport with address"
        ),
        pytest.param(
            lambda: [doc("corporate_registry", issued_on=months_before(TODAY, 3)), doc("passport")],
            id="registry copy exactly 3 months old",
        ),
    ],
)
def test_a_complete_business_set_passes(contractor_type: ContractorType, documents: object) -> None:
    assert callable(documents)
    result = check(CURRENT, business(contractor_type), documents())
    assert result.complete, result.missing
    assert result.missing == []
    assert result.document_problems == {}


def _without(document_type: str, side: str | None = None) -> list[DocumentFacts]:
    return [
        d
        for d in complete_business_set()
        if not (d.document_type == document_type and (side is None or d.side == side))
    ]


CORPORATE_GAPS = [
    # (id, applicant options, documents, expected missing code, a word of the message)
    (
        "registry copy missing",
        {},
        lambda: _without("corporate_registry"),
        "corporate_registry_required",
        "発行から3か月以内の登記簿謄本",
    ),
    (
        "registry copy too old",
        {},
        lambda: [
            *_without("corporate_registry"),
            doc("corporate_registry", issued_on=date(2025, 12, 14)),
        ],
        "corporate_registry_not_valid",
        "3か月以内",
    ),
    (
        "representative ID missing",
        {},
        lambda: _without("drivers_license"),
        "representative_id_required",
        "代表者の顔写真付き本人確認書類",
    ),
    (
        "licence front only",
        {},
        lambda: _without("drivers_license", "back"),
        "representative_id_side_required",
        "裏面をアップロード",
    ),
    (
        "licence back only",
        {},
        lambda: _without("drivers_license", "front"),
        "representative_id_side_required",
        "表面をアップロード",
    ),
    (
        "passport without address",
        {},
        lambda: [*_without("drivers_license"), doc("passport", issued_on=NEW_PASSPORT_ISSUED)],
        "representative_passport_without_address",
        "住所の記載がない",
    ),
    (
        "licence expired",
        {},
        lambda: [*_without("drivers_license"), *licence_both_sides(TODAY - timedelta(days=1))],
        "representative_id_not_valid",
        "代表者の本人確認書類は使えません",
    ),
    (
        "My Number card is not a representative ID",
        {},
        lambda: [*_without("drivers_license"), doc("my_number_card")],
        "representative_id_required",
        "運転免許証（表面と裏面）",
    ),
    (
        "no public notice",
        {"notice": False},
        complete_business_set,
        "public_notice_missing",
        "ウェブサイトのURL",
    ),
    (
        "mobile screening phone",
        {"fixed": False},
        complete_business_set,
        "screening_phone_not_fixed_line",
        "固定電話",
    ),
    ("free mail", {"email": "free"}, complete_business_set, "email_free_mail", "フリーメール"),
    (
        "carrier mail",
        {"email": "carrier"},
        complete_business_set,
        "email_carrier_mail",
        "携帯キャリア",
    ),
]


@pytest.mark.parametrize("contractor_type", BUSINESSES)
@pytest.mark.parametrize(
    ("options", "documents", "expected", "words"),
    [pytest.param(*case[1:], id=str(case[0])) for case in CORPORATE_GAPS],
)
def test_each_missing_business_piece_is_named_on_its_own(
    contractor_type: ContractorType,
    options: dict[str, object],
    documents: object,
    expected: str,
    words: str,
) -> None:
    assert callable(documents)
    applicant = business(contractor_type, **options)  # type: ignore[arg-type]
    result = check(CURRENT, applicant, documents())
    assert not result.complete
    assert codes(result) == [expected]
    assert words in result.missing[0].message_ja
    assert result.valid_until is None


def test_every_business_gap_at_once_is_listed() -> None:
    applicant = business("telemarketing", email="carrier", fixed=False, notice=False)
    result = check(CURRENT, applicant, [])
    assert codes(result) == [
        "corporate_registry_required",
        "representative_id_required",
        "public_notice_missing",
        "screening_phone_not_fixed_line",
        "email_carrier_mail",
    ]


def test_a_new_passport_is_flagged_on_the_document_for_a_business() -> None:
    passport = doc("passport", issued_on=NEW_PASSPORT_ISSUED)
    result = check(CURRENT, business(), [doc("corporate_registry"), passport])
    assert problem_codes(result, passport) == ["passport_without_address"]


def test_a_too_old_corporate_registry_is_flagged_on_the_document() -> None:
    registry = doc("corporate_registry", issued_on=date(2025, 12, 14))
    result = check(CURRENT, business(), [registry, *licence_both_sides()])
    assert problem_codes(result, registry) == ["issued_too_long_ago"]


def test_a_business_approval_ends_with_the_representative_licence() -> None:
    documents = [
        doc("corporate_registry"),
        doc("drivers_license", "front", expires_on=date(2027, 8, 1)),
        doc("drivers_license", "back", expires_on=date(2027, 8, 1)),
    ]
    result = check(CURRENT, business(), documents)
    assert result.complete
    assert result.valid_until == date(2027, 8, 1)


def test_an_individual_is_not_asked_for_business_pieces() -> None:
    result = check(CURRENT, person(), [doc("drivers_license")])
    assert result.complete  # free mail, no public notice: fine for an individual


def test_stored_strings_are_narrowed_for_the_applicant() -> None:
    assert parse_contractor_type("telemarketing") == "telemarketing"
    assert parse_email_domain_class("carrier") == "carrier"
    with pytest.raises(ValueError, match="contractor type"):
        parse_contractor_type("法人")
    with pytest.raises(ValueError, match="domain class"):
        parse_email_domain_class("gmail")
