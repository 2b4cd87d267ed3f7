"""Calendar periods, late reviews, net-cost cases and names, on the time-skipping server with a real ledger."""

import unicodedata
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from temporalio.client import WorkflowUpdateFailedError

from domain.model import Rag, Stage
from tests.helpers import assert_eventually, factories
from tests.helpers.harness import Harness, approve_by_all, version, walk_to_sign_off
from tests.test_workflow_lifecycle import conclude_review, go_live
from workflows import rollout
from workflows.agreement import AgreementWorkflow
from workflows.web_ui import details_markdown

QUARTERLY_FOR_A_YEAR = {"review_period": "P3M", "term": "P1Y"}


async def test_a_review_decided_two_periods_late_opens_the_next_review_and_every_period_is_reviewed(harness: Harness):
    handle = await harness.start(settings=QUARTERLY_FOR_A_YEAR)
    agreement_id = handle.agreement_id
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    status = await go_live(handle)
    live = status.went_live_at
    assert (status.review_number, status.reviews_in_term) == (1, 4)
    assert [status.review_period_end, status.next_review_period_end] == [
        live + relativedelta(months=3), live + relativedelta(months=6)]

    await harness.skip(live + relativedelta(months=9, days=1) - await harness.env.get_current_time())
    status = await handle.query(AgreementWorkflow.status)
    assert (status.review_number, status.reviews_outstanding) == (1, 3)

    status = await conclude_review(harness, handle)
    assert (status.stage, status.review_number, status.reviews_outstanding) == (Stage.REVIEW, 2, 2)
    assert status.stage_started_at == live + relativedelta(months=6), "its clock starts when its period ended"
    assert status.rag is Rag.RED

    async def review_2_alerted() -> bool:
        return any("(review 2, for the period ending" in a["message"] for a in await harness.alerts(agreement_id))

    await assert_eventually(review_2_alerted)
    assert "review 2 of 4, for the period ending" in details_markdown(status)

    for number in (3, 4):
        status = await conclude_review(harness, handle)
        if number == 3:
            assert (status.review_number, status.reviews_outstanding) == (3, 1)
    assert status.review_number == 4
    status = await conclude_review(harness, handle)
    assert status.stage is Stage.CLOSED and status.closure.outcome == "completed"

    entries = await harness.ledger(agreement_id)
    assert [e.payload["reason"] for e in entries if e.kind == "stage_changed" and e.payload["to"] == "review"] == [
        "every milestone is complete; the shared service is live",
        "review 1 concluded: continue", "review 2 concluded: continue", "review 3 concluded: continue"]
    assert sum(e.kind == "review_decided" for e in entries) == 4
    assert (await harness.verify(agreement_id)).valid


async def test_a_net_cost_case_opens_and_is_shown_as_a_net_cost(harness: Harness):
    handle = await harness.start(expected_annual_saving="-120000")
    status = await handle.query(AgreementWorkflow.status)
    assert (status.expected_annual_saving, status.payback_years) == (Decimal("-120000.00"), None)
    assert "**Case:** net annual cost £120,000.00 (no payback)." in details_markdown(status)
    opened = (await harness.ledger(handle.agreement_id))[0]
    assert opened.payload["proposal"]["expected_annual_saving"] == "-120000.00"


async def test_names_typed_in_nfd_match_a_named_signatory_and_count_as_the_same_person(harness: Harness):
    nfc, nfd = unicodedata.normalize("NFC", "Siân Llŷr"), unicodedata.normalize("NFD", "Siân Llŷr")
    partners = factories.proposal_data()["partners"]
    for body in partners[1:]:
        body["signatories"] = [{"name": nfc, "role": "Director of Resources"}]
    handle = await harness.start(partners=partners)
    await walk_to_sign_off(handle)
    # Raw JSON, not a typed action: the name must reach the workflow in NFD, as an officer's keyboard sent it.
    status = await handle.execute_update(AgreementWorkflow.record_sign_off, {
        "version": await version(handle),
        "actor": {"body": factories.TAMWORTH, "signatory": nfd}, "decision": "approve"})
    assert [s.signatory for s in status.sign_offs] == [nfc]
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(AgreementWorkflow.record_sign_off, {
            "version": await version(handle),
            "actor": {"body": factories.STAFFORDSHIRE, "signatory": nfd.upper()}, "decision": "approve"})
    assert "has already signed in round 1 for Tamworth Borough Council; nobody signs twice" in str(
        refused.value.cause)
    assert len(await harness.ledger(handle.agreement_id)) == status.decisions_recorded


async def test_a_new_agreement_runs_under_the_calendar_and_never_skip_rules(harness: Harness):
    handle = await harness.start()
    events = await harness.history_events(handle)
    markers = " ".join(str(e.marker_recorded_event_attributes) for e in events
                       if e.HasField("marker_recorded_event_attributes"))
    assert all(patch in markers for patch in rollout.CURRENT_RULES), (
        "a new agreement takes the current rules, calendar periods among them")
