"""The Concordat worker: runs agreement workflows and the ledger activities.

Configuration comes from the environment:
  TEMPORAL_ADDRESS     Temporal frontend (default localhost:7233)
  TEMPORAL_NAMESPACE   namespace (default "default")
  DATABASE_URL         PostgreSQL DSN for the decision ledger (required)
"""

import asyncio
import os
import sys

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.database import create_pool, migrate
from activities.ledger import LedgerActivities
from workflows.agreement import TASK_QUEUE, AgreementWorkflow
from workflows.converter import data_converter

log = structlog.get_logger("concordat.worker")


def build_worker(client: Client, pool: asyncpg.Pool, task_queue: str = TASK_QUEUE) -> Worker:
    ledger = LedgerActivities(pool)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[AgreementWorkflow],
        activities=[ledger.record_decisions, ledger.raise_alerts],
    )


async def main() -> int:
    structlog.configure(processors=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso"),
                                    structlog.processors.JSONRenderer()])
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        print("DATABASE_URL is not set: the worker needs the ledger database", file=sys.stderr)
        return 2
    client = await Client.connect(
        os.environ.get("TEMPORAL_ADDRESS", "localhost:7233"),
        namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
        data_converter=data_converter,
    )
    pool = await create_pool(dsn)
    await migrate(pool)
    log.info("worker_started", task_queue=TASK_QUEUE)
    async with build_worker(client, pool):
        await asyncio.Event().wait()
    return 0


if __name__ == "__main__":
    code = asyncio.run(main())
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip interpreter teardown: the SDK's runtime threads can abort it (sdk-python #300)
