"""Benefits, risks and lessons through the workflow: the submit rule, the figures in the status and the
ledger, and the payback forecast alert raised exactly once per level."""

from collections import Counter
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from tests.helpers import assert_eventually, factories
from tests.helpers.builders import TAMWORTH, benefits, record_lessons, review_risks, revise, submit
from tests.helpers.harness import Harness, approve_by_all, walk_to_sign_off
from tests.histories.record import go_live
from workflows.agreement import AgreementWorkflow


async def test_a_proposal_without_a_business_case_is_refused_naming_the_field(harness: Harness):
    handle = await harness.start(business_case=None)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(AgreementWorkflow.submit_proposal, submit())
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "ActionRejected"
    assert cause.details[0] == [{"field": "proposal.business_case", "code": "business_case_missing",
                                 "message": cause.message}]
    assert "needs a business case" in cause.message
    assert [e.kind for e in await harness.ledger(handle.agreement_id)] == ["agreement_opened"]


async def test_an_unjustified_preferred_option_of_less_than_the_highest_value_is_refused_then_submitted(
        harness: Harness):
    """A new agreement carries rules version 3: the factories' case (sharing −£128,043.19 against carrying on
    alone) is refused without its justification, and submitted once a revision records one."""
    case = {k: v for k, v in factories.proposal_data()["business_case"].items() if k != "preferred_justification"}
    handle = await harness.start(business_case=case)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(AgreementWorkflow.submit_proposal, submit())
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "ActionRejected"
    assert cause.details[0][0]["code"] == "justification_missing"
    assert [e.kind for e in await harness.ledger(handle.agreement_id)] == ["agreement_opened"]
    await handle.execute_update(AgreementWorkflow.revise_proposal, revise())
    await handle.execute_update(AgreementWorkflow.submit_proposal, submit())
    submitted = (await harness.ledger(handle.agreement_id))[-2]
    assert submitted.kind == "proposal_submitted"
    assert submitted.payload["appraisal_summary"]["justification"] == factories.JUSTIFICATION


async def test_the_payback_forecast_alerts_once_per_level_and_the_figures_are_in_the_ledger(harness: Harness):
    handle = await harness.start(settings={"term": "P364D"})
    agreement_id = handle.agreement_id
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    await go_live(handle)
    status = await handle.query(AgreementWorkflow.status)
    await harness.skip(status.stage_started_at - await harness.env.get_current_time() + timedelta(hours=1))

    async def record(actual: str) -> None:
        await handle.execute_update(AgreementWorkflow.record_benefits, benefits(actual))

    async def levels(count: int) -> Counter[str] | None:
        rows = [row for row in await harness.alerts(agreement_id) if row["kind"] == "payback_forecast"]
        return Counter(row["level"] for row in rows) if len(rows) >= count else None

    await record("3800000.00")  # £100,000 a year short: amber
    assert await assert_eventually(lambda: levels(1)) == {"amber": 1}
    await record("3810000.00")
    await record("4100000.00")  # £400,000 short: red
    assert await assert_eventually(lambda: levels(2)) == {"amber": 1, "red": 1}
    await record("4150000.00")
    await handle.execute_update(AgreementWorkflow.review_risks,
                                review_risks(factories.risk_data(factories.TAMWORTH, "depot", 4, 5)))
    await handle.execute_update(AgreementWorkflow.record_lessons, record_lessons(
        {"what_worked": "One depot", "what_did_not": "Two payrolls", "tags": ["fleet"]}, actor=TAMWORTH))
    status = await handle.query(AgreementWorkflow.status)
    assert status.benefits is not None and str(status.benefits.actual_annual_cost) == "4150000.00"
    assert [(r.id, r.score) for r in status.risks] == [("depot", 20)] and status.risks_reviewed_at == 1
    assert status.rag.value == "red"
    entries = await harness.ledger(agreement_id)
    recorded = [e for e in entries if e.kind == "benefits_recorded"]
    assert len(recorded) == 4 and recorded[-1].payload["position"]["forecast_rag"] == "red"
    assert [e.kind for e in entries[-2:]] == ["risks_reviewed", "lessons_recorded"]
    assert (await harness.verify(agreement_id)).valid
    assert await levels(2) == {"amber": 1, "red": 1}
