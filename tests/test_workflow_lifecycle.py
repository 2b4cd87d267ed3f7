"""The whole lifecycle on the time-skipping server, with real activities and a real PostgreSQL."""

from datetime import timedelta
from decimal import Decimal

from domain.model import Stage
from tests.helpers.builders import (
    TAMWORTH,
    decide,
    readings,
    reject,
    report,
    revise,
    send_for_sign_off,
    submit,
    withdraw,
)
from tests.helpers.harness import Harness, approve_by_all, version, walk_to_sign_off
from workflows.agreement import AgreementWorkflow


async def go_live(handle):
    await handle.execute_update(AgreementWorkflow.report_milestone, report("fleet"))
    return await handle.execute_update(AgreementWorkflow.report_milestone, report("rounds", TAMWORTH))


async def conclude_review(harness, handle, outcome="continue", cost="61", on_time="99.1"):
    """Wait for the current review period to end, record readings, and decide."""
    status = await handle.query(AgreementWorkflow.status)
    now = await harness.env.get_current_time()
    if status.stage_started_at > now:
        await harness.skip(status.stage_started_at - now + timedelta(hours=1))
    await handle.execute_update(AgreementWorkflow.record_kpi_readings, readings(cost=cost, on_time=on_time))
    return await handle.execute_update(AgreementWorkflow.decide_review, decide(outcome))


async def test_full_lifecycle_closes_after_its_reviews(harness: Harness):
    handle = await harness.start(settings={"term": "P364D"})
    agreement_id = handle.agreement_id
    status = await walk_to_sign_off(handle)
    assert status.stage is Stage.SIGN_OFF
    status = await approve_by_all(handle)
    assert status.stage is Stage.IMPLEMENTATION
    status = await go_live(handle)
    assert status.stage is Stage.REVIEW and status.review_number == 1
    for _review in range(1, 5):
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


async def test_a_rejection_returns_to_proposal_and_a_revised_case_is_approved(harness: Harness):
    handle = await harness.start()
    await walk_to_sign_off(handle)
    status = await handle.execute_update(AgreementWorkflow.record_sign_off, reject(
        TAMWORTH, "our contribution is too high", await version(handle)))
    assert status.stage is Stage.PROPOSAL and status.sign_off_round == 2
    status = await handle.execute_update(AgreementWorkflow.revise_proposal, revise(one_off_cost="550000.00"))
    assert status.payback_years == Decimal("1.10")
    await handle.execute_update(AgreementWorkflow.submit_proposal, submit())
    status = await handle.execute_update(AgreementWorkflow.submit_for_sign_off, send_for_sign_off())
    assert status.stage is Stage.SIGN_OFF and status.sign_offs == []
    status = await approve_by_all(handle)
    assert status.stage is Stage.IMPLEMENTATION

    agreement_id = handle.agreement_id
    kinds = [e.kind for e in await harness.ledger(agreement_id)]
    assert kinds.count("signed_off") == 4 and "proposal_revised" in kinds


async def test_too_many_rejected_rounds_close_the_agreement_as_rejected(harness: Harness):
    handle = await harness.start(settings={"max_sign_off_rounds": 2})
    for round_number in (1, 2):
        if round_number > 1:
            await handle.execute_update(AgreementWorkflow.submit_proposal, submit())
            await handle.execute_update(AgreementWorkflow.submit_for_sign_off, send_for_sign_off())
        else:
            await walk_to_sign_off(handle)
        status = await handle.execute_update(AgreementWorkflow.record_sign_off, reject(
            TAMWORTH, "not affordable this year", await version(handle)))
    assert status.stage is Stage.CLOSED and status.closure.outcome == "rejected"
    assert (await handle.result()).closure.outcome == "rejected"


async def test_the_lead_body_can_withdraw_before_go_live(harness: Harness):
    handle = await harness.start()
    await walk_to_sign_off(handle)
    status = await handle.execute_update(AgreementWorkflow.withdraw, withdraw(reason="the county is reorganising"))
    assert status.closure.outcome == "withdrawn"
    assert (await handle.result()).stage is Stage.CLOSED


async def test_an_amended_agreement_is_signed_off_again_and_resumes_reviews(harness: Harness):
    handle = await harness.start()
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    await go_live(handle)
    status = await conclude_review(harness, handle, outcome="amend")
    assert status.stage is Stage.OBJECTIVE_SETTING
    status = await handle.execute_update(AgreementWorkflow.submit_for_sign_off, send_for_sign_off())
    assert status.stage is Stage.SIGN_OFF and status.sign_off_round == 1
    status = await approve_by_all(handle)
    assert status.stage is Stage.REVIEW and status.review_number == 2
    status = await conclude_review(harness, handle, outcome="terminate")
    assert status.closure.outcome == "terminated"


async def test_five_years_of_quarterly_reviews_with_drift_and_an_amendment(harness: Harness):
    handle = await harness.start()
    agreement_id = handle.agreement_id
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    await go_live(handle)
    reviews = 0
    status = await handle.query(AgreementWorkflow.status)
    while status.stage is not Stage.CLOSED:
        reviews += 1
        if reviews == 6:
            # The lead body is late with this review: it drifts to red before it is concluded.
            await harness.skip(status.stage_started_at - await harness.env.get_current_time() + timedelta(days=31))
        if reviews == 9:
            status = await conclude_review(harness, handle, outcome="amend", cost="70")
            await handle.execute_update(AgreementWorkflow.submit_for_sign_off, send_for_sign_off())
            status = await approve_by_all(handle)
            continue
        status = await conclude_review(harness, handle)
    assert status.closure.outcome == "completed"
    assert status.review_number == 20
    result = await handle.result()
    assert result.decisions_recorded == len(await harness.ledger(agreement_id))
    assert (await harness.verify(agreement_id)).valid
    levels = {(row["kind"], row["level"]) for row in await harness.alerts(agreement_id)}
    assert {("stage_drift", "amber"), ("stage_drift", "red"), ("kpi_red", "red")} <= levels
