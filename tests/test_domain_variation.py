"""Variations of the partnership and the signatory register, as pure rules."""

from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.actions import Action, ReviseProposal, WithdrawVariation
from domain.agreement import Agreement
from domain.drift import waiting_on
from domain.errors import ActionRejected
from domain.lifecycle import evolve, take_effect
from domain.model import Stage
from domain.status import status_of, waiting_summary
from domain.variation import Variation
from tests.helpers import factories
from tests.helpers.agreements import apply, north_west, north_west_in_sign_off, north_west_live, review_due
from tests.helpers.builders import (
    BLACKPOOL,
    CUMBRIA,
    LANCASHIRE,
    T0,
    after,
    approve,
    decide,
    name_signatory,
    propose,
    readings,
    retire,
    sign,
)
from tests.helpers.factories import (
    BLACKBURN_SIGNATORY,
    CUMBERLAND,
    CUMBERLAND_SIGNATORY,
    WESTMORLAND_AND_FURNESS,
    WESTMORLAND_SIGNATORY,
    blackburn_joins,
    blackpool_leaves,
    cumbria_reorganisation,
)
from workflows.web_ui import details_markdown

TODAY = T0.date()
SUCCESSORS_AND_STAYERS = (LANCASHIRE, CUMBERLAND_SIGNATORY, WESTMORLAND_SIGNATORY, BLACKPOOL)


def kinds(agreement: Agreement, action: Action, now=T0) -> tuple[Agreement, list[str]]:
    transition = evolve(agreement, action, now)
    return transition.agreement, [d.kind for d in transition.decisions]


def rejected(agreement: Agreement, action: Action, now=T0) -> str:
    before = agreement.model_dump()
    with pytest.raises(ActionRejected) as error:
        evolve(agreement, action, now)
    assert agreement.model_dump() == before
    return str(error.value)


def contributions(agreement: Agreement) -> dict[str, Decimal]:
    assert agreement.plan is not None
    return {c.body: c.annual_amount for c in agreement.plan.contributions}


# Succession: the Cumbria reorganisation


def test_cumbria_is_succeeded_by_the_two_unitaries_who_take_over_its_contribution_milestones_and_place():
    agreement, emitted = kinds(north_west_live(), propose(cumbria_reorganisation(TODAY)))
    assert emitted == ["variation_proposed"] and agreement.variation is not None
    assert [code for code, _ in agreement.variation_awaits] == [
        factories.LANCASHIRE, CUMBERLAND, WESTMORLAND_AND_FURNESS, factories.BLACKPOOL]
    for actor in SUCCESSORS_AND_STAYERS[:-1]:
        agreement, emitted = kinds(agreement, sign(actor))
        assert emitted == ["variation_signed"]
    assert agreement.proposal.partner(factories.CUMBRIA) is not None, "nothing changes until every body signs"
    agreement, emitted = kinds(agreement, sign(BLACKPOOL))
    assert emitted == ["variation_signed", "variation_took_effect"]
    assert [p.code for p in agreement.proposal.partners] == [
        factories.LANCASHIRE, CUMBERLAND, WESTMORLAND_AND_FURNESS, factories.BLACKPOOL]
    assert contributions(agreement) == {factories.LANCASHIRE: Decimal("1000000.00"), CUMBERLAND: Decimal("300000.01"),
                                        WESTMORLAND_AND_FURNESS: Decimal("300000.00"),
                                        factories.BLACKPOOL: Decimal("400000.00")}
    assert agreement.plan is not None and agreement.plan.milestone("staff").owner_body == CUMBERLAND
    assert agreement.variation is None and agreement.stage is Stage.REVIEW
    assert agreement.former_partners == {factories.CUMBRIA: "Cumbria County Council"}
    assert "not a partner body" in rejected(agreement, readings(CUMBRIA))
    apply(agreement, readings(CUMBERLAND_SIGNATORY), now=review_due(agreement))


