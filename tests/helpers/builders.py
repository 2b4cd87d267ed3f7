"""Small builders for the pure domain tests: actions, and agreements walked to a given stage.

Every pre-live step happens at ``T0``; the standard plan's milestones fall due 30 and 90 days later.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.actions import (
    Action,
    Actor,
    DecideReview,
    NameSignatory,
    ProposeVariation,
    RecordBenefits,
    RecordKpiReadings,
    ReportMilestone,
    RetireSignatory,
    SetObjectives,
    SignOff,
    SignVariation,
    SubmitForSignOff,
    SubmitProposal,
    Withdraw,
)
from domain.lifecycle import Agreement, evolve, open_agreement
from tests.helpers import factories

T0 = datetime(2027, 4, 1, 9, 30, tzinfo=UTC)
LEAD = factories.LEAD
TAMWORTH = factories.TAMWORTH_SIGNATORY
STAFFORDSHIRE = factories.STAFFORDSHIRE_SIGNATORY
SIGNATORIES = (LEAD, TAMWORTH, STAFFORDSHIRE)
QUARTERLY_FOR_A_YEAR = {"review_period": "P91D", "term": "P364D"}
"""Four reviews, due 91, 182, 273 and 364 days after going live."""


# Actions


def submit(actor: Actor = LEAD) -> SubmitProposal:
    return SubmitProposal(actor=actor)


def set_objectives(actor: Actor = LEAD, **plan: Any) -> SetObjectives:
    return SetObjectives.model_validate({"actor": actor, "plan": factories.plan_data(T0.date(), **plan)})


def send_for_sign_off(actor: Actor = LEAD) -> SubmitForSignOff:
    return SubmitForSignOff(actor=actor)


def approve(actor: Actor) -> SignOff:
    return SignOff.model_validate({"actor": actor, "decision": "approve"})


def reject(actor: Actor, reason: str = "the contributions are not agreed") -> SignOff:
    return SignOff.model_validate({"actor": actor, "decision": "reject", "reason": reason})


def report(milestone_id: str, actor: Actor = LEAD, status: str = "complete", percent: int = 100) -> ReportMilestone:
    return ReportMilestone.model_validate(
        {"actor": actor, "milestone_id": milestone_id, "status": status, "percent_complete": percent}
    )


def readings(actor: Actor = LEAD, **values: str) -> RecordKpiReadings:
    """On-target readings for both KPIs unless given, e.g. ``readings(cost="70")``."""
    values = {"cost": "61", "on_time": "99.1"} | values
    return RecordKpiReadings.model_validate({"actor": actor, "readings": [
        {"kpi_id": "cost-per-household", "value": values["cost"]},
        {"kpi_id": "missed-bins", "value": values["on_time"]},
    ]})


def decide(outcome: str, actor: Actor = LEAD, reason: str = "benefits reviewed by the joint committee") -> DecideReview:
    return DecideReview.model_validate({"actor": actor, "outcome": outcome, "reason": reason})


def benefits(actual: str, lichfield: str | None = None, tamworth: str = "1200000.00",
             staffordshire: str = "700000.00") -> RecordBenefits:
    """The actual annual cost, shared as given (Lichfield pays what the others do not)."""
    lichfield = lichfield or str(Decimal(actual) - Decimal(tamworth) - Decimal(staffordshire))
    return RecordBenefits.model_validate({"actor": LEAD, "actual_annual_cost": actual, "contributions": [
        {"body": factories.LICHFIELD, "annual_amount": lichfield},
        {"body": factories.TAMWORTH, "annual_amount": tamworth},
        {"body": factories.STAFFORDSHIRE, "annual_amount": staffordshire}]})


def withdraw(actor: Actor = LEAD, reason: str = "the partners chose another provider") -> Withdraw:
    return Withdraw.model_validate({"actor": actor, "reason": reason})


# Agreements


def apply(agreement: Agreement, *actions: Action, now: datetime = T0) -> Agreement:
    for action in actions:
        agreement = evolve(agreement, action, now).agreement
    return agreement


def opened(settings: dict[str, Any] | None = None, *, old_rules: bool = False, **proposal: Any) -> Agreement:
    """Opened at T0 under today's rules (calendar periods, no review skipped, a business case required to
    submit), as the workflow opens it;
    ``old_rules`` for an agreement opened before the patches that brought them."""
    agreement = open_agreement(factories.request(settings=settings, **proposal), T0).agreement
    if old_rules:
        return agreement
    return agreement.model_copy(update={"calendar_periods": True, "reviews_never_skipped": True,
                                          "business_case_required": True})


def in_objective_setting(**kwargs: Any) -> Agreement:
    return apply(opened(**kwargs), submit())


def in_sign_off(**kwargs: Any) -> Agreement:
    return apply(in_objective_setting(**kwargs), set_objectives(), send_for_sign_off())


def in_implementation(**kwargs: Any) -> Agreement:
    return apply(in_sign_off(**kwargs), *(approve(actor) for actor in SIGNATORIES))


def live(**kwargs: Any) -> Agreement:
    """Gone live at T0 and waiting for review 1; by default four quarterly reviews."""
    kwargs.setdefault("settings", QUARTERLY_FOR_A_YEAR)
    return apply(in_implementation(**kwargs), report("fleet"), report("rounds", TAMWORTH))


def review_due(agreement: Agreement) -> datetime:
    """When the review now open can be concluded: the end of its review period."""
    return agreement.review_period_end(agreement.review_number)


def conclude_review(agreement: Agreement, outcome: str = "continue") -> Agreement:
    """Record on-target readings when the review period ends, and decide."""
    return apply(agreement, readings(), decide(outcome), now=review_due(agreement))


def after(days: float = 0, **kwargs: float) -> datetime:
    return T0 + timedelta(days=days, **kwargs)


# Variations and the signatory register, on the north-west partnership (Lancashire, Cumbria, Blackpool)

LANCASHIRE = factories.LANCASHIRE_SIGNATORY
CUMBRIA = factories.CUMBRIA_SIGNATORY
BLACKPOOL = factories.BLACKPOOL_SIGNATORY


def north_west(settings: dict[str, Any] | None = None) -> Agreement:
    return open_agreement(factories.north_west_request(settings=settings), T0).agreement


def north_west_in_sign_off() -> Agreement:
    plan = SetObjectives.model_validate({"actor": LANCASHIRE, "plan": factories.north_west_plan_data(T0.date())})
    return apply(north_west(), submit(LANCASHIRE), plan, send_for_sign_off(LANCASHIRE))


def north_west_live() -> Agreement:
    """Gone live at T0, in review 1 of four quarterly reviews."""
    agreement = apply(north_west_in_sign_off(), *(approve(a) for a in factories.NORTH_WEST_SIGNATORIES))
    return apply(agreement, report("system", LANCASHIRE), report("staff", CUMBRIA))


def propose(variation: dict[str, Any], actor: Actor = LANCASHIRE) -> ProposeVariation:
    return ProposeVariation.model_validate({"actor": actor, "variation": variation})


def sign(actor: Actor, decision: str = "approve", reason: str = "") -> SignVariation:
    return SignVariation.model_validate({"actor": actor, "decision": decision, "reason": reason})


def name_signatory(actor: Actor, of_body: str, name: str, reason: str = "", role: str = "Chief Executive"
                   ) -> NameSignatory:
    return NameSignatory(actor=actor, of_body=of_body, name=name, role=role, reason=reason)


def retire(actor: Actor, of_body: str, name: str, retired_on: date | None = None) -> RetireSignatory:
    """A retirement recorded by ``actor``, on T0's day unless ``retired_on`` is given."""
    return RetireSignatory(actor=actor, of_body=of_body, name=name, retired_on=retired_on or T0.date())
