"""What Temporal's operators do to a running agreement, on a real dev server: the ledger stays the record.

A reset across an accepted action re-executes it (default reapply): the decision the ledger already holds is a
repeat. A reset that leaves the action out (updates excluded from reapply; or a re-executed action refused, as a
second one reapplied at once is: its validator sees the state before the first) lets the agreement decide
differently: the ledger says so in a ``reset_recorded`` decision, the chain carries on from its head, and
``verify`` passes.
"""

import json
import re
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyExcludeType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import ScheduleActionStartWorkflow, WorkflowExecutionStatus
from temporalio.worker import Replayer

from activities.ledger import LedgerActivities
from domain import attestation, lifecycle
from domain.actions import Action, SignOff
from domain.agreement import Agreement
from domain.ledger import RESET_RECORDED, ChainHead, Decision, chain, verify
from domain.model import AgreementRequest, Stage
from domain.status import AgreementStatus
from domain.story import story
from store import read_model
from store.ledger import verify_ledger
from tests.helpers import assert_eventually, builders, factories
from tests.helpers.harness import AgreementHandle, Harness, approve_by_all
from workflows.agreement import AgreementWorkflow
from workflows.converter import data_converter
from workflows.reconciler import SCHEDULE_ID, TerminationReconcilerWorkflow

pytestmark = pytest.mark.dev_server
ROOT = Path(__file__).resolve().parent.parent


async def accept(handle: AgreementHandle) -> None:
    """Submit the proposal, set the objectives and send the agreement for sign-off: three accepted actions."""
    status = await handle.execute_update(AgreementWorkflow.submit_proposal, builders.submit())
    start = status.stage_started_at.date()
    await handle.execute_update(AgreementWorkflow.set_objectives, builders.set_objectives(start=start))
    await handle.execute_update(AgreementWorkflow.submit_for_sign_off, builders.send_for_sign_off())


async def replays(handle: AgreementHandle) -> None:
    """The agreement's current run replays on today's code: its new branches are deterministic too."""
    await Replayer(workflows=[AgreementWorkflow], data_converter=data_converter).replay_workflow(
        await handle.fetch_history())


async def reset_before(harness: Harness, handle: AgreementHandle, update: str, *exclude: Any) -> None:
    """Reset the agreement's current run to the workflow task before the first accepted ``update``, as
    ``temporal workflow reset --event-id`` does; ``exclude`` are reapply types left out (none: default reapply)."""
    described = await handle.describe()
    events = await harness.history_events(harness.client.get_workflow_handle(handle.id, run_id=described.run_id))
    accepted = next(e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
                    and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name == update)
    task = max(e.event_id for e in events
               if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and e.event_id < accepted.event_id)
    await harness.client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
        namespace=harness.client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=described.run_id),
        reason="operator test: reset across an accepted action", workflow_task_finish_event_id=task,
        request_id=str(uuid.uuid4()), reset_reapply_exclude_types=list(exclude),
    ))


async def test_a_reset_across_an_accepted_action_reapplies_it_as_a_repeat_and_the_agreement_carries_on(harness, cli):
    handle = await harness.start()
    await accept(handle)
    before = await harness.ledger(handle.agreement_id)

    await reset_before(harness, handle, "submit_for_sign_off")

    async def caught_up() -> bool:
        status = await handle.query(AgreementWorkflow.status)
        return status.stage is Stage.SIGN_OFF and status.decisions_recorded == len(before)
    await assert_eventually(caught_up, timeout=30)
    assert await harness.ledger(handle.agreement_id) == before
    status = await approve_by_all(handle)

    assert status.stage is Stage.IMPLEMENTATION
    entries = await harness.ledger(handle.agreement_id)
    assert entries[:len(before)] == before
    counts = Counter(entry.kind for entry in entries)
    assert counts["objectives_set"] == counts["submitted_for_sign_off"] == 1 and RESET_RECORDED not in counts
    code, out, err = await cli("verify", handle.agreement_id)
    assert code == 0, out + err