def test_the_successors_split_the_contribution_as_stated_which_must_add_up():
    stated = cumbria_reorganisation(TODAY)
    stated["changes"][0]["contributions"] = [
        {"body": CUMBERLAND, "annual_amount": "350000.01"},
        {"body": WESTMORLAND_AND_FURNESS, "annual_amount": "250000"}]
    agreement = apply(north_west_live(), propose(stated), *(sign(a) for a in SUCCESSORS_AND_STAYERS))
    assert contributions(agreement)[CUMBERLAND] == Decimal("350000.01")
    stated["changes"][0]["contributions"][1]["annual_amount"] = "200000"
    assert "add up to £550000.01" in rejected(north_west_live(), propose(stated))


def test_a_leaving_or_succeeded_body_does_not_sign_and_one_person_signs_for_one_body():
    variation = cumbria_reorganisation(TODAY)
    westmorland = variation["changes"][0]["successors"][1]
    westmorland["signatories"].append({"name": "Iain Wilson", "role": "Shared Chief Executive"})
    agreement = apply(north_west_live(), propose(variation))
    assert "does not sign variation 1" in rejected(agreement, sign(CUMBRIA))
    agreement = apply(agreement, sign(LANCASHIRE))
    assert "already approved variation 1" in rejected(agreement, sign(LANCASHIRE))
    agreement = apply(agreement, sign(CUMBERLAND_SIGNATORY))
    shared_chief_executive = WESTMORLAND_SIGNATORY.model_copy(update={"signatory": "iain wilson"})
    assert "already signed variation 1 for Cumberland Council; one person signs for one body" in rejected(
        agreement, sign(shared_chief_executive))


def test_an_agreed_variation_with_a_future_date_takes_effect_when_that_day_comes():
    effective = TODAY + timedelta(days=30)
    agreement = apply(north_west_live(), propose(cumbria_reorganisation(effective)),
                      *(sign(a) for a in SUCCESSORS_AND_STAYERS))
    assert agreement.proposal.partner(factories.CUMBRIA) is not None
    assert agreement.variation_due_at == after(30) - timedelta(hours=9, minutes=30)
    with pytest.raises(ActionRejected):
        take_effect(agreement, after(29))
    transition = take_effect(agreement, agreement.variation_due_at)
    [decision] = transition.decisions
    assert (decision.kind, decision.actor_body, decision.actor_signatory) == ("variation_took_effect", None, None)
    assert decision.payload["partners"] == [factories.LANCASHIRE, CUMBERLAND, WESTMORLAND_AND_FURNESS,
                                            factories.BLACKPOOL]
    assert transition.agreement.variation is None


def test_when_the_lead_body_is_succeeded_the_variation_names_the_new_lead():
    agreement = north_west().model_copy(update={"proposal": factories.proposal(
        **factories.north_west_proposal_data(lead_body=factories.CUMBRIA))})
    without_lead = cumbria_reorganisation(TODAY)
    assert "must name the new lead" in rejected(agreement, propose(without_lead, CUMBRIA))
    agreement = apply(agreement, propose(cumbria_reorganisation(TODAY, new_lead=CUMBERLAND), CUMBRIA),
                      *(sign(a) for a in SUCCESSORS_AND_STAYERS))
    assert agreement.proposal.lead_body == CUMBERLAND
    assert "only the lead body" in rejected(agreement, WithdrawVariation(actor=LANCASHIRE, reason="no reason"))


def test_in_sign_off_the_round_awaits_the_successors_instead_of_the_succeeded_body():
    agreement = apply(north_west_in_sign_off(), approve(LANCASHIRE), approve(CUMBRIA),
                      propose(cumbria_reorganisation(TODAY)), *(sign(a) for a in SUCCESSORS_AND_STAYERS))
    assert agreement.stage is Stage.SIGN_OFF and set(agreement.sign_offs) == {factories.LANCASHIRE}
    awaited = [w.body for w in waiting_on(agreement, T0)]
    assert awaited == [CUMBERLAND, WESTMORLAND_AND_FURNESS, factories.BLACKPOOL]
    agreement = apply(agreement, approve(CUMBERLAND_SIGNATORY), approve(WESTMORLAND_SIGNATORY), approve(BLACKPOOL))
    assert agreement.stage is Stage.IMPLEMENTATION


