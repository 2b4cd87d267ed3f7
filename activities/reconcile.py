"""The reconciler's activity: record in the ledger each termination no workflow code saw."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from temporalio import activity
from temporalio.client import Client

from store import reconcile
from store.database import Pool
from workflows import search_attributes as sa
from workflows.agreement import agreement_id_of
from workflows.contract import WORKFLOW_TYPE

log = structlog.get_logger(__name__)


TERMINATED_QUERY = f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus = 'Terminated'"
"""The visibility query for agreements' runs that an operator terminated."""


@dataclass(frozen=True)
class Termination:
    """An agreement's run an operator terminated: when, why and by whom, as Temporal recorded it."""

    agreement_id: str
    run_id: str
    at: datetime
    reason: str
    identity: str


async def terminations(client: Client) -> AsyncIterator[Termination]:
    """Every agreement run an operator terminated (``TERMINATED_QUERY``) that had opened (published its stage),
    with the caller, reason and time of its termination from the run's last history event."""
    async for run in client.list_workflows(TERMINATED_QUERY):
        if run.typed_search_attributes.get(sa.STAGE) is None:
            continue
        last = None
        async for event in client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history_events():
            last = event
        if last is None or not last.HasField("workflow_execution_terminated_event_attributes"):
            continue
        attributes = last.workflow_execution_terminated_event_attributes
        yield Termination(agreement_id=agreement_id_of(run.id), run_id=run.run_id,
                          at=last.event_time.ToDatetime(tzinfo=UTC), reason=attributes.reason,
                          identity=attributes.identity)


async def record_terminations(client: Client, pool: Pool) -> int:
    """Close the ledger of every terminated agreement whose ledger is still open (``store.reconcile``);
    returns how many were closed. Safe to run at any time and any number of times."""
    closed = 0
    async for termination in terminations(client):
        written = await reconcile.record_termination(
            pool, termination.agreement_id, terminated_at=termination.at, reason=termination.reason,
            identity=termination.identity)
        if written:
            closed += 1
            log.warning("termination_recorded", agreement_id=termination.agreement_id, run_id=termination.run_id,
                        terminated_at=termination.at.isoformat(), reason=termination.reason,
                        requested_by=termination.identity, first_seq=written[0].seq)
    return closed


class ReconcileActivities:
    """The reconciler's activity, with the Temporal ``client`` to find terminations and the ledger's ``pool``."""

    def __init__(self, client: Client, pool: Pool) -> None:
        self._client = client
        self._pool = pool

    @activity.defn(name="record_terminations")
    async def record_terminations(self) -> int:
        """``record_terminations`` on this worker's client and pool."""
        return await record_terminations(self._client, self._pool)