async def test_a_reset_that_drops_accepted_actions_is_recorded_and_the_chain_carries_on(harness, cli):
    handle = await harness.start()
    await accept(handle)
    before = await harness.ledger(handle.agreement_id)
    undone = [e.seq for e in before if e.kind in ("objectives_set",)][0]

    await reset_before(harness, handle, "set_objectives", ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE)

    async def back_in_objective_setting() -> bool:
        return (await handle.query(AgreementWorkflow.status)).stage is Stage.OBJECTIVE_SETTING
    await assert_eventually(back_in_objective_setting, timeout=30)
    started = (await handle.query(AgreementWorkflow.status)).stage_started_at.date()
    later_plan = builders.set_objectives(start=started + timedelta(days=7))
    status = await handle.execute_update(AgreementWorkflow.set_objectives, later_plan)
    assert status.action is not None and status.action.first_seq == len(before) + 2
    await handle.execute_update(AgreementWorkflow.submit_for_sign_off, builders.send_for_sign_off())
    status = await approve_by_all(handle)

    assert status.stage is Stage.IMPLEMENTATION
    entries = await harness.ledger(handle.agreement_id)
    assert entries[:len(before)] == before
    note = entries[len(before)]
    assert (note.kind, note.payload) == (RESET_RECORDED, {"undone": [undone, len(before)],
                                                          "resumed_from": undone - 1})
    assert status.decisions_recorded == len(entries)
    code, out, err = await cli("verify", handle.agreement_id)
    assert code == 0, out + err
    told = [line.what for line in story(entries)]
    assert f"recorded that a Temporal reset undid decisions #{undone} to #{len(before)}" in "\n".join(told)
    await replays(handle)


def documented_query(question: str) -> str:
    """The Web UI query the officers' guide gives for ``question``."""
    table = (ROOT / "docs" / "officers.md").read_text()
    found = re.search(rf"^\| {re.escape(question)} \| `(.+?)`", table, re.MULTILINE)
    assert found, f"the officers' guide has no query for {question!r}"
    return found.group(1)


async def shown_closed(harness: Harness, cli: Any, agreement_id: str, outcome: str) -> None:
    """``status`` (text and JSON), the read model, the officers' documented Web UI queries and ``verify`` all
    show the agreement closed."""
    code, out, _ = await cli("status", agreement_id, "--json")
    status = AgreementStatus.model_validate_json(out)
    assert code == 0 and status.stage is Stage.CLOSED and status.closure is not None
    assert status.closure.outcome.value == outcome and status.waiting_on == []
    code, out, _ = await cli("status", agreement_id)
    assert code == 0 and "closed" in out.lower() and "waiting for sign-off" not in out
    lines = {line.agreement_id: line for line in await read_model.agreement_lines(harness.pool, None)}
    assert lines[agreement_id].stage == "closed"
    this = f" AND WorkflowId = 'agreement-{agreement_id}'"

    async def listed_closed() -> bool:  # visibility follows a moment later
        closed = await harness.client.count_workflows(documented_query("Agreements that closed") + this)
        return closed.count == 1
    await assert_eventually(listed_closed, timeout=30, interval=0.5)
    overdue = documented_query("What is overdue in sign-off?").replace("2027-03-01", "2999-01-01")
    assert (await harness.client.count_workflows(overdue + this)).count == 0
    code, out, err = await cli("verify", agreement_id)
    assert code == 0, out + err


async def test_a_cancelled_agreement_records_its_closing_and_is_shown_closed(harness, cli):
    handle = await harness.start()
    await accept(handle)

    await handle.cancel()

    async def cancelled() -> bool:
        return (await handle.describe()).status is WorkflowExecutionStatus.CANCELED
    await assert_eventually(cancelled, timeout=30)
    entries = await harness.ledger(handle.agreement_id)
    assert [e.kind for e in entries[-2:]] == ["cancelled", "stage_changed"]
    assert entries[-2].payload["requested_by"] == "Temporal operator (workflow cancellation)"
    assert entries[-1].payload["to"] == "closed"
    await shown_closed(harness, cli, handle.agreement_id, "terminated")
    await replays(handle)


