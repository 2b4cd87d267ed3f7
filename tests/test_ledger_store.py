"""The decision ledger and alerts on a real PostgreSQL, through ``store`` and the ledger activities: idempotent
writes, append-only rows, tamper evidence, alert NOTIFY and migrations. Every test uses its own agreement ids."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from temporalio.exceptions import ApplicationError

from activities.ledger import LedgerActivities
from domain.drift import Alert, AlertKind, Waiting
from domain.errors import AGREEMENT_EXISTS, LEDGER_CONFLICT
from domain.ledger import GENESIS, ChainHead, Decision, LedgerEntry, chain
from domain.model import Stage
from store import alerts
from store import ledger as store_ledger
from store.database import migrate
from store.ledger import read_ledger, verify_ledger
from tests.helpers import factories

T0 = datetime(2027, 4, 1, 9, 30, tzinfo=UTC)
TITLE = "Joint waste and recycling service"

MIGRATIONS = Path(__file__).resolve().parent.parent / "store" / "migrations"
"""The versioned migrations the store ships."""


def new_id() -> str:
    return f"ledger-{uuid.uuid4()}"


def decision(n: int, **overrides: Any) -> Decision:
    fields = {
        "kind": "milestone_reported",
        "stage": Stage.IMPLEMENTATION,
        "actor_body": factories.LICHFIELD,
        "actor_signatory": "Priya Shah",
        "payload": {"milestone_id": "fleet", "status": "in_progress", "percent_complete": 10 * n},
        "decided_at": T0 + timedelta(days=n, microseconds=n),
    }
    return Decision(**{**fields, **overrides})


def entries(agreement_id: str, count: int = 3, **overrides: Any) -> list[LedgerEntry]:
    return chain(agreement_id, ChainHead(), [decision(n, **overrides) for n in range(1, count + 1)])


async def rows(pool: asyncpg.Pool, agreement_id: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM decisions WHERE agreement_id = $1 ORDER BY seq", agreement_id)


@pytest.fixture
def ledger(pool: asyncpg.Pool) -> LedgerActivities:
    return LedgerActivities(pool)


# record_decisions


async def test_record_decisions_writes_one_row_per_entry_with_every_column(pool, ledger):
    agreement_id = new_id()
    opened = Decision(kind="agreement_opened", stage=Stage.PROPOSAL, actor_body=factories.LICHFIELD,
                      payload=factories.request_data(agreement_id), decided_at=T0)
    written = chain(agreement_id, ChainHead(),
                    [opened, decision(1), decision(2, actor_body=None, actor_signatory=None)])

    await ledger.record_decisions(written)

    stored = await rows(pool, agreement_id)
    assert [{**row, "payload": json.loads(row["payload"])} for row in stored] == [
        {**entry.model_dump(), "stage": entry.stage.value, "recorded_at": row["recorded_at"]}
        for entry, row in zip(written, stored, strict=True)
    ]
    assert [row["seq"] for row in stored] == [1, 2, 3]
    assert stored[0]["prev_hash"] == GENESIS
    assert stored[2]["actor_body"] is None and stored[2]["actor_signatory"] is None


async def test_a_retry_after_commit_writes_nothing_more_and_succeeds(pool, ledger):
    agreement_id = new_id()
    written = entries(agreement_id)
    await ledger.record_decisions(written)
    before = await rows(pool, agreement_id)

    await ledger.record_decisions(written)

    assert await rows(pool, agreement_id) == before


async def test_a_batch_overlapping_stored_entries_adds_only_the_new_ones(pool, ledger):
    agreement_id = new_id()
    written = entries(agreement_id, count=4)
    await ledger.record_decisions(written[:2])

    await ledger.record_decisions(written)

    assert [row["hash"] for row in await rows(pool, agreement_id)] == [e.hash for e in written]


async def test_a_different_decision_at_a_used_seq_is_a_non_retryable_conflict(pool, ledger):
    agreement_id = new_id()
    await ledger.record_decisions(entries(agreement_id, count=2))
    before = await rows(pool, agreement_id)
    rival = entries(agreement_id, count=2, actor_signatory="Tom Barker")[1]

    with pytest.raises(ApplicationError) as raised:
        await ledger.record_decisions([rival])

    assert raised.value.type == LEDGER_CONFLICT
    assert raised.value.non_retryable is True
    assert f"#{rival.seq}" in str(raised.value)
    assert await rows(pool, agreement_id) == before


async def test_a_different_opening_of_an_existing_ledger_is_refused_as_agreement_exists(pool, ledger):
    agreement_id = new_id()
    await ledger.record_decisions(entries(agreement_id, count=2))
    before = await rows(pool, agreement_id)
    second_opening = entries(agreement_id, count=1, actor_signatory="Tom Barker")

    with pytest.raises(ApplicationError) as raised:
        await ledger.record_decisions(second_opening)

    assert raised.value.type == AGREEMENT_EXISTS and raised.value.non_retryable is True
    assert raised.value.message.startswith(
        f"agreement {agreement_id} already exists: it was opened at 2027-04-02 09:30 UTC")
    assert await rows(pool, agreement_id) == before


async def test_a_batch_is_all_or_nothing(pool, ledger):
    agreement_id = new_id()
    written = entries(agreement_id, count=3)
    await ledger.record_decisions(written[:2])
    before = await rows(pool, agreement_id)
    rival = entries(agreement_id, count=2, kind="milestone_withdrawn")[1]

    with pytest.raises(ApplicationError, match="LedgerConflict|already holds"):
        await ledger.record_decisions([written[2], rival])  # seq 3 is new, seq 2 conflicts

    assert await rows(pool, agreement_id) == before


async def test_the_store_names_the_conflicting_entry_and_when_its_rival_was_stored(pool):
    agreement_id = new_id()
    await store_ledger.append(pool, entries(agreement_id, count=2))
    rival = entries(agreement_id, count=2, actor_signatory="Tom Barker")[1]

    with pytest.raises(store_ledger.DecisionConflict) as raised:
        await store_ledger.append(pool, [rival])

    assert (raised.value.entry, raised.value.stored_at) == (rival, T0 + timedelta(days=2, microseconds=2))


# read_ledger / verify_ledger / the agreements the ledger holds


async def test_the_ledger_knows_which_agreements_it_holds(pool, ledger):
    agreement_id, unknown = new_id(), new_id()
    await ledger.record_decisions(entries(agreement_id, count=1))

    assert await store_ledger.has_decisions(pool, agreement_id)
    assert not await store_ledger.has_decisions(pool, unknown)
    held = await store_ledger.agreement_ids(pool)
    assert agreement_id in held and unknown not in held and held == sorted(held)



async def test_the_chain_survives_the_jsonb_round_trip(pool, ledger):
    agreement_id = new_id()
    payload = {
        "title": "Gwasanaeth gwastraff ar y cyd — Cyngor Sir Ynys Môn a Chyngor Gwynedd",
        "partners": [
            {"code": "W06000001", "name": "Cyngor Sir Ynys Môn", "signatory": "Siân Ó Súilleabháin"},
            {"code": "W06000002", "name": "Cyngor Gwynedd", "signatory": "Dafydd ap Gruffydd"},
        ],
        "contributions": {"W06000001": "2100000.00", "W06000002": "1600000.50", "total": "3700000.50"},
        "readings": {"missed-bins": {"value": "99.1250", "rag": "green", "notes": ["£5 levy", "naïve “quotes”"]}},
        "counts": [0, 1, 250000, -3],
        "z_last": None,
        "a_first": True,
        "empty": {"list": [], "dict": {}},
    }
    written = chain(agreement_id, ChainHead(), [
        decision(1, actor_signatory="Siân Ó Súilleabháin", payload=payload),
        decision(2, payload={"reason": "Cymeradwywyd gan y cyd-bwyllgor", "nested": [{"b": 2, "a": [1, "ŵ"]}]}),
    ])
    await ledger.record_decisions(written)

    assert await read_ledger(pool, agreement_id) == written
    verification = await verify_ledger(pool, agreement_id)
    assert (verification.valid, verification.entries, verification.first_bad_seq) == (True, 2, None)


async def test_an_unknown_agreement_has_an_empty_valid_ledger(pool):
    verification = await verify_ledger(pool, new_id())
    assert (verification.valid, verification.entries) == (True, 0)


# Append-only


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE decisions SET actor_signatory = 'Tom Barker' WHERE agreement_id = $1",
        "DELETE FROM decisions WHERE agreement_id = $1",
        "TRUNCATE decisions",
    ],
    ids=["update", "delete", "truncate"],
)
async def test_the_database_refuses_to_change_recorded_decisions(pool, ledger, statement):
    agreement_id = new_id()
    await ledger.record_decisions(entries(agreement_id))
    before = await rows(pool, agreement_id)

    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        transaction = conn.transaction()  # rolled back whatever happens, so a broken trigger harms no other test
        await transaction.start()
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute(statement, *([agreement_id] if "$1" in statement else []))
        finally:
            await transaction.rollback()

    assert await rows(pool, agreement_id) == before


# Tamper evidence


@asynccontextmanager
async def triggers_off(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A transaction with the ledger's triggers bypassed, as a superuser DBA could do.

    SET LOCAL ends with the transaction, committed or not, so the triggers are back for
    every other connection and test whatever happens here.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        yield conn


@pytest.mark.parametrize(
    ("tamper", "first_bad_seq", "problem"),
    [
        ("UPDATE decisions SET payload = jsonb_set(payload, '{percent_complete}', '100') "
         "WHERE agreement_id = $1 AND seq = 3", 3, "does not match its hash"),
        ("UPDATE decisions SET actor_signatory = 'Tom Barker' WHERE agreement_id = $1 AND seq = 2",
         2, "does not match its hash"),
        ("DELETE FROM decisions WHERE agreement_id = $1 AND seq = 3", 4, "expected sequence number 3, found 4"),
    ],
    ids=["payload-edited", "signatory-edited", "middle-row-deleted"],
)
async def test_verify_finds_the_first_tampered_row(pool, ledger, tamper, first_bad_seq, problem):
    agreement_id = new_id()
    await ledger.record_decisions(entries(agreement_id, count=5))

    async with triggers_off(pool) as conn:
        assert await conn.execute(tamper, agreement_id) in ("UPDATE 1", "DELETE 1")

    verification = await verify_ledger(pool, agreement_id)
    assert (verification.valid, verification.first_bad_seq) == (False, first_bad_seq)
    assert problem in verification.problem


async def test_rehashing_an_edited_row_is_caught_at_the_next_row(pool, ledger):
    agreement_id = new_id()
    written = entries(agreement_id, count=5)
    await ledger.record_decisions(written)
    forged = chain(agreement_id, ChainHead(seq=2, hash=written[1].hash), [decision(3, actor_signatory="Tom Barker")])[0]

    async with triggers_off(pool) as conn:
        await conn.execute("UPDATE decisions SET actor_signatory = $3, hash = $4 WHERE agreement_id = $1 AND seq = $2",
                           agreement_id, 3, forged.actor_signatory, forged.hash)

    verification = await verify_ledger(pool, agreement_id)
    assert (verification.valid, verification.first_bad_seq) == (False, 4)
    assert "link to the previous row" in verification.problem


async def test_a_tampered_row_that_no_longer_parses_is_reported_not_raised(pool, ledger):
    agreement_id = new_id()
    await ledger.record_decisions(entries(agreement_id, count=5))

    async with triggers_off(pool) as conn:
        await conn.execute("UPDATE decisions SET stage = 'approved' WHERE agreement_id = $1 AND seq = 3", agreement_id)

    verification = await verify_ledger(pool, agreement_id)
    assert (verification.valid, verification.first_bad_seq) == (False, 3)


# Alerts


def alert(agreement_id: str, level: str = "amber", condition: str = "stage:sign_off:3", **overrides: Any) -> Alert:
    waiting = [Waiting(body=factories.TAMWORTH, body_name="Tamworth Borough Council", for_what="sign-off"),
               Waiting(body="W06000001", body_name="Cyngor Sir Ynys Môn", for_what="sign-off")]
    off_by = "has used 80% of its planned 30 days without completing" if level == "amber" else "is overdue by 2 days"
    fields = {
        "agreement_id": agreement_id, "title": TITLE, "kind": AlertKind.STAGE_DRIFT, "condition": condition,
        "level": level, "stage": Stage.SIGN_OFF, "subject": "the sign off stage", "off_by": off_by,
        "waiting_on": waiting, "reached_at": T0 + timedelta(days=24),
        "message": f"{TITLE} ({agreement_id}) is {level} in sign off: the sign off stage {off_by}. "
                   "Deadline 2027-05-01 09:30 UTC. Waiting on: Tamworth Borough Council (sign-off); "
                   "Cyngor Sir Ynys Môn (sign-off).",
    }
    return Alert(**{**fields, **overrides})


async def alert_rows(pool: asyncpg.Pool, agreement_id: str) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT * FROM alerts WHERE agreement_id = $1 ORDER BY id", agreement_id)


@pytest.fixture
async def notified(postgres_dsn: str, pool) -> AsyncIterator[asyncio.Queue[alerts.Announcement]]:
    """Every alert announced on the NOTIFY channel, from a dedicated listening connection."""
    queue: asyncio.Queue[alerts.Announcement] = asyncio.Queue()
    listener = await alerts.listen(postgres_dsn, queue.put_nowait)
    try:
        yield queue
    finally:
        await listener.close()
    assert listener.closed


async def next_alerts(queue: asyncio.Queue[alerts.Announcement], agreement_id: str, count: int, pool) -> list[Alert]:
    """The next ``count`` alerts announced for ``agreement_id`` (waiting at most 5 s for each), read from their rows."""
    received: list[Alert] = []
    while len(received) < count:
        announced = await asyncio.wait_for(queue.get(), timeout=5)
        if announced["agreement_id"] == agreement_id:
            details = await pool.fetchval("SELECT details FROM alerts WHERE id = $1", announced["alert_id"])
            alert = Alert.model_validate_json(details)
            assert (announced["level"], announced["message"]) == (alert.level, alert.message)
            received.append(alert)
    return received


async def test_raise_alerts_stores_each_level_of_each_condition_once(pool, ledger):
    agreement_id = new_id()
    raised = [
        alert(agreement_id, "amber"),
        alert(agreement_id, "red", reached_at=T0 + timedelta(days=30)),
        alert(agreement_id, "amber", condition="stage:sign_off:5"),
    ]

    await ledger.raise_alerts(raised)
    await ledger.raise_alerts([*raised, alert(agreement_id, "red", message="recomputed later, same level")])

    stored = await alert_rows(pool, agreement_id)
    assert [(row["condition"], row["level"]) for row in stored] == [(a.condition, a.level) for a in raised]
    assert [
        (row["kind"], row["stage"], row["message"], row["reached_at"], Alert.model_validate_json(row["details"]))
        for row in stored
    ] == [(a.kind.value, a.stage.value, a.message, a.reached_at, a) for a in raised]


async def test_each_new_alert_is_announced_once_with_its_row_id(ledger, notified, pool):
    agreement_id = new_id()
    raised = [alert(agreement_id, "amber"), alert(agreement_id, "red")]

    await ledger.raise_alerts(raised)
    assert await next_alerts(notified, agreement_id, 2, pool) == raised

    await ledger.raise_alerts(raised)  # nothing new: no NOTIFY
    sentinel = alert(agreement_id, "escalation 1")
    await ledger.raise_alerts([sentinel])
    # Notifications arrive in commit order, so a second NOTIFY of the repeat would come first.
    assert await next_alerts(notified, agreement_id, 1, pool) == [sentinel]


async def test_an_alert_too_large_for_a_notify_payload_is_still_stored_and_announced(pool, ledger, notified):
    agreement_id = new_id()
    # Implementation drift of a programme with 120 open milestones (a plan allows 200): drift lists every
    # open milestone id in waiting_on and again in the message.
    rounds = ", ".join(f"lichfield-north-round-{n:03d}-merged" for n in range(200))
    waiting = [Waiting(body=factories.LICHFIELD, body_name="Lichfield District Council",
                       for_what=f"milestones {rounds}")]
    big = alert(agreement_id, "red", condition="stage:implementation:4", stage=Stage.IMPLEMENTATION,
                subject="the implementation stage", waiting_on=waiting,
                message=f"{TITLE} is red in implementation. "
                        f"Waiting on: Lichfield District Council (milestones {rounds}).")
    assert len(big.model_dump_json().encode()) >= 8000

    await ledger.raise_alerts([big])

    assert len(await alert_rows(pool, agreement_id)) == 1
    announced = await asyncio.wait_for(notified.get(), timeout=5)
    while announced["agreement_id"] != agreement_id:
        announced = await asyncio.wait_for(notified.get(), timeout=5)
    assert announced["message"].endswith("...") and len(json.dumps(announced).encode()) < 8000


async def test_rows_cut_off_the_end_are_detected_against_the_workflows_head(pool, ledger):
    agreement_id = new_id()
    written = entries(agreement_id, count=5)
    await ledger.record_decisions(written)
    head = ChainHead(seq=written[-1].seq, hash=written[-1].hash)
    assert (await verify_ledger(pool, agreement_id, head)).valid

    async with triggers_off(pool) as conn:
        await conn.execute("DELETE FROM decisions WHERE agreement_id = $1 AND seq >= 4", agreement_id)

    assert (await verify_ledger(pool, agreement_id)).valid, "the chain alone cannot see a cut tail"
    verification = await verify_ledger(pool, agreement_id, head)
    assert (verification.valid, verification.first_bad_seq) == (False, 4)
    assert "ends at decision #3" in verification.problem


# Migrations


async def test_migrate_is_idempotent(pool):
    assert await migrate(pool) == []
    shipped = sorted((int(path.stem.split("_", 1)[0]), path.stem.split("_", 1)[1])
                     for path in MIGRATIONS.glob("*.sql"))
    assert shipped[:4] == [(1, "decision_ledger"), (2, "alert_delivery"), (3, "read_model"), (4, "directory")]
    assert [tuple(row) for row in await pool.fetch("SELECT version, name FROM schema_migrations ORDER BY version")] == (
        shipped)
