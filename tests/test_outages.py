"""When the ledger's database or Temporal cannot be read, every read command says so in one line, with the
"could not read" exit code (3), never a traceback and never exit 1 (which ``verify`` keeps for tampering)."""

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from rich.console import Console
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

import starter
from activities.ledger import LedgerActivities
from api.acting import api_error
from cli.errors import EXIT_OUTCOME_UNKNOWN, EXIT_UNREACHABLE
from domain import lifecycle
from domain.ledger import ChainHead, LedgerEntry, chain
from store.ledger import read_ledger
from tests.helpers import builders, factories, free_port
from tests.helpers.environments import server_binary
from tests.helpers.harness import AgreementHandle, version, walk_to_sign_off
from tests.helpers.processes import DevServerProcess
from workflows.agreement import AgreementWorkflow
from workflows.client import AgreementClient, OutcomeUnknown
from workflows.converter import data_converter


@asynccontextmanager
async def ledger_locked(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """Hold the decisions table locked, so that every read of it waits until its statement times out."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE")
        yield


@pytest.mark.dev_server
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


class GatedSignOffs:
    """The ledger, with the first sign-off's write held until the test opens the gate."""

    def __init__(self, ledger: LedgerActivities) -> None:
        self.ledger = ledger
        self.reached = asyncio.Event()
        self.gate = asyncio.Event()

    @activity.defn(name="record_decisions")
    async def record_decisions(self, entries: list[LedgerEntry]) -> None:
        if any(entry.kind == "signed_off" for entry in entries) and not self.gate.is_set():
            self.reached.set()
            await self.gate.wait()
        await self.ledger.record_decisions(entries)


async def test_an_outage_while_an_action_is_in_flight_says_unknown_and_a_retry_records_it_once(
        pool, postgres_dsn, tmp_path, monkeypatch, capfd):
    server = await DevServerProcess(server_binary("temporal"), tmp_path).start()
    client = await Client.connect(server.address, data_converter=data_converter)
    task_queue = f"outage-{uuid.uuid4()}"
    ledger = LedgerActivities(pool)
    gated = GatedSignOffs(ledger)
    monkeypatch.setenv("TEMPORAL_ADDRESS", server.address)
    monkeypatch.setenv("CONCORDAT_TASK_QUEUE", task_queue)
    monkeypatch.setenv("DATABASE_URL", postgres_dsn)
    agreement_id = f"outage-{uuid.uuid4().hex[:8]}"
    sign_off = ["record-sign-off", agreement_id, "--body", factories.LICHFIELD, "--signatory", "Priya Shah",
                "--decision", "approve", "--action-id", "sign-off-in-an-outage"]

    async def run_cli(*argv: str) -> tuple[int, str, str]:
        out = io.StringIO()
        capfd.readouterr()
        code = await starter.run_cli(list(argv), console=Console(file=out, width=200))
        captured = capfd.readouterr()
        return code, out.getvalue() + captured.out, captured.err

    async with Worker(client, task_queue=task_queue, workflows=[AgreementWorkflow],
                      activities=[gated.record_decisions, ledger.record_at_ledger_head, ledger.raise_alerts]):
        await AgreementClient(client, task_queue).start(factories.request(agreement_id))
        handle = AgreementHandle(client, agreement_id)
        await walk_to_sign_off(handle)
        sending = asyncio.create_task(run_cli(*sign_off, "--version", await version(handle)))
        await asyncio.wait_for(gated.reached.wait(), 60)

        await server.stop()
        code, out, err = await asyncio.wait_for(sending, 180)

        assert code == EXIT_OUTCOME_UNKNOWN, out + err
        assert err.startswith("error: the outcome is unknown; check status") and "sign-off-in-an-outage" in err
        assert "\x1b[" not in out + err and "WARN" not in out + err and len(err.splitlines()) == 1
        await server.start()
        gated.gate.set()
        code, out, err = await run_cli(*sign_off, "--version", await version(handle))

    assert code == 0, out + err
    # The local write and the update's acceptance are one workflow task: the server went down before it completed,
    # so the worker dropped the write before it committed, and the retry records the sign-off for the first time.
    # (Had the write committed, the retry would find it in the ledger and say "repeat".)
    assert out.startswith(("accepted: record sign off",
                           "repeat: record sign off sign-off-in-an-outage was already recorded")), out
    signed = [e for e in await read_ledger(pool, agreement_id) if e.kind == "signed_off"]
    assert [e.actor_signatory for e in signed] == ["Priya Shah"], "recorded once, however often it was sent"
    await AgreementHandle(client, agreement_id).terminate(reason="test finished")
    await server.stop()


def test_the_api_answers_an_unknown_outcome_504_with_the_documented_error_shape():
    error = api_error(OutcomeUnknown("waste-2027", "api-1", "the connection failed"))
    assert (error.status, error.type) == (504, "OutcomeUnknown")
    assert error.message.startswith("the outcome is unknown; check status")
    assert [problem["code"] for problem in error.problems or []] == ["outcome_unknown"]


@pytest.mark.dev_server
async def test_verify_says_could_not_read_when_temporal_cannot_anchor_a_sound_chain(cli, pool, monkeypatch):
    agreement_id = f"outage-{uuid.uuid4().hex[:8]}"
    opened = lifecycle.open_agreement(factories.request(agreement_id), builders.T0)
    await LedgerActivities(pool).record_decisions(chain(agreement_id, ChainHead(), opened.decisions))
    monkeypatch.setenv("TEMPORAL_ADDRESS", f"127.0.0.1:{free_port()}")  # nothing listens there

    code, out, err = await cli("verify", agreement_id)

    assert code == EXIT_UNREACHABLE, out + err
    assert "hash chain verified" in out and "Temporal could not be reached" in out
    assert err.startswith("error: the ledger's chains hold, but Temporal could not be read to anchor them")
