"""The decision ledger and alerts in PostgreSQL."""

import json

import asyncpg
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.drift import Alert
from domain.ledger import ChainVerification, LedgerEntry, canonical_json, verify

log = structlog.get_logger(__name__)

ALERT_CHANNEL = "concordat_alerts"
"""The PostgreSQL NOTIFY channel on which every new alert is published as JSON."""

_INSERT_DECISION = """
    INSERT INTO decisions (agreement_id, seq, stage, kind, actor_body, actor_signatory,
                           payload, decided_at, prev_hash, hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)
    ON CONFLICT (agreement_id, seq) DO NOTHING
    RETURNING seq
"""

_INSERT_ALERT = """
    INSERT INTO alerts (agreement_id, condition, level, kind, stage, message, details, reached_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
    ON CONFLICT (agreement_id, condition, level) DO NOTHING
    RETURNING id
"""


class LedgerActivities:
    """Writes decisions and alerts; every write is idempotent, so retries are safe."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn(name="record_decisions")
    async def record_decisions(self, entries: list[LedgerEntry]) -> None:
        """Append ``entries`` in one transaction; a retry finds them already there and succeeds."""
        async with self._pool.acquire() as conn, conn.transaction():
            for entry in entries:
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
                    stored = await conn.fetchval(
                        "SELECT hash FROM decisions WHERE agreement_id = $1 AND seq = $2", entry.agreement_id, entry.seq
                    )
                    if stored != entry.hash:
                        raise ApplicationError(
                            f"ledger of {entry.agreement_id} already holds a different decision #{entry.seq}",
                            type="LedgerConflict",
                            non_retryable=True,
                        )
        for entry in entries:
            log.info(
                "decision_recorded",
                agreement_id=entry.agreement_id,
                seq=entry.seq,
                kind=entry.kind,
                stage=entry.stage.value,
                actor_body=entry.actor_body,
                actor_signatory=entry.actor_signatory,
            )

    @activity.defn(name="raise_alerts")
    async def raise_alerts(self, alerts: list[Alert]) -> None:
        """Store each alert once, NOTIFY listeners when the row commits, and log it."""
        raised = []
        async with self._pool.acquire() as conn, conn.transaction():
            for alert in alerts:
                details = alert.model_dump_json()
                inserted = await conn.fetchval(
                    _INSERT_ALERT,
                    alert.agreement_id,
                    alert.condition,
                    alert.level,
                    alert.kind.value,
                    alert.stage.value,
                    alert.message,
                    details,
                    alert.reached_at,
                )
                if inserted is not None:
                    await conn.execute("SELECT pg_notify($1, $2)", ALERT_CHANNEL, details)
                    raised.append(alert)
        for alert in raised:
            log.warning(
                "alert_raised",
                agreement_id=alert.agreement_id,
                kind=alert.kind.value,
                level=alert.level,
                stage=alert.stage.value,
                subject=alert.subject,
                off_by=alert.off_by,
                waiting_on=[w.body_name for w in alert.waiting_on],
                message=alert.message,
            )


async def read_ledger(pool: asyncpg.Pool, agreement_id: str) -> list[LedgerEntry]:
    rows = await pool.fetch(
        """SELECT agreement_id, seq, stage, kind, actor_body, actor_signatory, payload::text AS payload,
                  decided_at, prev_hash, hash
           FROM decisions WHERE agreement_id = $1 ORDER BY seq""",
        agreement_id,
    )
    return [LedgerEntry.model_validate({**row, "payload": json.loads(row["payload"])}) for row in rows]


async def verify_ledger(pool: asyncpg.Pool, agreement_id: str) -> ChainVerification:
    """Recompute an agreement's hash chain from the stored rows."""
    return verify(agreement_id, await read_ledger(pool, agreement_id))