def test_when_the_last_body_awaited_in_sign_off_leaves_the_round_completes():
    agreement = apply(north_west_in_sign_off(), approve(LANCASHIRE), approve(CUMBRIA),
                      propose(blackpool_leaves(TODAY, notice_period=None)), sign(LANCASHIRE))
    agreement, emitted = kinds(agreement, sign(CUMBRIA))
    assert emitted == ["variation_signed", "variation_took_effect", "stage_changed"]
    assert agreement.stage is Stage.IMPLEMENTATION


# Joining and leaving


def test_a_body_joins_with_its_contribution_and_signs_through_the_signatory_the_variation_names():
    agreement = apply(north_west_live(), propose(blackburn_joins(TODAY)), sign(LANCASHIRE), sign(CUMBRIA))
    impostor = BLACKBURN_SIGNATORY.model_copy(update={"signatory": "Someone Else"})
    assert "not a named signatory of Blackburn with Darwen Borough Council" in rejected(agreement, sign(impostor))
    agreement = apply(agreement, sign(BLACKPOOL), sign(BLACKBURN_SIGNATORY))
    assert contributions(agreement)[factories.BLACKBURN_WITH_DARWEN] == Decimal("350000.00")
    assert agreement.signatories(factories.BLACKBURN_WITH_DARWEN)[0].name == "Imran Patel"


def test_a_body_leaves_after_its_notice_on_its_exit_terms_and_its_milestones_pass_to_the_lead():
    leaving_early = blackpool_leaves(TODAY + timedelta(days=90))
    assert "cannot leave before 2027-09-28" in rejected(north_west_live(), propose(leaving_early))
    owed = blackpool_leaves(TODAY + timedelta(days=180), exit_amount="-1250.50")
    agreement, emitted = kinds(north_west_live(), propose(owed))
    assert emitted == ["variation_proposed"]
    variation = Variation.model_validate(owed)
    assert "is owed £1250.50" in variation.describe({})[0]
    agreement = apply(agreement, sign(LANCASHIRE), sign(CUMBRIA))
    agreement = take_effect(agreement, agreement.variation_due_at).agreement
    assert [p.code for p in agreement.proposal.partners] == [factories.LANCASHIRE, factories.CUMBRIA]
    assert factories.BLACKPOOL not in contributions(agreement)


@pytest.mark.parametrize("variation, refusal", [
    (blackburn_joins(TODAY) | {"changes": [{"kind": "join", "annual_contribution": "1", "body": {
        "code": factories.BLACKPOOL, "name": "Blackpool", "signatories": [{"name": "A B", "role": "CE"}]}}]},
     "Blackpool (E06000009) is already a partner and cannot join"),
    (blackpool_leaves(TODAY, body=factories.LICHFIELD, notice_period=None),
     "E07000194 is not a partner (E10000017, E10000006, E06000009), so it cannot leave"),
    ({"reason": "both go", "effective_on": TODAY.isoformat(), "changes": [
        blackpool_leaves(TODAY, notice_period=None)["changes"][0],
        blackpool_leaves(TODAY, body=factories.CUMBRIA, notice_period=None)["changes"][0]]},
     "the partnership would have 1 body"),
    (cumbria_reorganisation(TODAY, new_lead=CUMBERLAND), "the lead body stays Lancashire County Council"),
])
def test_a_variation_that_does_not_fit_the_partnership_is_refused(variation, refusal):
    assert refusal in rejected(north_west_live(), propose(variation))


