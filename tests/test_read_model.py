"""The read model tells the whole story: every visit and sign-off round ends when the agreement closes,
benefits corrected within a review replace what they correct, and each documented query returns what it says.

The agreements are written into a database of their own by the domain's rules, as the workflow records them
(``LedgerActivities.record_decisions``), without a Temporal server.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from activities.ledger import LedgerActivities
from domain.actions import Action
from domain.agreement import Agreement
from domain.ledger import ChainHead, chain
from domain.lifecycle import evolve, open_agreement
from store.database import create_pool, migrate
from tests.helpers import council_portfolio, factories
from tests.helpers.builders import (
    QUARTERLY_FOR_A_YEAR,
    SIGNATORIES,
    T0,
    TAMWORTH,
    approve,
    benefits,
    decide,
    readings,
    report,
    send_for_sign_off,
    set_objectives,
    submit,
    withdraw,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "integrators.md"


@pytest.fixture
async def ledger_pool(postgres_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a database of its own, migrated."""
    name = f"read_model_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    pool = await create_pool(urlunsplit(urlsplit(postgres_dsn)._replace(path=f"/{name}")))
    await migrate(pool)
    yield pool
    await pool.close()


class Played:
    """One agreement driven by the domain's rules, its decisions written to the ledger as the workflow does."""

    def __init__(self, ledger: LedgerActivities, agreement: Agreement) -> None:
        self.ledger, self.agreement = ledger, agreement

    @classmethod
    async def open(cls, pool: asyncpg.Pool, agreement_id: str) -> Played:
        opening = open_agreement(factories.request(agreement_id, settings=QUARTERLY_FOR_A_YEAR), T0)
        played = cls(LedgerActivities(pool), opening.agreement.model_copy(update={
            "calendar_periods": True, "reviews_never_skipped": True, "business_case_required": True}))
        await played.record(opening.decisions)
        return played

    async def record(self, decisions: list) -> None:
        entries = chain(self.agreement.agreement_id, self.agreement.chain, decisions)
        await self.ledger.record_decisions(entries)
        self.agreement.chain = ChainHead(seq=entries[-1].seq, hash=entries[-1].hash)

    async def act(self, at: datetime, *actions: Action) -> Played:
        for action in actions:
            transition = evolve(self.agreement, action, at)
            self.agreement = transition.agreement
            await self.record(transition.decisions)
        return self

    async def to_sign_off(self) -> Played:
        return await self.act(T0, submit(), set_objectives(), send_for_sign_off())

    async def live(self) -> Played:
        await self.to_sign_off()
        return await self.act(T0, *(approve(actor) for actor in SIGNATORIES), report("fleet"),
                              report("rounds", TAMWORTH))

    @property
    def review_due(self) -> datetime:
        return self.agreement.review_period_end(self.agreement.review_number)


async def test_every_closed_agreements_last_visit_and_last_round_end_when_it_closes(ledger_pool):
    await (await Played.open(ledger_pool, "withdrawn-in-proposal")).act(T0 + timedelta(days=1), withdraw())
    await (await (await Played.open(ledger_pool, "withdrawn-in-sign-off")).to_sign_off()).act(
        T0 + timedelta(days=5), withdraw())
    await (await Played.open(ledger_pool, "still-open")).to_sign_off()
    closed = await ledger_pool.fetch("SELECT agreement_id, closed_at FROM rm_agreements WHERE closed_at IS NOT NULL")
    assert {c["agreement_id"] for c in closed} == {"withdrawn-in-proposal", "withdrawn-in-sign-off"}
    for agreement in closed:
        last = await ledger_pool.fetchrow("""SELECT * FROM rm_stage_visits WHERE agreement_id = $1
            ORDER BY entered_at DESC, left_at DESC LIMIT 1""", agreement["agreement_id"])
        assert (last["left_at"], last["next_stage"]) == (agreement["closed_at"], "closed")
        assert last["time_in_stage"] == agreement["closed_at"] - last["entered_at"]
    rounds = await ledger_pool.fetch("SELECT * FROM rm_sign_off_cycles ORDER BY agreement_id")
    assert [(r["agreement_id"], r["concluded_at"], r["outcome_stage"], r["cycle_time"]) for r in rounds] == [
        ("still-open", None, None, None),
        ("withdrawn-in-sign-off", T0 + timedelta(days=5), "closed", timedelta(days=5))]
    # Only an open agreement's current visit has no end.
    assert await ledger_pool.fetchval("SELECT count(*) FROM rm_stage_visits WHERE left_at IS NULL") == 1
    assert await ledger_pool.fetchval("SELECT count(*) FROM rm_stage_visits WHERE stage = 'closed'") == 0


