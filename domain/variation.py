"""Variations: formal changes to who is in the partnership, and how the terms follow them.

A variation is proposed by the lead body with a reason and an effective date, and holds one or
more changes: a body joins, a body leaves, or a body is succeeded by one or more successor bodies
(a reorganisation, such as Cumbria County Council, E10000006, replaced on 1 April 2023 by
Cumberland, E06000063, and Westmorland and Furness, E06000064). ``vary`` works out the
partnership and plans after it, or raises ``ActionRejected`` saying why it cannot be.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from domain.errors import ActionRejected, explain
from domain.model import (
    Code,
    Contribution,
    Date,
    Duration,
    Extended,
    Money,
    PartnerBody,
    Plan,
    Proposal,
    Reason,
    SignedMoney,
    ValueObject,
)


class Joining(ValueObject):
    """A body joins the partnership with its named signatories and its annual contribution."""

    kind: Literal["join"]
    body: PartnerBody
    annual_contribution: Money = Field(description="Pounds a year, from the effective date.")


class Leaving(ValueObject):
    """A partner leaves on the variation's effective date, on its exit terms."""

    kind: Literal["leave"]
    body: Code
    notice_period: Duration | None = Field(
        default=None,
        description="Notice the body gives (ISO 8601, e.g. P180D), counted from the day the variation is "
        "proposed; the effective date may not fall before it ends.",
    )
    exit_terms: Reason
    exit_amount: SignedMoney = Field(
        description="Pounds the leaving body still pays on leaving (positive) or is owed (negative)."
    )


class Succession(ValueObject):
    """A partner is replaced by one or more successor bodies, which take over its place."""

    kind: Literal["succeed"]
    body: Code
    successors: list[PartnerBody] = Field(min_length=1, max_length=20)
    contributions: list[Contribution] = Field(
        default_factory=list,
        max_length=20,
        description="How the successors split its annual contribution, in pounds; when empty, evenly to the "
        "penny (the first successors take any odd pence).",
    )
    milestones_to: Code | None = Field(
        default=None, description="The successor that takes over its milestones; the first successor if not given."
    )

    @model_validator(mode="after")
    def _shares_and_milestones_name_successors(self) -> Succession:
        problem = self._successors_problem() or self._shares_problem() or self._milestones_problem()
        if problem:
            raise ValueError(problem)
        return self

    def _successors_problem(self) -> str | None:
        codes = [s.code for s in self.successors]
        if len(codes) != len(set(codes)):
            return f"each successor of {self.body} must appear once"
        if self.body in codes:
            return f"{self.body} cannot succeed itself"
        return None

    def _shares_problem(self) -> str | None:
        codes = [s.code for s in self.successors]
        strangers = [c.body for c in self.contributions if c.body not in codes]
        if strangers:
            return f"contributions name bodies that are not successors of {self.body}: {', '.join(strangers)}"
        shared = [c.body for c in self.contributions]
        if self.contributions and sorted(shared) != sorted(codes):
            return (f"contributions must give one amount for each successor of {self.body} "
                    f"({', '.join(codes)}), or none to split it evenly")
        return None

    def _milestones_problem(self) -> str | None:
        codes = [s.code for s in self.successors]
        if self.milestones_to is not None and self.milestones_to not in codes:
            return f"milestones_to must be one of the successors of {self.body} ({', '.join(codes)})"
        return None


Change = Annotated[Joining | Leaving | Succession, Field(discriminator="kind")]


