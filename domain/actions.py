"""The human actions on an agreement: each arrives as one Temporal update carrying one of these."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from domain.business_case import Lesson
from domain.model import (
    BoundIdentity,
    Code,
    Contribution,
    Date,
    Extended,
    Identity,
    Measure,
    Money,
    Name,
    Plan,
    Proposal,
    PublicKeyPem,
    Reason,
    Risk,
    Text,
    ValueObject,
    WholeNumber,
    repeats,
)
from domain.variation import Variation


class Actor(Extended):
    """Who acts: a body, through one of its named signatories, or through a colleague (``delegate``) to whom that
    signatory delegated their signature (``delegate_signature``) for a period covering today."""

    LATER_FIELDS = frozenset({"delegate"})

    body: Code
    signatory: Name
    delegate: Name | None = Field(
        default=None, description="The name of the colleague signing for the signatory, under a delegation to them "
        "that covers today (UTC): accepted only on record_sign_off and sign_variation. Left out when the signatory "
        "acts themselves.")


ACTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
ACTION_ID_MAX_LENGTH = 128

ActionId = Annotated[
    str, StringConstraints(min_length=1, max_length=ACTION_ID_MAX_LENGTH, pattern=ACTION_ID_PATTERN)
]
"""The caller's name for one action, so that sending it again is safe: letters, digits, ``. _ : -``."""


ATTESTATION_MAX_LENGTH = 8000
VERSION_PATTERN = r"^[0-9a-f]{64}$"


class Reply(StrEnum):
    """What an update answers with: the agreement's whole status (the default), or a short receipt."""

    STATUS = "status"
    RECEIPT = "receipt"


class Action(Extended):
    LATER_FIELDS = frozenset({"attestation", "reply"})

    actor: Actor
    action_id: ActionId | None = Field(
        default=None,
        description=(
            "Names this action so that it can be sent again safely (after a lost reply): a repeat with the same "
            "id and content returns the agreement's status without acting twice; the same id with other "
            "content is refused. Defaults to the Temporal update id."
        ),
    )
    attestation: str | None = Field(
        default=None,
        max_length=ATTESTATION_MAX_LENGTH,
        description="Set by the Concordat API, never by hand: its signed statement (a compact JWS, see "
        "domain.attestation) of who sent this action. Required on an agreement that requires attestation.",
    )
    reply: Reply = Field(
        default=Reply.STATUS,
        description="What the update answers with once the action's decisions are recorded: the agreement's whole "
        "status (\"status\", the default) or a short receipt (\"receipt\": the decisions' numbers, the stage and "
        "the version). It changes only the answer: it is not recorded, and a repeat may ask for either.",
    )


def action_id_of(update_id: str) -> str:
    """The action id an update stands for when its action names none: the update id itself when it is a
    valid action id (the SDKs' default update ids, UUIDs, are), otherwise a digest of it."""
    if len(update_id) <= ACTION_ID_MAX_LENGTH and re.fullmatch(ACTION_ID_PATTERN, update_id):
        return update_id
    return "update-sha256:" + hashlib.sha256(update_id.encode()).hexdigest()


class ReviseProposal(Action):
    """The lead body replaces its draft proposal (before submitting it)."""

    proposal: Proposal


class SubmitProposal(Action):
    """The lead body submits its proposal and objective-setting begins."""


class SetObjectives(Action):
    """The lead body records the agreed objectives, implementation plan and contributions."""

    plan: Plan


class SubmitForSignOff(Action):
    """The lead body sends the complete agreement to every partner's leadership."""


class SignOffDecision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class _Signature(Action):
    """An approval or a rejection by a named signatory, naming the version they read; a rejection gives a reason."""

    LATER_FIELDS = Action.LATER_FIELDS | {"version"}

    decision: SignOffDecision
    reason: Text = ""
    version: str | None = Field(default=None, pattern=VERSION_PATTERN)

    @model_validator(mode="after")
    def _rejection_has_reason(self) -> _Signature:
        if self.decision is SignOffDecision.REJECT and len(self.reason) < 3:
            raise ValueError("a rejection must give a reason (at least 3 characters)")
        return self


