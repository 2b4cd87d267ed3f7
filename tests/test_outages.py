"""When the ledger's database or Temporal cannot be read, every read command says so in one line, with the
"could not read" exit code (3), never a traceback and never exit 1 (which ``verify`` keeps for tampering)."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from activities.ledger import LedgerActivities
from cli.errors import EXIT_UNREACHABLE
from domain import lifecycle
from domain.ledger import ChainHead, chain
from tests.helpers import builders, factories

pytestmark = pytest.mark.dev_server


@asynccontextmanager
async def ledger_locked(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """Hold the decisions table locked, so that every read of it waits until its statement times out."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
        yield


@pytest.mark.parametrize("command", [["verify", "--all"], ["verify", "{id}"], ["ledger", "{id}"],
                                     ["story", "{id}"], ["lessons"]])
async def test_a_statement_timeout_is_one_line_and_the_could_not_read_code(cli, pool, postgres_dsn, monkeypatch,
                                                                           command):
    agreement_id = f"outage-{uuid.uuid4().hex[:8]}"
    opened = lifecycle.open_agreement(factories.request(agreement_id), builders.T0)
    await LedgerActivities(pool).record_decisions(chain(agreement_id, ChainHead(), opened.decisions))
    separator = "&" if "?" in postgres_dsn else "?"
    monkeypatch.setenv("DATABASE_URL", f"{postgres_dsn}{separator}statement_timeout=300")

    async with ledger_locked(pool):
        code, out, err = await asyncio.wait_for(cli(*[part.format(id=agreement_id) for part in command]), 60)

    assert code == EXIT_UNREACHABLE, out + err
    assert err.startswith("error: the ledger database could not be read") and "statement timeout" in err
    assert "Traceback" not in out + err and len(err.splitlines()) == 1