def test_the_effective_date_falls_between_the_opening_of_the_agreement_and_ten_years_ahead():
    too_early = cumbria_reorganisation(TODAY - timedelta(days=1))
    assert "must fall between the day the agreement opened (2027-04-01)" in rejected(
        north_west_live(), propose(too_early))
    too_late = cumbria_reorganisation(TODAY + timedelta(days=3661))
    assert "and 3660 days from today" in rejected(north_west_live(), propose(too_late))


def test_a_variation_that_names_a_body_twice_is_refused_naming_it():
    data = cumbria_reorganisation(TODAY)
    data["changes"].append(blackpool_leaves(TODAY, body=CUMBERLAND)["changes"][0])
    with pytest.raises(ValidationError, match="repeated: E06000063"):
        Variation.model_validate(data)


# Rejection, withdrawal, one at a time, the lead proposes


def test_a_rejection_closes_the_variation_unchanged_and_the_lead_may_propose_another():
    agreement = apply(north_west_live(), propose(cumbria_reorganisation(TODAY)), sign(LANCASHIRE))
    agreement, emitted = kinds(agreement, sign(BLACKPOOL, "reject", "the split of costs is not agreed"))
    assert emitted == ["variation_signed", "variation_rejected"]
    assert agreement.variation is None and agreement.proposal.partner(factories.CUMBRIA) is not None
    agreement = apply(agreement, propose(cumbria_reorganisation(TODAY)))
    assert agreement.variation is not None and agreement.variation.number == 2


def test_only_the_lead_proposes_or_withdraws_and_only_one_variation_is_pending_at_a_time():
    assert "only the lead body" in rejected(north_west_live(), propose(cumbria_reorganisation(TODAY), BLACKPOOL))
    agreement = apply(north_west_live(), propose(cumbria_reorganisation(TODAY)))
    assert "variation 1 is pending" in rejected(agreement, propose(blackburn_joins(TODAY)))
    agreement, emitted = kinds(agreement, WithdrawVariation(actor=LANCASHIRE, reason="the order was delayed"))
    assert emitted == ["variation_withdrawn"] and agreement.variation is None
    assert "no pending variation" in rejected(agreement, sign(LANCASHIRE))


def test_the_status_shows_the_pending_variation_and_who_is_awaited():
    agreement = apply(north_west_live(), propose(cumbria_reorganisation(TODAY)), sign(LANCASHIRE))
    status = status_of(agreement, T0)
    assert status.variation is not None and status.variation.awaited == [
        CUMBERLAND, WESTMORLAND_AND_FURNESS, factories.BLACKPOOL]
    assert [s.body for s in status.variation.signed] == [factories.LANCASHIRE]
    assert [w.for_what for w in status.waiting_on if w.body == CUMBERLAND] == ["variation 1 to be signed"]
    details = details_markdown(status)
    assert "**Variation 1**" in details and "Awaiting: Cumberland Council, Westmorland and Furness Council" in details
    assert "Cumbria County Council (E10000006) is succeeded by Cumberland Council (E06000063)" in details
    assert waiting_summary(status).endswith("; variation 1 to be signed by Cumberland Council, "
                                            "Westmorland and Furness Council, Blackpool Borough Council")


# The signatory register


def test_the_lead_bodys_only_signatory_retires_and_another_partner_names_an_interim_one():
    agreement = apply(north_west_live(), readings(LANCASHIRE), now=review_due(north_west_live()))
    agreement, emitted = kinds(agreement, retire(LANCASHIRE, factories.LANCASHIRE, "Helen Ashworth"))
    assert emitted == ["signatory_retired"] and agreement.signatories(factories.LANCASHIRE) == []
    assert "named: nobody" in rejected(agreement, decide("continue", LANCASHIRE), now=review_due(agreement))
    assert "needs a reason" in rejected(agreement, name_signatory(BLACKPOOL, factories.LANCASHIRE, "Sam Clarke"))
    transition = evolve(agreement, name_signatory(BLACKPOOL, factories.LANCASHIRE, "Sam Clarke",
                                                  "Helen Ashworth retired; interim until the council appoints"), T0)
    [named] = transition.decisions
    assert (named.kind, named.actor_body, named.payload["basis"]) == (
        "signatory_named", factories.BLACKPOOL, "interim_by_partner")
    sam = LANCASHIRE.model_copy(update={"signatory": "Sam Clarke"})
    agreement = apply(transition.agreement, decide("continue", sam), now=review_due(agreement))
    status = status_of(agreement, T0)
    assert [s.name for s in status.signatories[factories.LANCASHIRE]] == ["Sam Clarke"]
    assert [(r.name, r.retired_on) for r in status.retired_signatories] == [("Helen Ashworth", TODAY)]


