"""The lifecycle of an agreement: its state, and what each action does to it.

``evolve`` is the one entry point: it checks an action against the current state and
returns the next state together with the decisions to record, or raises
``ActionRejected`` with a reason. It never changes the state it is given, so the
workflow can check an action (in an update validator) without side effects, and
only adopt the next state once its decisions are safely in the ledger.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from itertools import count
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from domain import attestation, limits
from domain.actions import (
    Action,
    ChangeAttestorKeys,
    DecideReview,
    MilestoneStatus,
    NameSignatory,
    ProposeVariation,
    RecordBenefits,
    RecordKpiReadings,
    RecordLessons,
    ReportMilestone,
    RetireSignatory,
    ReviewOutcome,
    ReviewRisks,
    ReviseProposal,
    SetObjectives,
    SignOff,
    SignOffDecision,
    SignVariation,
    SubmitForSignOff,
    SubmitProposal,
    Withdraw,
    WithdrawVariation,
)
from domain.business_case import BenefitPosition, BenefitTrack, appraise, concluded, position
from domain.calendar import ReviewAlignment, describe_end, financial_year_start
from domain.errors import ActionRejected
from domain.ledger import ChainHead, Decision, canonical_json
from domain.model import (
    AgreementRequest,
    GovernanceSettings,
    Plan,
    Proposal,
    Rag,
    Risk,
    Signatory,
    Stage,
    ValueObject,
    find_signatory,
    name_key,
    partner_codes_problem,
)
from domain.variation import PendingVariation, SignatureRecord, partners_after, vary
from domain.variation import check as check_variation

RECENT_ACTIONS_KEPT = 500
"""How many accepted actions an agreement remembers, to recognise one sent again (see ``RecentAction``)."""
RECENT_ACTIONS_BYTES = RECENT_ACTIONS_KEPT * 300
"""What that memory may take as JSON: each entry at most 300 bytes (an action id of at most 128 ASCII
characters, a 64-character fingerprint, two sequence numbers and the keys). Reserved within the state's
size limit, so the state can be measured without it."""


class ClosedOutcome(StrEnum):
    COMPLETED = "completed"
    TERMINATED = "terminated"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class SignOffRecord(ValueObject):
    body: str
    signatory: str
    decision: SignOffDecision
    reason: str
    at: datetime


class MilestoneProgress(ValueObject):
    status: MilestoneStatus = MilestoneStatus.NOT_STARTED
    percent_complete: int = 0
    note: str = ""
    reported_at: datetime | None = None


class Reading(ValueObject):
    kpi_id: str
    value: Decimal
    rag: Rag
    recorded_at: datetime


class KpiTrend(ValueObject):
    """What past reviews said of one KPI, kept small so that years of reviews cost nothing."""

    reviews: int = 0
    green: int = 0
    amber: int = 0
    red: int = 0
    last_value: Decimal | None = None

    def after(self, reading: Reading) -> KpiTrend:
        counts = {rag.value: getattr(self, rag.value) for rag in Rag}
        counts[reading.rag.value] += 1
        return KpiTrend(reviews=self.reviews + 1, last_value=reading.value, **counts)


class RecentAction(ValueObject):
    """An accepted action, remembered so that the same action sent again is not applied twice.

    ``fingerprint`` is a SHA-256 of the decision kind and the action's content without its id;
    ``first_seq`` to ``last_seq`` are the ledger sequence numbers its decisions were recorded under.
    """

    action_id: str
    fingerprint: str
    first_seq: int
    last_seq: int


class RetiredSignatory(ValueObject):
    """A signatory who no longer signs for their body; their earlier decisions stand, in their name."""

    body: str
    name: str
    role: str
    retired_on: date


class Closure(ValueObject):
    outcome: ClosedOutcome
    reason: str
    at: datetime


class Agreement(BaseModel):
    """Everything the engine knows about one agreement; it is the workflow's whole state."""

    model_config = ConfigDict(extra="forbid")

    agreement_id: str
    proposal: Proposal
    settings: GovernanceSettings
    opened_at: datetime
    stage: Stage = Stage.PROPOSAL
    stage_visit: int = Field(default=1, description="Counts stage entries and review cycles; keys drift alerts.")
    clock_started_at: datetime
    sign_off_round: int = 1
    plan: Plan | None = None
    plan_in_force: Plan | None = Field(
        default=None, description="While a live service's amendment is negotiated: the plan it still runs under."
    )
    sign_offs: dict[str, SignOffRecord] = Field(default_factory=dict)
    milestones: dict[str, MilestoneProgress] = Field(default_factory=dict)
    went_live_at: datetime | None = None
    review_number: int = Field(default=0, description="The review period now under review (1 is the first).")
    readings: dict[str, Reading] = Field(default_factory=dict, description="KPI readings for the current review.")
    kpi_trends: dict[str, KpiTrend] = Field(default_factory=dict, description="KPI readings of concluded reviews.")
    closure: Closure | None = None
    signatory_register: dict[str, list[Signatory]] = Field(
        default_factory=dict,
        description="The signatory register: for each body whose signatories changed since the proposal named "
        "them, its current signatories (perhaps none). Other bodies' signatories are those in the proposal.",
    )
    retired_signatories: list[RetiredSignatory] = Field(default_factory=list)
    variation: PendingVariation | None = Field(default=None, description="The variation awaiting signature or "
                                                                         "its effective date, if any.")
    variations_proposed: int = 0
    former_partners: dict[str, str] = Field(
        default_factory=dict, description="Names of bodies that left or were succeeded, by code."
    )
    chain: ChainHead = ChainHead()
    raised_alerts: list[str] = Field(default_factory=list, description="'condition|level' of every alert raised.")
    calendar_periods: bool = Field(
        default=False,
        description="Review periods and the term count calendar months and years (agreements opened since the "
        "calendar-periods patch); before it, a year was 365 days and a month 30.",
    )
    reviews_never_skipped: bool = Field(
        default=False,
        description="Every review period gets its own review, however late (since the never-skip-reviews patch); "
        "before it, a late decision skipped the periods that had ended meanwhile.",
    )
    business_case_required: bool = Field(
        default=False,
        description="A proposal is submitted only with a business case and a risk register (since the "
        "business-case-required patch, set at each run's start); before it, neither was asked for.",
    )
    risk_register: list[Risk] | None = Field(
        default=None, description="The risk register as last reviewed; None while it is the proposal's.")
    risks_reviewed_at: int = Field(default=0, description="The review at which the risk register was last reviewed.")
    lessons_at_review: int = Field(default=0, description="The review at which lessons were last recorded (the "
                                   "lessons themselves are kept in the ledger).")
    benefit_track: BenefitTrack = Field(default_factory=BenefitTrack,
                                        description="The benefits realised by concluded reviews.")
    benefits: BenefitPosition | None = Field(
        default=None, description="The benefits realised as last recorded, and the payback forecast from them.")
    recent_actions: list[RecentAction] = Field(
        default_factory=list,
        description=f"The last {RECENT_ACTIONS_KEPT} accepted actions that named an action id, oldest first.",
    )
    versions_signed: bool = Field(
        default=False,
        description="Every sign-off names the version it approves (since the sign-what-you-saw patch, set at each "
        "run's start); before it, the version was optional.",
    )
    rules_version: int = Field(
        default=0,
        description="Which rules the engine gave this agreement, carried from run to run: 0, the flags above "
        "adopted patch by patch at each run's start; 1 (the rules-carried patch), all of them set at once. A "
        "continued run whose carried version is current asks history for no patch; a later rule raises it.",
    )

    @property
    def version(self) -> str:
        """The version of what partners sign: the SHA-256 (hex) of the canonical JSON of the proposal and the
        plan (the plan being agreed, or in force; null before one is set)."""
        return version_of({"proposal": self.proposal.model_dump(mode="json"),
                           "plan": self.plan.model_dump(mode="json") if self.plan else None})

    @property
    def variation_version(self) -> str | None:
        """The version of the pending variation (SHA-256 of its canonical JSON), or None when there is none."""
        return version_of(self.variation.variation.model_dump(mode="json")) if self.variation else None

    @property
    def deadline(self) -> datetime | None:
        """When the current stage (or review) is due to be complete."""
        if self.stage is Stage.CLOSED:
            return None
        return self.clock_started_at + self.settings.stage_durations.of(self.stage)

    def review_period_end(self, number: int) -> datetime:
        """When review period ``number`` (1 is the first) ends, and its review can be concluded (UTC).

        The one place the review schedule is computed. ``go_live``: go-live + number x review period,
        counted from go-live (so at go-live's time of day). ``financial_year``: the number-th end, after
        go-live, on the grid of periods from 1 April 00:00 UTC: the period ending 30 June ends at the end of
        that day, 1 July 00:00 UTC. Needs the service to have gone live.
        """
        assert self.went_live_at is not None
        period = self.settings.review_period
        if self.settings.review_alignment is ReviewAlignment.FINANCIAL_YEAR:
            year_start = financial_year_start(self.went_live_at)
            first = next(k for k in count(1) if year_start + period.times(k) > self.went_live_at)
            return year_start + period.times(first + number - 1)
        if not self.calendar_periods:
            return self.went_live_at + number * period.legacy_timedelta()
        return self.went_live_at + period.times(number)

    @property
    def term_ends_at(self) -> datetime | None:
        """Go-live plus the term; None before go-live."""
        if self.went_live_at is None:
            return None
        if self.calendar_periods:
            return self.went_live_at + self.settings.term.times(1)
        return self.went_live_at + self.settings.term.legacy_timedelta()

    def _periods_ended_by(self, moment: datetime) -> int:
        """How many review periods have ended by ``moment`` (a search, however short the period)."""
        ended, beyond = 0, 1
        while self.review_period_end(beyond) <= moment:
            ended, beyond = beyond, 2 * beyond
        while beyond - ended > 1:
            middle = (ended + beyond) // 2
            ended, beyond = (middle, beyond) if self.review_period_end(middle) <= moment else (ended, middle)
        return ended

    @property
    def review_count(self) -> int | None:
        """Reviews in the term: one for every review period ending by the term's end, at least one.

        None before go-live, when the schedule is not yet fixed.
        """
        term_ends = self.term_ends_at
        return None if term_ends is None else max(1, self._periods_ended_by(term_ends))

    def _reviews_decided(self) -> int:
        """Reviews concluded so far: all before the current one, and the current one once it has moved on."""
        return self.review_number - (self.stage is Stage.REVIEW)

    def reviews_outstanding(self, now: datetime) -> int:
        """Review periods that have ended without a decision, the current review's included once its period ends."""
        total = self.review_count
        if total is None or self.stage is Stage.CLOSED:
            return 0
        return max(0, min(self._periods_ended_by(now), total) - self._reviews_decided())

    def next_period_end(self, now: datetime) -> datetime | None:
        """The next end of an undecided review period in the term after ``now``: when the outstanding count grows."""
        total = self.review_count
        if total is None or self.stage is Stage.CLOSED:
            return None
        number = max(self._reviews_decided(), self._periods_ended_by(now)) + 1
        return self.review_period_end(number) if number <= total else None

    @property
    def risks(self) -> list[Risk]:
        """The risk register: as last reviewed, or as the proposal gave it."""
        return self.proposal.risks if self.risk_register is None else self.risk_register

    def review_period_start(self, number: int) -> datetime:
        """When review period ``number`` began: go-live for the first, else the previous period's end."""
        assert self.went_live_at is not None
        return self.went_live_at if number <= 1 else self.review_period_end(number - 1)

    def review_label(self, number: int) -> str:
        """'review 3, for the period ending 2028-01-01'."""
        return f"review {number}, for the period ending {describe_end(self.review_period_end(number))}"

    def signatories(self, body: str) -> list[Signatory]:
        """The body's current signatories: from the register if they changed, else as the proposal names them."""
        if body in self.signatory_register:
            return self.signatory_register[body]
        partner = self.proposal.partner(body)
        return partner.signatories if partner else []

    def body_name(self, code: str) -> str:
        """A partner's name, a former partner's, a body's joining in the pending variation, or the code itself."""
        incoming = self.variation.variation.incoming if self.variation else []
        partner = self.proposal.partner(code) or next((p for p in incoming if p.code == code), None)
        return partner.name if partner else self.former_partners.get(code, code)

    @property
    def variation_awaits(self) -> list[tuple[str, str]]:
        """(code, name) of each body still to approve the pending variation, in order."""
        pending = self.variation
        if pending is None:
            return []
        after = partners_after(self.proposal, pending.variation)
        return [(p.code, p.name) for p in after if p.code not in pending.signatures]

    @property
    def variation_due_at(self) -> datetime | None:
        """When an agreed variation takes effect; None unless one is agreed and waiting for its date."""
        pending = self.variation
        if pending is None or self.variation_awaits:
            return None
        return pending.variation.takes_effect_at

    def milestone_progress(self, milestone_id: str) -> MilestoneProgress:
        return self.milestones.get(milestone_id, MilestoneProgress())

    @property
    def open_milestones(self) -> list[str]:
        assert self.plan is not None
        return [
            m.id
            for m in self.plan.milestones
            if self.milestone_progress(m.id).status is not MilestoneStatus.COMPLETE
        ]


