"""The Concordat worker: a long-running process that runs agreement workflows and ledger activities.

It waits (with backoff) for Temporal and PostgreSQL, applies migrations, registers
the search attributes, and polls until SIGTERM or SIGINT; then it stops polling,
lets running activities finish within the grace period, and exits 0.

Run it as ``concordat-worker`` or ``python worker.py``. Configuration: see ``runtime/settings.py`` and the
README's "Operating the worker" section.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import Worker, WorkerDeploymentConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.digests import DigestActivities
from activities.ledger import LedgerActivities
from activities.reconcile import ReconcileActivities
from runtime.service import exit_now, run_service, with_retry
from runtime.settings import ConfigurationError, Settings
from runtime.temporal import connect_temporal, worker_runtime
from store.database import Pool, create_pool, migrate
from workflows import search_attributes
from workflows.agreement import AgreementWorkflow
from workflows.digest import AlertDigestWorkflow
from workflows.reconciler import TerminationReconcilerWorkflow

log = structlog.get_logger("concordat.worker")


def deployment_config(deployment_name: str, build_id: str) -> WorkerDeploymentConfig:
    """Worker Deployment Versioning: agreements live for years, so they move to new code (auto-upgrade)
    rather than stay pinned to the build that started them; ``workflow.patched`` keeps that safe."""
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=deployment_name, build_id=build_id),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


PASSED_THROUGH = ("workflows.agreement", "jwt", "cryptography")
"""Modules the sandbox takes from the worker's own imports rather than executing afresh in each workflow run.

``workflows.agreement``: the sandbox otherwise executes the agreement workflow's module afresh for every workflow
run it creates (every start, every continue-as-new, every run taken back into the cache), which cost a fifth of a
start's worker time and about a third of each open agreement's memory (issue 17). Its code is still held to
determinism by the replay tests; what the module imports from the domain was passed through already.

``jwt`` and ``cryptography``: attestations are verified in update validators (``domain.attestation``), and
cryptography's Rust bindings import some of its modules only when first needed (``cryptography.exceptions``
when a signature first fails to verify). Executed afresh inside the sandbox, such a module cannot load the
bindings a second time: the import fails with ``SystemError`` inside the bindings, which abort the process, so
one forged attestation stopped the worker and every worker that took the update after it (issue 22). Passed
through, every such import finds the module the worker loaded at start."""

WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSED_THROUGH))
"""The SDK's sandbox, with ``PASSED_THROUGH`` passed through."""


def build_worker(
    client: Client,
    pool: Pool,
    settings: Settings | None = None,
    *,
    extra_workflows: Sequence[type] = (),
    extra_activities: Sequence[Callable[..., Any]] = (),
    **overrides: object,
) -> Worker:
    """The worker for ``client`` and ``pool``; tests pass overrides such as ``task_queue``, and the
    benchmark adds its floor workflows beside Concordat's so both share one process."""
    settings = settings or Settings()
    ledger = LedgerActivities(pool)
    digests = DigestActivities(client, pool)
    reconciler = ReconcileActivities(client, pool)
    options: dict[str, object] = {
        "task_queue": settings.task_queue,
        "max_cached_workflows": settings.max_cached_workflows,
        "max_concurrent_activities": settings.max_concurrent_activities,
        "graceful_shutdown_timeout": timedelta(seconds=settings.shutdown_grace_seconds),
        "workflow_runner": WORKFLOW_RUNNER,
    }
    if settings.deployment_name and settings.build_id:
        options["deployment_config"] = deployment_config(settings.deployment_name, settings.build_id)
    options.update(overrides)
    return Worker(
        client,
        workflows=[AgreementWorkflow, AlertDigestWorkflow, TerminationReconcilerWorkflow, *extra_workflows],
        activities=[ledger.record_decisions, ledger.record_at_ledger_head, ledger.raise_alerts, digests.enqueue_digests,
                    reconciler.record_terminations, *extra_activities],
        **options,  # type: ignore[arg-type]  # options of several types in one dict; Worker checks them
    )


async def serve(settings: Settings) -> None:
    if not settings.database_url:
        raise ConfigurationError("DATABASE_URL is not set: the worker needs the decision ledger's database")
    client = await with_retry(
        "Temporal",
        lambda: connect_temporal(runtime=worker_runtime(settings.metrics_port), settings=settings),
        timeout=settings.connect_timeout_seconds,
        log=log,
    )
    pool = await with_retry(
        "PostgreSQL",
        lambda: create_pool(settings.database_url or "", max_size=settings.database_pool_size),
        timeout=settings.connect_timeout_seconds,
        log=log,
    )
    try:
        applied = await migrate(pool)
        if settings.register_search_attributes:
            added = await search_attributes.register(client, client.namespace)
            if added:
                log.info("search_attributes_registered", names=added)
        worker = build_worker(client, pool, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        running = asyncio.create_task(worker.run())
        log.info(
            "worker_started",
            task_queue=settings.task_queue,
            namespace=client.namespace,
            migrations_applied=applied,
            metrics_port=settings.metrics_port or None,
        )
        await asyncio.wait([running, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            log.info("worker_stopping", grace_seconds=settings.shutdown_grace_seconds)
            await worker.shutdown()
        await running
        log.info("worker_stopped")
    finally:
        await pool.close()


def main() -> int:
    """Run the worker until stopped; the exit code as ``runtime.service.run_service`` gives it."""
    return run_service("worker", Settings.from_environment, serve)


def run() -> None:
    """The ``concordat-worker`` command: ``main``, then exit at once (``runtime.service.exit_now``)."""
    exit_now(main())


if __name__ == "__main__":
    run()
