"""The benchmark's worker process: Concordat's worker, with the floor workflows beside it."""

import asyncio
import json
import signal

import asyncpg
from temporalio import activity

from bench.floor import FLOOR_TABLE, FloorDeadlineWorkflow, FloorLifecycleWorkflow
from runtime.logging import configure_logging
from runtime.service import exit_now
from runtime.settings import Settings
from runtime.temporal import connect_temporal
from store.database import create_pool, migrate
from worker import build_worker
from workflows import search_attributes


class FloorActivities:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="floor_write")
    async def write(self, payload: dict) -> None:
        await self._pool.execute(
            "INSERT INTO bench_floor (workflow_id, payload) VALUES ($1, $2::jsonb)",
            activity.info().workflow_id, json.dumps(payload),
        )


async def main() -> int:
    settings = Settings.from_environment()
    configure_logging(settings.log_level)
    client = await connect_temporal()
    pool = await create_pool(settings.database_url or "", max_size=settings.database_pool_size)
    await migrate(pool)
    await pool.execute(FLOOR_TABLE)
    await search_attributes.register(client, client.namespace)
    floor = FloorActivities(pool)
    worker = build_worker(client, pool, settings, extra_workflows=[FloorLifecycleWorkflow, FloorDeadlineWorkflow],
                          extra_activities=[floor.write])
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    running = asyncio.create_task(worker.run())
    print("bench worker ready", flush=True)
    await asyncio.wait([running, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
    if not running.done():
        await worker.shutdown()
    await running
    return 0


if __name__ == "__main__":
    exit_now(asyncio.run(main()))