class AgreementInput(AgreementRequest):
    """What each run of the agreement workflow starts from.

    Callers send an ``AgreementRequest``; ``carried`` is set only by the engine when
    it continues an agreement as new, and is refused on any other start.
    """

    model_config = ConfigDict(title="agreement request")

    carried: Agreement | None = None


class Transition(BaseModel):
    """The next state and the decisions that explain it.

    ``remembered`` is the action as the agreement remembers it (when it named an action id): this one,
    or for a ``repeat`` the earlier one it repeats, in which case the state is unchanged and there are
    no decisions.
    """

    agreement: Agreement
    decisions: list[Decision]
    remembered: RecentAction | None = None
    repeat: bool = False


def version_of(content: Any) -> str:
    """The SHA-256 (hex) of ``content``'s canonical JSON: the version a signatory names when signing it."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def open_agreement(request: AgreementRequest, now: datetime) -> Transition:
    agreement = Agreement(
        agreement_id=request.agreement_id,
        proposal=request.proposal,
        settings=request.settings,
        opened_at=now,
        clock_started_at=now,
    )
    opened = Decision(
        kind="agreement_opened",
        stage=Stage.PROPOSAL,
        actor_body=request.proposal.lead_body,
        payload=request.model_dump(mode="json", exclude={"carried"}),
        decided_at=now,
    )
    return Transition(agreement=agreement, decisions=[opened])


def evolve(agreement: Agreement, action: Action, now: datetime) -> Transition:
    """Apply ``action`` to a copy of ``agreement``; raise ActionRejected if it is not allowed now.

    An action whose ``action_id`` the agreement remembers (see ``RecentAction``) is a repeat: with the
    same content it returns the agreement unchanged, ``repeat`` set and no decisions; with other
    content it is refused (``action_id_reused``). An applied action with an id is remembered.
    """
    rule = _RULES.get(type(action))
    if rule is None:
        raise ActionRejected(f"unknown action {type(action).__name__}", code="unknown_action")
    if agreement.settings.require_attestation:
        _check_attestation(agreement, action)
    if action.action_id is not None and (repeated := _repeat_of(agreement, action, rule)):
        return Transition(agreement=agreement, decisions=[], remembered=repeated, repeat=True)
    if agreement.stage is Stage.CLOSED:
        assert agreement.closure is not None
        raise ActionRejected(
            f"agreement {agreement.agreement_id} is closed ({agreement.closure.outcome.value}); "
            "no further action is possible",
            code="closed",
        )
    if agreement.stage not in rule.stages:
        raise ActionRejected(
            f"cannot {rule.verb} while agreement {agreement.agreement_id} is in {agreement.stage.label}; "
            f"that is possible only in {_either(s.label for s in rule.stages)}",
            code="wrong_stage",
        )
    _authorise(agreement, action, rule)
    draft = _Draft(_copy(agreement), action, now, rule.kind)
    rule.apply(draft)
    remembered = None
    if action.action_id is not None:
        first = agreement.chain.seq + 1
        remembered = RecentAction(
            action_id=action.action_id,
            fingerprint=_fingerprint(action, rule),
            first_seq=first,
            last_seq=first + len(draft.decisions) - 1,
        )
        draft.agreement.recent_actions = [*draft.agreement.recent_actions, remembered][-RECENT_ACTIONS_KEPT:]
    _check_platform_limits(draft.agreement)
    return Transition(agreement=draft.agreement, decisions=draft.decisions, remembered=remembered)


def _check_attestation(agreement: Agreement, action: Action) -> None:
    """Refuse an action without a valid attestation from one of the agreement's attestor keys, or whose
    attested identity is not the signatory it names (see ``domain.attestation``)."""
    claims = attestation.check(action.attestation, agreement.settings.attestor_keys, agreement.agreement_id, action,
                               agreement.chain.seq)
    actor = action.actor
    signatories = agreement.signatories(actor.body)
    if agreement.proposal.partner(actor.body) is None and agreement.variation is not None:
        incoming = next((p for p in agreement.variation.variation.incoming if p.code == actor.body), None)
        signatories = incoming.signatories if incoming else []
    signatory = find_signatory(signatories, actor.signatory)
    if signatory is not None and signatory.identity is None:
        raise ActionRejected(
            f"no identity is registered for {actor.signatory} of {agreement.body_name(actor.body)}, so nobody can "
            "act as them on this agreement: name them again with their identity (name_signatory)",
            code="identity_not_registered", field="actor.signatory",
        )
    if signatory is not None and not signatory.is_identified_by(claims["sub"]):
        raise ActionRejected(
            f"{claims['sub']} is not the identity registered for {actor.signatory} of "
            f"{agreement.body_name(actor.body)}: only they may act as them",
            code="not_that_signatory", field="actor.signatory",
        )


def _copy(agreement: Agreement) -> Agreement:
    """A deep copy for the rules to change, sharing the memory of recent actions (frozen, and only ever
    replaced, never changed in place), which would otherwise dominate the cost of every action."""
    copy = agreement.model_copy(update={"recent_actions": []}).model_copy(deep=True)
    copy.recent_actions = agreement.recent_actions
    return copy


def _fingerprint(action: Action, rule: _Rule) -> str:
    content = {"kind": rule.kind, "action": action.model_dump(mode="json", exclude={"action_id", "attestation"})}
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def _repeat_of(agreement: Agreement, action: Action, rule: _Rule) -> RecentAction | None:
    """The remembered action ``action`` repeats, if any; refuses an id already used for other content."""
    remembered = next((r for r in reversed(agreement.recent_actions) if r.action_id == action.action_id), None)
    if remembered is None:
        return None
    if remembered.fingerprint != _fingerprint(action, rule):
        raise ActionRejected(
            f"action id {action.action_id} was already used for a different action (recorded as decision "
            f"#{remembered.first_seq}); send a new action with a new action id",
            code="action_id_reused",
            field="action_id",
        )
    return remembered


def state_bytes(agreement: Agreement) -> int:
    """The most the agreement's state can take as JSON: all of it but its memory of recent actions,
    plus the most that memory may take (``RECENT_ACTIONS_BYTES``)."""
    return len(agreement.model_dump_json(exclude={"recent_actions"}).encode()) + RECENT_ACTIONS_BYTES


def _check_platform_limits(agreement: Agreement) -> None:
    """Refuse a next state that Temporal would not accept (see ``domain.limits``)."""
    if problem := partner_codes_problem([p.code for p in agreement.proposal.partners]):
        raise ActionRejected(problem, code="search_attribute_too_large")
    size = state_bytes(agreement)
    if size > limits.STATE_BYTES:
        raise ActionRejected(
            f"the agreement would take {size} bytes (with {RECENT_ACTIONS_BYTES} kept for its memory of recent "
            f"actions), over the {limits.STATE_BYTES} bytes its state may take (half of Temporal's 2 MB payload "
            "limit, limit.blobSize.error): shorten notes, names or lists",
            code="state_too_large",
        )


class _Draft:
    """The next state under construction, and the decisions that explain it."""

    def __init__(self, agreement: Agreement, action: Action | None, now: datetime, kind: str | None) -> None:
        self.agreement = agreement
        self.action = action
        self.now = now
        self.decisions: list[Decision] = []
        if action is not None and kind is not None:
            attested = action.attestation is not None
            self.record(kind, action.model_dump(mode="json", exclude={"actor"} if attested else {"actor", "action_id"}))

    def record(self, kind: str, payload: dict[str, Any]) -> None:
        """A decision by the action's actor; by nobody when time alone made it (a variation's date came)."""
        actor = self.action.actor if self.action else None
        self.decisions.append(
            Decision(
                kind=kind,
                stage=self.agreement.stage,
                actor_body=actor.body if actor else None,
                actor_signatory=actor.signatory if actor else None,
                payload=payload,
                decided_at=self.now,
            )
        )

    def note(self, **details: Any) -> None:
        """Add details to the action's own decision, the first recorded."""
        first = self.decisions[0]
        self.decisions[0] = first.model_copy(update={"payload": {**first.payload, **details}})

    def move_to(self, stage: Stage, reason: str, clock_starts: datetime | None = None) -> None:
        previous = self.agreement.stage
        self.agreement.stage = stage
        self.agreement.stage_visit += 1
        self.agreement.clock_started_at = clock_starts or self.now
        self.record("stage_changed", {"from": previous.value, "to": stage.value, "reason": reason})

    def close(self, outcome: ClosedOutcome, reason: str) -> None:
        """Close the agreement; a variation still pending lapses with it."""
        self.agreement.closure = Closure(outcome=outcome, reason=reason, at=self.now)
        self.move_to(Stage.CLOSED, f"{outcome.value}: {reason}")
        if (pending := self.agreement.variation) is not None:
            self.agreement.variation = None
            self.record("variation_lapsed", {"variation_number": pending.number,
                                             "reason": "the agreement closed before it took effect"})


