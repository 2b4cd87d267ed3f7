"""Every command block of the documentation, run as written against one running stack.

The blocks are the ```sh, ```bash and ```console fences of README.md, docs/*.md and bench/README.md (of a console
block, the lines after a ``$`` prompt). Each block is self-contained and runs in its own ``bash`` with
``set -euo pipefail``, in a folder laid out like a checkout whose ``.venv`` is this Python's environment and whose
``.data/concordat.env`` points at the test's stack as the demo writes it for its own: the dev server, a database
of the docs' own in the session's PostgreSQL (so that the blocks' subscriptions and agreements meet no other
test's), and a worker. A block that cannot run here says so in the markdown, on the line before it, with
``<!-- not run: <why> -->``; ``NOT_RUN`` below names each such block by its first line, so a block cannot stop
running unnoticed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from temporalio.client import ScheduleHandle
from temporalio.service import RPCError

from demo.stack import EmbeddedStack
from domain.delivery import Cadence
from store.database import create_pool, migrate
from tests.helpers.environments import Environments
from tests.helpers.harness import Harness
from workflows.digest import schedule_id

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")), "bench/README.md"]
FENCE = re.compile(r"^```(sh|bash|console)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
NOT_RUN_MARK = re.compile(r"<!-- not run: (.+?) -->\s*\Z")
LEFT_OUT_OF_THE_CHECKOUT = {".git", ".data", ".venv", "reports", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
BLOCK_TIMEOUT_SECONDS = 300
BLOCKS_AT_ONCE = 4

NOT_RUN = {
    ("README.md", "scripts/demo.sh     # the engine and a demo portfolio on an embedded Temporal + PostgreSQL"),
    ("docs/contributors.md", "scripts/test.sh                          # the whole suite, about 8 minutes"),
    ("docs/operators.md", "docker compose up -d --scale worker=3"),
    ("docs/operators.md",
     'CONCORDAT_DEMO_CLIENT_SECRET="$(openssl rand -base64 32)" docker compose --profile demo up -d idp'),
    ("docs/operators.md", "python worker.py"),
    ("docs/operators.md", "CONCORDAT_ENCRYPTION_KEYS=... CONCORDAT_CODEC_TOKEN=<long random secret> \\"),
    ("bench/README.md", "pip install -e '.[bench]'"),
}
"""The blocks marked ``not run``, by document and first line: each needs what a test cannot give (a Docker engine, a
process that runs until stopped, packages from the network and half an hour of benchmark) or is the suite itself."""


EXPECTED_OUTPUT = {
    "--decision reject": "Rejected: sign-off rejected by Tamworth Borough Council (Owen Hughes)",
    "story waste-trial": (
        "Owen Hughes (Tamworth Borough Council)\tREJECTED it at sign-off\tour contribution is too high"
    ),
    "verify waste-2027": "hash chain verified: waste-2027",
    "verify waste-trial": "hash chain verified: waste-trial",
    "--body E06000009 --signatory \"Nadia Rahman\" --decision approve": "Agreed by every body",
    "--retired-on": "Helen Ashworth (20",
}
"""What a block that runs a command must print, where the guide around it says so."""


@dataclass(frozen=True)
class Block:
    document: str
    line: int
    commands: str
    not_run: str | None

    @property
    def first_line(self) -> str:
        return self.commands.splitlines()[0]


def blocks() -> list[Block]:
    """Every command block of the documents, in order, with the reason it is not run where the markdown gives one."""
    found = []
    for document in DOCUMENTS:
        path = ROOT / document
        if not path.exists():
            continue
        text = path.read_text()
        for match in FENCE.finditer(text):
            body = match.group(2)
            if match.group(1) == "console":
                body = "".join(line[2:] + "\n" for line in body.splitlines() if line.startswith("$ "))
            mark = NOT_RUN_MARK.search(text[: match.start()].rstrip() + " ")
            line = text.count("\n", 0, match.start()) + 1
            found.append(Block(document, line, body, mark.group(1) if mark else None))
    return found


def runnable() -> list[Block]:
    """The blocks the test runs: every one not marked ``not run``."""
    return [block for block in blocks() if block.not_run is None]


def test_the_documents_hold_command_blocks_and_the_readme_names_the_suites_command():
    assert {block.document for block in runnable()} >= {"README.md", "docs/integrators.md", "docs/operators.md"}
    readme = (ROOT / "README.md").read_text()
    assert "\nscripts/test.sh" in readme, ".ci/run runs scripts/test.sh: the README names it as it is"
    assert len(readme.splitlines()) < 250


def test_every_block_not_run_is_marked_with_its_reason_and_listed():
    marked = {(block.document, block.first_line) for block in blocks() if block.not_run is not None}
    assert marked == NOT_RUN
    assert all(block.not_run.strip() for block in blocks() if block.not_run is not None)


@pytest.fixture(scope="module")
async def docs_database(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh database of the docs' own in the session's PostgreSQL; its DSN."""
    connection = await asyncpg.connect(postgres_dsn)
    try:
        await connection.execute("DROP DATABASE IF EXISTS concordat_docs")
        await connection.execute("CREATE DATABASE concordat_docs")
    finally:
        await connection.close()
    yield urlsplit(postgres_dsn)._replace(path="/concordat_docs").geturl()


