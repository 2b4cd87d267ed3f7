"""The decision ledger (table ``decisions``, migration 0001): append entries idempotently, read and verify them.

The table is append-only (a trigger refuses UPDATE, DELETE and TRUNCATE), one row per decision, chained by hash.
"""

import json
from datetime import datetime

import asyncpg
from pydantic import ValidationError

from domain.errors import explain
from domain.ledger import (
    RESET_RECORDED,
    ChainHead,
    ChainVerification,
    Decision,
    LedgerEntry,
    canonical_json,
    chain,
    verify,
)
from store.database import Pool

_INSERT_DECISION = """
    INSERT INTO decisions (agreement_id, seq, stage, kind, actor_body, actor_signatory,
                           payload, decided_at, prev_hash, hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)
    ON CONFLICT (agreement_id, seq) DO NOTHING
    RETURNING seq
"""

_SELECT_DECISIONS = """
    SELECT agreement_id, seq, stage, kind, actor_body, actor_signatory, payload::text AS payload,
           decided_at, prev_hash, hash
    FROM decisions WHERE agreement_id = $1 ORDER BY seq
"""


class DecisionConflict(Exception):
    """The ledger already holds a different decision at ``entry``'s place (its agreement and sequence number),
    stored at ``stored_at``."""

    def __init__(self, entry: LedgerEntry, stored_at: datetime) -> None:
        super().__init__(f"ledger of {entry.agreement_id} already holds a different decision #{entry.seq}")
        self.entry = entry
        self.stored_at = stored_at


async def append(pool: Pool, entries: list[LedgerEntry]) -> None:
    """Append ``entries`` atomically; entries already there (a retry) are found and skipped.

    One entry is one statement, atomic on its own; several are written in one transaction. Raises
    ``DecisionConflict``, having written nothing, when the ledger holds a different decision at one of their
    sequence numbers.
    """
    async with pool.acquire() as conn:
        if len(entries) == 1:
            await insert_entry(conn, entries[0])
        else:
            async with conn.transaction():
                for entry in entries:
                    await insert_entry(conn, entry)


async def insert_entry(conn: asyncpg.Connection, entry: LedgerEntry) -> None:
    """On ``conn``: insert ``entry``, or find the very same decision already there (a retry); raise ``DecisionConflict``
    otherwise."""
    inserted = await conn.fetchval(
        _INSERT_DECISION,
        entry.agreement_id,
        entry.seq,
        entry.stage.value,
        entry.kind,
        entry.actor_body,
        entry.actor_signatory,
        canonical_json(entry.payload),
        entry.decided_at,
        entry.prev_hash,
        entry.hash,
    )
    if inserted is None:
        stored = await conn.fetchrow(
            "SELECT hash, decided_at FROM decisions WHERE agreement_id = $1 AND seq = $2", entry.agreement_id, entry.seq
        )
        if stored["hash"] != entry.hash:
            raise DecisionConflict(entry, stored["decided_at"])


_SELECT_DECISIONS_AFTER = """
    SELECT agreement_id, seq, stage, kind, actor_body, actor_signatory, payload::text AS payload,
           decided_at, prev_hash, hash
    FROM decisions WHERE agreement_id = $1 AND seq > $2 ORDER BY seq
"""


