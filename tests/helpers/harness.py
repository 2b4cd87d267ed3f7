"""Drive agreements in tests: start them, act on them, and read the ledger and alerts back.

The ``harness`` fixture (tests/conftest.py) gives a test a ``Harness`` on its server (``env``);
``handle = await harness.start(...)`` returns an ``AgreementHandle``, whose ``agreement_id`` names the agreement in
the ledger and whose updates take the typed actions of ``tests.helpers.builders``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import SleepRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.ledger import LedgerActivities
from domain.drift import Alert
from domain.ledger import ChainVerification, LedgerEntry
from domain.model import AgreementRequest
from domain.status import AgreementStatus
from store.ledger import read_ledger, verify_ledger
from tests.helpers import builders, factories
from worker import WORKFLOW_RUNNER, build_worker
from workflows import agreement as agreement_workflow
from workflows.agreement import AgreementWorkflow, agreement_id_of, workflow_id
from workflows.client import AgreementClient

SKIP_DEADLINE = timedelta(seconds=90)
"""How long one ``Harness.skip`` may take in real time before the test fails."""

AMBER_THEN_RED_HALF_A_SECOND_APART = {"stage_durations": {"proposal": "PT100S"}, "amber_share": "0.995"}
"""Proposal settings whose amber (at 99.5 s) and red (at 100 s) fall half a second apart."""


def slow_raise_alerts(ledger: LedgerActivities, seconds: float = 1.0) -> Callable[[list[Alert]], Awaitable[None]]:
    """``raise_alerts`` taking ``seconds``, so that a level can fall due while the last is being raised."""

    @activity.defn(name="raise_alerts")
    async def raise_alerts(alerts: list[Alert]) -> None:
        await asyncio.sleep(seconds)
        await ledger.raise_alerts(alerts)

    return raise_alerts


class AgreementHandle(WorkflowHandle[AgreementWorkflow, AgreementStatus]):
    """A handle to an agreement's workflow that knows its agreement id (``handle.agreement_id``, where ``handle.id``
    is the workflow id ``agreement-<id>``) and, having no run id, follows the agreement across continue-as-new."""

    def __init__(self, client: Client, agreement_id: str) -> None:
        super().__init__(client, workflow_id(agreement_id), result_type=AgreementStatus)
        self.agreement_id = agreement_id


class Harness:
    """A worker of Concordat's own on a task queue of its own, the agreements a test starts there (terminated when
    the test ends), and what they leave in PostgreSQL."""

    def __init__(self, env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str) -> None:
        self.env = env
        self.client = env.client
        self.pool = pool
        self.task_queue = task_queue
        self.agreements = AgreementClient(env.client, task_queue)
        """The typed client: ``await harness.agreements.act(agreement_id, AgreementWorkflow.<update>, action)``."""
        self.started: list[WorkflowHandle[Any, Any]] = []
        self.first_run_ids: dict[str, str | None] = {}

    @classmethod
    @asynccontextmanager
    async def running(
        cls, env: WorkflowEnvironment, pool: asyncpg.Pool, activities: Sequence[Callable[..., Any]] = ()
    ) -> AsyncIterator[Harness]:
        """A worker on a fresh task queue; ``activities`` replace the ledger's own (a test's slowed copies)."""
        harness = cls(env, pool, f"test-{uuid.uuid4()}")
        if activities:
            worker = Worker(env.client, task_queue=harness.task_queue, workflows=[AgreementWorkflow],
                            activities=list(activities), workflow_runner=WORKFLOW_RUNNER)
        else:
            worker = build_worker(env.client, pool, task_queue=harness.task_queue)
        async with worker:
            try:
                yield harness
            finally:
                await harness._terminate_open_agreements()

    async def _terminate_open_agreements(self) -> None:
        """Open agreements would otherwise keep waking up as later tests skip time."""
        for handle in self.started:
            try:
                await handle.terminate("test finished")
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:  # NOT_FOUND: it had already closed
                    raise

    def new_id(self, prefix: str = "agreement") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    async def start(self, request: Any = None, *, wait_opened: bool = True, **request_kwargs: Any) -> AgreementHandle:
        """Start an agreement from a request (model or raw dict); by default the standard test agreement, with
        ``request_kwargs`` (``settings``, proposal fields) passed to ``factories.request``.

        Returns its handle, whose ``agreement_id`` names it in the ledger. Waits until its opening decision is in
        the ledger, so tests start from a settled state (``StartRefused`` if the engine refuses the start).
        """
        if request is None:
            request = factories.request(self.new_id(), **request_kwargs)
        if isinstance(request, AgreementRequest):
            started = await self.agreements.start_without_waiting(request)
        else:  # raw JSON, perhaps invalid on purpose: started as another service would
            started = await self.client.start_workflow(
                AgreementWorkflow.run, request, id=workflow_id(request["agreement_id"]), task_queue=self.task_queue)
        self.first_run_ids[started.id] = started.result_run_id
        handle = AgreementHandle(self.client, agreement_id_of(started.id))
        self.started.append(handle)
        if wait_opened:
            await self.agreements.until_opened(started)
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

    async def trace_of_updates(self, handle: WorkflowHandle[Any, Any]) -> list[str]:
        """History events that updates leave, or that a failing workflow task leaves."""
        return [
            EventType.Name(e.event_type)
            for e in await self.history_events(handle)
            if "UPDATE" in EventType.Name(e.event_type) or e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        ]

    async def runs(self, workflow_id: str) -> list[list[Any]]:
        """Every run's history, following continue-as-new from the first run."""
        run_id = self.first_run_ids[workflow_id]
        histories = []
        while run_id:
            handle = self.client.get_workflow_handle(workflow_id, run_id=run_id)
            events = [event async for event in handle.fetch_history_events()]
            histories.append(events)
            continued = events[-1].workflow_execution_continued_as_new_event_attributes
            run_id = continued.new_execution_run_id if events[-1].HasField(
                "workflow_execution_continued_as_new_event_attributes") else None
        return histories

    async def activities_scheduled(self, handle: WorkflowHandle[Any, Any], activity_type: str) -> int:
        """How many times the workflow ran ``activity_type``: ordinary activities scheduled, and local activities
        recorded (a marker each, ``local_activity_type``)."""
        return sum(
            e.activity_task_scheduled_event_attributes.activity_type.name == activity_type
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED else
            local_activity_type(e) == activity_type
            for e in await self.history_events(handle)
        )

    async def continue_as_new_at_next_task(self, handle: WorkflowHandle[Any, Any],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
        """Make the agreement's current run continue as new in its next workflow task, as it does once its history
        nears ``HISTORY_BOUND``: the bound is set (for this test) just above the run's length now."""
        run = self.client.get_workflow_handle(handle.id)
        length = len((await run.fetch_history()).events)
        monkeypatch.setattr(agreement_workflow, "HISTORY_BOUND", length + 1)

    async def skip(self, duration: timedelta) -> None:
        """Move the time-skipping server's clock on by ``duration``.

        The call returns once the server has fired every timer due in between and the worker has answered
        each: years of reviews, escalations and continue-as-new on a busy two-core machine can outlast the
        SDK's default RPC deadline (the call then fails with "Timeout expired"), so it gets its own.
        """
        request = SleepRequest()
        request.duration.FromTimedelta(duration)
        await self.client.test_service.unlock_time_skipping_with_sleep(request, timeout=SKIP_DEADLINE)


def local_activity_type(event: Any) -> str | None:
    """The activity type a local activity's marker event records; None for any other event."""
    if event.event_type != EventType.EVENT_TYPE_MARKER_RECORDED:
        return None
    marker = event.marker_recorded_event_attributes
    if marker.marker_name != "core_local_activity" or "data" not in marker.details:
        return None
    return json.loads(marker.details["data"].payloads[0].data).get("activity_type")


async def walk_to_sign_off(handle: WorkflowHandle[AgreementWorkflow, AgreementStatus]) -> AgreementStatus:
    """Submit the proposal and the standard plan (its milestones due 30 and 90 days on), and send it for sign-off."""
    status = await handle.execute_update(AgreementWorkflow.submit_proposal, builders.submit())
    start = status.stage_started_at.date()
    await handle.execute_update(AgreementWorkflow.set_objectives, builders.set_objectives(start=start))
    return await handle.execute_update(AgreementWorkflow.submit_for_sign_off, builders.send_for_sign_off())


async def version(handle: WorkflowHandle[Any, Any]) -> str:
    """The version of the agreement's proposal and plan that a sign-off names (its status's ``version``)."""
    status = await handle.query(AgreementWorkflow.status)
    assert status.version is not None
    return status.version


async def variation_version(handle: WorkflowHandle[Any, Any]) -> str:
    """The version of the pending variation that a signature names (its status's ``variation.version``)."""
    status = await handle.query(AgreementWorkflow.status)
    assert status.variation is not None and status.variation.version is not None
    return status.variation.version


async def approve_by_all(handle: WorkflowHandle[AgreementWorkflow, AgreementStatus]) -> AgreementStatus:
    """Every signatory of the standard agreement approves the version now in sign-off; the last status."""
    status = None
    signed = await version(handle)
    for actor in builders.SIGNATORIES:
        status = await handle.execute_update(AgreementWorkflow.record_sign_off, builders.approve(actor, signed))
    assert status is not None
    return status