async def test_benefits_corrected_within_a_review_replace_what_they_correct(ledger_pool):
    played = await (await Played.open(ledger_pool, "corrected")).live()
    due = played.review_due
    # A typo first: £4,100,000 a year (a £100,000 saving, £400,000 short: red), then the true £3,800,000
    # (£400,000 saved, £100,000 short: amber).
    await played.act(due, benefits("4100000.00"), benefits("3800000.00"))
    recorded = await ledger_pool.fetch("""SELECT payload->'position'->>'rag' AS rag FROM decisions
                                          WHERE kind = 'benefits_recorded' ORDER BY seq""")
    assert [r["rag"] for r in recorded] == ["red", "amber"]
    events = await ledger_pool.fetch("SELECT rag FROM rm_rag_events WHERE source = 'benefits'")
    assert [e["rag"] for e in events] == ["amber"]
    assert await ledger_pool.fetchval("SELECT count(*) FROM rm_savings") == 1


def documented_queries() -> dict[str, str]:
    """The integrators' guide's read-model queries, each under the first line of its comment."""
    section = DOCS.read_text().split("## The read model", 1)[1]
    block = re.search(r"```sql\n(.*?)```", section, re.S)
    assert block is not None
    queries = {}
    for chunk in block.group(1).split(";"):
        lines = chunk.strip().splitlines()
        if lines:
            queries[lines[0].removeprefix("-- ")] = "\n".join(lines[1:])
    return queries


async def test_each_documented_query_returns_what_it_says(ledger_pool):
    ids = await council_portfolio.write(ledger_pool, 30)
    # An agreement with two reviews whose payback forecast is red at both (no saving at all).
    played = await (await Played.open(ledger_pool, "never-saves")).live()
    for _ in range(2):
        due = played.review_due
        await played.act(due, benefits("4300000.00"), readings(), decide("continue"))
    queries = documented_queries()
    assert len(queries) == 5

    async def rows(start: str) -> list[asyncpg.Record]:
        return await ledger_pool.fetch(next(sql for title, sql in queries.items() if title.startswith(start)))

    leads_reporting = await ledger_pool.fetchval("""SELECT count(DISTINCT a.lead_body_name) FROM rm_agreements a
        WHERE EXISTS (SELECT 1 FROM decisions d WHERE d.agreement_id = a.agreement_id
                      AND d.kind = 'benefits_recorded')""")
    assert len(await rows("Savings planned and realised")) == leads_reporting
    red = await rows("Agreements whose payback forecast is red")
    assert len(red) == len({r["agreement_id"] for r in red}) and "never-saves" in {r["agreement_id"] for r in red}
    red_at_latest = 0
    for agreement_id in [*ids, "never-saves"]:
        latest = await ledger_pool.fetchval("""SELECT payload->'position'->>'forecast_rag' FROM decisions
            WHERE agreement_id = $1 AND kind = 'benefits_recorded' ORDER BY seq DESC LIMIT 1""", agreement_id)
        red_at_latest += latest == "red"
    assert len(red) == red_at_latest
    assert len(await rows("The ten highest risks")) == min(10, await ledger_pool.fetchval(
        "SELECT count(*) FROM rm_risks JOIN rm_agreements USING (agreement_id) WHERE stage <> 'closed'"))
    left = await ledger_pool.fetchval("""SELECT count(DISTINCT payload->>'from') FROM decisions
                                         WHERE kind = 'stage_changed'""")
    assert len(await rows("Mean days in each stage")) == left
    lessons = await ledger_pool.fetchval("""SELECT count(*) FROM decisions, jsonb_array_elements(payload->'lessons') l
        WHERE kind = 'lessons_recorded' AND l->'tags' ? 'procurement'""")
    assert len(await rows("Lessons tagged procurement")) == lessons
