"""Typed actions for tests, the same for the pure domain tests and the workflow tests.

Each builder returns the action model an update takes (``submit()`` a ``SubmitProposal``, ``approve(actor)`` a
``SignOff``): domain tests hand them to ``lifecycle.evolve``, workflow tests to
``handle.execute_update(AgreementWorkflow.<update>, action)``. Defaults are the standard test agreement's (its
lead, its plan's milestones and KPIs); ``T0`` is when every pre-live step of a domain test happens.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.actions import (
    Actor,
    DecideReview,
    NameSignatory,
    ProposeVariation,
    RecordBenefits,
    RecordKpiReadings,
    RecordLessons,
    ReportMilestone,
    RetireSignatory,
    ReviewRisks,
    ReviseProposal,
    SetObjectives,
    SignOff,
    SignVariation,
    SubmitForSignOff,
    SubmitProposal,
    Withdraw,
)
from tests.helpers import factories

T0 = datetime(2027, 4, 1, 9, 30, tzinfo=UTC)
LEAD = factories.LEAD
TAMWORTH = factories.TAMWORTH_SIGNATORY
STAFFORDSHIRE = factories.STAFFORDSHIRE_SIGNATORY
SIGNATORIES = (LEAD, TAMWORTH, STAFFORDSHIRE)
LANCASHIRE = factories.LANCASHIRE_SIGNATORY
CUMBRIA = factories.CUMBRIA_SIGNATORY
BLACKPOOL = factories.BLACKPOOL_SIGNATORY
QUARTERLY_FOR_A_YEAR = {"review_period": "P91D", "term": "P364D"}
"""Four reviews, due 91, 182, 273 and 364 days after going live."""


def after(days: float = 0, **kwargs: float) -> datetime:
    """``T0`` plus ``days`` (and any other ``timedelta`` arguments)."""
    return T0 + timedelta(days=days, **kwargs)


def submit(actor: Actor = LEAD) -> SubmitProposal:
    return SubmitProposal(actor=actor)


def revise(actor: Actor = LEAD, **proposal: Any) -> ReviseProposal:
    """The standard proposal with ``proposal``'s fields changed, e.g. ``revise(one_off_cost="550000.00")``."""
    return ReviseProposal.model_validate({"actor": actor, "proposal": factories.proposal_data(**proposal)})


def set_objectives(actor: Actor = LEAD, *, start: date | None = None, **plan: Any) -> SetObjectives:
    """The standard plan, its milestones due 30 and 90 days after ``start`` (T0's day unless given: a workflow test
    passes the day its objective-setting stage started), with ``plan``'s fields changed."""
    return SetObjectives.model_validate({"actor": actor, "plan": factories.plan_data(start or T0.date(), **plan)})


def set_north_west_objectives(actor: Actor = LANCASHIRE, *, start: date | None = None) -> SetObjectives:
    """The north-west partnership's plan (``factories.north_west_plan_data``), from ``start`` (T0's day unless
    given)."""
    return SetObjectives.model_validate({"actor": actor, "plan": factories.north_west_plan_data(start or T0.date())})


def send_for_sign_off(actor: Actor = LEAD) -> SubmitForSignOff:
    return SubmitForSignOff(actor=actor)


def approve(actor: Actor, version: str | None = None) -> SignOff:
    """An approval; a workflow test names the ``version`` signed (its status's ``version``)."""
    return SignOff.model_validate({"actor": actor, "decision": "approve", "version": version})


def reject(actor: Actor, reason: str = "the contributions are not agreed", version: str | None = None) -> SignOff:
    return SignOff.model_validate({"actor": actor, "decision": "reject", "reason": reason, "version": version})


def report(milestone_id: str, actor: Actor = LEAD, status: str = "complete", percent: int = 100,
           note: str = "") -> ReportMilestone:
    return ReportMilestone.model_validate(
        {"actor": actor, "milestone_id": milestone_id, "status": status, "percent_complete": percent, "note": note}
    )


KPI_IDS = {"cost": "cost-per-household", "on_time": "missed-bins"}
"""The standard plan's KPIs, by the names ``readings`` takes."""


def readings(actor: Actor = LEAD, **values: str | None) -> RecordKpiReadings:
    """On-target readings for both KPIs unless given, e.g. ``readings(cost="70")``; ``None`` leaves a KPI
    unread, e.g. ``readings(cost="66.5", on_time=None)``."""
    read: dict[str, str | None] = {"cost": "61", "on_time": "99.1"}
    read |= values
    return RecordKpiReadings.model_validate({"actor": actor, "readings": [
        {"kpi_id": KPI_IDS[name], "value": value} for name, value in read.items() if value is not None
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


def review_risks(*risks: dict[str, Any], actor: Actor = LEAD) -> ReviewRisks:
    """The risk register as ``risks`` (e.g. ``factories.risk_data(...)``), reviewed by ``actor``."""
    return ReviewRisks.model_validate({"actor": actor, "risks": list(risks)})


def record_lessons(*lessons: dict[str, Any], actor: Actor = LEAD) -> RecordLessons:
    """``lessons``, each ``{"what_worked": ..., "what_did_not": ..., "tags": [...]}``, recorded by ``actor``."""
    return RecordLessons.model_validate({"actor": actor, "lessons": list(lessons)})


def withdraw(actor: Actor = LEAD, reason: str = "the partners chose another provider") -> Withdraw:
    return Withdraw.model_validate({"actor": actor, "reason": reason})


def propose(variation: dict[str, Any], actor: Actor = LANCASHIRE) -> ProposeVariation:
    """A variation (e.g. ``factories.cumbria_reorganisation(...)``) proposed by ``actor``."""
    return ProposeVariation.model_validate({"actor": actor, "variation": variation})


def sign(actor: Actor, decision: str = "approve", reason: str = "", version: str | None = None) -> SignVariation:
    """A signature on the pending variation; a workflow test names the ``version`` signed."""
    return SignVariation.model_validate({"actor": actor, "decision": decision, "reason": reason, "version": version})


def name_signatory(actor: Actor, of_body: str, name: str, reason: str = "", role: str = "Chief Executive"
                   ) -> NameSignatory:
    return NameSignatory(actor=actor, of_body=of_body, name=name, role=role, reason=reason)


def retire(actor: Actor, of_body: str, name: str, retired_on: date | None = None) -> RetireSignatory:
    """A retirement recorded by ``actor``, on T0's day unless ``retired_on`` is given."""
    return RetireSignatory(actor=actor, of_body=of_body, name=name, retired_on=retired_on or T0.date())
