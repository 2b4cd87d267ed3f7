"""The status of an agreement as its callers and officers see it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from pydantic import Field

from domain.actions import MilestoneStatus, SignOffDecision
from domain.agreement import Agreement, Closure, KpiTrend, RetiredSignatory, SignOffRecord
from domain.business_case import BenefitPosition
from domain.calendar import describe_end
from domain.delegation import Delegation
from domain.drift import Alert, Waiting, conditions, open_alerts, overall_rag, stage_rag, waiting_on
from domain.ledger import ChainHead
from domain.model import Direction, Rag, Risk, ServiceCategory, Signatory, Stage, ValueObject, find_signatory
from domain.variation import SignatureRecord, Variation


class MilestoneView(ValueObject):
    id: str
    title: str
    owner_body: str
    due: date
    status: MilestoneStatus
    percent_complete: int
    note: str


class KpiView(ValueObject):
    id: str
    name: str
    unit: str
    baseline: Decimal
    target: Decimal
    direction: Direction
    reading: Decimal | None
    rag: Rag | None
    trend: KpiTrend | None


class ActionReceipt(ValueObject):
    """What became of the action an update carried: its action id, the ledger sequence numbers its
    decisions were recorded under, and whether it was a repeat (recorded earlier, nothing done now)."""

    action_id: str
    first_seq: int
    last_seq: int
    repeat: bool


class Receipt(ValueObject):
    """The short answer to an action sent with ``reply: "receipt"``: what became of it (``action``: its id, the
    ledger sequence numbers its decisions were recorded under, whether it was a repeat), and the agreement's stage,
    version and number of recorded decisions after it. The status query gives the rest."""

    agreement_id: str
    action: ActionReceipt
    stage: Stage
    version: str | None
    decisions_recorded: int


class VariationView(ValueObject):
    """The pending variation: what it changes, who has signed it, who is awaited, and from when."""

    number: int
    reason: str
    effective_on: date
    changes: list[str]
    variation: Variation
    proposed_at: datetime
    signed: list[SignatureRecord]
    awaited: list[str]
    version: str | None = Field(None, description="The variation's version (SHA-256 of its canonical JSON): what "
                                                   "a sign_variation names. None in a status from an older worker.")


class AgreementStatus(ValueObject):
    """What an agreement's status query, updates and result return; fields added later have defaults, so a
    status from an older worker still reads."""

    agreement_id: str
    title: str
    service_name: str
    service_category: ServiceCategory
    lead_body: str
    partner_bodies: list[str]
    body_names: dict[str, str]
    stage: Stage
    rag: Rag
    stage_rag: Rag
    stage_started_at: datetime
    deadline: datetime | None
    waiting_on: list[Waiting]
    sign_off_round: int
    sign_offs: list[SignOffRecord]
    milestones: list[MilestoneView]
    went_live_at: datetime | None
    review_number: int
    review_period_end: datetime | None = Field(None, description="When the current review's period ends (UTC).")
    review_due: datetime | None = Field(None, description="When the current review is due to be decided (UTC).")
    next_review_period_end: datetime | None = Field(None, description="When the next review's period ends (UTC).")
    reviews_outstanding: int = Field(
        default=0,
        description="Review periods ended and not yet decided, the current one included once its period has ended.",
    )
    reviews_in_term: int | None = Field(None, description="Reviews in the term; None until the service goes live.")
    kpis: list[KpiView]
    open_alerts: list[Alert]
    expected_annual_saving: Decimal | None = Field(
        default=None,
        description="Pounds a year; negative for a net annual cost. None in a status from an older worker.",
    )
    payback_years: Decimal | None
    closure: Closure | None
    signatories: dict[str, list[Signatory]] = Field(
        default_factory=dict, description="Each partner's current signatories. Empty in a status from an older worker."
    )
    retired_signatories: list[RetiredSignatory] = Field(default_factory=list)
    delegations: list[Delegation] = Field(
        default_factory=list, description="The delegations of signature that stand: not withdrawn and not yet ended "
        "(current, or to start later), by the day (UTC) of the status. Empty in a status from an older worker.")
    variation: VariationView | None = Field(None, description="The pending variation, if any.")
    former_partners: dict[str, str] = Field(
        default_factory=dict, description="Names of bodies that have left or been succeeded, by code."
    )
    benefits: BenefitPosition | None = Field(
        default=None, description="The benefits realised as last recorded at a review, and the payback forecast.")
    risks: list[Risk] = Field(default_factory=list,
                              description="The risk register as last reviewed, highest score (likelihood x impact) "
                              "first.")
    risks_reviewed_at: int = Field(default=0, description="The review at which the risk register was last reviewed.")
    lessons_at_review: int = Field(default=0, description="The review at which lessons were last recorded.")
    decisions_recorded: int
    ledger_head: ChainHead
    version: str | None = Field(
        default=None,
        description="The version of the proposal and plan (SHA-256 of their canonical JSON): what a sign-off names "
        "as the version it approves. None in a status from an older worker.",
    )
    require_attestation: bool = Field(default=False, description="Whether every action must be attested by the API.")
    attestor_keys: list[str] = Field(default_factory=list, description="The ids of the attestor keys in use.")
    action: ActionReceipt | None = Field(
        default=None, description="In an update's result: what became of its action. Absent from the status query."
    )


def status_of(agreement: Agreement, now: datetime, reached: list[Alert] | None = None) -> AgreementStatus:
    """The agreement as officers see it at ``now``; ``reached`` is ``drift.conditions(agreement, now)`` where the
    caller has already computed it (they are otherwise computed here, once)."""
    if reached is None:
        reached = conditions(agreement, now)
    proposal = agreement.proposal
    current_end, next_end = _review_period_ends(agreement)
    return AgreementStatus(
        agreement_id=agreement.agreement_id,
        title=proposal.title,
        service_name=proposal.service_name,
        service_category=proposal.service_category,
        lead_body=proposal.lead_body,
        partner_bodies=[p.code for p in proposal.partners],
        body_names={p.code: p.name for p in proposal.partners},
        stage=agreement.stage,
        rag=overall_rag(agreement, now, reached),
        stage_rag=stage_rag(agreement, now),
        stage_started_at=agreement.clock_started_at,
        deadline=agreement.deadline,
        waiting_on=waiting_on(agreement, now),
        sign_off_round=agreement.sign_off_round,
        sign_offs=list(agreement.sign_offs.values()),
        milestones=_milestone_views(agreement),
        went_live_at=agreement.went_live_at,
        review_number=agreement.review_number,
        review_period_end=current_end,
        review_due=agreement.deadline if agreement.stage is Stage.REVIEW else None,
        next_review_period_end=next_end,
        reviews_outstanding=agreement.reviews_outstanding(now),
        reviews_in_term=agreement.review_count,
        kpis=_kpi_views(agreement),
        open_alerts=open_alerts(agreement, now, reached),
        expected_annual_saving=proposal.expected_annual_saving,
        payback_years=proposal.payback_years,
        closure=agreement.closure,
        signatories={p.code: agreement.signatories(p.code) for p in proposal.partners},
        retired_signatories=agreement.retired_signatories,
        delegations=_standing_delegations(agreement, now),
        variation=_variation_view(agreement),
        former_partners=agreement.former_partners,
        benefits=agreement.benefits,
        risks=sorted(agreement.risks, key=lambda risk: -risk.score),
        risks_reviewed_at=agreement.risks_reviewed_at,
        lessons_at_review=agreement.lessons_at_review,
        decisions_recorded=agreement.chain.seq,
        ledger_head=agreement.chain,
        version=agreement.version,
        require_attestation=agreement.settings.require_attestation,
        attestor_keys=sorted(agreement.settings.attestor_keys),
    )


def _standing_delegations(agreement: Agreement, now: datetime) -> list[Delegation]:
    """The delegations that stand at ``now`` (not withdrawn, not ended by its UTC date) of signatories who are still
    current signatories of their bodies (a delegate cannot sign for one who has retired, or whose body left)."""
    day = now.astimezone(UTC).date()
    return [d for d in agreement.delegations if d.standing(day)
            and find_signatory(agreement.signatories(d.body), d.signatory, agreement.name_key) is not None]


def _milestone_views(agreement: Agreement) -> list[MilestoneView]:
    if agreement.plan is None:
        return []
    views = []
    for m in agreement.plan.milestones:
        progress = agreement.milestone_progress(m.id)
        views.append(MilestoneView(
            id=m.id, title=m.title, owner_body=m.owner_body, due=m.due, status=progress.status,
            percent_complete=progress.percent_complete, note=progress.note,
        ))
    return views


def _kpi_views(agreement: Agreement) -> list[KpiView]:
    if agreement.plan is None:
        return []
    views = []
    for k in agreement.plan.kpis:
        reading = agreement.readings.get(k.id)
        views.append(KpiView(
            id=k.id, name=k.name, unit=k.unit, baseline=k.baseline, target=k.target, direction=k.direction,
            reading=reading.value if reading else None, rag=reading.rag if reading else None,
            trend=agreement.kpi_trends.get(k.id),
        ))
    return views


def _variation_view(agreement: Agreement) -> VariationView | None:
    pending = agreement.variation
    if pending is None:
        return None
    return VariationView(
        number=pending.number, reason=pending.variation.reason, effective_on=pending.variation.effective_on,
        changes=pending.variation.describe({p.code: p.name for p in agreement.proposal.partners}),
        variation=pending.variation, proposed_at=pending.proposed_at,
        signed=list(pending.signatures.values()), awaited=[code for code, _ in agreement.variation_awaits],
        version=agreement.variation_version,
    )


def _review_period_ends(agreement: Agreement) -> tuple[datetime | None, datetime | None]:
    """When the current review's period ends and, unless the agreement is closed, when the next one's does;
    None for each before go-live or where there is no such review."""
    in_term = agreement.review_count
    number = agreement.review_number
    if not in_term:
        return None, None
    current_end = agreement.review_period_end(number) if number else None
    has_next = number < in_term and agreement.stage is not Stage.CLOSED
    return current_end, agreement.review_period_end(number + 1) if has_next else None


def when_text(moment: datetime) -> str:
    """A UTC moment to the minute as officers read it: '2027-03-01 09:00 UTC'."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def waiting_summary(status: AgreementStatus) -> str:
    """One line for the Web UI timeline and the CLI: what the agreement waits for, from whom, until when, and
    what a pending variation waits for."""
    if status.closure is not None:
        return f"closed ({status.closure.outcome.value})"
    variation = status.variation
    if variation is None:
        return _stage_summary(status, status.waiting_on)
    signing = f"variation {variation.number} to be signed"
    summary = _stage_summary(status, [waiting for waiting in status.waiting_on if waiting.for_what != signing])
    if variation.awaited:
        awaited = ", ".join(w.body_name for w in status.waiting_on if w.for_what == signing)
        return f"{summary}; {signing} by {awaited}"
    return f"{summary}; variation {variation.number} takes effect on {variation.effective_on}"


