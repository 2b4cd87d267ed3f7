"""Every rejected action names the problem and leaves history and ledger untouched."""

from datetime import UTC, datetime

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.actions import Actor
from domain.errors import INVALID_PAYLOAD
from domain.lifecycle import open_agreement
from domain.model import Stage
from tests.helpers import factories
from tests.helpers.builders import TAMWORTH, approve, submit
from tests.helpers.harness import Harness, version, walk_to_sign_off
from workflows.agreement import AgreementWorkflow

TAMWORTH_JSON = factories.TAMWORTH_SIGNATORY.model_dump()
"""Tamworth's signatory as raw JSON, for payloads that are malformed on purpose."""


async def assert_rejected(harness: Harness, handle, update, payload, *fragments: str) -> None:
    agreement_id = handle.agreement_id
    trace_before = await harness.trace_of_updates(handle)
    ledger_before = await harness.ledger(agreement_id)
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(update, payload)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    for fragment in fragments:
        assert fragment in cause.message
    assert await harness.trace_of_updates(handle) == trace_before, "a rejected update left history events"
    assert await harness.ledger(agreement_id) == ledger_before, "a rejected update changed the ledger"


async def test_invalid_proposal_revision_is_rejected(harness: Harness):
    handle = await harness.start()
    one_partner = factories.proposal_data(partners=factories.proposal_data()["partners"][:1])
    await assert_rejected(harness, handle, AgreementWorkflow.revise_proposal,
                          {"actor": factories.LEAD.model_dump(), "proposal": one_partner},
                          "proposal.partners", "at least 2")


async def test_proposal_with_negative_cost_is_rejected(harness: Harness):
    handle = await harness.start()
    bad = factories.proposal_data(one_off_cost="-5")
    await assert_rejected(harness, handle, AgreementWorkflow.revise_proposal,
                          {"actor": factories.LEAD.model_dump(), "proposal": bad},
                          "one_off_cost", "must be a non-negative decimal number")


async def test_unknown_body_is_rejected(harness: Harness):
    handle = await harness.start()
    await walk_to_sign_off(handle)
    stranger = Actor(body="E07000192", signatory="Alex Doe")
    await assert_rejected(harness, handle, AgreementWorkflow.record_sign_off, approve(stranger, await version(handle)),
                          "E07000192 is not a partner body")


async def test_signatory_of_another_body_is_rejected(harness: Harness):
    handle = await harness.start()
    await walk_to_sign_off(handle)
    impostor = Actor(body=factories.TAMWORTH, signatory="Priya Shah")
    await assert_rejected(harness, handle, AgreementWorkflow.record_sign_off, approve(impostor, await version(handle)),
                          "Priya Shah is not a named signatory of Tamworth Borough Council")


async def test_second_sign_off_by_the_same_body_is_rejected(harness: Harness):
    handle = await harness.start()
    await walk_to_sign_off(handle)
    await handle.execute_update(AgreementWorkflow.record_sign_off, approve(TAMWORTH, await version(handle)))
    await assert_rejected(harness, handle, AgreementWorkflow.record_sign_off, approve(TAMWORTH, await version(handle)),
                          "Tamworth Borough Council has already signed off in round 1")


async def test_action_in_the_wrong_stage_is_rejected(harness: Harness):
    handle = await harness.start()
    await assert_rejected(harness, handle, AgreementWorkflow.record_sign_off, approve(TAMWORTH, await version(handle)),
                          "cannot sign off while agreement", "is in proposal; that is possible only in sign off")


async def test_lead_only_action_by_another_partner_is_rejected(harness: Harness):
    handle = await harness.start()
    await assert_rejected(harness, handle, AgreementWorkflow.submit_proposal, submit(TAMWORTH),
                          "only the lead body (Lichfield District Council)")


@pytest.mark.parametrize(
    ("payload", "fragments"),
    [
        ({"actor": TAMWORTH_JSON, "decision": "maybe"}, ("decision", "'approve' or 'reject'")),
        ({"decision": "approve"}, ("actor", "Field required")),
        ({"actor": TAMWORTH_JSON, "decision": "reject"}, ("a rejection must give a reason",)),
        ({"actor": {"body": 42, "signatory": ["x"]}, "decision": "approve"}, ("actor.body", "actor.signatory")),
        ({"actor": TAMWORTH_JSON, "decision": "approve", "vote": "yes"}, ("vote", "Extra inputs")),
    ],
)
async def test_malformed_payload_is_rejected(harness: Harness, payload, fragments):
    handle = await harness.start()
    await walk_to_sign_off(handle)
    await assert_rejected(harness, handle, AgreementWorkflow.record_sign_off, payload, *fragments)


async def test_rejected_actions_leave_the_agreement_working(harness: Harness):
    handle = await harness.start()
    await assert_rejected(harness, handle, AgreementWorkflow.submit_proposal, submit(TAMWORTH), "lead")
    status = await handle.execute_update(AgreementWorkflow.submit_proposal, submit())
    assert status.stage is Stage.OBJECTIVE_SETTING


async def test_invalid_start_input_fails_the_workflow_at_once(harness: Harness):
    request = factories.request_data(harness.new_id(), lead_body="E09000023")
    handle = await harness.start(request, wait_opened=False)
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == INVALID_PAYLOAD
    assert "the lead body E09000023 must be one of the partners" in cause.message
    events = await harness.history_events(handle)
    assert len(events) <= 5, "the first task should fail the workflow, not retry"
    assert await harness.ledger(request["agreement_id"]) == []


async def test_carried_state_from_a_caller_is_refused_at_once(harness: Harness):
    request = factories.request_data(harness.new_id())
    carried = open_agreement(factories.request(request["agreement_id"]), datetime(2027, 4, 1, tzinfo=UTC))
    handle = await harness.start({**request, "carried": carried.agreement.model_dump(mode="json")}, wait_opened=False)
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == INVALID_PAYLOAD
    assert cause.details[0] == [{"field": "carried", "code": "carried_state_refused", "message": cause.message}]
    assert await harness.ledger(request["agreement_id"]) == []
