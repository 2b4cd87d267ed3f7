"""The agreement's state: everything the engine knows about one agreement, and the records it keeps.

``Agreement`` is the workflow's whole state and is carried from run to run when the workflow continues as
new, so its JSON shape is part of every recorded history: add fields with defaults, never rename one.
The rules that change it are in ``domain.rules``; the engine that applies them is ``domain.lifecycle``.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from itertools import count

from pydantic import BaseModel, ConfigDict, Field

from domain import authority
from domain import text as text_policy
from domain.actions import MilestoneStatus, SignOffDecision
from domain.business_case import BenefitPosition, BenefitTrack
from domain.calendar import CalendarPeriod, ReviewAlignment, describe_end, financial_year_start
from domain.delegation import Delegation
from domain.ledger import ChainHead, digest
from domain.model import (
    AgreementRequest,
    Extended,
    GovernanceSettings,
    Plan,
    Proposal,
    Rag,
    Risk,
    Signatory,
    Stage,
    ValueObject,
)
from domain.variation import PendingVariation, partners_after

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


class SignOffRecord(Extended):
    """A body's approval or rejection in the current round, through a named signatory (or a colleague signing for
    them under a delegation, ``delegate``)."""

    LATER_FIELDS = frozenset({"delegate"})

    body: str
    signatory: str
    decision: SignOffDecision
    reason: str
    at: datetime
    delegate: str | None = None

    @property
    def signer(self) -> str:
        """Who signed: the delegate for a signature under a delegation, else the signatory."""
        return self.delegate or self.signatory


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
    delegations: list[Delegation] = Field(
        default_factory=list, description="Each signatory's latest delegation of their signature (at most one each; "
        "a new one replaces one that ended or was withdrawn).")
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
    identities_bound_by_own_body: bool = Field(
        default=False,
        description="Only a body sets its own signatories' identities (since the identities-bound-by-own-body "
        "patch, rules version 2); before it, the lead's proposal and naming could set any body's.",
    )
    names_compared_by_skeleton: bool = Field(
        default=False,
        description="Names are compared by their UTS #39 confusable skeletons, so look-alike names are one person "
        "(rules version 2); before it, by NFC without case.",
    )
    preferred_option_justified: bool = Field(
        default=False,
        description="A proposal whose preferred option has not the highest net present social value is submitted "
        "only with a recorded justification (rules version 3, the preferred-option-justified patch).",
    )
    ledger_written_locally: bool = Field(
        default=False,
        description="The engine records decisions and raises alerts in local activities, so an update is answered "
        "in one workflow task (since the answered-in-one-task patch); before it, through ordinary activities.",
    )
    runs_until_history_bound: bool = Field(
        default=False,
        description="A run continues as new only as its history nears its bound or the server suggests it (since "
        "the answered-in-one-task patch); before it, also after every review cycle.",
    )
    rules_version: int = Field(
        default=0,
        description="Which rules the engine gave this agreement, carried from run to run: 0, the flags above "
        "adopted patch by patch at each run's start; 1 (the rules-carried patch), all of them set at once; 2, "
        "identities bound by each body's own (identities-bound-by-own-body); 3, the preferred option justified "
        "when it is not the highest value (preferred-option-justified). A "
        "continued run whose carried version is current asks history for no patch; a later rule raises it.",
    )

    @property
    def version(self) -> str:
        """The version of what partners sign: the SHA-256 (hex) of the canonical JSON of the proposal and the
        plan (the plan being agreed, or in force; null before one is set)."""
        return digest({"proposal": self.proposal.model_dump(mode="json"),
                       "plan": self.plan.model_dump(mode="json") if self.plan else None})

    @property
    def variation_version(self) -> str | None:
        """The version of the pending variation (SHA-256 of its canonical JSON), or None when there is none."""
        return version_of_variation(self.variation) if self.variation else None

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
        return _review_period_end(self.went_live_at, self.went_live_at.tzinfo, self.settings.review_period,
                                  self.settings.review_alignment, self.calendar_periods, number)

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

    def name_key(self, name: str) -> str:
        """How this agreement's rules compare names: ``domain.text.name_key`` from rules version 2,
        ``domain.text.recorded_name_key`` before."""
        return text_policy.name_key(name) if self.names_compared_by_skeleton else text_policy.recorded_name_key(name)

    @property
    def current_signatories(self) -> dict[str, list[Signatory]]:
        """Each partner's current signatories, by body code (see ``signatories``)."""
        return {p.code: self.signatories(p.code) for p in self.proposal.partners}

    def acting_signatories(self, body: str) -> list[Signatory] | None:
        """Who may act for ``body`` on this agreement (see ``domain.authority.acting_signatories``)."""
        pending = self.variation.variation if self.variation else None
        return authority.acting_signatories(body, self.current_signatories, pending)

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


@lru_cache(maxsize=8192)
def _review_period_end(went_live_at: datetime, zone: tzinfo | None, period: CalendarPeriod,
                       alignment: ReviewAlignment, calendar_periods: bool, number: int) -> datetime:
    """``Agreement.review_period_end``, remembered: the status, the drift checks and the next wake ask for the same
    ends many times an action (a search over the term's periods each time). ``zone`` is ``went_live_at``'s, so
    that equal moments in different zones are not taken for each other."""
    if alignment is ReviewAlignment.FINANCIAL_YEAR:
        year_start = financial_year_start(went_live_at)
        first = next(k for k in count(1) if year_start + period.times(k) > went_live_at)
        return year_start + period.times(first + number - 1)
    if not calendar_periods:
        return went_live_at + number * period.legacy_timedelta()
    return went_live_at + period.times(number)


def state_bytes(agreement: Agreement) -> int:
    """The most the agreement's state can take as JSON: all of it but its memory of recent actions,
    plus the most that memory may take (``RECENT_ACTIONS_BYTES``)."""
    return len(agreement.model_dump_json(exclude={"recent_actions"}).encode()) + RECENT_ACTIONS_BYTES


def version_of_variation(pending: PendingVariation) -> str:
    """The version a signatory names when signing ``pending``: the SHA-256 of its variation's canonical JSON."""
    return digest(pending.variation.model_dump(mode="json"))
