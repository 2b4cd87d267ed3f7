"""Drive agreements in tests: start them, act on them, and read the ledger and alerts back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.ledger import read_ledger, verify_ledger
from domain.actions import Actor
from domain.ledger import ChainVerification, LedgerEntry
from domain.status import AgreementStatus
from tests import factories
from worker import build_worker
from workflows.agreement import AgreementWorkflow, workflow_id


class Harness:
    def __init__(self, env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str) -> None:
        self.env = env
        self.client = env.client
        self.pool = pool
        self.task_queue = task_queue
        self.started: list[WorkflowHandle[Any, Any]] = []

    @classmethod
    @asynccontextmanager
    async def running(cls, env: WorkflowEnvironment, pool: asyncpg.Pool) -> AsyncIterator[Harness]:
        harness = cls(env, pool, f"test-{uuid.uuid4()}")
        async with build_worker(env.client, pool, harness.task_queue):
            try:
                yield harness
            finally:
                await harness._terminate_open_agreements()

    async def _terminate_open_agreements(self) -> None:
        """Open agreements would otherwise keep waking up as later tests skip time."""
        for handle in self.started:
            description = await handle.describe()
            if description.status == WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")

    def new_id(self, prefix: str = "agreement") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    async def start(self, request: Any = None, **request_kwargs: Any) -> WorkflowHandle[AgreementWorkflow, AgreementStatus]:
        """Start an agreement from a request (model or raw dict); by default the standard test agreement."""
        if request is None:
            request = factories.request(self.new_id(), **request_kwargs)
        agreement_id = request.agreement_id if hasattr(request, "agreement_id") else request["agreement_id"]
        handle = await self.client.start_workflow(
            AgreementWorkflow.run, request, id=workflow_id(agreement_id), task_queue=self.task_queue
        )
        self.started.append(handle)
        return handle

    async def ledger(self, agreement_id: str) -> list[LedgerEntry]:
        return await read_ledger(self.pool, agreement_id)

    async def verify(self, agreement_id: str) -> ChainVerification:
        return await verify_ledger(self.pool, agreement_id)

    async def alerts(self, agreement_id: str) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM alerts WHERE agreement_id = $1 ORDER BY id", agreement_id
        )

    async def history_events(self, handle: WorkflowHandle[Any, Any]) -> list[Any]:
        return [event async for event in handle.fetch_history_events()]

    async def update_events(self, handle: WorkflowHandle[Any, Any]) -> int:
        events = await self.history_events(handle)
        return sum(
            e.event_type in (EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
                             EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED)
            for e in events
        )

    async def skip(self, duration: timedelta) -> None:
        await self.env.sleep(duration)


async def walk_to_sign_off(handle: WorkflowHandle[AgreementWorkflow, AgreementStatus]) -> AgreementStatus:
    """Submit the proposal and a valid plan, and send it for sign-off."""
    lead = factories.LEAD
    status = await handle.execute_update(AgreementWorkflow.submit_proposal, {"actor": lead.model_dump()})
    today = status.stage_started_at.date()
    await handle.execute_update(
        AgreementWorkflow.set_objectives, {"actor": lead.model_dump(), "plan": factories.plan_data(today)}
    )
    return await handle.execute_update(AgreementWorkflow.submit_for_sign_off, {"actor": lead.model_dump()})


ALL_SIGNATORIES: list[Actor] = [factories.LEAD, factories.TAMWORTH_SIGNATORY, factories.STAFFORDSHIRE_SIGNATORY]


async def approve_by_all(handle: WorkflowHandle[AgreementWorkflow, AgreementStatus]) -> AgreementStatus:
    status = None
    for actor in ALL_SIGNATORIES:
        status = await handle.execute_update(
            AgreementWorkflow.record_sign_off, {"actor": actor.model_dump(), "decision": "approve"}
        )
    assert status is not None
    return status
