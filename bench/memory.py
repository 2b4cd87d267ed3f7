"""Where an open agreement's memory goes: python -m bench.memory [--open N] [--top K].

Runs a worker in this process (tracemalloc sees only this process's Python heap), opens ``N`` agreements and
drives each into sign-off as the benchmark's memory measure does, every one left cached, then prints the
Python memory they added per agreement, grouped by the file that allocated it, beside the RSS they added
(the rest is the SDK's Rust core: its cached histories and state machines). Uses the embedded stack, or
TEMPORAL_ADDRESS and DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import tracemalloc
import uuid
from pathlib import Path

import psutil

from bench.__main__ import Bench, bounded, compile_sources, temporal_and_postgres
from domain.model import Stage
from runtime.logging import configure_logging
from runtime.service import exit_now
from runtime.settings import Settings
from runtime.temporal import connect_temporal
from store.database import create_pool, migrate
from worker import build_worker
from workflows import search_attributes


async def measure(count: int, top: int) -> None:
    """Open ``count`` agreements into sign-off on a worker in this process; print what they added, per agreement."""
    task_queue = f"memory-{uuid.uuid4().hex[:8]}"
    client = await connect_temporal(settings=Settings.from_environment())
    pool = await create_pool(os.environ["DATABASE_URL"], max_size=10)
    await migrate(pool)
    await search_attributes.register(client, client.namespace)
    settings = Settings.from_environment().model_copy(update={"task_queue": task_queue,
                                                              "max_cached_workflows": count + 100})
    worker = build_worker(client, pool, settings)
    running = asyncio.create_task(worker.run())
    bench = Bench(client, pool, task_queue, {})
    try:
        warm = await bench.start_agreement()  # the modules and caches every agreement shares
        await bench.drive(warm, until=Stage.SIGN_OFF)
        gc.collect()
        rss_before = psutil.Process().memory_info().rss
        before = tracemalloc.take_snapshot()
        handles = await bounded(bench.start_agreement() for _ in range(count))
        await bounded(bench.drive(handle, until=Stage.SIGN_OFF) for handle in handles)
        await asyncio.sleep(2)
        gc.collect()
        after = tracemalloc.take_snapshot()
        rss_after = psutil.Process().memory_info().rss
        stats = after.compare_to(before, "filename")
        traced = sum(stat.size_diff for stat in stats)
        print(f"{count} agreements in sign-off: RSS +{(rss_after - rss_before) / count / 1024:.1f} KB each, "
              f"Python heap (tracemalloc) +{traced / count / 1024:.1f} KB each")
        root = str(Path(__file__).resolve().parent.parent)
        for stat in stats[:top]:
            name = stat.traceback[0].filename.replace(root + "/", "").split("site-packages/")[-1]
            print(f"  {stat.size_diff / count / 1024:7.2f} KB  {stat.count_diff / count:7.1f} blocks  {name}")
        await bounded(handle.terminate("memory measured") for handle in [warm, *handles])
    finally:
        await worker.shutdown()
        await running
        await pool.close()


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--open", type=int, default=2000, help="agreements opened into sign-off (default 2000)")
    parser.add_argument("--top", type=int, default=20, help="files shown (default 20)")
    args = parser.parse_args(argv)
    compile_sources()
    tracemalloc.start()
    with tempfile.TemporaryDirectory(prefix="concordat-memory-") as tmp:
        async with temporal_and_postgres(Path(tmp)):
            configure_logging("WARNING", stream=open(Path(tmp) / "memory.log", "w"))  # noqa: SIM115 - open until exit
            await measure(args.open, args.top)
    return 0


if __name__ == "__main__":
    exit_now(asyncio.run(main(sys.argv[1:])))
