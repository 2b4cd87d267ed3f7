"""Recording in the ledger what no workflow code sees: an agreement whose workflow an operator terminated.

A terminated workflow runs no more code, so its agreement's ledger would end open. The reconciler (run by
``starter.py reconcile``, on the schedule the operators' guide gives) finds each terminated agreement and calls
``record_termination``, which closes its ledger as a withdrawal is closed: a ``terminated`` decision by nobody
(who terminated it, why, when) and the move to closed, chained after the ledger's head.
"""

from __future__ import annotations

from datetime import datetime

from domain.agreement import ClosedOutcome
from domain.ledger import ChainHead, Decision, LedgerEntry, chain
from domain.model import Stage
from store.database import Pool
from store.ledger import entry_from_row, insert_entry

_SELECT_LEDGER = """
    SELECT agreement_id, seq, stage, kind, actor_body, actor_signatory, payload::text AS payload,
           decided_at, prev_hash, hash
    FROM decisions WHERE agreement_id = $1 ORDER BY seq
"""


def _stage_now(entries: list[LedgerEntry]) -> Stage:
    """The stage the ledger leaves the agreement in: where its last stage change went."""
    moves = [entry for entry in entries if entry.kind == "stage_changed"]
    return Stage(moves[-1].payload["to"]) if moves else entries[-1].stage


async def record_termination(
    pool: Pool, agreement_id: str, *, terminated_at: datetime, reason: str, identity: str
) -> list[LedgerEntry]:
    """Close the ledger of ``agreement_id``, whose workflow was terminated at ``terminated_at`` (UTC) by
    ``identity`` (Temporal's record of the caller) with ``reason``; returns the entries written: none when the
    ledger holds no decision of it or already ends closed (a retry, or a cancellation recorded by the workflow).
    One transaction, under the advisory lock the ledger's writers take for the agreement."""
    why = f"an operator terminated the agreement's workflow: {reason or 'no reason given'}"
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", agreement_id)
        entries = [entry_from_row(row) for row in await conn.fetch(_SELECT_LEDGER, agreement_id)]
        if not entries or _stage_now(entries) is Stage.CLOSED:
            return []
        stage = _stage_now(entries)
        outcome = ClosedOutcome.TERMINATED.value
        decisions = [
            Decision(kind="terminated", stage=stage, decided_at=terminated_at,
                     payload={"reason": why, "requested_by": identity or "unknown",
                              "terminated_at": terminated_at.isoformat()}),
            Decision(kind="stage_changed", stage=Stage.CLOSED, decided_at=terminated_at,
                     payload={"from": stage.value, "to": Stage.CLOSED.value, "reason": f"{outcome}: {why}"}),
        ]
        head = ChainHead(seq=entries[-1].seq, hash=entries[-1].hash)
        written = chain(agreement_id, head, decisions)
        for entry in written:
            await insert_entry(conn, entry)
        return written
