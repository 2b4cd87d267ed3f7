"""Rules of benefit reviews: readings, benefits realised, the risk register, lessons, and the decision.

A review covers one review period; its readings and benefits are recorded once the period has ended, and the
lead body decides to continue (the next review opens), amend (back to objective-setting) or terminate.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from domain.actions import DecideReview, RecordBenefits, RecordKpiReadings, RecordLessons, ReviewOutcome, ReviewRisks
from domain.agreement import Agreement, ClosedOutcome, KpiTrend, Reading
from domain.business_case import concluded, position
from domain.calendar import describe_end
from domain.errors import ActionRejected
from domain.model import Stage
from domain.rules.draft import Draft, Rule, each_partner_once
from domain.rules.proposal import check_risks


def enter_review(draft: Draft, reason: str) -> None:
    """Open the next review, its clock starting when its period ends (at once if it already has)."""
    agreement = draft.agreement
    number = agreement.review_number + 1
    if not agreement.reviews_never_skipped:
        skipped = []
        while agreement.review_period_end(number) <= draft.now:
            skipped.append(number)
            number += 1
        if skipped:
            plural = "s" * (len(skipped) > 1)
            reason += f"; review{plural} {', '.join(map(str, skipped))} skipped, the period having ended meanwhile"
    if number > _review_count(agreement):
        draft.close(ClosedOutcome.COMPLETED, "the agreement's term has ended")
        return
    agreement.review_number = number
    agreement.readings = {}
    draft.move_to(Stage.REVIEW, reason, clock_starts=agreement.review_period_end(number))


def _review_count(agreement: Agreement) -> int:
    """Reviews in the term of a service that has gone live."""
    review_count = agreement.review_count
    assert review_count is not None
    return review_count


def record_kpi_readings(draft: Draft, action: RecordKpiReadings) -> None:
    """A partner records KPI readings for the review, once its period has ended; each gets its RAG."""
    agreement = draft.agreement
    assert agreement.plan is not None
    _require_period_ended(agreement, draft.now, "its readings can be recorded")
    for index, reading in enumerate(action.readings):
        kpi = agreement.plan.kpi(reading.kpi_id)
        if kpi is None:
            known = ", ".join(k.id for k in agreement.plan.kpis)
            raise ActionRejected(f"there is no KPI {reading.kpi_id} (KPIs: {known})", code="unknown_kpi",
                                 field=f"readings.{index}.kpi_id")
        agreement.readings[kpi.id] = Reading(
            kpi_id=kpi.id, value=reading.value, rag=kpi.rag(reading.value), recorded_at=draft.now
        )


def _require_period_ended(agreement: Agreement, now: datetime, what: str) -> None:
    """Refuse ``what`` before the current review's period ends."""
    due = agreement.review_period_end(agreement.review_number)
    if now < due:
        raise ActionRejected(
            f"review {agreement.review_number} covers the period ending {describe_end(due)}; "
            f"only after that {what}",
            code="review_period_open",
        )


def record_benefits(draft: Draft, action: RecordBenefits) -> None:
    """The lead records the actual annual cost and each partner's contribution; the benefits realised and the
    payback forecast are computed against the business case (``domain.business_case.position``) and noted."""
    agreement = draft.agreement
    proposal = agreement.proposal
    case = proposal.business_case
    if case is None:
        raise ActionRejected(f"agreement {agreement.agreement_id} has no business case to measure benefits against",
                             code="no_business_case")
    _require_period_ended(agreement, draft.now, "its benefits can be recorded")
    _check_contributions(agreement, action)
    number = agreement.review_number
    assert agreement.went_live_at is not None
    now_position = position(
        case, agreement.benefit_track, review_number=number, recorded_at=draft.now, went_live_at=agreement.went_live_at,
        period_start=agreement.review_period_start(number), period_end=agreement.review_period_end(number),
        baseline=proposal.baseline_annual_cost, one_off_cost=proposal.one_off_cost,
        expected_annual_saving=proposal.expected_annual_saving, actual_annual_cost=action.actual_annual_cost,
        time_scale=agreement.settings.time_scale,
    )
    agreement.benefits = now_position
    baselines = {b.body: b.annual_cost for b in case.baselines}
    draft.note(
        review_number=number,
        position=now_position.model_dump(mode="json"),
        partner_savings={c.body: str(baselines[c.body] - c.annual_amount) for c in action.contributions
                         if c.body in baselines},
    )