async def test_a_terminated_agreement_is_recorded_closed_by_the_reconciler(harness, cli):
    handle = await harness.start()
    await accept(handle)
    before = await harness.ledger(handle.agreement_id)

    await handle.terminate(reason="bad deploy")

    async def recorded() -> bool:  # visibility lists the termination a moment later; the schedule's workflow runs
        await harness.client.execute_workflow(TerminationReconcilerWorkflow.run, id=f"reconcile-{uuid.uuid4()}",
                                              task_queue=harness.task_queue)
        return len(await harness.ledger(handle.agreement_id)) > len(before)
    await assert_eventually(recorded, timeout=30, interval=0.5)
    again = await cli("reconcile")

    entries = await harness.ledger(handle.agreement_id)
    assert [e.kind for e in entries[len(before):]] == ["terminated", "stage_changed"]
    assert "bad deploy" in entries[-2].payload["reason"] and entries[-2].payload["requested_by"]
    assert again[0] == 0 and await harness.ledger(handle.agreement_id) == entries
    head = before[-1]
    anchor = ChainHead(seq=head.seq, hash=head.hash)
    assert (await verify_ledger(harness.pool, handle.agreement_id, anchor, terminated=True)).valid
    unexplained = await verify_ledger(harness.pool, handle.agreement_id, anchor)
    assert not unexplained.valid and "the agreement's workflow is behind its ledger" in str(unexplained.problem), \
        "closing rows past a workflow that was not terminated are not the reconciler's"
    await shown_closed(harness, cli, handle.agreement_id, "terminated")


async def test_a_deleted_history_is_answered_from_the_ledger(harness, cli):
    """A history deleted (``temporal workflow delete``, or retention) leaves Temporal answering NOT_FOUND, as it
    does for a ledger written here that Temporal never held (the dev server deletes a history only later)."""
    agreement_id = harness.new_id("deleted")
    opened = lifecycle.open_agreement(factories.request(agreement_id), builders.T0)
    withdrawn = lifecycle.evolve(opened.agreement, builders.withdraw(), builders.T0)
    entries = chain(agreement_id, ChainHead(), [*opened.decisions, *withdrawn.decisions])
    await LedgerActivities(harness.pool).record_decisions(entries)

    code, out, err = await cli("status", agreement_id)

    assert code == 0, out + err
    assert "Temporal no longer holds its history" in out
    assert f"its {len(entries)} decisions" in out and "stage closed" in out
    code, out, _ = await cli("status", f"agreement-{agreement_id}", "--json")
    assert code == 0 and json.loads(out)["temporal_record"] == "deleted"
    code, _, err = await cli("status", harness.new_id("never"))
    assert code == 1 and "no such agreement" in err


ATTESTOR = Ed25519PrivateKey.generate()


def attested(action: Action, agreement: Agreement) -> Action:
    """``action`` as the API forwards it: named, and attested by ATTESTOR for the signatory it names."""
    action = action.model_copy(update={"action_id": f"api-{uuid.uuid4()}"})
    email = f"{action.actor.signatory.lower().replace(' ', '.')}@council.example"
    claims = attestation.attestation_claims(
        issuer="https://login.example", subject=f"subject-of-{email}", name=action.actor.signatory, claim=email,
        agreement_id=agreement.agreement_id, update="act", action=action, seq=agreement.chain.seq, at=builders.T0)
    return action.model_copy(update={"attestation": attestation.sign(claims, ATTESTOR, "api-1")})


