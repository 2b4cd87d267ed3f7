"""The worker's output is JSON lines only, refusals say who tried what, and alert lines keep their level."""

import json
import logging
import uuid

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.errors import INVALID_PAYLOAD, UNKNOWN_ACTION
from runtime.temporal import CORE_LOGGER, worker_runtime
from tests.helpers import assert_eventually as eventually
from tests.helpers import factories
from tests.helpers.harness import version, walk_to_sign_off
from tests.helpers.processes import WorkerProcess, worker_environment
from worker import build_worker
from workflows.agreement import AgreementWorkflow, workflow_id
from workflows.converter import data_converter

TAMWORTH = factories.TAMWORTH_SIGNATORY.model_dump()


@pytest.mark.dev_server
async def test_every_line_the_worker_writes_is_json(env: WorkflowEnvironment, pool, postgres_dsn: str):
    client = env.client
    task_queue = f"worker-logs-{uuid.uuid4()}"
    worker = WorkerProcess(worker_environment(client.service_client.config.target_host, postgres_dsn, task_queue))
    await worker.start()
    try:
        agreement_id = f"logs-{uuid.uuid4().hex[:8]}"
        settings = {"stage_durations": {"sign_off": "PT4S"}, "amber_share": "0.5"}
        await client.start_workflow(AgreementWorkflow.run, factories.request_data(agreement_id, settings),
                                    id=workflow_id(agreement_id), task_queue=task_queue)
        handle = client.get_workflow_handle_for(AgreementWorkflow.run, workflow_id(agreement_id))
        await walk_to_sign_off(handle)
        with pytest.raises(WorkflowUpdateFailedError) as malformed:
            await handle.execute_update(AgreementWorkflow.record_sign_off, {
                "version": await version(handle), "actor": TAMWORTH, "decision": "maybe"})
        assert malformed.value.cause.type == INVALID_PAYLOAD
        with pytest.raises(WorkflowUpdateFailedError) as unknown:
            await handle.execute_update("approve", {"actor": TAMWORTH})
        assert unknown.value.cause.type == UNKNOWN_ACTION
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(AgreementWorkflow.submit_proposal, {"actor": TAMWORTH})

        def logged(event: str) -> list[dict]:
            return [e for e in worker.events() if e.get("event") == event and agreement_id in json.dumps(e)]

        async def red_alert_logged() -> bool:
            return any(e["alert_level"] == "red" for e in logged("alert_raised"))

        await eventually(red_alert_logged, timeout=60)
        await handle.execute_update(AgreementWorkflow.withdraw, {"actor": factories.LEAD.model_dump(),
                                                                 "reason": "test complete"})
    finally:
        assert await worker.stop() == 0

    not_json = [line for line in worker.lines if not line.startswith("{")]
    assert not not_json, "".join(not_json)
    events = [json.loads(line) for line in worker.lines]
    assert {e["level"] for e in events} <= {"debug", "info", "warning", "error", "critical"}
    assert [e["alert_level"] for e in logged("alert_raised")][:2] == ["amber", "red"]
    refusals = [e["refusal"] for e in logged("action refused")]
    assert [(r["action"], r["actor_body"], r["actor_signatory"]) for r in refusals] == [
        ("record_sign_off", factories.TAMWORTH, "Owen Hughes"),
        ("approve", factories.TAMWORTH, "Owen Hughes"),
        ("submit_proposal", factories.TAMWORTH, "Owen Hughes"),
    ]
    assert "decision" in refusals[0]["reason"] and refusals[0]["workflow_id"] == workflow_id(agreement_id)
    assert refusals[2]["agreement_id"] == agreement_id and "cannot submit the proposal" in refusals[2]["reason"]


async def test_the_sdk_core_logs_to_python_logging_not_to_stderr(env: WorkflowEnvironment, pool):
    """The core warns when an activity worker starts against the time-skipping server; the line reaches Python."""
    forwarded: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            forwarded.append(record)

    handler = Keep()
    core = logging.getLogger(CORE_LOGGER)
    quietened = list(core.filters)  # the suite drops this very notice (tests/conftest.py); here it is the probe
    for kept_out in quietened:
        core.removeFilter(kept_out)
    core.addHandler(handler)
    try:
        client = await Client.connect(env.client.service_client.config.target_host,
                                      runtime=worker_runtime(0), data_converter=data_converter)
        async with build_worker(client, pool, task_queue=f"core-logs-{uuid.uuid4()}"):

            async def warned() -> bool:
                return any(record.levelno >= logging.WARNING for record in forwarded)

            await eventually(warned)
    finally:
        core.removeHandler(handler)
        for kept_out in quietened:
            core.addFilter(kept_out)
    record = forwarded[0]
    assert record.name.startswith(f"{CORE_LOGGER}-sdk_core::") and record.temporal_log.target
