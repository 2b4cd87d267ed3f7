"""Variations and the signatory register on the time-skipping server, with real activities and PostgreSQL."""

from datetime import timedelta

from domain.actions import Actor
from domain.model import Stage
from tests.helpers import assert_eventually, factories
from tests.helpers.builders import (
    BLACKPOOL,
    CUMBRIA,
    LANCASHIRE,
    approve,
    decide,
    name_signatory,
    propose,
    report,
    retire,
    send_for_sign_off,
    set_north_west_objectives,
    sign,
    submit,
)
from tests.helpers.harness import Harness, variation_version, version
from workflows import search_attributes
from workflows.agreement import AgreementWorkflow

CUMBERLAND = factories.CUMBERLAND_SIGNATORY
WESTMORLAND = factories.WESTMORLAND_SIGNATORY


async def north_west_live(harness: Harness, settings: dict | None = None):
    """The north-west partnership, live and in its first review."""
    handle = await harness.start(factories.north_west_request(harness.new_id("north-west"), settings=settings))
    status = await handle.execute_update(AgreementWorkflow.submit_proposal, submit(LANCASHIRE))
    start = status.stage_started_at.date()
    await handle.execute_update(AgreementWorkflow.set_objectives, set_north_west_objectives(start=start))
    await handle.execute_update(AgreementWorkflow.submit_for_sign_off, send_for_sign_off(LANCASHIRE))
    for actor in (LANCASHIRE, CUMBRIA, BLACKPOOL):
        await handle.execute_update(AgreementWorkflow.record_sign_off, approve(actor, await version(handle)))
    for actor, milestone in ((LANCASHIRE, "system"), (CUMBRIA, "staff")):
        status = await handle.execute_update(AgreementWorkflow.report_milestone, report(milestone, actor))
    assert status.stage is Stage.REVIEW
    return handle, status


async def test_an_agreed_variation_takes_effect_on_its_date_and_the_search_attributes_follow(harness: Harness):
    handle, status = await north_west_live(harness, {"review_period": "P182D", "term": "P364D"})
    effective = (await harness.env.get_current_time()).date() + timedelta(days=30)
    variation = factories.cumbria_reorganisation(effective)
    status = await handle.execute_update(AgreementWorkflow.propose_variation, propose(variation))
    assert status.variation is not None and status.variation.awaited == [
        factories.LANCASHIRE, factories.CUMBERLAND, factories.WESTMORLAND_AND_FURNESS, factories.BLACKPOOL]
    for actor in (LANCASHIRE, CUMBERLAND, WESTMORLAND, BLACKPOOL):
        status = await handle.execute_update(AgreementWorkflow.sign_variation,
                                             sign(actor, version=await variation_version(handle)))
    assert status.variation is not None and status.variation.awaited == []
    assert factories.CUMBRIA in status.partner_bodies, "the agreement runs under the terms in force until the date"

    await harness.skip(timedelta(days=31))

    async def varied():
        current = await handle.query(AgreementWorkflow.status)
        return current if current.variation is None else None
    status = await assert_eventually(varied)
    assert status.partner_bodies == [factories.LANCASHIRE, factories.CUMBERLAND, factories.WESTMORLAND_AND_FURNESS,
                                     factories.BLACKPOOL]
    assert status.former_partners == {factories.CUMBRIA: "Cumbria County Council"}
    milestone = next(m for m in status.milestones if m.id == "staff")
    assert milestone.owner_body == factories.CUMBERLAND
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(search_attributes.PARTNER_BODIES) == status.partner_bodies

    agreement_id = handle.agreement_id
    ledger = await harness.ledger(agreement_id)
    took_effect = [e for e in ledger if e.kind == "variation_took_effect"]
    assert len(took_effect) == 1 and took_effect[0].actor_body is None
    assert [e.actor_body for e in ledger if e.kind == "signed_off"] == [
        factories.LANCASHIRE, factories.CUMBRIA, factories.BLACKPOOL], "earlier decisions keep naming their bodies"
    assert (await harness.verify(agreement_id)).valid


async def test_the_lead_bodys_signatory_retires_and_an_interim_one_is_named_by_a_partner(harness: Harness):
    handle, _ = await north_west_live(harness)
    await handle.execute_update(AgreementWorkflow.retire_signatory, retire(
        LANCASHIRE, factories.LANCASHIRE, "Helen Ashworth", (await harness.env.get_current_time()).date()))
    status = await handle.execute_update(AgreementWorkflow.name_signatory, name_signatory(
        BLACKPOOL, factories.LANCASHIRE, "Sam Clarke", role="Interim Chief Executive",
        reason="Helen Ashworth has retired and the council has not yet appointed"))
    assert [s.name for s in status.signatories[factories.LANCASHIRE]] == ["Sam Clarke"]
    assert [r.name for r in status.retired_signatories] == ["Helen Ashworth"]
    sam = Actor(body=factories.LANCASHIRE, signatory="Sam Clarke")
    status = await handle.execute_update(AgreementWorkflow.decide_review,
                                         decide("terminate", sam, "the partners are reorganising the service"))
    assert status.stage is Stage.CLOSED
    ledger = await harness.ledger(handle.agreement_id)
    named = next(e for e in ledger if e.kind == "signatory_named")
    assert (named.actor_body, named.actor_signatory, named.payload["basis"]) == (
        factories.BLACKPOOL, "Nadia Rahman", "interim_by_partner")
    assert next(e for e in ledger if e.kind == "submitted_for_sign_off").actor_signatory == "Helen Ashworth"