async def test_verify_from_the_ledger_alone_fails_an_unattested_action_a_dba_rechained(harness, cli):
    agreement_id = harness.new_id("attested")
    data = factories.request_data(agreement_id, settings={
        "require_attestation": True, "attestor_keys": {"api-1": factories.public_pem(ATTESTOR)}})
    for partner in data["proposal"]["partners"]:
        for signatory in partner["signatories"]:
            signatory["identity"] = f"{signatory['name'].lower().replace(' ', '.')}@council.example"
    opening = lifecycle.open_agreement(AgreementRequest.model_validate(data), builders.T0)
    agreement, entries = opening.agreement, chain(agreement_id, ChainHead(), opening.decisions)
    agreement.chain = ChainHead(seq=entries[-1].seq, hash=entries[-1].hash)
    for action in [builders.submit(), builders.set_objectives(), builders.send_for_sign_off(),
                   *(builders.approve(actor) for actor in builders.SIGNATORIES)]:
        if isinstance(action, SignOff):
            action = action.model_copy(update={"version": agreement.version})
        transition = lifecycle.evolve(agreement, attested(action, agreement), builders.T0)
        entries += chain(agreement_id, agreement.chain, transition.decisions)
        agreement = transition.agreement
        agreement.chain = ChainHead(seq=entries[-1].seq, hash=entries[-1].hash)
    await LedgerActivities(harness.pool).record_decisions(entries)  # no workflow: its history is gone
    code, out, err = await cli("verify", agreement_id)
    assert code == 0 and "attestations verified" in out, out + err

    tamworth = next(e for e in entries if e.kind == "signed_off" and e.actor_body == factories.TAMWORTH)
    payload = {k: v for k, v in tamworth.payload.items() if k != "attestation"} | {"decision": "reject"}
    later = [e for e in entries if e.seq >= tamworth.seq]
    fields = set(Decision.model_fields)
    rechained = chain(agreement_id, ChainHead(seq=tamworth.seq - 1, hash=tamworth.prev_hash),
                      [Decision(**(e.model_dump(include=fields) | ({"payload": payload} if e is tamworth else {})))
                       for e in later])
    async with harness.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")  # as a DBA gets past the trigger
        for entry in rechained:
            await conn.execute("UPDATE decisions SET payload = $3::jsonb, prev_hash = $4, hash = $5 "
                               "WHERE agreement_id = $1 AND seq = $2", agreement_id, entry.seq,
                               json.dumps(entry.payload), entry.prev_hash, entry.hash)

    code, out, err = await cli("verify", agreement_id)

    assert code == 1, out + err
    assert "hash chain verified" in out, "the chain itself was made whole again"
    assert (f"attestation FAILS: {agreement_id} at decision #{tamworth.seq}" in out
            and "carries no attestation, but the agreement has required attestation since decision #1" in out)


async def test_the_reconciler_runs_on_a_temporal_schedule(harness, cli):
    code, out, err = await cli("reconcile", "--every", "5")
    try:
        assert code == 0 and f"schedule {SCHEDULE_ID} created" in out, out + err
        described = await harness.client.get_schedule_handle(SCHEDULE_ID).describe()
        action = described.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow) and action.workflow == "TerminationReconcilerWorkflow"
        assert [spec.every for spec in described.schedule.spec.intervals] == [timedelta(minutes=5)]
        code, out, _ = await cli("reconcile", "--every", "10")
        assert code == 0 and "updated" in out
    finally:
        await harness.client.get_schedule_handle(SCHEDULE_ID).delete()


def test_verify_names_missing_rows_a_rewritten_tail_and_a_workflow_behind_its_ledger():
    decisions = [Decision(kind="milestone_reported", stage=Stage.IMPLEMENTATION, actor_body=factories.LICHFIELD,
                          actor_signatory="Priya Shah", payload={"n": n}, decided_at=builders.T0) for n in range(5)]
    entries = chain("messages", ChainHead(), decisions)
    anchor = ChainHead(seq=entries[3].seq, hash=entries[3].hash)

    cut = verify("messages", entries[:2], anchor)
    assert (cut.valid, cut.first_bad_seq) == (False, 3) and cut.problem is not None
    assert cut.problem.startswith("decisions #3 to #4 are missing")
    rewritten = chain("messages", ChainHead(), [*decisions[:3], decisions[3].model_copy(update={"payload": {}})])
    tail = verify("messages", rewritten, anchor)
    assert (tail.valid, tail.first_bad_seq) == (False, 4) and "the tail was rewritten" in str(tail.problem)
    behind = verify("messages", entries, anchor)
    assert (behind.valid, behind.first_bad_seq) == (False, 5)
    assert "the agreement's workflow is behind its ledger" in str(behind.problem)
    assert verify("messages", entries[:4], anchor).valid