@pytest.fixture(scope="module")
async def docs_stack(environments: Environments, docs_database: str) -> AsyncIterator[Harness]:
    """A worker on its own task queue, on the full server (the docs' commands list agreements and open the Web UI's
    queries), writing to the docs' database, for every block of this module."""
    server = await environments.full_server()
    pool = await create_pool(docs_database)
    await migrate(pool)
    try:
        async with Harness.running(server, pool) as harness:
            yield harness
            query = f"TaskQueue = '{harness.task_queue}' AND ExecutionStatus = 'Running'"
            async for execution in harness.client.list_workflows(query):
                harness.started.append(harness.client.get_workflow_handle(execution.id))
            for cadence in (Cadence.DAILY, Cadence.WEEKLY):
                await _delete_schedule(harness.client.get_schedule_handle(schedule_id(cadence)))
    finally:
        await pool.close()


async def _delete_schedule(handle: ScheduleHandle) -> None:
    """The digest schedules a block creates, gone, so that they fire for no later test."""
    with contextlib.suppress(RPCError):  # no block created it
        await handle.delete()


@pytest.fixture(scope="module")
def checkout(docs_stack: Harness, docs_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder laid out like a checkout after ``scripts/demo.sh``: the project's files, ``.venv`` (this Python's
    environment) and ``.data/concordat.env`` naming the test's stack."""
    activate = Path(sys.prefix) / "bin" / "activate"
    assert activate.exists(), "the blocks source .venv/bin/activate: run the suite in a virtual environment"
    folder = tmp_path_factory.mktemp("checkout")
    for entry in ROOT.iterdir():
        if entry.name not in LEFT_OUT_OF_THE_CHECKOUT:
            (folder / entry.name).symlink_to(entry)
    (folder / ".venv").symlink_to(Path(sys.prefix))
    (folder / ".data").mkdir()
    stack = EmbeddedStack(folder / ".data", temporal_address=docs_stack.client.service_client.config.target_host,
                          database_url=docs_database)
    stack.write_client_settings(folder / ".data" / "concordat.env")
    yield folder


async def run(block: Block, checkout: Path, task_queue: str, gate: asyncio.Semaphore) -> tuple[int, str]:
    """Run one block as written, in its own ``bash``; its exit code and its output, each command traced."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(checkout), "LANG": os.environ.get("LANG", "C.UTF-8"),
           "CONCORDAT_TASK_QUEUE": task_queue}
    async with gate:
        process = await asyncio.create_subprocess_exec(
            "bash", "-c", "set -euo pipefail -x\n" + block.commands, cwd=checkout, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            output = (await asyncio.wait_for(process.communicate(), BLOCK_TIMEOUT_SECONDS))[0].decode()
        except TimeoutError:
            process.kill()
            await process.wait()
            return -1, f"still running after {BLOCK_TIMEOUT_SECONDS} s"
    return process.returncode if process.returncode is not None else -1, output


@pytest.fixture(scope="module")
async def outcomes(checkout: Path, docs_stack: Harness) -> AsyncIterator[dict[Block, asyncio.Task[tuple[int, str]]]]:
    """Every runnable block started at once, a few at a time (each uses its own agreement ids), so that the module
    takes about as long as its longest block; each test awaits its own."""
    gate = asyncio.Semaphore(BLOCKS_AT_ONCE)
    tasks = {block: asyncio.create_task(run(block, checkout, docs_stack.task_queue, gate)) for block in runnable()}
    yield tasks
    await asyncio.gather(*tasks.values())


@pytest.mark.parametrize("block", runnable(), ids=lambda block: f"{block.document}:{block.line}")
async def test_the_block_runs_as_written(block: Block, outcomes: dict[Block, asyncio.Task[tuple[int, str]]]):
    code, output = await outcomes[block]
    assert code == 0, f"{block.document}, line {block.line}:\n{output}"
    for command, expected in EXPECTED_OUTPUT.items():
        if command in block.commands:
            assert expected in output, f"{block.document}, line {block.line}: {expected!r} not in\n{output}"
