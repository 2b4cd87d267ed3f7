"""Sending an action again is safe: a repeat returns its recorded outcome, never a second decision,
also after the agreement has continued as new; what a refusal leaves behind, under concurrency too."""

import asyncio
from collections import Counter
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.ledger import LedgerActivities
from domain.actions import SignOff, SubmitProposal, Withdraw
from domain.errors import ACTION_REJECTED, UNKNOWN_ACTION
from domain.ledger import LedgerEntry
from domain.model import Stage
from tests.helpers import assert_eventually, factories
from tests.helpers.builders import LEAD, STAFFORDSHIRE, TAMWORTH, approve, decide, readings, submit
from tests.helpers.harness import Harness, approve_by_all, version, walk_to_sign_off
from tests.histories.record import go_live
from workflows.agreement import AgreementWorkflow


async def open_first_review(harness: Harness, handle) -> None:
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    await go_live(handle)
    status = await handle.query(AgreementWorkflow.status)
    now = await harness.env.get_current_time()
    await harness.skip(status.stage_started_at - now + timedelta(hours=1))


def kinds(entries: list[LedgerEntry]) -> Counter:
    return Counter(entry.kind for entry in entries)


async def test_a_retried_update_reaches_the_next_run_and_gets_the_original_outcome(
        harness: Harness, monkeypatch: pytest.MonkeyPatch):
    handle = await harness.start()
    agreement_id = handle.agreement_id
    await open_first_review(harness, handle)
    await handle.execute_update(AgreementWorkflow.record_kpi_readings, readings())
    decision = decide("continue", reason="quarterly benefits review")
    runs_before = len(await harness.runs(handle.id))
    await harness.continue_as_new_at_next_task(handle, monkeypatch)
    first = await handle.execute_update(AgreementWorkflow.decide_review, decision, id="decide-review-1")
    assert first.review_number == 2 and first.action is not None and not first.action.repeat

    async def continued() -> bool:
        return len(await harness.runs(handle.id)) == runs_before + 1

    await assert_eventually(continued)
    again = await handle.execute_update(AgreementWorkflow.decide_review, decision, id="decide-review-1")

    assert again.action is not None and again.action.repeat
    assert (again.action.action_id, again.action.first_seq, again.action.last_seq) == (
        "decide-review-1", first.action.first_seq, first.action.last_seq)
    assert (again.stage, again.review_number, again.decisions_recorded) == (
        first.stage, first.review_number, first.decisions_recorded)
    entries = await harness.ledger(agreement_id)
    assert kinds(entries)["review_decided"] == 1
    assert [e.kind for e in entries if first.action.first_seq <= e.seq <= first.action.last_seq][0] == "review_decided"
    assert (await harness.verify(agreement_id)).valid


async def test_an_action_id_names_an_action_whatever_update_carries_it(harness: Harness):
    handle = await harness.start()
    agreement_id = handle.agreement_id
    unknown_field = {"actor": LEAD.model_dump(), "action_id": "submit-2027-01", "reason": "ignored"}
    with pytest.raises(WorkflowUpdateFailedError):  # an unknown field is still refused
        await handle.execute_update(AgreementWorkflow.submit_proposal, unknown_field)
    action = SubmitProposal(actor=LEAD, action_id="submit-2027-01")
    first = await handle.execute_update(AgreementWorkflow.submit_proposal, action)
    again = await handle.execute_update(AgreementWorkflow.submit_proposal, action)
    assert first.stage is again.stage is Stage.OBJECTIVE_SETTING
    assert first.action is not None and again.action is not None
    assert (first.action.repeat, again.action.repeat) == (False, True)
    assert kinds(await harness.ledger(agreement_id))["proposal_submitted"] == 1

    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(AgreementWorkflow.withdraw,
                                    Withdraw(actor=LEAD, action_id="submit-2027-01", reason="changed our mind"))
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == ACTION_REJECTED
    assert "action id submit-2027-01 was already used for a different action" in cause.message
    assert cause.details[0] == [{"field": "action_id", "code": "action_id_reused", "message": cause.message}]
    assert (await handle.query(AgreementWorkflow.status)).stage is Stage.OBJECTIVE_SETTING


async def test_an_unknown_update_name_is_refused_with_a_typed_error_and_leaves_no_trace(harness: Harness):
    handle = await harness.start()
    trace = await harness.trace_of_updates(handle)
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update("sign_of", approve(TAMWORTH))
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == UNKNOWN_ACTION and cause.non_retryable
    assert "no action 'sign_of'" in cause.message
    assert cause.details[0][0]["code"] == "unknown_action"
    assert await harness.trace_of_updates(handle) == trace