def _stage_summary(status: AgreementStatus, stage_waits: list[Waiting]) -> str:
    """What the stage waits for, each need once with the bodies it waits on, and until when; a review nobody
    is yet waited on for says when it opens."""
    if status.stage is Stage.REVIEW and not stage_waits:
        return f"in service; review {status.review_number} opens {when_text(status.stage_started_at)}"
    needs: dict[str, list[str]] = {}
    for waiting in stage_waits:
        needs.setdefault(waiting.for_what, []).append(waiting.body_name)
    parts = [f"{for_what} from {', '.join(bodies)}" for for_what, bodies in needs.items()]
    deadline = f" until {when_text(status.deadline)}" if status.deadline else ""
    return f"waiting for {'; '.join(parts)}{deadline}"


def money_summary(status: AgreementStatus) -> str | None:
    """The case in one line: 'expected annual saving £500,000.00, payback 1.30 years' or a net cost."""
    saving = status.expected_annual_saving
    if saving is None:
        return None
    if saving < 0:
        return f"net annual cost £{-saving:,.2f} (no payback)"
    payback = f"payback {status.payback_years} years" if status.payback_years is not None else "no payback"
    return f"expected annual saving £{saving:,.2f}, {payback}"


def rejection_summary(status: AgreementStatus) -> str | None:
    """The sign-off rejection that sent the agreement back (or closed it), named as a rejection with who rejected
    it, when and why: 'sign-off rejected by Tamworth Borough Council (Owen Hughes) on 2027-03-01 09:00 UTC:
    our contribution is too high'. None when the latest round had no rejection (a new round clears it)."""
    for sign_off in status.sign_offs:
        if sign_off.decision is SignOffDecision.REJECT:
            body = status.body_names.get(sign_off.body, sign_off.body)
            return (f"sign-off rejected by {body} ({signed_by(sign_off)}) on {when_text(sign_off.at)}: "
                    f"{sign_off.reason}")
    return None


