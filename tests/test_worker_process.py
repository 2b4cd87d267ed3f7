
"""The worker as operators run it: a real process, stopped with SIGTERM while busy, then restarted."""

import asyncio
import urllib.request
import uuid

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.model import Stage
from store.ledger import read_ledger, verify_ledger
from tests.helpers import assert_eventually as eventually
from tests.helpers import factories, free_port
from tests.helpers.harness import version
from tests.helpers.processes import WorkerProcess, worker_environment
from workflows.agreement import AgreementWorkflow, workflow_id

LEAD = factories.LEAD.model_dump()


async def drive_to_implementation(client: Client, agreement_id: str) -> None:
    handle = client.get_workflow_handle_for(AgreementWorkflow.run, workflow_id(agreement_id))
    status = await handle.execute_update(AgreementWorkflow.submit_proposal, {"actor": LEAD})
    plan = factories.plan_data(status.stage_started_at.date())
    await handle.execute_update(AgreementWorkflow.set_objectives, {"actor": LEAD, "plan": plan})
    await handle.execute_update(AgreementWorkflow.submit_for_sign_off, {"actor": LEAD})
    for actor in (factories.LEAD, factories.TAMWORTH_SIGNATORY, factories.STAFFORDSHIRE_SIGNATORY):
        await handle.execute_update(AgreementWorkflow.record_sign_off, {
            "version": await version(handle), "actor": actor.model_dump(), "decision": "approve"})


@pytest.mark.dev_server
async def test_sigterm_lets_a_busy_worker_finish_and_a_restart_loses_nothing(
    env: WorkflowEnvironment, pool, postgres_dsn: str
):
    client = env.client
    task_queue = f"worker-process-{uuid.uuid4()}"
    metrics_port = free_port()
    env = worker_environment(client.service_client.config.target_host, postgres_dsn, task_queue,
                             CONCORDAT_METRICS_PORT=str(metrics_port))
    first = WorkerProcess(env)
    await first.start()
    metrics = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    )
    assert "temporal_" in metrics

    ids = [f"sigterm-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    for agreement_id in ids:
        await client.start_workflow(AgreementWorkflow.run, factories.request_data(agreement_id),
                                    id=workflow_id(agreement_id), task_queue=task_queue)
    drivers = [asyncio.create_task(drive_to_implementation(client, agreement_id)) for agreement_id in ids]

    await eventually(lambda: pool.fetchval("SELECT count(*) >= 20 FROM decisions WHERE agreement_id = ANY($1)", ids))
    assert not all(driver.done() for driver in drivers), "the worker should still be busy when it is stopped"
    assert await first.stop() == 0
    events = [e["event"] for e in first.events()]
    assert events.index("worker_stopping") < events.index("worker_stopped")

    second = WorkerProcess(env)
    await second.start()
    try:
        await asyncio.wait_for(asyncio.gather(*drivers), timeout=120)
        for agreement_id in ids:
            handle = client.get_workflow_handle_for(AgreementWorkflow.run, workflow_id(agreement_id))
            status = await handle.query(AgreementWorkflow.status)
            assert status.stage is Stage.IMPLEMENTATION
            entries = await read_ledger(pool, agreement_id)
            assert [e.seq for e in entries] == list(range(1, status.decisions_recorded + 1))
            assert [e.kind for e in entries].count("signed_off") == 3
            assert (await verify_ledger(pool, agreement_id)).valid
            await handle.execute_update(AgreementWorkflow.withdraw, {"actor": LEAD, "reason": "test complete"})
    finally:
        assert await second.stop() == 0
    recorded = [e for e in second.events() if e.get("event") == "decision_recorded"]
    assert recorded and all(e["workflow_id"].startswith("agreement-sigterm-") for e in recorded)