def _check_contributions(agreement: Agreement, action: RecordBenefits) -> None:
    """Each partner's contribution is given once, and they add up to the actual annual cost."""
    given = [c.body for c in action.contributions]
    if (problem := each_partner_once(agreement.proposal, given, missing="none from", extra="one from")) is not None:
        raise ActionRejected("give each partner's contribution once: " + problem,
                             code="contributions_mismatch", field="contributions")
    total = sum((c.annual_amount for c in action.contributions), Decimal(0))
    if total != action.actual_annual_cost:
        raise ActionRejected(f"the contributions add up to £{total}, not the actual annual cost "
                             f"£{action.actual_annual_cost}", code="contributions_mismatch", field="contributions")


def review_risks(draft: Draft, action: ReviewRisks) -> None:
    """The lead records the risk register as reviewed at this review."""
    agreement = draft.agreement
    check_risks(agreement.proposal, action.risks, "risks")
    agreement.risk_register = list(action.risks)
    agreement.risks_reviewed_at = agreement.review_number
    draft.note(review_number=agreement.review_number)


def record_lessons(draft: Draft, action: RecordLessons) -> None:
    """A partner records lessons learned (kept in the ledger; the state remembers the review they came at)."""
    draft.agreement.lessons_at_review = draft.agreement.review_number
    draft.note(review_number=draft.agreement.review_number)


def decide_review(draft: Draft, action: DecideReview) -> None:
    """The lead concludes the review: terminate at any time; continue or amend once the period has ended and every
    KPI has its reading. Continue opens the next review, or completes the agreement at the end of its term."""
    agreement = draft.agreement
    assert agreement.plan is not None
    if action.outcome is ReviewOutcome.TERMINATE:
        draft.close(ClosedOutcome.TERMINATED, action.reason)
        return
    _require_period_ended(agreement, draft.now, "it can be concluded (terminate is possible at any time)")
    missing = [k.id for k in agreement.plan.kpis if k.id not in agreement.readings]
    if missing:
        raise ActionRejected(f"review {agreement.review_number} still needs readings for KPIs: {', '.join(missing)}",
                             code="readings_missing")
    _conclude_readings_and_benefits(agreement)
    if action.outcome is ReviewOutcome.AMEND:
        agreement.sign_off_round = 1
        agreement.plan_in_force = agreement.plan
        draft.move_to(Stage.OBJECTIVE_SETTING, f"review {agreement.review_number} asked for amendment")
    elif agreement.review_number >= _review_count(agreement):
        draft.close(ClosedOutcome.COMPLETED, "the agreement's term has ended")
    else:
        enter_review(draft, f"review {agreement.review_number} concluded: continue")


def _conclude_readings_and_benefits(agreement: Agreement) -> None:
    """Fold the review's KPI readings into their trends, and its benefits (if recorded) into the benefit track."""
    for kpi_id, reading in agreement.readings.items():
        agreement.kpi_trends[kpi_id] = agreement.kpi_trends.get(kpi_id, KpiTrend()).after(reading)
    if agreement.benefits is not None and agreement.benefits.review_number == agreement.review_number:
        agreement.benefit_track = concluded(agreement.benefit_track, agreement.benefits)


RULES: list[Rule] = [
    Rule(action=RecordKpiReadings, kind="kpi_readings_recorded", verb="record KPI readings", stages=(Stage.REVIEW,),
         apply=record_kpi_readings),
    Rule(action=DecideReview, kind="review_decided", verb="decide a review", stages=(Stage.REVIEW,), lead_only=True,
         apply=decide_review),
    Rule(action=RecordBenefits, kind="benefits_recorded", verb="record benefits realised", stages=(Stage.REVIEW,),
         lead_only=True, apply=record_benefits),
    Rule(action=ReviewRisks, kind="risks_reviewed", verb="review the risk register", stages=(Stage.REVIEW,),
         lead_only=True, apply=review_risks),
    Rule(action=RecordLessons, kind="lessons_recorded", verb="record lessons learned", stages=(Stage.REVIEW,),
         apply=record_lessons),
]
