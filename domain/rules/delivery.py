"""Rules of implementation: milestones are reported until every one is complete and the service goes live."""

from __future__ import annotations

from domain.actions import MilestoneStatus, ReportMilestone
from domain.agreement import MilestoneProgress
from domain.errors import ActionRejected
from domain.model import Stage
from domain.rules.draft import Draft, Rule
from domain.rules.review import enter_review


def start_delivery(draft: Draft, reason: str) -> None:
    """After approval: implement what is still open, or resume reviews of a live service."""
    agreement = draft.agreement
    agreement.plan_in_force = None
    if agreement.went_live_at is None or agreement.open_milestones:
        draft.move_to(Stage.IMPLEMENTATION, reason)
    else:
        enter_review(draft, reason)


def report_milestone(draft: Draft, action: ReportMilestone) -> None:
    """The milestone's owner or the lead reports its progress; the last one complete takes the service live (or
    ends an amendment's implementation) and opens the next review."""
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
            enter_review(draft, "every milestone is complete; the shared service is live")
        else:
            enter_review(draft, "every milestone of the amendment is complete")


RULES: list[Rule] = [
    Rule(action=ReportMilestone, kind="milestone_reported", verb="report on a milestone",
         stages=(Stage.IMPLEMENTATION,), apply=report_milestone),
]