async def append_at_ledger_head(pool: Pool, entries: list[LedgerEntry]) -> list[LedgerEntry]:
    """Record ``entries`` (chained after the workflow's head: ``entries[0].seq - 1``) where the ledger has moved
    past that head, as it has after a Temporal reset; returns the entries as the ledger holds them.

    The ledger is the record: when the decisions it holds right after the head are the same decisions (kind,
    stage, actor and payload; the time aside), they are a repeat and are returned as stored, nothing written.
    Otherwise a ``reset_recorded`` decision is appended at the ledger's head, naming the decisions the workflow
    no longer holds (``undone``: first and last sequence numbers) and the head it resumed from, and ``entries``
    are chained after it. A retry finds that done and returns it. Runs in one transaction under an advisory lock
    of the agreement. ``entries`` must follow an opening (a head at #1 or later).
    """
    agreement_id, head_seq = entries[0].agreement_id, entries[0].seq - 1
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", agreement_id)
        after = [entry_from_row(row) for row in await conn.fetch(_SELECT_DECISIONS_AFTER, agreement_id, head_seq)]
        if _same(after[:len(entries)], entries):
            return after[:len(entries)]
        tail = after[-len(entries) - 1:]
        if (len(tail) == len(entries) + 1 and tail[0].kind == RESET_RECORDED
                and tail[0].payload.get("resumed_from") == head_seq and _same(tail[1:], entries)):
            return tail[1:]
        if not after:
            written = entries
        else:
            undone = Decision(
                kind=RESET_RECORDED, stage=entries[0].stage, decided_at=entries[0].decided_at,
                payload={"undone": [after[0].seq, after[-1].seq], "resumed_from": head_seq},
            )
            ledger_head = ChainHead(seq=after[-1].seq, hash=after[-1].hash)
            decisions = [Decision.model_validate(e.model_dump(include=set(Decision.model_fields))) for e in entries]
            written = chain(agreement_id, ledger_head, [undone, *decisions])
        for entry in written:
            await insert_entry(conn, entry)
        return written[-len(entries):]


def _same(stored: list[LedgerEntry], entries: list[LedgerEntry]) -> bool:
    """Whether ``stored`` holds the very decisions of ``entries`` in order, whenever each was decided."""
    fields = {"kind", "stage", "actor_body", "actor_signatory", "payload"}
    return len(stored) == len(entries) and all(
        s.model_dump(include=fields) == e.model_dump(include=fields) for s, e in zip(stored, entries, strict=True))


def entry_from_row(row: asyncpg.Record) -> LedgerEntry:
    """The ledger entry a ``decisions`` row holds; pydantic's ``ValidationError`` if it no longer is one."""
    return LedgerEntry.model_validate({**row, "payload": json.loads(row["payload"])})


async def read_ledger(pool: Pool, agreement_id: str) -> list[LedgerEntry]:
    """An agreement's decisions in sequence order (none if the ledger holds none for it).

    Raises pydantic's ``ValidationError`` if a row was tampered with so that it is no longer a decision;
    ``verify_ledger`` reports that instead."""
    return [entry_from_row(row) for row in await pool.fetch(_SELECT_DECISIONS, agreement_id)]


async def verify_ledger(pool: Pool, agreement_id: str, expected_head: ChainHead | None = None, *,
                        terminated: bool = False) -> ChainVerification:
    """Recompute an agreement's hash chain from the stored rows.

    With ``expected_head`` (the head the agreement's workflow holds), rows cut off the
    end of the chain are detected too; ``terminated`` (the workflow was) lets the reconciler's closing rows
    follow it. A row that no longer parses is reported, not raised.
    """
    entries = []
    for row in await pool.fetch(_SELECT_DECISIONS, agreement_id):
        try:
            entries.append(entry_from_row(row))
        except ValidationError as error:
            so_far = verify(agreement_id, entries)
            if not so_far.valid:
                return so_far
            return ChainVerification(
                agreement_id=agreement_id, entries=len(entries) + 1, valid=False, first_bad_seq=row["seq"],
                problem=f"the row is no longer a readable decision ({explain(error)})",
            )
    return verify(agreement_id, entries, expected_head, terminated=terminated)


async def has_decisions(pool: Pool, agreement_id: str) -> bool:
    """Whether the ledger holds at least one decision of ``agreement_id``."""
    return bool(await pool.fetchval("SELECT 1 FROM decisions WHERE agreement_id = $1 LIMIT 1", agreement_id))


async def agreement_ids(pool: Pool) -> list[str]:
    """Every agreement id the ledger holds decisions of, in text order."""
    return [row["agreement_id"] for row in await pool.fetch("SELECT DISTINCT agreement_id FROM decisions ORDER BY 1")]