def signed_by(record: SignOffRecord | SignatureRecord) -> str:
    """'Priya Shah', or 'Sam Okafor for Priya Shah' for a signature under a delegation."""
    return record.signatory if record.delegate is None else f"{record.delegate} for {record.signatory}"


def schedule_summary(status: AgreementStatus) -> str | None:
    """The review schedule of a live service in one line; None before go-live and once closed."""
    if status.reviews_in_term is None or status.closure is not None:
        return None
    parts = []
    if status.review_period_end is not None:
        current = (f"review {status.review_number} of {status.reviews_in_term}, "
                   f"for the period ending {describe_end(status.review_period_end)}")
        if status.review_due is not None:
            current += f", due {when_text(status.review_due)}"
        parts.append(current)
    if status.next_review_period_end is not None:
        parts.append(f"next period ends {describe_end(status.next_review_period_end)}")
    outstanding = status.reviews_outstanding
    parts.append(f"{outstanding} review{'s' * (outstanding != 1)} outstanding")
    return "; ".join(parts)


def _as_written(text: str) -> str:
    return text


def variation_markdown(
    status: AgreementStatus, variation: VariationView, shown: Callable[[str], str] = _as_written
) -> str:
    """The pending variation for the Web UI and the CLI: its changes, signatures and effective date, each word
    from the agreement passed through ``shown`` (the Web UI passes its Markdown escape, so that only Concordat's
    own markup is read as Markdown)."""
    lines = [f"**Variation {variation.number}**, to take effect {variation.effective_on}: {shown(variation.reason)}"]
    lines += [f"- {shown(change)}" for change in variation.changes]
    names = {**status.body_names, **{p.code: p.name for p in variation.variation.incoming}}
    signed = ", ".join(f"{names.get(s.body, s.body)} ({signed_by(s)})" for s in variation.signed) or "none yet"
    awaited = ", ".join(names.get(code, code) for code in variation.awaited)
    lines.append(shown(f"Signed: {signed}.") + (" " + shown(f"Awaiting: {awaited}.") if awaited
                                                 else " Agreed by every body."))
    return "\n".join(lines)