def _either(items: Iterable[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    words = list(items)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _authorise(agreement: Agreement, action: Action, rule: _Rule) -> None:
    """Only a current signatory of a partner acts; a body joining or succeeding in the pending variation
    signs that variation through a signatory the variation names."""
    actor = action.actor
    partner = agreement.proposal.partner(actor.body)
    signatories = agreement.signatories(actor.body)
    if partner is None and isinstance(action, SignVariation) and agreement.variation is not None:
        partner = next((p for p in agreement.variation.variation.incoming if p.code == actor.body), None)
        signatories = partner.signatories if partner else []
    if partner is None:
        raise ActionRejected(
            f"{actor.body} is not a partner body of agreement {agreement.agreement_id}",
            code="not_a_partner", field="actor.body",
        )
    if find_signatory(signatories, actor.signatory) is None:
        named = ", ".join(s.name for s in signatories) or "nobody: it has no current signatory"
        raise ActionRejected(
            f"{actor.signatory} is not a named signatory of {partner.name} (named: {named})",
            code="not_a_signatory", field="actor.signatory",
        )
    lead = agreement.proposal.lead_body
    if rule.lead_only and actor.body != lead:
        raise ActionRejected(
            f"only the lead body ({agreement.proposal.body_name(lead)}) may {rule.verb}; "
            f"{partner.name} is not the lead",
            code="lead_only", field="actor.body",
        )


def _plan_problems(proposal: Proposal, plan: Plan, agreement: Agreement, now: datetime) -> list[str]:
    codes = {p.code for p in proposal.partners}
    problems = [
        f"milestone {m.id} is owned by {m.owner_body}, which is not a partner"
        for m in plan.milestones
        if m.owner_body not in codes
    ]
    problems += [
        f"contribution from {c.body}, which is not a partner" for c in plan.contributions if c.body not in codes
    ]
    contributing = {c.body for c in plan.contributions}
    problems += [f"no annual contribution given for {p.name} ({p.code})" for p in proposal.partners
                 if p.code not in contributing]
    today = now.astimezone(UTC).date()
    problems += [
        f"milestone {m.id} is due on {m.due}, which has already passed"
        for m in plan.milestones
        if m.due < today and agreement.milestone_progress(m.id).status is not MilestoneStatus.COMPLETE
    ]
    return problems


def _revise_proposal(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, ReviseProposal)
    current_lead = draft.agreement.proposal.lead_body
    if action.proposal.lead_body != current_lead:
        raise ActionRejected(
            f"the lead body cannot change in a revision (it is {current_lead})",
            code="lead_body_changed", field="proposal.lead_body",
        )
    codes = sorted(p.code for p in action.proposal.partners)
    if draft.agreement.variation is not None and codes != sorted(p.code for p in draft.agreement.proposal.partners):
        raise ActionRejected(f"variation {draft.agreement.variation.number} is pending: the partners cannot change "
                             "in a revision until it takes effect or is withdrawn",
                             code="variation_pending", field="proposal.partners")
    draft.agreement.proposal = action.proposal


def _submit_proposal(draft: _Draft) -> None:
    proposal = draft.agreement.proposal
    if draft.agreement.business_case_required:
        _require_business_case(proposal)
    if proposal.business_case is not None:
        draft.note(appraisal=[a.model_dump(mode="json") for a in appraise(proposal.business_case)])
    draft.move_to(Stage.OBJECTIVE_SETTING, "proposal submitted by the lead body")


def _require_business_case(proposal: Proposal) -> None:
    """A proposal is submitted with a business case whose baseline covers every partner and adds up to the
    baseline annual cost, and with a risk register of at least one risk owned by a partner."""
    case = proposal.business_case
    if case is None:
        raise ActionRejected(
            "the proposal needs a business case before it is submitted: the options considered (each partner "
            "carrying on alone, and the proposed sharing), the preferred option, and each partner's current "
            "annual cost (the baseline); revise the proposal to add it",
            code="business_case_missing", field="proposal.business_case")
    codes = [p.code for p in proposal.partners]
    given = [b.body for b in case.baselines]
    if sorted(given) != sorted(codes):
        missing, extra = sorted(set(codes) - set(given)), sorted(set(given) - set(codes))
        parts = ([f"no baseline for {', '.join(proposal.body_name(c) for c in missing)}"] if missing else []) + (
            [f"a baseline for {', '.join(extra)}, not a partner"] if extra else [])
        raise ActionRejected("the business case's baseline must give each partner's current annual cost once: "
                             + "; ".join(parts), code="baseline_incomplete", field="proposal.business_case.baselines")
    if case.baseline_total != proposal.baseline_annual_cost:
        raise ActionRejected(
            f"the partners' baselines add up to £{case.baseline_total}, not the baseline annual cost "
            f"£{proposal.baseline_annual_cost}", code="baseline_incomplete", field="proposal.business_case.baselines")
    if not proposal.risks:
        raise ActionRejected("the proposal needs at least one risk in its risk register before it is submitted",
                             code="risks_missing", field="proposal.risks")
    _check_risks(proposal, proposal.risks, "proposal.risks")


def _check_risks(proposal: Proposal, risks: list[Risk], field: str) -> None:
    ids = [r.id for r in risks]
    if repeated := sorted({i for i in ids if ids.count(i) > 1}):
        raise ActionRejected(f"each risk may appear once in the register; repeated: {', '.join(repeated)}",
                             code="risk_not_allowed", field=field)
    for index, risk in enumerate(risks):
        if proposal.partner(risk.owner_body) is None:
            raise ActionRejected(f"risk {risk.id} is owned by {risk.owner_body}, which is not a partner",
                                 code="risk_not_allowed", field=f"{field}.{index}.owner_body")


def _set_objectives(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, SetObjectives)
    problems = _plan_problems(draft.agreement.proposal, action.plan, draft.agreement, draft.now)
    if problems:
        raise ActionRejected("the plan cannot be accepted: " + "; ".join(problems), code="plan_does_not_fit",
                             field="plan")
    draft.agreement.plan = action.plan


def _submit_for_sign_off(draft: _Draft) -> None:
    agreement = draft.agreement
    if agreement.plan is None:
        raise ActionRejected("objectives, milestones and contributions must be set before sign-off", code="no_plan")
    problems = _plan_problems(agreement.proposal, agreement.plan, agreement, draft.now)
    if problems:
        raise ActionRejected("the plan no longer fits the proposal: " + "; ".join(problems),
                             code="plan_does_not_fit")
    agreement.sign_offs = {}
    draft.move_to(Stage.SIGN_OFF, f"sent to every partner's leadership (round {agreement.sign_off_round})")


def _check_version(agreement: Agreement, named: str | None, current: str, what: str) -> None:
    """Refuse a sign-off of another version than ``current``, or of none when versions must be named."""
    if named is None and agreement.versions_signed:
        raise ActionRejected(f"name the version of {what} you approve or reject: the current version is {current}",
                             code="version_required", field="version")
    if named is not None and named != current:
        raise ActionRejected(f"version {named} of {what} is not the current one ({current}): it changed since it "
                             "was read; read the current version and sign that", code="stale_version", field="version")


def _sign_off(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, SignOff)
    agreement = draft.agreement
    body = agreement.proposal.body_name(action.actor.body)
    earlier = agreement.sign_offs.get(action.actor.body)
    if earlier is not None:
        raise ActionRejected(
            f"{body} has already signed off in round {agreement.sign_off_round} "
            f"({earlier.signatory}, {earlier.at:%Y-%m-%d %H:%M} UTC)",
            code="already_signed", field="actor.body",
        )
    signer = name_key(action.actor.signatory)
    for other in agreement.sign_offs.values():
        if name_key(other.signatory) == signer:
            raise ActionRejected(
                f"{action.actor.signatory} has already signed in round {agreement.sign_off_round} "
                f"for {agreement.proposal.body_name(other.body)}; nobody signs twice",
                code="signed_twice", field="actor.signatory",
            )
    _check_version(agreement, action.version, agreement.version, "the agreement")
    agreement.sign_offs[action.actor.body] = SignOffRecord(
        body=action.actor.body,
        signatory=action.actor.signatory,
        decision=action.decision,
        reason=action.reason,
        at=draft.now,
    )
    if action.decision is SignOffDecision.REJECT:
        rounds = agreement.sign_off_round
        if agreement.plan_in_force is not None:
            _reject_amendment(draft, body, action.reason)
        elif rounds >= agreement.settings.max_sign_off_rounds:
            draft.close(ClosedOutcome.REJECTED, f"{body} rejected it in the last permitted round ({rounds})")
        else:
            agreement.sign_off_round += 1
            draft.move_to(Stage.PROPOSAL, f"{body} rejected it: {action.reason}")
        return
    if len(agreement.sign_offs) == len(agreement.proposal.partners):
        _start_delivery(draft, "every partner has approved")


def _reject_amendment(draft: _Draft, body: str, reason: str) -> None:
    """A live service keeps running: a rejected amendment is revised, or dropped after the last round."""
    agreement = draft.agreement
    assert agreement.plan_in_force is not None
    if agreement.sign_off_round >= agreement.settings.max_sign_off_rounds:
        agreement.plan, agreement.plan_in_force = agreement.plan_in_force, None
        _enter_review(draft, f"{body} rejected the amendment in the last permitted round; the service "
                             "continues under its agreed plan")
    else:
        agreement.sign_off_round += 1
        draft.move_to(Stage.OBJECTIVE_SETTING, f"{body} rejected the amendment: {reason}")


def _start_delivery(draft: _Draft, reason: str) -> None:
    """After approval: implement what is still open, or resume reviews of a live service."""
    agreement = draft.agreement
    agreement.plan_in_force = None
    if agreement.went_live_at is None or agreement.open_milestones:
        draft.move_to(Stage.IMPLEMENTATION, reason)
    else:
        _enter_review(draft, reason)


def _enter_review(draft: _Draft, reason: str) -> None:
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


def _report_milestone(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, ReportMilestone)
    agreement = draft.agreement
    assert agreement.plan is not None
    milestone = agreement.plan.milestone(action.milestone_id)
    if milestone is None:
        known = ", ".join(m.id for m in agreement.plan.milestones)
        raise ActionRejected(f"there is no milestone {action.milestone_id} (milestones: {known})",
                             code="unknown_milestone", field="milestone_id")
    lead = agreement.proposal.lead_body
    if action.actor.body not in (milestone.owner_body, lead):
        raise ActionRejected(
            f"milestone {milestone.id} is reported by its owner "
            f"({agreement.proposal.body_name(milestone.owner_body)}) or the lead body",
            code="not_milestone_owner", field="actor.body",
        )
    if agreement.milestone_progress(milestone.id).status is MilestoneStatus.COMPLETE:
        raise ActionRejected(f"milestone {milestone.id} is already complete", code="milestone_complete",
                             field="milestone_id")
    agreement.milestones[milestone.id] = MilestoneProgress(
        status=action.status, percent_complete=action.percent_complete, note=action.note, reported_at=draft.now
    )
    if not agreement.open_milestones:
        if agreement.went_live_at is None:
            agreement.went_live_at = draft.now
            _enter_review(draft, "every milestone is complete; the shared service is live")
        else:
            _enter_review(draft, "every milestone of the amendment is complete")


def _record_kpi_readings(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, RecordKpiReadings)
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
    due = agreement.review_period_end(agreement.review_number)
    if now < due:
        raise ActionRejected(
            f"review {agreement.review_number} covers the period ending {due:%Y-%m-%d %H:%M} UTC; "
            f"only after that {what}",
            code="review_period_open",
        )


def _record_benefits(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, RecordBenefits)
    agreement = draft.agreement
    proposal = agreement.proposal
    case = proposal.business_case
    if case is None:
        raise ActionRejected(f"agreement {agreement.agreement_id} has no business case to measure benefits against",
                             code="no_business_case")
    _require_period_ended(agreement, draft.now, "its benefits can be recorded")
    codes = [p.code for p in proposal.partners]
    given = [c.body for c in action.contributions]
    if sorted(given) != sorted(codes):
        missing, extra = sorted(set(codes) - set(given)), sorted(set(given) - set(codes))
        parts = ([f"none from {', '.join(proposal.body_name(c) for c in missing)}"] if missing else []) + (
            [f"one from {', '.join(extra)}, not a partner"] if extra else [])
        raise ActionRejected("give each partner's contribution once: " + "; ".join(parts),
                             code="contributions_mismatch", field="contributions")
    total = sum((c.annual_amount for c in action.contributions), Decimal(0))
    if total != action.actual_annual_cost:
        raise ActionRejected(f"the contributions add up to £{total}, not the actual annual cost "
                             f"£{action.actual_annual_cost}", code="contributions_mismatch", field="contributions")
    number = agreement.review_number
    assert agreement.went_live_at is not None
    now_position = position(
        case, agreement.benefit_track, review_number=number, recorded_at=draft.now, went_live_at=agreement.went_live_at,
        period_start=agreement.review_period_start(number), period_end=agreement.review_period_end(number),
        baseline=proposal.baseline_annual_cost, one_off_cost=proposal.one_off_cost,
        expected_annual_saving=proposal.expected_annual_saving, actual_annual_cost=action.actual_annual_cost,
    )
    agreement.benefits = now_position
    baselines = {b.body: b.annual_cost for b in case.baselines}
    draft.note(
        review_number=number,
        position=now_position.model_dump(mode="json"),
        partner_savings={c.body: str(baselines[c.body] - c.annual_amount) for c in action.contributions
                         if c.body in baselines},
    )


def _review_risks(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, ReviewRisks)
    agreement = draft.agreement
    _check_risks(agreement.proposal, action.risks, "risks")
    agreement.risk_register = list(action.risks)
    agreement.risks_reviewed_at = agreement.review_number
    draft.note(review_number=agreement.review_number)


def _record_lessons(draft: _Draft) -> None:
    draft.agreement.lessons_at_review = draft.agreement.review_number
    draft.note(review_number=draft.agreement.review_number)


def _decide_review(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, DecideReview)
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
    for kpi_id, reading in agreement.readings.items():
        agreement.kpi_trends[kpi_id] = agreement.kpi_trends.get(kpi_id, KpiTrend()).after(reading)
    if agreement.benefits is not None and agreement.benefits.review_number == agreement.review_number:
        agreement.benefit_track = concluded(agreement.benefit_track, agreement.benefits)
    if action.outcome is ReviewOutcome.AMEND:
        agreement.sign_off_round = 1
        agreement.plan_in_force = agreement.plan
        draft.move_to(Stage.OBJECTIVE_SETTING, f"review {agreement.review_number} asked for amendment")
    elif agreement.review_number >= _review_count(agreement):
        draft.close(ClosedOutcome.COMPLETED, "the agreement's term has ended")
    else:
        _enter_review(draft, f"review {agreement.review_number} concluded: continue")


def _withdraw(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, Withdraw)
    live = draft.agreement.went_live_at is not None
    draft.close(ClosedOutcome.TERMINATED if live else ClosedOutcome.WITHDRAWN, action.reason)


_LONGEST_WAIT_FOR_A_VARIATION = timedelta(days=3660)
"""A variation takes effect at most ten years after it is proposed."""


def _pending(agreement: Agreement) -> PendingVariation:
    if agreement.variation is None:
        raise ActionRejected(f"agreement {agreement.agreement_id} has no pending variation")
    return agreement.variation


def _propose_variation(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, ProposeVariation)
    agreement = draft.agreement
    if agreement.variation is not None:
        raise ActionRejected(
            f"variation {agreement.variation.number} is pending (proposed {agreement.variation.proposed_at:%Y-%m-%d}); "
            "it must take effect, be rejected or be withdrawn before another is proposed"
        )
    today = draft.now.astimezone(UTC).date()
    effective_on, opened_on = action.variation.effective_on, agreement.opened_at.astimezone(UTC).date()
    if not opened_on <= effective_on <= today + _LONGEST_WAIT_FOR_A_VARIATION:
        raise ActionRejected(
            f"effective_on {effective_on} must fall between the day the agreement opened ({opened_on}) and "
            f"{_LONGEST_WAIT_FOR_A_VARIATION.days} days from today ({today + _LONGEST_WAIT_FOR_A_VARIATION})"
        )
    check_variation(agreement.proposal, action.variation, today)
    vary(agreement.proposal, [agreement.plan, agreement.plan_in_force], action.variation, proposing=True)
    agreement.variations_proposed += 1
    agreement.variation = PendingVariation(
        number=agreement.variations_proposed, variation=action.variation, proposed_at=draft.now
    )
    draft.note(variation_number=agreement.variations_proposed)


def _sign_variation(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, SignVariation)
    agreement = draft.agreement
    pending = _pending(agreement)
    body, signer = action.actor.body, action.actor.signatory
    awaited = dict(agreement.variation_awaits)
    name = agreement.body_name(body)
    earlier = pending.signatures.get(body)
    if earlier is not None:
        raise ActionRejected(f"{name} has already approved variation {pending.number} "
                             f"({earlier.signatory}, {earlier.at:%Y-%m-%d %H:%M} UTC)")
    if body not in awaited:
        signers = [p.name for p in partners_after(agreement.proposal, pending.variation)]
        raise ActionRejected(f"{name} does not sign variation {pending.number}: it is signed by the bodies that will "
                             f"be partners after it ({', '.join(signers)})")
    for other in pending.signatures.values():
        if name_key(other.signatory) == name_key(signer):
            raise ActionRejected(f"{signer} has already signed variation {pending.number} for "
                                 f"{agreement.body_name(other.body)}; one person signs for one body")
    _check_version(agreement, action.version, version_of(pending.variation.model_dump(mode="json")),
                   f"variation {pending.number}")
    draft.note(variation_number=pending.number)
    if action.decision is SignOffDecision.REJECT:
        agreement.variation = None
        draft.record("variation_rejected", {"variation_number": pending.number, "by": body, "reason": action.reason})
        return
    signature = SignatureRecord(body=body, signatory=signer, at=draft.now)
    agreement.variation = pending.model_copy(update={"signatures": {**pending.signatures, body: signature}})
    if not agreement.variation_awaits and pending.variation.takes_effect_at <= draft.now:
        _take_effect(draft)


def _withdraw_variation(draft: _Draft) -> None:
    draft.note(variation_number=_pending(draft.agreement).number)
    draft.agreement.variation = None


def _take_effect(draft: _Draft) -> None:
    """The agreed variation changes the partnership; the current stage carries on under the new terms."""
    agreement = draft.agreement
    pending = _pending(agreement)
    variation = pending.variation
    changes = variation.describe({p.code: p.name for p in agreement.proposal.partners})
    proposal, (plan, plan_in_force) = vary(
        agreement.proposal, [agreement.plan, agreement.plan_in_force], variation, proposing=False
    )
    for code in variation.outgoing:
        agreement.former_partners[code] = agreement.body_name(code)
        agreement.signatory_register.pop(code, None)
        agreement.sign_offs.pop(code, None)
    agreement.proposal, agreement.plan, agreement.plan_in_force = proposal, plan, plan_in_force
    agreement.variation = None
    draft.record("variation_took_effect", {
        "variation_number": pending.number,
        "effective_on": variation.effective_on.isoformat(),
        "changes": changes,
        "partners": [p.code for p in proposal.partners],
        "lead_body": proposal.lead_body,
    })
    if agreement.stage is Stage.SIGN_OFF and len(agreement.sign_offs) == len(proposal.partners):
        _start_delivery(draft, f"variation {pending.number} took effect and every partner has approved")


def take_effect(agreement: Agreement, now: datetime) -> Transition:
    """The agreed variation takes effect, its effective date having come: the decisions it records
    are made by nobody. Raises ActionRejected if no agreed variation is due."""
    due = agreement.variation_due_at
    if due is None or due > now:
        raise ActionRejected(f"agreement {agreement.agreement_id} has no agreed variation due to take effect")
    draft = _Draft(agreement.model_copy(deep=True), None, now, None)
    _take_effect(draft)
    return Transition(agreement=draft.agreement, decisions=draft.decisions)


def _named(signatories: list[Signatory]) -> str:
    return ", ".join(s.name for s in signatories) or "nobody"


def _name_signatory(draft: _Draft) -> None:
    """A body names its own signatories; one left with none has one named by the lead body, and a lead
    body left with none an interim one named by any other partner."""
    action = draft.action
    assert isinstance(action, NameSignatory)
    agreement = draft.agreement
    body, by = action.of_body, action.actor.body
    partner = agreement.proposal.partner(body)
    if partner is None:
        raise ActionRejected(f"{body} is not a partner body of agreement {agreement.agreement_id}")
    current = agreement.signatories(body)
    lead = agreement.proposal.lead_body
    if by == body:
        basis = "by_own_body"
    elif current:
        raise ActionRejected(f"only a current signatory of {partner.name} names its signatories (named: "
                             f"{_named(current)}); another body may name one only when it has none")
    elif body != lead and by != lead:
        raise ActionRejected(f"{partner.name} has no current signatory: the lead body "
                             f"({agreement.body_name(lead)}) names one for it")
    else:
        basis = "by_lead_body" if body != lead else "interim_by_partner"
    if basis != "by_own_body" and len(action.reason) < 3:
        raise ActionRejected(f"naming a signatory for {partner.name}, another body, needs a reason "
                             "(at least 3 characters)")
    if find_signatory(current, action.name) is not None:
        raise ActionRejected(f"{action.name} is already a signatory of {partner.name}")
    if len(current) >= 50:
        raise ActionRejected(f"{partner.name} already has 50 signatories; retire one first")
    agreement.signatory_register[body] = [*current, Signatory(name=action.name, role=action.role,
                                                              identity=action.identity)]
    draft.note(basis=basis)


def _retire_signatory(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, RetireSignatory)
    agreement = draft.agreement
    body = action.of_body
    if action.actor.body != body:
        raise ActionRejected(f"only a current signatory of {agreement.body_name(body)} records the retirement "
                             "of its signatories")
    current = agreement.signatories(body)
    retiring = find_signatory(current, action.name)
    if retiring is None:
        raise ActionRejected(f"{action.name} is not a current signatory of {agreement.body_name(body)} "
                             f"(named: {_named(current)})")
    today = draft.now.astimezone(UTC).date()
    if action.retired_on > today:
        raise ActionRejected(f"retired_on {action.retired_on} is in the future: record a retirement on or after "
                             f"the day it happens (today is {today})")
    remaining = [s for s in current if s is not retiring]
    others = [p.code for p in agreement.proposal.partners if p.code != body]
    if not remaining and not any(agreement.signatories(code) for code in others):
        raise ActionRejected(f"{retiring.name} is the last current signatory of any partner; name another "
                             "signatory first, or nobody could act on the agreement")
    agreement.signatory_register[body] = remaining
    agreement.retired_signatories.append(
        RetiredSignatory(body=body, name=retiring.name, role=retiring.role, retired_on=action.retired_on)
    )
    draft.note(signatories_left=len(remaining))


def _change_attestor_keys(draft: _Draft) -> None:
    action = draft.action
    assert isinstance(action, ChangeAttestorKeys)
    settings = draft.agreement.settings
    unknown = sorted(set(action.retire) - set(settings.attestor_keys))
    if unknown:
        raise ActionRejected(f"no attestor key {', '.join(unknown)} to retire (keys: "
                             f"{', '.join(sorted(settings.attestor_keys)) or 'none'})", field="retire")
    clash = sorted(kid for kid, pem in action.add.items() if settings.attestor_keys.get(kid, pem) != pem)
    if clash:
        raise ActionRejected(f"attestor key id {', '.join(clash)} is taken by another key: give a new key a new id",
                             field="add")
    keys = {kid: pem for kid, pem in {**settings.attestor_keys, **action.add}.items() if kid not in action.retire}
    required = settings.require_attestation if action.require_attestation is None else action.require_attestation
    if required and not keys:
        raise ActionRejected("an agreement that requires attestation keeps at least one attestor key",
                             field="retire")
    draft.agreement.settings = settings.model_copy(update={"attestor_keys": keys, "require_attestation": required})


class _Rule(NamedTuple):
    stages: tuple[Stage, ...]
    lead_only: bool
    apply: Callable[[_Draft], None]
    kind: str
    """The decision kind recorded in the ledger."""
    verb: str
    """What the action does, for messages: 'only the lead body may <verb>'."""


_UNTIL_CLOSED = (Stage.PROPOSAL, Stage.OBJECTIVE_SETTING, Stage.SIGN_OFF, Stage.IMPLEMENTATION)
_UNTIL_CLOSED_AND_IN_SERVICE = (*_UNTIL_CLOSED, Stage.REVIEW)

_RULES: dict[type[Action], _Rule] = {
    ReviseProposal: _Rule((Stage.PROPOSAL,), True, _revise_proposal, "proposal_revised", "revise the proposal"),
    SubmitProposal: _Rule((Stage.PROPOSAL,), True, _submit_proposal, "proposal_submitted", "submit the proposal"),
    SetObjectives: _Rule((Stage.OBJECTIVE_SETTING,), True, _set_objectives, "objectives_set", "set the objectives"),
    SubmitForSignOff: _Rule(
        (Stage.OBJECTIVE_SETTING,), True, _submit_for_sign_off, "submitted_for_sign_off", "submit it for sign-off"
    ),
    SignOff: _Rule((Stage.SIGN_OFF,), False, _sign_off, "signed_off", "sign off"),
    ReportMilestone: _Rule((Stage.IMPLEMENTATION,), False, _report_milestone, "milestone_reported",
                           "report on a milestone"),
    RecordKpiReadings: _Rule((Stage.REVIEW,), False, _record_kpi_readings, "kpi_readings_recorded",
                             "record KPI readings"),
    DecideReview: _Rule((Stage.REVIEW,), True, _decide_review, "review_decided", "decide a review"),
    RecordBenefits: _Rule((Stage.REVIEW,), True, _record_benefits, "benefits_recorded", "record benefits realised"),
    ReviewRisks: _Rule((Stage.REVIEW,), True, _review_risks, "risks_reviewed", "review the risk register"),
    RecordLessons: _Rule((Stage.REVIEW,), False, _record_lessons, "lessons_recorded", "record lessons learned"),
    Withdraw: _Rule(_UNTIL_CLOSED, True, _withdraw, "withdrawn", "withdraw the agreement"),
    ProposeVariation: _Rule(_UNTIL_CLOSED_AND_IN_SERVICE, True, _propose_variation, "variation_proposed",
                            "propose a variation"),
    SignVariation: _Rule(_UNTIL_CLOSED_AND_IN_SERVICE, False, _sign_variation, "variation_signed",
                         "sign a variation"),
    WithdrawVariation: _Rule(_UNTIL_CLOSED_AND_IN_SERVICE, True, _withdraw_variation, "variation_withdrawn",
                             "withdraw a variation"),
    NameSignatory: _Rule(_UNTIL_CLOSED_AND_IN_SERVICE, False, _name_signatory, "signatory_named",
                         "name a signatory"),
    RetireSignatory: _Rule(_UNTIL_CLOSED_AND_IN_SERVICE, False, _retire_signatory, "signatory_retired",
                           "record a signatory's retirement"),
    ChangeAttestorKeys: _Rule(_UNTIL_CLOSED_AND_IN_SERVICE, True, _change_attestor_keys, "attestor_keys_changed",
                              "change the attestor keys"),
}

ACTION_KINDS: dict[str, type[Action]] = {rule.kind: action for action, rule in _RULES.items()}
"""The action model of each decision kind an action records first (``signed_off``: ``SignOff``)."""