class Variation(ValueObject):
    """A change to the partnership: what changes, why, and from when."""

    reason: Reason
    effective_on: Date = Field(description="The day (from 00:00 UTC) the changes take effect; may be in the past.")
    changes: list[Change] = Field(min_length=1, max_length=50)
    new_lead: Code | None = Field(
        default=None, description="The new lead body, required when the lead body leaves or is succeeded."
    )

    @model_validator(mode="after")
    def _each_body_changes_once(self) -> Variation:
        named = [change.body.code if isinstance(change, Joining) else change.body for change in self.changes]
        named += [s.code for change in self.changes if isinstance(change, Succession) for s in change.successors]
        repeated = sorted({code for code in named if named.count(code) > 1})
        if repeated:
            raise ValueError(f"each body may appear in one change of a variation; repeated: {', '.join(repeated)}")
        return self

    @property
    def takes_effect_at(self) -> datetime:
        return datetime.combine(self.effective_on, time(0), UTC)

    @property
    def incoming(self) -> list[PartnerBody]:
        """Bodies that become partners: joining bodies and successors."""
        bodies = []
        for change in self.changes:
            if isinstance(change, Joining):
                bodies.append(change.body)
            elif isinstance(change, Succession):
                bodies.extend(change.successors)
        return bodies

    @property
    def outgoing(self) -> list[str]:
        """Codes of the bodies that stop being partners: leaving and succeeded bodies."""
        return [change.body for change in self.changes if not isinstance(change, Joining)]

    def describe(self, names: Mapping[str, str]) -> list[str]:
        """Each change in words, for officers; ``names`` maps the current partners' codes to their names."""
        known = {**names, **{p.code: p.name for p in self.incoming}}

        def named(code: str) -> str:
            return f"{known.get(code, code)} ({code})"

        lines = []
        for change in self.changes:
            if isinstance(change, Joining):
                lines.append(f"{named(change.body.code)} joins, contributing £{change.annual_contribution} a year")
            elif isinstance(change, Leaving):
                owes = "still pays" if change.exit_amount >= 0 else "is owed"
                lines.append(f"{named(change.body)} leaves on these terms: {change.exit_terms} "
                             f"({owes} £{abs(change.exit_amount)})")
            else:
                successors = " and ".join(named(s.code) for s in change.successors)
                lines.append(f"{named(change.body)} is succeeded by {successors}")
        if self.new_lead:
            lines.append(f"{named(self.new_lead)} becomes the lead body")
        return lines


class SignatureRecord(Extended):
    """A body's approval of a pending variation, through a named signatory (or a colleague signing for them under
    a delegation, ``delegate``)."""

    LATER_FIELDS = frozenset({"delegate"})

    body: str
    signatory: str
    at: datetime
    delegate: str | None = None

    @property
    def signer(self) -> str:
        """Who signed: the delegate for a signature under a delegation, else the signatory."""
        return self.delegate or self.signatory


class PendingVariation(ValueObject):
    """A proposed variation, and the signatures it has gathered."""

    number: int = Field(ge=1, description="Counts the agreement's variations, from 1.")
    variation: Variation
    proposed_at: datetime
    signatures: dict[str, SignatureRecord] = Field(default_factory=dict, description="Approvals, by body code.")


def partners_after(proposal: Proposal, variation: Variation) -> list[PartnerBody]:
    """The partnership once ``variation`` takes effect: successors in their predecessor's place,
    joining bodies last."""
    successions = {c.body: c.successors for c in variation.changes if isinstance(c, Succession)}
    leaving = {c.body for c in variation.changes if isinstance(c, Leaving)}
    after: list[PartnerBody] = []
    for partner in proposal.partners:
        if partner.code in successions:
            after.extend(successions[partner.code])
        elif partner.code not in leaving:
            after.append(partner)
    after.extend(c.body for c in variation.changes if isinstance(c, Joining))
    return after


def _split_evenly(amount: Decimal, codes: list[str]) -> list[Contribution]:
    """``amount`` pounds in equal shares to the penny; the first bodies take the odd pence."""
    share = (amount / len(codes)).quantize(Decimal("0.01"), ROUND_DOWN)
    odd_pence = int((amount - share * len(codes)) * 100)
    return [Contribution(body=code, annual_amount=share + (Decimal("0.01") if i < odd_pence else 0))
            for i, code in enumerate(codes)]


def _vary_plan(plan: Plan, variation: Variation, lead: str, proposing: bool) -> Plan:
    """``plan`` once ``variation`` takes effect: contributions follow the changes, and the milestones of a body
    that leaves go to the lead, those of a succeeded body to its successor."""
    owners = _milestone_owners(variation, lead)
    milestones = [m.model_copy(update={"owner_body": owners.get(m.owner_body, m.owner_body)})
                  for m in plan.milestones]
    return Plan.model_validate({"objectives": plan.objectives, "milestones": milestones,
                                "contributions": _contributions_after(plan, variation, proposing)})


def _contributions_after(plan: Plan, variation: Variation, proposing: bool) -> list[Contribution]:
    """Each staying partner's contribution, successors' shares in their predecessor's place (a leaving body's
    dropped), joining bodies' last."""
    changes = {c.body: c for c in variation.changes if not isinstance(c, Joining)}
    contributions: list[Contribution] = []
    for contribution in plan.contributions:
        change = changes.get(contribution.body)
        if change is None:
            contributions.append(contribution)
        elif isinstance(change, Succession):
            contributions.extend(_successor_shares(change, contribution, proposing))
    return contributions + [Contribution(body=c.body.code, annual_amount=c.annual_contribution)
                            for c in variation.changes if isinstance(c, Joining)]


