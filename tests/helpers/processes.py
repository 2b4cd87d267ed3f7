"""Real processes for fault tests: the worker as operators run it, and a restartable dev server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from temporalio.client import Client

from tests.helpers import assert_eventually, free_port
from workflows import search_attributes

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """``python worker.py`` with the given environment; its JSON log lines are kept.

    ``command`` and ``started`` run another of Concordat's processes, e.g. ``("-m", "dispatcher")``,
    which logs ``dispatcher_started``."""

    def __init__(self, env: dict[str, str], command: tuple[str, ...] = ("worker.py",),
                 started: str = "worker_started") -> None:
        self.env = env
        self.command = command
        self.started = started
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> WorkerProcess:
        self.lines = []
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *self.command, cwd=ROOT, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        await assert_eventually(lambda: self._logged(self.started), timeout=60)
        return self

    async def _read(self) -> None:
        assert self.process and self.process.stdout
        async for line in self.process.stdout:
            self.lines.append(line.decode())

    async def _logged(self, event: str) -> bool:
        if self.process and self.process.returncode is not None and not any(event in line for line in self.lines):
            raise AssertionError(f"{' '.join(self.command)} exited early:\n" + "".join(self.lines))
        return any(event in line for line in self.lines)

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    async def stop(self) -> int:
        """SIGTERM, as an orchestrator stops it; returns the exit code."""
        return await self._signal(signal.SIGTERM)

    async def kill(self) -> int:
        """SIGKILL: the worker dies wherever it is."""
        return await self._signal(signal.SIGKILL)

    async def _signal(self, signum: int) -> int:
        assert self.process and self._reader
        if self.process.returncode is None:
            self.process.send_signal(signum)
        code = await asyncio.wait_for(self.process.wait(), timeout=60)
        await self._reader
        return code


class DevServerProcess:
    """A Temporal dev server with its state in a file, so it can be stopped and started again."""

    def __init__(self, temporal: str, data_dir: Path) -> None:
        self.temporal = temporal
        self.db_file = data_dir / "temporal.db"
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> DevServerProcess:
        self.process = await asyncio.create_subprocess_exec(
            self.temporal, "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(self.port),
            "--db-filename", str(self.db_file), "--log-level", "error", *search_attributes.dev_server_flags(),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )

        async def serving() -> bool:
            try:
                await Client.connect(self.address)
                return True
            except RuntimeError:
                return False

        await assert_eventually(serving, timeout=60, interval=0.2)
        return self

    async def stop(self) -> None:
        assert self.process
        self.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.process.wait(), timeout=30)


def worker_environment(temporal_address: str, database_url: str, task_queue: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TEMPORAL_ADDRESS": temporal_address,
        "DATABASE_URL": database_url,
        "CONCORDAT_TASK_QUEUE": task_queue,
        "CONCORDAT_METRICS_PORT": "0",
        "CONCORDAT_SHUTDOWN_GRACE_SECONDS": "10",
        **extra,
    }
