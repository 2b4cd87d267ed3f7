"""The whole lifecycle on the time-skipping server, with real activities and a real PostgreSQL."""

from datetime import timedelta

from domain.model import Stage
from tests import factories
from tests.harness import Harness, approve_by_all, walk_to_sign_off
from workflows.agreement import AgreementWorkflow

LEAD = factories.LEAD.model_dump()
TAMWORTH = factories.TAMWORTH_SIGNATORY.model_dump()


async def go_live(handle):
    await handle.execute_update(AgreementWorkflow.report_milestone, {
        "actor": LEAD, "milestone_id": "fleet", "status": "complete", "percent_complete": 100})
    return await handle.execute_update(AgreementWorkflow.report_milestone, {
        "actor": TAMWORTH, "milestone_id": "rounds", "status": "complete", "percent_complete": 100})


async def conclude_review(harness, handle, outcome="continue", cost="61", on_time="99.1"):
    status = await handle.query(AgreementWorkflow.status)
    await harness.skip(status.stage_started_at - status.went_live_at - timedelta(days=91) * (status.review_number - 1)
                       + timedelta(hours=1))
    await handle.execute_update(AgreementWorkflow.record_kpi_readings, {"actor": LEAD, "readings": [
        {"kpi_id": "cost-per-household", "value": cost}, {"kpi_id": "missed-bins", "value": on_time}]})
    return await handle.execute_update(AgreementWorkflow.decide_review, {
        "actor": LEAD, "outcome": outcome, "reason": "benefits reviewed by the joint committee"})


async def test_full_lifecycle_closes_after_its_reviews(harness: Harness):
    handle = await harness.start(settings={"term": "P364D"})
    agreement_id = handle.id.removeprefix("agreement-")
    status = await walk_to_sign_off(handle)
    assert status.stage is Stage.SIGN_OFF
    status = await approve_by_all(handle)
    assert status.stage is Stage.IMPLEMENTATION
    status = await go_live(handle)
    assert status.stage is Stage.REVIEW and status.review_number == 1
    for number in range(1, 5):
        status = await conclude_review(harness, handle)
    assert status.stage is Stage.CLOSED
    assert status.closure.outcome == "completed"
    result = await handle.result()
    assert result.stage is Stage.CLOSED

    entries = await harness.ledger(agreement_id)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0].kind == "agreement_opened"
    assert entries[-1].kind == "stage_changed" and entries[-1].payload["to"] == "closed"
    assert len(entries) == result.decisions_recorded
    assert (await harness.verify(agreement_id)).valid
