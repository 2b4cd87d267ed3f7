"""Rules of the proposal and objective-setting stages, and of withdrawal, all the lead body's.

The lead drafts and revises its proposal, submits it (with a business case and a risk register since the
business-case-required rule), sets the objectives and plan, and sends the agreement for sign-off; it may
withdraw the agreement at any stage before it closes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from domain.actions import MilestoneStatus, ReviseProposal, SetObjectives, SubmitForSignOff, SubmitProposal, Withdraw
from domain.agreement import Agreement, ClosedOutcome
from domain.business_case import Appraisal, appraisal, pounds
from domain.errors import ActionRejected
from domain.model import Plan, Proposal, Risk, Stage, repeats
from domain.rules.draft import UNTIL_CLOSED, Draft, Rule, each_partner_once
from domain.rules.signatories import refuse_identities_of_other_bodies


def revise_proposal(draft: Draft, action: ReviseProposal) -> None:
    """The lead replaces its draft proposal; the lead body cannot change, nor the partners while a variation
    is pending."""
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
    refuse_identities_of_other_bodies(draft.agreement, action.proposal, action.actor.body)
    draft.agreement.proposal = action.proposal


def submit_proposal(draft: Draft, action: SubmitProposal) -> None:
    """The lead submits its proposal: with a business case and a risk register where the agreement's rules ask
    for them; the appraisal noted in the decision, every figure the partners saw (``appraisal``: each option's
    present cost, NPV, NPSV, switching values; ``appraisal_summary``: business as usual, the highest-value option,
    whether the preferred one needs a justification and the one given, the sensitivity table, each partner's
    share and the basis: rates, optimism bias, prices); objective-setting begins. Under the agreement's
    ``preferred_option_justified`` rule, a case whose preferred option has not the highest net present social value
    is refused unless it records why (Green Book 2022, chapter 5, "Preferred option selection")."""
    proposal = draft.agreement.proposal
    if draft.agreement.business_case_required:
        _require_business_case(proposal)
    if proposal.business_case is not None:
        result = appraisal(proposal.business_case)
        if (draft.agreement.preferred_option_justified and result.justification_required
                and proposal.business_case.preferred_justification is None):
            _refuse_unjustified(result)
        draft.note(appraisal=[a.model_dump(mode="json") for a in result.options],
                   appraisal_summary={**result.model_dump(mode="json", exclude={"options"}),
                                      "justification": proposal.business_case.preferred_justification})
    draft.move_to(Stage.OBJECTIVE_SETTING, "proposal submitted by the lead body")


def _refuse_unjustified(result: Appraisal) -> None:
    """Refuse a case whose preferred option is worth less than the highest-value one, saying by how much."""
    best = next(o for o in result.options if o.id == result.highest_value_option)
    preferred = next(o for o in result.options if o.preferred)
    raise ActionRejected(
        f"the preferred option {preferred.id} has a net present social value of "
        f"{pounds(preferred.net_present_social_value)}, less than {best.id}'s "
        f"{pounds(best.net_present_social_value)}: revise the proposal to record why it is preferred "
        "(business_case.preferred_justification), or prefer the option of highest value",
        code="justification_missing", field="proposal.business_case.preferred_justification")


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
    given = [b.body for b in case.baselines]
    if (problem := each_partner_once(proposal, given, missing="no baseline for", extra="a baseline for")) is not None:
        raise ActionRejected("the business case's baseline must give each partner's current annual cost once: "
                             + problem, code="baseline_incomplete", field="proposal.business_case.baselines")
    if case.baseline_total != proposal.baseline_annual_cost:
        raise ActionRejected(
            f"the partners' baselines add up to £{case.baseline_total}, not the baseline annual cost "
            f"£{proposal.baseline_annual_cost}", code="baseline_incomplete", field="proposal.business_case.baselines")
    if not proposal.risks:
        raise ActionRejected("the proposal needs at least one risk in its risk register before it is submitted",
                             code="risks_missing", field="proposal.risks")
    check_risks(proposal, proposal.risks, "proposal.risks")


def check_risks(proposal: Proposal, risks: list[Risk], field: str) -> None:
    """Refuse a risk register (at ``field``) with a risk listed twice or owned by a body that is not a partner."""
    ids = [r.id for r in risks]
    if repeated := repeats(ids):
        raise ActionRejected(f"each risk may appear once in the register; repeated: {', '.join(repeated)}",
                             code="risk_not_allowed", field=field)
    for index, risk in enumerate(risks):
        if proposal.partner(risk.owner_body) is None:
            raise ActionRejected(f"risk {risk.id} is owned by {risk.owner_body}, which is not a partner",
                                 code="risk_not_allowed", field=f"{field}.{index}.owner_body")


def set_objectives(draft: Draft, action: SetObjectives) -> None:
    """The lead sets the objectives, KPIs, milestones and contributions, if they fit the proposal."""
    problems = plan_problems(draft.agreement.proposal, action.plan, draft.agreement, draft.now)
    if problems:
        raise ActionRejected("the plan cannot be accepted: " + "; ".join(problems), code="plan_does_not_fit",
                             field="plan")
    draft.agreement.plan = action.plan


def submit_for_sign_off(draft: Draft, action: SubmitForSignOff) -> None:
    """The lead sends a plan that still fits the proposal to every partner's leadership: a new round begins."""
    agreement = draft.agreement
    if agreement.plan is None:
        raise ActionRejected("objectives, milestones and contributions must be set before sign-off", code="no_plan")
    problems = plan_problems(agreement.proposal, agreement.plan, agreement, draft.now)
    if problems:
        raise ActionRejected("the plan no longer fits the proposal: " + "; ".join(problems),
                             code="plan_does_not_fit")
    agreement.sign_offs = {}
    draft.move_to(Stage.SIGN_OFF, f"sent to every partner's leadership (round {agreement.sign_off_round})")


def plan_problems(proposal: Proposal, plan: Plan, agreement: Agreement, now: datetime) -> list[str]:
    """What keeps ``plan`` from fitting ``proposal`` at ``now`` (UTC): milestones and contributions of bodies that
    are not partners, partners with no contribution, incomplete milestones already due. Empty if it fits."""
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


def withdraw(draft: Draft, action: Withdraw) -> None:
    """The lead withdraws the agreement (terminated, once the service is live), with its reason."""
    live = draft.agreement.went_live_at is not None
    draft.close(ClosedOutcome.TERMINATED if live else ClosedOutcome.WITHDRAWN, action.reason)


RULES: list[Rule] = [
    Rule(action=ReviseProposal, kind="proposal_revised", verb="revise the proposal", stages=(Stage.PROPOSAL,),
         lead_only=True, apply=revise_proposal),
    Rule(action=SubmitProposal, kind="proposal_submitted", verb="submit the proposal", stages=(Stage.PROPOSAL,),
         lead_only=True, apply=submit_proposal),
    Rule(action=SetObjectives, kind="objectives_set", verb="set the objectives", stages=(Stage.OBJECTIVE_SETTING,),
         lead_only=True, apply=set_objectives),
    Rule(action=SubmitForSignOff, kind="submitted_for_sign_off", verb="submit it for sign-off",
         stages=(Stage.OBJECTIVE_SETTING,), lead_only=True, apply=submit_for_sign_off),
    Rule(action=Withdraw, kind="withdrawn", verb="withdraw the agreement", stages=UNTIL_CLOSED, lead_only=True,
         apply=withdraw),
]