async def test_refusals_carry_the_field_and_a_stable_code(harness: Harness):
    handle = await harness.start()
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(AgreementWorkflow.record_sign_off, approve(TAMWORTH, await version(handle)))
    assert failure.value.cause.details[0] == [
        {"field": "", "code": "wrong_stage", "message": failure.value.cause.message}]
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(AgreementWorkflow.submit_proposal, submit(TAMWORTH))
    assert [(p["field"], p["code"]) for p in failure.value.cause.details[0]] == [("actor.body", "lead_only")]
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(AgreementWorkflow.revise_proposal, {
            "actor": {"body": "x" * 65}, "proposal": factories.proposal_data(one_off_cost="-5.00")})
    problems = {(p["field"], p["code"]) for p in failure.value.cause.details[0]}
    assert problems == {("actor.body", "string_too_long"), ("actor.signatory", "missing"),
                        ("proposal.one_off_cost", "decimal_string")}


class GatedLedger:
    """The ledger, with sign-off decisions held back until the test opens the gate."""

    def __init__(self, ledger: LedgerActivities) -> None:
        self.ledger = ledger
        self.gate = asyncio.Event()

    @activity.defn(name="record_decisions")
    async def record_decisions(self, entries: list[LedgerEntry]) -> None:
        if any(entry.kind == "signed_off" for entry in entries):
            await self.gate.wait()
        await self.ledger.record_decisions(entries)


async def race(harness: Harness, gated: GatedLedger, handle, sign_offs: list[SignOff]) -> list:
    """Send the sign-offs (of the current version) at once; open the gate only once every one has been accepted."""
    before = (await harness.trace_of_updates(handle)).count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED")
    signed = await version(handle)
    sends = [asyncio.create_task(handle.execute_update(
        AgreementWorkflow.record_sign_off, sign_off.model_copy(update={"version": signed}))) for sign_off in sign_offs]

    async def all_accepted() -> bool:
        trace = await harness.trace_of_updates(handle)
        return trace.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == before + len(sign_offs)

    await assert_eventually(all_accepted)
    gated.gate.set()
    return await asyncio.gather(*sends, return_exceptions=True)


async def test_racing_duplicates_what_a_refusal_leaves_behind(env: WorkflowEnvironment, pool):
    gated = GatedLedger(LedgerActivities(pool))
    async with Harness.running(env, pool, [gated.record_decisions, gated.ledger.raise_alerts]) as harness:
        handle = await harness.start()
        agreement_id = handle.agreement_id
        await walk_to_sign_off(handle)
        accepted_before = (await harness.trace_of_updates(handle)).count(
            "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED")

        # Two sign-offs by the same body, each its own action: both pass the validator (neither is
        # recorded yet); under the lock the second is refused, as an accepted update that failed.
        first, second = await race(harness, gated, handle, [approve(TAMWORTH), approve(TAMWORTH)])
        outcomes = sorted([first, second], key=lambda o: isinstance(o, BaseException))
        assert outcomes[0].sign_offs[0].body == factories.TAMWORTH
        refused = outcomes[1]
        assert isinstance(refused, WorkflowUpdateFailedError) and refused.cause.type == ACTION_REJECTED
        assert "has already signed off in round 1" in refused.cause.message
        events = await harness.history_events(handle)
        completed = [e.workflow_execution_update_completed_event_attributes.outcome for e in events
                     if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED]
        assert [o.HasField("failure") for o in completed[-2:]] == [False, True]
        trace = await harness.trace_of_updates(handle)
        assert trace.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == accepted_before + 2
        assert kinds(await harness.ledger(agreement_id))["signed_off"] == 1

        # The same action sent twice at once (one action id): the second is a repeat, not a refusal.
        gated.gate.clear()
        again = approve(STAFFORDSHIRE).model_copy(update={"action_id": "staffordshire-approval"})
        first, second = await race(harness, gated, handle, [again, again])
        assert not isinstance(first, BaseException) and not isinstance(second, BaseException)
        assert sorted([first.action.repeat, second.action.repeat]) == [False, True]
        assert first.action.first_seq == second.action.first_seq
        assert kinds(await harness.ledger(agreement_id))["signed_off"] == 2
        assert (await harness.verify(agreement_id)).valid