def _successor_shares(change: Succession, contribution: Contribution, proposing: bool) -> list[Contribution]:
    """The shares stated (which, when ``proposing``, must add up to ``contribution``), or an even split."""
    if not change.contributions:
        return _split_evenly(contribution.annual_amount, [s.code for s in change.successors])
    stated = sum((c.annual_amount for c in change.contributions), Decimal(0))
    if proposing and stated != contribution.annual_amount:
        raise ActionRejected(
            f"the successors of {change.body} are to take over its annual contribution of "
            f"£{contribution.annual_amount}, but the shares stated add up to £{stated}"
        )
    return change.contributions


def _milestone_owners(variation: Variation, lead: str) -> dict[str, str]:
    """Who takes over the milestones of each body that leaves (the lead) or is succeeded (its successor)."""
    return {change.body: (change.milestones_to or change.successors[0].code)
            if isinstance(change, Succession) else lead
            for change in variation.changes if not isinstance(change, Joining)}


def check(proposal: Proposal, variation: Variation, today: date) -> None:
    """Refuse a variation that does not fit the partnership as it stands: a joining body or a successor already
    a partner, a leaving or succeeded body that is not one, or a leaving body's notice not yet served by the
    effective date. Raises ``ActionRejected`` naming every problem."""
    codes = [p.code for p in proposal.partners]
    problems = [problem for change in variation.changes for problem in _problems(change, codes, variation, today)]
    if problems:
        raise ActionRejected("the variation cannot be made: " + "; ".join(problems))


def _problems(change: Change, codes: list[str], variation: Variation, today: date) -> list[str]:
    if isinstance(change, Joining):
        if change.body.code in codes:
            return [f"{change.body.name} ({change.body.code}) is already a partner and cannot join"]
        return []
    problems = []
    if change.body not in codes:
        problems.append(f"{change.body} is not a partner ({', '.join(codes)}), so it cannot "
                        f"{'leave' if isinstance(change, Leaving) else 'be succeeded'}")
    if isinstance(change, Succession):
        problems += [f"successor {s.name} ({s.code}) is already a partner" for s in change.successors
                     if s.code in codes]
    elif (notice := _notice_problem(change, variation, today)) is not None:
        problems.append(notice)
    return problems


def _notice_problem(change: Leaving, variation: Variation, today: date) -> str | None:
    if change.notice_period is None:
        return None
    notice_ends = today + change.notice_period
    if variation.effective_on >= notice_ends:
        return None
    return (f"{change.body} gives {change.notice_period.days} days' notice from {today}, "
            f"so it cannot leave before {notice_ends} (effective date {variation.effective_on})")


def vary(
    proposal: Proposal, plans: list[Plan | None], variation: Variation, *, proposing: bool
) -> tuple[Proposal, list[Plan | None]]:
    """The proposal and plans once ``variation`` takes effect; raise ActionRejected if the result is
    not a valid partnership (fewer than two partners, the lead gone and no new lead named).

    When ``proposing``, stated successor shares must add up to the contribution they replace; when the
    variation takes effect they apply as stated, even if the plan was set again in the meantime.
    """
    after = partners_after(proposal, variation)
    lead = proposal.lead_body
    if lead in variation.outgoing:
        if variation.new_lead is None:
            raise ActionRejected(f"the lead body {proposal.body_name(lead)} ({lead}) leaves or is succeeded, "
                                 "so the variation must name the new lead (new_lead)")
        lead = variation.new_lead
    elif variation.new_lead not in (None, lead):
        raise ActionRejected(f"the lead body stays {proposal.body_name(lead)} ({lead}) unless it leaves or is "
                             f"succeeded; new_lead may not name {variation.new_lead}")
    if len(after) < 2:
        raise ActionRejected(f"after the variation the partnership would have {len(after)} body; "
                             "a shared service needs at least two partners")
    try:
        varied = Proposal.model_validate({**proposal.model_dump(), "partners": after, "lead_body": lead})
        return varied, [None if plan is None else _vary_plan(plan, variation, lead, proposing) for plan in plans]
    except ValidationError as error:
        raise ActionRejected("the variation cannot be made: " + explain(error)) from None