def test_a_partner_left_with_no_signatory_has_one_named_by_the_lead_body():
    agreement = apply(north_west_live(), retire(BLACKPOOL, factories.BLACKPOOL, "Nadia Rahman"))
    reason = "Nadia Rahman retired; the council is recruiting"
    assert "the lead body (Lancashire County Council) names one" in rejected(
        agreement, name_signatory(CUMBRIA, factories.BLACKPOOL, "Tom Ward", reason))
    agreement, emitted = kinds(agreement, name_signatory(LANCASHIRE, factories.BLACKPOOL, "Tom Ward", reason))
    assert emitted == ["signatory_named"]
    assert [s.name for s in agreement.signatories(factories.BLACKPOOL)] == ["Tom Ward"]


def test_a_body_names_and_retires_its_own_signatories_and_nobody_else_does():
    agreement, emitted = kinds(north_west_live(), name_signatory(CUMBRIA, factories.CUMBRIA, "Pat Nolan"))
    assert emitted == ["signatory_named"]
    assert [s.name for s in agreement.signatories(factories.CUMBRIA)] == ["Gareth Dobson", "Pat Nolan"]
    assert "only a current signatory of Cumbria County Council names" in rejected(
        agreement, name_signatory(LANCASHIRE, factories.CUMBRIA, "Jo Bell", "a reason"))
    assert "only a current signatory of Cumbria County Council records" in rejected(
        agreement, retire(LANCASHIRE, factories.CUMBRIA, "Pat Nolan"))
    tomorrow = TODAY + timedelta(days=1)
    assert "is in the future" in rejected(agreement, retire(CUMBRIA, factories.CUMBRIA, "Pat Nolan", tomorrow))
    assert "is not a current signatory" in rejected(agreement, retire(CUMBRIA, factories.CUMBRIA, "Jo Bell"))
    assert "already a signatory" in rejected(agreement, name_signatory(CUMBRIA, factories.CUMBRIA, "pat nolan"))
    agreement = apply(agreement, retire(CUMBRIA, factories.CUMBRIA, "Gareth Dobson"))
    assert "is not a named signatory of Cumbria County Council (named: Pat Nolan)" in rejected(
        agreement, name_signatory(CUMBRIA, factories.CUMBRIA, "Jo Bell"))


def test_while_a_variation_is_pending_a_revision_cannot_change_the_partners():
    agreement = apply(north_west(), propose(blackburn_joins(TODAY)))
    fewer = factories.north_west_proposal_data()
    fewer["partners"] = fewer["partners"][:2]
    revision = ReviseProposal.model_validate({"actor": LANCASHIRE, "proposal": fewer})
    assert "variation 1 is pending: the partners cannot change" in rejected(agreement, revision)
    same_partners = ReviseProposal.model_validate(
        {"actor": LANCASHIRE, "proposal": factories.north_west_proposal_data(one_off_cost="380000.00")})
    apply(agreement, same_partners)


def test_a_variation_still_pending_when_the_agreement_closes_lapses_with_it():
    agreement = apply(north_west_live(), propose(cumbria_reorganisation(TODAY)), sign(LANCASHIRE))
    agreement, emitted = kinds(agreement, decide("terminate", LANCASHIRE))
    assert emitted == ["review_decided", "stage_changed", "variation_lapsed"]
    assert agreement.variation is None and waiting_on(agreement, T0) == []
