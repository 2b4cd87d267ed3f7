"""The decision ledger and alerts in PostgreSQL."""

import json
from datetime import datetime

import asyncpg
import structlog
from pydantic import ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.outbox import active_subscriptions, enqueue_alert
from domain.drift import Alert
from domain.errors import AGREEMENT_EXISTS, LEDGER_CONFLICT, explain
from domain.ledger import ChainHead, ChainVerification, LedgerEntry, canonical_json, verify

log = structlog.get_logger(__name__)

ALERT_CHANNEL = "concordat_alerts"
"""The PostgreSQL NOTIFY channel on which every new alert is announced.

The payload is a small JSON object (alert_id, agreement_id, kind, level, stage, condition,
message): NOTIFY payloads must stay under 8000 bytes, so the full details are read from
the ``alerts`` row by ``alert_id``.
"""

_NOTIFY_LIMIT = 7000

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
        """Append ``entries`` atomically; a retry finds them already there and succeeds.

        One entry (most actions) is one statement, atomic on its own; several are written in one
        transaction. Raises a non-retryable ``ApplicationError``, having written nothing, when the ledger
        already holds a different decision at one of their sequence numbers: of type ``AgreementExists``
        when that is the opening decision (#1: another start of an agreement id that already has a
        ledger), ``LedgerConflict`` otherwise.
        """
        async with self._pool.acquire() as conn:
            if len(entries) == 1:
                await _append(conn, entries[0])
            else:
                async with conn.transaction():
                    for entry in entries:
                        await _append(conn, entry)
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
        """Store each alert once with its deliveries (the outbox, in the same transaction),
        NOTIFY listeners when the row commits, and log it. A retry finds the alert stored and adds nothing."""
        raised = []
        async with self._pool.acquire() as conn, conn.transaction():
            subscriptions = await active_subscriptions(conn)
            for alert in alerts:
                details = alert.model_dump_json()
                alert_id = await conn.fetchval(
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
                if alert_id is not None:
                    deliveries = await enqueue_alert(conn, alert_id, alert, subscriptions)
                    await conn.execute("SELECT pg_notify($1, $2)", ALERT_CHANNEL, announcement(alert_id, alert))
                    raised.append((alert, deliveries))
        for alert, deliveries in raised:
            log.warning(
                "alert_raised",
                agreement_id=alert.agreement_id,
                kind=alert.kind.value,
                alert_level=alert.level,
                stage=alert.stage.value,
                subject=alert.subject,
                off_by=alert.off_by,
                waiting_on=[w.body_name for w in alert.waiting_on],
                message=alert.message,
                deliveries=deliveries,
            )


async def _append(conn: asyncpg.Connection, entry: LedgerEntry) -> None:
    """Insert ``entry``, or find the very same decision already there (a retry); raise ``_conflict`` otherwise."""
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
            raise _conflict(entry, stored["decided_at"])


def _conflict(entry: LedgerEntry, stored_at: datetime) -> ApplicationError:
    """The failure for ``entry`` when the ledger holds another decision at its place, stored at ``stored_at``."""
    if entry.seq == 1:
        message = (f"agreement {entry.agreement_id} already exists: it was opened at {stored_at:%Y-%m-%d %H:%M} UTC "
                   "and an agreement id is used once, ever; nothing was written")
        problem = {"field": "agreement_id", "code": "agreement_exists", "message": message}
        return ApplicationError(message, [problem], type=AGREEMENT_EXISTS, non_retryable=True)
    message = f"ledger of {entry.agreement_id} already holds a different decision #{entry.seq}"
    problem = {"field": "", "code": "ledger_conflict", "message": message}
    return ApplicationError(message, [problem], type=LEDGER_CONFLICT, non_retryable=True)


def announcement(alert_id: int, alert: Alert) -> str:
    """The NOTIFY payload for a new alert, cut to fit PostgreSQL's limit."""
    envelope = {
        "alert_id": alert_id,
        "agreement_id": alert.agreement_id,
        "kind": alert.kind.value,
        "level": alert.level,
        "stage": alert.stage.value,
        "condition": alert.condition,
        "message": alert.message,
    }
    text = json.dumps(envelope, ensure_ascii=False)
    excess = len(text.encode()) - _NOTIFY_LIMIT
    if excess > 0:
        message = alert.message.encode()[: max(0, len(alert.message.encode()) - excess - 3)]
        envelope["message"] = message.decode(errors="ignore") + "..."
        text = json.dumps(envelope, ensure_ascii=False)
    return text


async def _ledger_rows(pool: asyncpg.Pool, agreement_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT agreement_id, seq, stage, kind, actor_body, actor_signatory, payload::text AS payload,
                  decided_at, prev_hash, hash
           FROM decisions WHERE agreement_id = $1 ORDER BY seq""",
        agreement_id,
    )


def _entry(row: asyncpg.Record) -> LedgerEntry:
    return LedgerEntry.model_validate({**row, "payload": json.loads(row["payload"])})


async def read_ledger(pool: asyncpg.Pool, agreement_id: str) -> list[LedgerEntry]:
    return [_entry(row) for row in await _ledger_rows(pool, agreement_id)]


async def verify_ledger(
    pool: asyncpg.Pool, agreement_id: str, expected_head: ChainHead | None = None
) -> ChainVerification:
    """Recompute an agreement's hash chain from the stored rows.

    With ``expected_head`` (the head the agreement's workflow holds), rows cut off the
    end of the chain are detected too.
    """
    entries = []
    for row in await _ledger_rows(pool, agreement_id):
        try:
            entries.append(_entry(row))
        except ValidationError as error:
            so_far = verify(agreement_id, entries)
            if not so_far.valid:
                return so_far
            return ChainVerification(
                agreement_id=agreement_id, entries=len(entries) + 1, valid=False, first_bad_seq=row["seq"],
                problem=f"the row is no longer a readable decision ({explain(error)})",
            )
    return verify(agreement_id, entries, expected_head)
