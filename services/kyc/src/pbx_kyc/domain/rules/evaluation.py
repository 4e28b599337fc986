"""Evaluating an applicant's documents against a rule set."""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from pbx_kyc.domain.rules.model import (
    SIDE_NAMES,
    Applicant,
    DocumentFacts,
    Evaluation,
    Missing,
    Problem,
    Role,
    RuleSet,
)

_UNKNOWN_TYPE_NAME = "この種類の書類"


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
