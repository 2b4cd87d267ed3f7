"""The lifecycle: what each action does to an agreement, and every way an action is refused."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.actions import Action, Actor, RecordKpiReadings, ReportMilestone, ReviseProposal, SignOff
from domain.agreement import Agreement, ClosedOutcome
from domain.errors import ActionRejected, explain
from domain.lifecycle import evolve, open_agreement
from domain.model import Rag, Signatory, Stage
from tests.helpers import factories
from tests.helpers.agreements import (
    apply,
    conclude_review,
    in_implementation,
    in_objective_setting,
    in_sign_off,
    live,
    opened,
    review_due,
)
from tests.helpers.builders import (
    LEAD,
    QUARTERLY_FOR_A_YEAR,
    SIGNATORIES,
    STAFFORDSHIRE,
    T0,
    TAMWORTH,
    after,
    approve,
    decide,
    readings,
    reject,
    report,
    send_for_sign_off,
    set_objectives,
    submit,
    withdraw,
)


def kinds(agreement: Agreement, action: Action, now=T0) -> tuple[Agreement, list[str]]:
    transition = evolve(agreement, action, now)
    return transition.agreement, [d.kind for d in transition.decisions]


def rejected(agreement: Agreement, action: Action, now=T0) -> str:
    before = agreement.model_dump()
    with pytest.raises(ActionRejected) as error:
        evolve(agreement, action, now)
    assert agreement.model_dump() == before
    return str(error.value)


def revise(actor: Actor = LEAD, **proposal: Any) -> ReviseProposal:
    return ReviseProposal.model_validate({"actor": actor, "proposal": factories.proposal_data(**proposal)})


# The happy path


def test_opening_an_agreement_starts_the_proposal_stage_and_records_the_request():
    transition = open_agreement(factories.request(), T0)
    agreement, [opening] = transition.agreement, transition.decisions
    assert (agreement.stage, agreement.clock_started_at, agreement.sign_off_round) == (Stage.PROPOSAL, T0, 1)
    assert (opening.kind, opening.actor_body, opening.payload["agreement_id"]) == (
        "agreement_opened", factories.LICHFIELD, "waste-2027")


def test_full_lifecycle_from_proposal_to_completion_after_the_last_review():
    agreement = opened(settings=QUARTERLY_FOR_A_YEAR)
    agreement, emitted = kinds(agreement, submit())
    assert agreement.stage is Stage.OBJECTIVE_SETTING and emitted == ["proposal_submitted", "stage_changed"]
    agreement, emitted = kinds(agreement, set_objectives())
    assert agreement.stage is Stage.OBJECTIVE_SETTING and emitted == ["objectives_set"]
    agreement, emitted = kinds(agreement, send_for_sign_off())
    assert agreement.stage is Stage.SIGN_OFF and emitted == ["submitted_for_sign_off", "stage_changed"]
    for actor in SIGNATORIES[:-1]:
        agreement, emitted = kinds(agreement, approve(actor))
        assert agreement.stage is Stage.SIGN_OFF and emitted == ["signed_off"]
    agreement, emitted = kinds(agreement, approve(SIGNATORIES[-1]))
    assert agreement.stage is Stage.IMPLEMENTATION and emitted == ["signed_off", "stage_changed"]
    agreement, emitted = kinds(agreement, report("fleet"), after(20))
    assert agreement.stage is Stage.IMPLEMENTATION and emitted == ["milestone_reported"]
    agreement, emitted = kinds(agreement, report("rounds", TAMWORTH), after(80))
    assert agreement.stage is Stage.REVIEW and emitted == ["milestone_reported", "stage_changed"]
    assert agreement.went_live_at == after(80) and agreement.review_number == 1

    for number in range(1, 5):
        assert (agreement.stage, agreement.review_number) == (Stage.REVIEW, number)
        due = after(80 + 91 * number)
        assert review_due(agreement) == due == agreement.clock_started_at
        agreement, emitted = kinds(agreement, readings(), due)
        assert emitted == ["kpi_readings_recorded"]
        agreement, emitted = kinds(agreement, decide("continue"), due)
        assert emitted == ["review_decided", "stage_changed"]
    assert agreement.stage is Stage.CLOSED
    assert agreement.closure.outcome is ClosedOutcome.COMPLETED and agreement.deadline is None


def test_evolve_never_changes_the_agreement_it_is_given():
    agreement = in_sign_off()
    before = agreement.model_dump()
    for action in (approve(LEAD), reject(TAMWORTH), withdraw()):
        evolve(agreement, action, after(1))
    assert agreement.model_dump() == before


def test_decisions_name_who_decided_in_which_stage_and_when():
    [signed, moved] = evolve(in_sign_off(), reject(TAMWORTH), after(2)).decisions
    assert (signed.actor_body, signed.actor_signatory, signed.stage, signed.decided_at) == (
        factories.TAMWORTH, "Owen Hughes", Stage.SIGN_OFF, after(2))
    assert signed.payload == {"decision": "reject", "reason": "the contributions are not agreed"}
    assert moved.payload["from"] == "sign_off" and moved.payload["to"] == "proposal"


def test_the_lead_body_may_revise_its_draft_proposal():
    agreement = apply(opened(), revise(expected_annual_saving="600000.00"))
    assert agreement.stage is Stage.PROPOSAL and agreement.proposal.payback_years == Decimal("1.08")


def test_the_lead_body_may_report_a_milestone_another_body_owns():
    agreement = apply(in_implementation(), report("rounds", LEAD, "in_progress", 40))
    assert agreement.milestone_progress("rounds").percent_complete == 40


def test_a_later_kpi_reading_replaces_an_earlier_one_and_carries_its_rag():
    agreement = apply(live(), readings(cost="70"), readings(TAMWORTH, cost="63"), now=after(91))
    assert {k: (r.value, r.rag) for k, r in agreement.readings.items()} == {
        "cost-per-household": (Decimal("63"), Rag.AMBER), "missed-bins": (Decimal("99.1"), Rag.GREEN)}


# Rejections: stage, body, signatory, lead


@pytest.mark.parametrize(
    ("build", "action", "only_in"),
    [
        (opened, approve(LEAD), "cannot sign off while agreement waste-2027 is in proposal; "
                                "that is possible only in sign off"),
        (in_implementation, readings(), "cannot record KPI readings while agreement waste-2027 is in implementation"),
        (live, withdraw(), "cannot withdraw the agreement while agreement waste-2027 is in review; "
                           "that is possible only in proposal, objective setting, sign off or implementation"),
    ],
)
def test_an_action_in_the_wrong_stage_is_rejected(build, action, only_in):
    assert only_in in rejected(build(), action)


def test_an_unknown_body_is_rejected():
    stranger = Actor(body="E07000192", signatory="Alex Doe")
    assert "E07000192 is not a partner body of agreement waste-2027" in rejected(in_sign_off(), approve(stranger))


def test_a_signatory_of_another_body_cannot_sign_for_this_one():
    impostor = Actor(body=factories.LICHFIELD, signatory="Owen Hughes")
    message = rejected(in_sign_off(), approve(impostor))
    assert message == ("Owen Hughes is not a named signatory of Lichfield District Council "
                       "(named: Priya Shah, Tom Barker)")


@pytest.mark.parametrize(
    ("build", "action"),
    [
        (opened, submit(TAMWORTH)),
        (opened, revise(TAMWORTH)),
        (opened, withdraw(TAMWORTH)),
        (in_objective_setting, set_objectives(TAMWORTH)),
        (live, decide("terminate", TAMWORTH)),
    ],
)
def test_only_the_lead_body_may_steer_the_agreement(build, action):
    message = rejected(build(), action)
    assert "only the lead body (Lichfield District Council) may" in message
    assert f"{factories.proposal().body_name(action.actor.body)} is not the lead" in message


def test_a_revision_cannot_change_the_lead_body():
    message = rejected(opened(), revise(lead_body=factories.TAMWORTH))
    assert message == f"the lead body cannot change in a revision (it is {factories.LICHFIELD})"


def test_any_action_once_closed_is_rejected():
    closed = apply(opened(), withdraw())
    for action in (submit(), revise(), approve(TAMWORTH)):
        assert "agreement waste-2027 is closed (withdrawn); no further action is possible" in rejected(closed, action)


# Rejections: the plan


def plan_problem(**plan: Any) -> str:
    return rejected(in_objective_setting(), set_objectives(**plan))


def test_a_milestone_owner_must_be_a_partner():
    milestones = [{"id": "fleet", "title": "Joint fleet procured", "owner_body": "E07000192", "due": "2027-06-01"}]
    assert "milestone fleet is owned by E07000192, which is not a partner" in plan_problem(milestones=milestones)


def test_a_contribution_must_come_from_a_partner():
    contributions = factories.plan_data(T0.date())["contributions"] + [{"body": "E07000192", "annual_amount": "1.00"}]
    assert "contribution from E07000192, which is not a partner" in plan_problem(contributions=contributions)


def test_every_partner_must_have_a_contribution_even_a_zero_one():
    contributions = factories.plan_data(T0.date())["contributions"][:2]
    message = plan_problem(contributions=contributions)
    assert f"no annual contribution given for Staffordshire County Council ({factories.STAFFORDSHIRE})" in message


def test_a_milestone_cannot_be_due_in_the_past():
    milestones = [{"id": "fleet", "title": "Joint fleet procured", "owner_body": factories.LICHFIELD,
                   "due": (T0.date() - timedelta(days=1)).isoformat()}]
    assert "milestone fleet is due on 2027-03-31, which has already passed" in plan_problem(milestones=milestones)


def test_sign_off_needs_a_plan():
    message = rejected(in_objective_setting(), send_for_sign_off())
    assert message == "objectives, milestones and contributions must be set before sign-off"


def test_a_plan_whose_milestone_has_since_fallen_due_cannot_go_to_sign_off():
    agreement = apply(in_objective_setting(), set_objectives())
    message = rejected(agreement, send_for_sign_off(), after(31))
    assert "no longer fits the proposal: milestone fleet is due on 2027-05-01, which has already passed" in message


# Sign-off


def test_partners_that_have_approved_wait_for_the_others():
    agreement = apply(in_sign_off(), approve(LEAD), approve(STAFFORDSHIRE))
    assert agreement.stage is Stage.SIGN_OFF
    assert set(agreement.sign_offs) == {factories.LICHFIELD, factories.STAFFORDSHIRE}


def test_second_sign_off_by_same_body_is_rejected():
    agreement = apply(in_sign_off(), approve(LEAD), now=after(1, hours=2))
    second = approve(Actor(body=factories.LICHFIELD, signatory="Tom Barker"))
    message = rejected(agreement, second)
    assert message == "Lichfield District Council has already signed off in round 1 (Priya Shah, 2027-04-02 11:30 UTC)"


def test_the_same_person_cannot_sign_for_two_bodies():
    bodies = factories.proposal_data()["partners"]
    bodies[2]["signatories"].append({"name": "Owen Hughes", "role": "Joint Chief Executive"})
    agreement = apply(in_sign_off(partners=bodies), approve(TAMWORTH))
    message = rejected(agreement, approve(Actor(body=factories.STAFFORDSHIRE, signatory="owen hughes")))
    assert message == "owen hughes has already signed in round 1 for Tamworth Borough Council; nobody signs twice"


def test_a_rejection_sends_the_agreement_back_to_proposal_for_another_round():
    agreement, emitted = kinds(apply(in_sign_off(), approve(LEAD)), reject(TAMWORTH))
    assert (agreement.stage, agreement.sign_off_round, emitted) == (
        Stage.PROPOSAL, 2, ["signed_off", "stage_changed"])


def test_resubmission_asks_every_partner_again():
    agreement = apply(in_sign_off(), approve(LEAD), reject(TAMWORTH), submit(), send_for_sign_off())
    assert (agreement.stage, agreement.sign_offs, agreement.sign_off_round) == (Stage.SIGN_OFF, {}, 2)


@pytest.mark.parametrize("rounds", [1, 3])
def test_a_rejection_in_the_last_permitted_round_closes_as_rejected(rounds):
    agreement = in_sign_off(settings={"max_sign_off_rounds": rounds})
    for _ in range(rounds - 1):
        agreement = apply(agreement, reject(STAFFORDSHIRE), submit(), send_for_sign_off())
    agreement, emitted = kinds(agreement, reject(STAFFORDSHIRE))
    assert agreement.stage is Stage.CLOSED and emitted == ["signed_off", "stage_changed"]
    assert agreement.closure.outcome is ClosedOutcome.REJECTED
    assert f"Staffordshire County Council rejected it in the last permitted round ({rounds})" in (
        agreement.closure.reason)


# Implementation


def test_unknown_milestone_is_rejected():
    assert rejected(in_implementation(), report("bins")) == "there is no milestone bins (milestones: fleet, rounds)"


def test_a_milestone_is_reported_by_its_owner_or_the_lead_body_only():
    message = rejected(in_implementation(), report("rounds", STAFFORDSHIRE))
    assert message == "milestone rounds is reported by its owner (Tamworth Borough Council) or the lead body"


def test_a_complete_milestone_cannot_be_reported_again():
    agreement = apply(in_implementation(), report("fleet"))
    again = report("fleet", status="in_progress", percent=50)
    assert rejected(agreement, again) == "milestone fleet is already complete"


# Review


def test_unknown_kpi_is_rejected():
    unknown = RecordKpiReadings.model_validate({"actor": LEAD, "readings": [{"kpi_id": "fly-tips", "value": "3"}]})
    message = rejected(live(), unknown, after(91))
    assert message == "there is no KPI fly-tips (KPIs: cost-per-household, missed-bins)"


@pytest.mark.parametrize("outcome", ["continue", "amend"])
def test_a_review_cannot_be_concluded_before_its_period_ends(outcome):
    message = rejected(live(), decide(outcome), after(91) - timedelta(seconds=1))
    assert message.startswith(
        "review 1 covers the period ending 2027-07-01 09:30 UTC; only after that it can be concluded")


def test_readings_cannot_be_recorded_before_the_review_period_ends():
    message = rejected(live(), readings(), after(91) - timedelta(seconds=1))
    assert message.startswith("review 1 covers the period ending 2027-07-01 09:30 UTC; only after that its readings")


def test_a_review_needs_a_reading_for_every_kpi():
    partial = RecordKpiReadings.model_validate({"actor": LEAD, "readings": [{"kpi_id": "missed-bins", "value": "99"}]})
    agreement = apply(live(), partial, now=after(91))
    message = rejected(agreement, decide("continue"), after(91))
    assert message == "review 1 still needs readings for KPIs: cost-per-household"


def test_before_the_never_skip_patch_a_late_decision_skipped_review_periods_that_had_ended():
    agreement = apply(live(old_rules=True), readings(), decide("continue"), now=after(200))
    assert (agreement.review_number, agreement.clock_started_at) == (3, after(273))


def test_a_late_decision_opens_the_next_review_however_late_with_its_clock_from_its_period_end():
    transition = evolve(apply(live(), readings(), now=after(200)), decide("continue"), after(200))
    agreement, changed = transition.agreement, transition.decisions[-1]
    assert (agreement.stage, agreement.review_number, agreement.clock_started_at) == (Stage.REVIEW, 2, after(182))
    assert changed.payload["reason"] == "review 1 concluded: continue"
    assert agreement.reviews_outstanding(after(200)) == 1


def test_terminating_in_review_closes_as_terminated_at_any_time():
    agreement, emitted = kinds(live(), decide("terminate"), after(10))
    assert emitted == ["review_decided", "stage_changed"]
    assert agreement.closure.outcome is ClosedOutcome.TERMINATED
    assert agreement.closure.reason == "benefits reviewed by the joint committee"


@pytest.mark.parametrize("build", [opened, in_objective_setting, in_sign_off, in_implementation])
def test_withdrawing_before_going_live_closes_as_withdrawn(build):
    agreement, emitted = kinds(build(), withdraw(), after(5))
    assert emitted == ["withdrawn", "stage_changed"]
    assert (agreement.stage, agreement.closure.outcome, agreement.closure.at) == (
        Stage.CLOSED, ClosedOutcome.WITHDRAWN, after(5))


# Amendment


def amended() -> Agreement:
    """Review 1 concluded with 'amend', at the end of its period (day 91)."""
    return conclude_review(live(), "amend")


def test_amending_returns_to_objective_setting_with_a_fresh_sign_off_round():
    agreement = apply(live(), readings(), now=after(91))
    agreement, emitted = kinds(agreement, decide("amend"), after(91))
    assert (agreement.stage, agreement.sign_off_round, emitted) == (
        Stage.OBJECTIVE_SETTING, 1, ["review_decided", "stage_changed"])


def test_an_amendment_with_nothing_left_to_build_goes_straight_back_to_review():
    agreement = apply(amended(), send_for_sign_off(), now=after(100))
    agreement = apply(agreement, *(approve(actor) for actor in SIGNATORIES), now=after(100))
    assert (agreement.stage, agreement.went_live_at, agreement.review_number) == (Stage.REVIEW, T0, 2)
    assert agreement.clock_started_at == after(182)


def new_milestone_plan() -> dict[str, Any]:
    milestones = factories.plan_data(T0.date())["milestones"] + [
        {"id": "food", "title": "Food waste rounds added", "owner_body": factories.TAMWORTH,
         "due": after(150).date().isoformat()}]
    return {"milestones": milestones}


def signed_amendment_with_new_milestone() -> Agreement:
    agreement = apply(amended(), set_objectives(**new_milestone_plan()), send_for_sign_off(), now=after(100))
    return apply(agreement, *(approve(actor) for actor in SIGNATORIES), now=after(100))


def test_an_amendment_with_a_new_milestone_returns_to_implementation():
    agreement = signed_amendment_with_new_milestone()
    assert agreement.stage is Stage.IMPLEMENTATION and agreement.open_milestones == ["food"]


def test_after_an_amendment_goes_live_the_next_review_falls_within_one_review_period():
    agreement = apply(signed_amendment_with_new_milestone(), report("food", TAMWORTH), now=after(140))
    assert agreement.stage is Stage.REVIEW
    assert agreement.clock_started_at - after(140) <= agreement.settings.review_period.legacy_timedelta()


# Actions that are malformed before they reach an agreement


def action_problem(model: type[Action], **fields: Any) -> str:
    with pytest.raises(ValidationError) as error:
        model.model_validate({"actor": LEAD} | fields)
    return explain(error.value)


def test_a_sign_off_rejection_must_give_a_reason():
    message = action_problem(SignOff, decision="reject", reason=" no ")
    assert "a rejection must give a reason (at least 3 characters)" in message


@pytest.mark.parametrize(("status", "percent"), [("complete", 99), ("in_progress", 100)])
def test_a_milestone_is_complete_exactly_when_it_is_100_percent(status, percent):
    message = action_problem(ReportMilestone, milestone_id="fleet", status=status, percent_complete=percent)
    assert "a milestone is complete exactly when it is 100% complete" in message


def test_a_kpi_may_be_read_once_per_submission():
    message = action_problem(RecordKpiReadings, readings=[{"kpi_id": "missed-bins", "value": "98"},
                                                          {"kpi_id": "missed-bins", "value": "99"}])
    assert "each KPI may be read once per submission; repeated: missed-bins" in message



# Amendments of a live service


def test_a_rejected_amendment_goes_back_to_objective_setting_not_to_proposal():
    agreement = apply(amended(), send_for_sign_off(), reject(TAMWORTH), now=after(95))
    assert (agreement.stage, agreement.sign_off_round) == (Stage.OBJECTIVE_SETTING, 2)


def test_an_amendment_rejected_in_the_last_round_is_dropped_and_the_service_carries_on():
    agreement = apply(amended(), set_objectives(**new_milestone_plan()), now=after(95))
    for _ in range(agreement.settings.max_sign_off_rounds):
        agreement = apply(agreement, send_for_sign_off(), reject(TAMWORTH), now=after(96))
    assert agreement.stage is Stage.REVIEW and agreement.closure is None
    assert agreement.plan == live().plan, "the service runs on under the plan it had before the amendment"
    assert agreement.review_number == 2


def test_withdrawing_a_live_service_during_its_amendment_terminates_it():
    agreement = apply(amended(), withdraw(), now=after(95))
    assert agreement.closure is not None and agreement.closure.outcome is ClosedOutcome.TERMINATED


def test_before_the_never_skip_patch_skipped_reviews_were_named_in_the_stage_change():
    agreement = apply(live(old_rules=True), readings(), now=after(91))
    decisions = evolve(agreement, decide("continue"), after(200)).decisions
    assert "review 2 skipped" in decisions[-1].payload["reason"]


def test_look_alike_names_are_one_person_only_under_rules_version_2():
    agreement = opened()
    older = agreement.model_copy(update={"names_compared_by_skeleton": False})
    newer = agreement.model_copy(update={"names_compared_by_skeleton": True})
    latin, cyrillic, invisible = "Anna Price", "\u0410nna Price", "Anna\u200b Price"
    assert older.name_key(latin) != older.name_key(cyrillic), "recorded agreements compare names as they did"
    assert newer.name_key(latin) == newer.name_key(cyrillic) == newer.name_key(invisible)


@pytest.mark.parametrize("under_rules_version_2", [True, False])
def test_a_look_alike_of_a_signer_cannot_sign_for_a_second_body_in_the_round(under_rules_version_2):
    look_alike = "\u0420riya Shah"  # a Cyrillic Er for the lead signatory's Latin P
    agreement = in_sign_off().model_copy(update={"names_compared_by_skeleton": under_rules_version_2}, deep=True)
    tamworth = factories.TAMWORTH
    agreement.signatory_register[tamworth] = [*agreement.signatories(tamworth),
                                              Signatory(name=look_alike, role="Interim Chief Executive")]
    agreement = apply(agreement, approve(LEAD))
    second = approve(Actor(body=tamworth, signatory=look_alike))
    if under_rules_version_2:
        assert "has already signed in round 1 for Lichfield" in rejected(agreement, second)
    else:
        assert evolve(agreement, second, T0).decisions, "older agreements compare names as they did"