class SignOff(_Signature):
    """A partner's named signatory approves or rejects the agreement for their body, naming the version
    (proposal and plan) they read."""

    version: str | None = Field(
        default=None,
        pattern=VERSION_PATTERN,
        description="The version approved or rejected, as the status shows it (version): a sign-off of any other "
        "version is refused. Required on agreements opened or continued since the sign-what-you-saw patch.",
    )


class MilestoneStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    COMPLETE = "complete"


class ReportMilestone(Action):
    """Progress on one milestone of the implementation plan."""

    milestone_id: Code
    status: MilestoneStatus
    percent_complete: WholeNumber = Field(ge=0, le=100)
    note: Text = ""

    @model_validator(mode="after")
    def _status_matches_percent(self) -> ReportMilestone:
        if (self.status is MilestoneStatus.COMPLETE) != (self.percent_complete == 100):
            raise ValueError("a milestone is complete exactly when it is 100% complete")
        return self


class KpiValue(ValueObject):
    kpi_id: Code
    value: Measure


class RecordKpiReadings(Action):
    """Readings for the current review period; a later reading of the same KPI replaces an earlier one."""

    readings: list[KpiValue] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_reading_per_kpi(self) -> RecordKpiReadings:
        ids = [r.kpi_id for r in self.readings]
        repeated = repeats(ids)
        if repeated:
            raise ValueError(f"each KPI may be read once per submission; repeated: {', '.join(repeated)}")
        return self


class ReviewOutcome(StrEnum):
    CONTINUE = "continue"
    AMEND = "amend"
    TERMINATE = "terminate"


class DecideReview(Action):
    """The lead body concludes the current benefit review."""

    outcome: ReviewOutcome
    reason: Reason


class Withdraw(Action):
    """The lead body withdraws the agreement before the shared service goes live."""

    reason: Reason


class ProposeVariation(Action):
    """The lead body proposes a variation: bodies joining, leaving or succeeded, from an effective date."""

    variation: Variation


class SignVariation(_Signature):
    """A body that will be a partner after the pending variation approves or rejects it, through a named
    signatory (a joining or successor body's signatory as named in the variation), naming the version of the
    variation they read."""

    version: str | None = Field(
        default=None,
        pattern=VERSION_PATTERN,
        description="The version of the variation approved or rejected, as the status shows it (variation.version): "
        "a signature of any other version is refused. Required on agreements opened or continued since the "
        "sign-what-you-saw patch.",
    )


class WithdrawVariation(Action):
    """The lead body withdraws the pending variation before it takes effect."""

    reason: Reason


class NameSignatory(Action):
    """A current signatory of a body names another signatory for it.

    A body with no current signatory has one named by the lead body's signatory; when that body is
    the lead body itself, by a signatory of any other partner (an interim signatory). Either needs a reason.
    """

    LATER_FIELDS = Action.LATER_FIELDS | {"identity"}

    of_body: Code = Field(description="The body the new signatory signs for.")
    name: Name
    role: Name
    reason: Text = ""
    identity: BoundIdentity | Identity | None = Field(
        default=None, description="Who may act as the new signatory: the issuer and subject of their tokens. Only "
        "the signatory's own body sets it (another body names a signatory by name and role, and they bind their "
        "identity themselves with bind_identity). A plain string is the form recorded before identities were "
        "bound.")


class BindIdentity(Action):
    """A current signatory of a body is bound to who they are at their body's identity provider: by themselves,
    signed in through one of their own body's issuers and accepting the role (``name`` is the actor's own), or
    by another current signatory of the same body. The body is the actor's: no body binds another's signatories.

    Through the API, ``identity`` is the token's issuer and subject when the actor binds themselves (the API
    sets it); when another signatory binds them, its issuer must be one of the body's.
    """

    name: Name = Field(description="The signatory whose identity is bound: the actor, or another current "
                       "signatory of the actor's body.")
    identity: BoundIdentity | None = Field(default=None, description="The issuer and subject bound. Through the "
                                           "API, left out when the actor binds themselves: the API sets their own.")
    reason: Text = ""


