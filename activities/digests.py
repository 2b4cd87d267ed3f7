"""Enqueueing digests: every open alert of each digest subscription's bodies, worst first."""

from __future__ import annotations

import structlog
from temporalio import activity
from temporalio.client import Client

from domain.delivery import DigestRun, digest_for
from domain.drift import Alert
from domain.status import AgreementStatus
from store import outbox
from store.database import Pool
from workflows import search_attributes as sa

log = structlog.get_logger(__name__)

OPEN_AGREEMENTS_WITH_ALERTS = (
    f"WorkflowType = 'AgreementWorkflow' AND ExecutionStatus = 'Running' AND {sa.OPEN_ALERTS.name} > 0"
)


class DigestActivities:
    """Enqueues digests: asks the running agreements for their open alerts (``client``) and writes the outbox
    (``pool``)."""

    def __init__(self, client: Client, pool: Pool) -> None:
        self._client = client
        self._pool = pool

    async def open_alerts(self) -> list[Alert]:
        """Every open alert of every running agreement, asked of the agreements themselves."""
        alerts: list[Alert] = []
        async for execution in self._client.list_workflows(OPEN_AGREEMENTS_WITH_ALERTS):
            status = await self._client.get_workflow_handle(execution.id).query(
                "status", result_type=AgreementStatus
            )
            alerts.extend(status.open_alerts)
        return alerts

    @activity.defn(name="enqueue_digests")
    async def enqueue_digests(self, run: DigestRun) -> int:
        """One digest delivery per subscription of ``run.cadence`` with open alerts, once per period;
        a retry enqueues nothing twice. Returns how many digests this call enqueued."""
        subscriptions = [s for s in await outbox.active_subscriptions(self._pool) if s.cadence is run.cadence]
        if not subscriptions:
            return 0
        alerts = await self.open_alerts()
        enqueued = 0
        for subscription in subscriptions:
            listed = digest_for(subscription, alerts)
            if listed and await outbox.enqueue_digest(self._pool, subscription, run.period, listed):
                enqueued += 1
        log.info("digests_enqueued", cadence=run.cadence.value, period=run.period, digests=enqueued,
                 open_alerts=len(alerts))
        return enqueued
