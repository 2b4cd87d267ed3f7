"""One agreement per id, ever, whatever the client's options: starts from a raw Temporal client with its
default options (which allow a second run of a closed workflow id), on the dev server and PostgreSQL."""

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from domain.actions import Actor, Withdraw
from domain.errors import AGREEMENT_EXISTS, AGREEMENT_ID_MISMATCH
from tests.helpers import assert_eventually, factories
from tests.helpers.harness import Harness
from workflows.agreement import AgreementWorkflow, workflow_id
from workflows.client import AgreementClosed, StartRefused

pytestmark = pytest.mark.dev_server


async def closed_agreement(harness: Harness) -> tuple[str, list[Any]]:
    """An agreement opened and withdrawn through the typed client; its id and ledger rows."""
    agreement_id = f"dup-{uuid.uuid4().hex[:8]}"
    await harness.agreements.start(factories.request(agreement_id))
    await harness.agreements.act(agreement_id, AgreementWorkflow.withdraw, Withdraw(
        actor=Actor(body=factories.LICHFIELD, signatory="Priya Shah"), reason="the partners chose another provider"))
    return agreement_id, await harness.ledger(agreement_id)


async def raw_start(harness: Harness, agreement_id: str, run_as: str | None = None) -> WorkflowHandle[Any, Any]:
    """Start as another council's service would: JSON, the type's name, and the SDK's default options."""
    return await harness.client.start_workflow(
        "AgreementWorkflow", factories.request_data(agreement_id), id=run_as or workflow_id(agreement_id),
        task_queue=harness.task_queue)


async def refusal(handle: WorkflowHandle[Any, Any]) -> ApplicationError:
    """The run's failure, which must come from its first attempt at anything."""
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    events = [EventType.Name(e.event_type) async for e in handle.fetch_history_events()]
    assert "EVENT_TYPE_TIMER_STARTED" not in events and events.count("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED") <= 1
    assert isinstance(failed.value.cause, ApplicationError) and failed.value.cause.non_retryable
    return failed.value.cause


async def test_a_second_start_of_a_closed_agreement_fails_and_the_original_stands(harness: Harness, cli, tmp_path):
    agreement_id, before = await closed_agreement(harness)

    failure = await refusal(await raw_start(harness, agreement_id))

    assert failure.type == AGREEMENT_EXISTS and f"agreement {agreement_id} already exists" in failure.message
    assert await harness.ledger(agreement_id) == before
    code, out, err = await cli("status", agreement_id)
    assert (code, err) == (0, "") and "Closed: withdrawn (the partners chose another provider)" in out
    code, out, _ = await cli("verify", workflow_id(agreement_id))
    assert code == 0 and f"{len(before)} decisions and matches the agreement's workflow" in out

    async def listed_once():
        code, out, _ = await cli("list", "--all", "--stage", "closed", "--json")
        return [row for row in json.loads(out) if row["agreement_id"] == agreement_id]
    rows = await assert_eventually(listed_once, timeout=30)
    assert len(rows) == 1 and rows[0]["status"] == "completed"

    code, _, err = await cli("start", str(_request_file(tmp_path, agreement_id)))
    assert code == 1 and "already exists" in err


async def test_a_second_start_after_the_closed_run_was_deleted_fails_and_the_ledger_verifies(
    harness: Harness, cli
):
    agreement_id, before = await closed_agreement(harness)
    original = await harness.client.get_workflow_handle(workflow_id(agreement_id)).describe()
    await harness.client.workflow_service.delete_workflow_execution(DeleteWorkflowExecutionRequest(
        namespace=harness.client.namespace,
        workflow_execution=WorkflowExecution(workflow_id=original.id, run_id=original.run_id)))

    async def deleted():
        try:
            await harness.client.get_workflow_handle(original.id, run_id=original.run_id).describe()
        except RPCError as error:
            return error.status is RPCStatusCode.NOT_FOUND
        return False
    # The dev server deletes in the background, in about 35 s.
    await assert_eventually(deleted, timeout=120, interval=0.5)

    failure = await refusal(await raw_start(harness, agreement_id))

    assert failure.type == AGREEMENT_EXISTS
    assert await harness.ledger(agreement_id) == before
    code, out, err = await cli("status", agreement_id)
    assert (code, err) == (0, "") and len(out.strip().splitlines()) == 1
    assert "Temporal no longer holds its record" in out
    code, out, _ = await cli("verify", agreement_id)
    assert code == 0 and "hash chain verified" in out and "could not be anchored" in out


async def test_a_workflow_id_of_another_agreement_fails_at_once_and_writes_nothing(harness: Harness, cli):
    agreement_id, before = await closed_agreement(harness)
    other = f"{agreement_id}-other"

    failure = await refusal(await raw_start(harness, other, run_as=workflow_id(agreement_id)))

    assert failure.type == AGREEMENT_ID_MISMATCH and workflow_id(other) in failure.message
    assert await harness.ledger(other) == [] and await harness.ledger(agreement_id) == before
    for argv in (("status", agreement_id), ("verify", agreement_id)):
        assert (await cli(*argv))[0] == 0

    never_opened = f"never-{uuid.uuid4().hex[:8]}"
    await refusal(await raw_start(harness, other, run_as=workflow_id(never_opened)))
    code, out, err = await cli("status", never_opened)
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.startswith(f"error: agreement {never_opened} did not open:") and AGREEMENT_ID_MISMATCH in err
    with pytest.raises(StartRefused) as refused:
        await harness.agreements.status(never_opened)
    assert refused.value.type == AGREEMENT_ID_MISMATCH


async def test_acting_on_a_closed_agreement_names_how_and_when_it_closed(harness: Harness, cli):
    agreement_id, _ = await closed_agreement(harness)

    code, _, err = await cli("withdraw", workflow_id(agreement_id), "--body", factories.LICHFIELD,
                             "--signatory", "Priya Shah", "--reason", "again")

    assert code == 1
    assert err.startswith(
        f"error: agreement {agreement_id} is closed (withdrawn: the partners chose another provider) at ")
    with pytest.raises(AgreementClosed) as closed:
        await harness.agreements.act(agreement_id, "withdraw", Withdraw(
            actor=factories.LEAD, reason="again"))
    assert closed.value.outcome == "withdrawn" and closed.value.closed_at is not None


async def test_the_command_line_says_started_only_once_the_agreement_has_opened(harness: Harness, cli,
                                                                                  monkeypatch, tmp_path):
    agreement_id = f"cli-open-{uuid.uuid4().hex[:8]}"
    path = _request_file(tmp_path, agreement_id)
    code, out, _ = await cli("start", str(path))
    harness.started.append(harness.client.get_workflow_handle(workflow_id(agreement_id)))
    assert code == 0 and out.startswith(f"started agreement {agreement_id}") and "opened in proposal" in out
    assert len(await harness.ledger(agreement_id)) == 1

    monkeypatch.setenv("CONCORDAT_TASK_QUEUE", f"no-worker-{uuid.uuid4()}")
    unserved = f"cli-unserved-{uuid.uuid4().hex[:8]}"
    code, out, err = await cli("start", str(_request_file(tmp_path, unserved)), "--wait", "0.5")
    harness.started.append(harness.client.get_workflow_handle(workflow_id(unserved)))
    assert code == 1 and "started" not in out and f"agreement {unserved} was started but has not opened" in err


def _request_file(folder: Path, agreement_id: str) -> Path:
    path = folder / f"{agreement_id}.json"
    path.write_text(factories.request(agreement_id).model_dump_json())
    return path