class RetireSignatory(Action):
    """A current signatory of a body records that one of its signatories (perhaps themselves) has retired."""

    of_body: Code = Field(description="The body the retiring signatory signed for.")
    name: Name
    retired_on: Date = Field(description="The day they stopped signing for the body; not in the future.")
    reason: Text = ""


MAX_DELEGATION_DAYS = 366
"""The longest delegation, in days counted inclusively: a year (a leap year's included)."""


class DelegateSignature(Action):
    """A signatory (the actor) delegates their signature, from ``starts`` to ``ends`` (UTC calendar dates,
    inclusive), to a named colleague of the same body, who then signs sign-offs and variations in their own name
    "for" the signatory (``actor.delegate``). A signatory has at most one delegation that has not yet ended."""

    delegate: Name = Field(description="The colleague's name, as they will give it when signing for the signatory.")
    delegate_identity: BoundIdentity = Field(
        description="Who the colleague is: the issuer and subject of their tokens, at an identity provider of the "
        "signatory's own body.")
    starts: Date = Field(description="The first day of the delegation (UTC); not before today.")
    ends: Date = Field(description=f"The last day of the delegation (UTC), inclusive; at most "
                       f"{MAX_DELEGATION_DAYS} days from starts, counted inclusively.")
    reason: Text = ""

    @model_validator(mode="after")
    def _a_bounded_period(self) -> DelegateSignature:
        if self.ends < self.starts:
            raise ValueError(f"the delegation ends ({self.ends}) before it starts ({self.starts})")
        if (self.ends - self.starts).days + 1 > MAX_DELEGATION_DAYS:
            raise ValueError(f"a delegation lasts at most {MAX_DELEGATION_DAYS} days; {self.starts} to {self.ends} "
                             f"is {(self.ends - self.starts).days + 1}")
        return self


class WithdrawDelegation(Action):
    """A signatory (the actor) withdraws their delegation, current or yet to start: from now on their delegate
    no longer signs for them."""

    reason: Text = ""


class RecordBenefits(Action):
    """The lead body records, for the current review period, the shared service's actual annual cost and each
    partner's annual contribution to it (pounds a year; the contributions add up to the cost). A later
    record in the same review replaces an earlier one."""

    actual_annual_cost: Money
    contributions: list[Contribution] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_contribution_per_body(self) -> RecordBenefits:
        bodies = [c.body for c in self.contributions]
        if repeated := repeats(bodies):
            raise ValueError(f"each partner's contribution may be given once; repeated: {', '.join(repeated)}")
        return self


class ReviewRisks(Action):
    """The lead body records the risk register as reviewed at this benefit review: the whole register, as it
    now stands (risks closed are left out, new ones added, scores revised)."""

    risks: list[Risk] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _one_entry_per_risk(self) -> ReviewRisks:
        ids = [r.id for r in self.risks]
        if repeated := repeats(ids):
            raise ValueError(f"each risk may appear once; repeated: {', '.join(repeated)}")
        return self


class RecordLessons(Action):
    """A partner records lessons learned at a review, kept in the ledger and listed across the portfolio."""

    lessons: list[Lesson] = Field(min_length=1, max_length=20)


class ChangeAttestorKeys(Action):
    """The lead body adds attestor keys, retires some, or turns the requirement of attestation on or off: how the
    API's signing key is rotated (add the new key, move the API to it, then retire the old one)."""

    add: dict[Code, PublicKeyPem] = Field(default_factory=dict, max_length=20,
                                          description="Keys to add, by key id (Ed25519 public keys, PEM).")
    retire: list[Code] = Field(default_factory=list, max_length=20, description="Key ids to retire.")
    require_attestation: bool | None = Field(
        default=None, description="Turn the requirement of attestation on (true) or off (false); unchanged if absent.")
    reason: Reason
