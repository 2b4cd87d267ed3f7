"""Alert subscriptions and the delivery outbox in PostgreSQL (migration 0002_alert_delivery).

``enqueue_alert`` runs inside ``store.alerts.raise_alerts``'s transaction, so an alert and its deliveries
commit together or not at all. The dispatcher claims due deliveries with ``claim_due``
(``FOR UPDATE SKIP LOCKED``, so several dispatchers never take the same row), and records
each attempt's outcome with ``record_sent`` or ``record_failed``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import TypedDict, cast

import asyncpg
from pydantic import BaseModel, ConfigDict

from domain.delivery import Subscription, recipients
from domain.drift import Alert
from domain.model import AS_RECORDED
from store.database import Pool

INTERRUPTED = "interrupted: the dispatcher stopped before the outcome was known; resent with the same delivery id"

_SUBSCRIPTION_COLUMNS = (
    "id, label, channel, address, secret, bodies, relation, kinds, levels, escalation_from, cadence"
)


def _subscription(row: asyncpg.Record) -> Subscription:
    """A stored subscription, read as it was stored (an address accepted under older rules still loads; the
    dispatcher refuses to send to it, ``dispatcher.channels.deliver``)."""
    return Subscription.model_validate({key: value for key, value in row.items() if key in Subscription.model_fields},
                                       context={AS_RECORDED: True})


async def active_subscriptions(conn: asyncpg.Connection | Pool) -> list[Subscription]:
    """The subscriptions not removed, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_SUBSCRIPTION_COLUMNS} FROM alert_subscriptions WHERE removed_at IS NULL ORDER BY id"
    )
    return [_subscription(row) for row in rows]


async def enqueue_alert(
    conn: asyncpg.Connection, alert_id: int, alert: Alert, subscriptions: list[Subscription]
) -> int:
    """Write one pending delivery per subscription the alert reaches; returns how many."""
    targets = [s.id for s in recipients(subscriptions, alert)]
    if targets:
        await conn.execute(
            """INSERT INTO alert_deliveries (subscription_id, alert_id)
               SELECT unnest($1::bigint[]), $2
               ON CONFLICT DO NOTHING""",
            targets,
            alert_id,
        )
    return len(targets)


async def add_subscription(pool: Pool, subscription: Subscription) -> Subscription:
    """Store ``subscription`` (its ``id`` is ignored); returns it with the id it was given."""
    row = await pool.fetchrow(
        f"""INSERT INTO alert_subscriptions (label, channel, address, secret, bodies, relation, kinds, levels,
                                             escalation_from, cadence)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            RETURNING {_SUBSCRIPTION_COLUMNS}""",
        subscription.label,
        subscription.channel.value,
        subscription.address,
        subscription.secret,
        subscription.bodies,
        subscription.relation.value,
        subscription.kinds,
        [level.value for level in subscription.levels],
        subscription.escalation_from,
        subscription.cadence.value,
    )
    return _subscription(row)


async def remove_subscription(pool: Pool, subscription_id: int) -> int | None:
    """Stop a subscription; its pending deliveries are cancelled. Returns how many, or None if unknown."""
    async with pool.acquire() as conn, conn.transaction():
        removed = await conn.fetchval(
            "UPDATE alert_subscriptions SET removed_at = now() WHERE id = $1 AND removed_at IS NULL RETURNING id",
            subscription_id,
        )
        if removed is None:
            return None
        status = await conn.execute(
            """UPDATE alert_deliveries SET status = 'cancelled', last_error = 'the subscription was removed'
               WHERE subscription_id = $1 AND status = 'pending'""",
            subscription_id,
        )
    return int(status.split()[-1])


class SubscriptionRow(TypedDict):
    """One subscription as ``list_subscriptions`` shows it (its secret left out)."""

    id: int
    label: str
    channel: str
    address: str
    bodies: list[str]
    relation: str
    kinds: list[str]
    levels: list[str]
    escalation_from: int
    cadence: str
    created_at: datetime
    removed_at: datetime | None


async def list_subscriptions(pool: Pool, *, include_removed: bool) -> list[SubscriptionRow]:
    """The subscriptions (the removed ones too if ``include_removed``), oldest first, without their secrets."""
    rows = await pool.fetch(
        """SELECT id, label, channel, address, bodies, relation, kinds, levels, escalation_from, cadence,
                  created_at, removed_at
           FROM alert_subscriptions WHERE $1 OR removed_at IS NULL ORDER BY id""",
        include_removed,
    )
    return [cast(SubscriptionRow, dict(row)) for row in rows]


class Claimed(BaseModel):
    """A delivery taken by one dispatcher for one attempt."""

    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    attempt: int
    subscription: Subscription
    alert: Alert | None
    digest: list[Alert] | None
    digest_key: str | None


async def claim_due(pool: Pool, limit: int, lease_seconds: float) -> list[Claimed]:
    """Take up to ``limit`` due deliveries for one attempt each.

    A claimed row is not due again for ``lease_seconds``: if this dispatcher dies while
    sending, another takes the delivery after the lease, with the same id.
    """
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            """WITH due AS (
                   SELECT id FROM alert_deliveries
                   WHERE status = 'pending' AND next_attempt_at <= now()
                   ORDER BY next_attempt_at
                   LIMIT $1
                   FOR UPDATE SKIP LOCKED)
               UPDATE alert_deliveries d
               SET attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
               FROM due WHERE d.id = due.id
               RETURNING d.id, d.attempts, d.subscription_id, d.alert_id, d.digest_key, d.digest::text AS digest""",
            limit,
            lease_seconds,
        )
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        await conn.execute(
            """UPDATE alert_delivery_attempts SET outcome = 'failed', error = $2, finished_at = now()
               WHERE delivery_id = ANY($1) AND outcome IS NULL""",
            ids,
            INTERRUPTED,
        )
        await conn.executemany(
            "INSERT INTO alert_delivery_attempts (delivery_id, attempt) VALUES ($1, $2)",
            [(row["id"], row["attempts"]) for row in rows],
        )
        subscriptions = {
            row["id"]: _subscription(row)
            for row in await conn.fetch(
                f"SELECT {_SUBSCRIPTION_COLUMNS} FROM alert_subscriptions WHERE id = ANY($1)",
                [row["subscription_id"] for row in rows],
            )
        }
        alerts = {
            row["id"]: Alert.model_validate_json(row["details"])
            for row in await conn.fetch(
                "SELECT id, details::text AS details FROM alerts WHERE id = ANY($1)",
                [row["alert_id"] for row in rows if row["alert_id"] is not None],
            )
        }
    return [
        Claimed(
            id=row["id"],
            attempt=row["attempts"],
            subscription=subscriptions[row["subscription_id"]],
            alert=alerts.get(row["alert_id"]),
            digest=[Alert.model_validate(a) for a in json.loads(row["digest"])] if row["digest"] else None,
            digest_key=row["digest_key"],
        )
        for row in rows
    ]


async def record_sent(pool: Pool, delivery_id: uuid.UUID, attempt: int) -> None:
    """Mark the delivery sent (unless it was cancelled meanwhile) and its ``attempt`` as the one that sent it.
    The last error of an earlier attempt stays, so that a delivery retried by hand still says what went wrong."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """UPDATE alert_deliveries SET status = 'sent', sent_at = now()
               WHERE id = $1 AND status = 'pending'""",
            delivery_id,
        )
        await conn.execute(
            """UPDATE alert_delivery_attempts SET outcome = 'sent', finished_at = now()
               WHERE delivery_id = $1 AND attempt = $2""",
            delivery_id,
            attempt,
        )


async def record_failed(
    pool: Pool, delivery_id: uuid.UUID, attempt: int, error: str, retry_in_seconds: float,
    give_up_after_seconds: float,
) -> str:
    """Record a failed attempt; the delivery is retried in ``retry_in_seconds``, or marked failed
    when that would fall beyond ``give_up_after_seconds`` from its first try (or its last manual retry).
    Returns the delivery's status: ``pending`` or ``failed``."""
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval(
            """UPDATE alert_deliveries
               SET next_attempt_at = now() + make_interval(secs => $3),
                   last_error = $2,
                   status = CASE WHEN now() + make_interval(secs => $3) > window_start + make_interval(secs => $4)
                                 THEN 'failed' ELSE 'pending' END
               WHERE id = $1 AND status = 'pending'
               RETURNING status""",
            delivery_id,
            error,
            retry_in_seconds,
            give_up_after_seconds,
        )
        await conn.execute(
            """UPDATE alert_delivery_attempts SET outcome = 'failed', error = $3, finished_at = now()
               WHERE delivery_id = $1 AND attempt = $2""",
            delivery_id,
            attempt,
            error,
        )
    return status or "cancelled"


async def retry_delivery(pool: Pool, delivery_id: uuid.UUID) -> str | None:
    """Send a failed delivery again now, with a fresh give-up window. Returns the delivery's status before
    (``failed`` when it is now retried; ``pending``, ``sent`` or ``cancelled`` when it is left as it was: a
    failed delivery whose subscription was removed since counts as ``cancelled``), or None when there is none."""
    async with pool.acquire() as conn, conn.transaction():
        status: str | None = await conn.fetchval(
            """SELECT CASE WHEN s.removed_at IS NOT NULL THEN 'cancelled' ELSE d.status END
               FROM alert_deliveries d JOIN alert_subscriptions s ON s.id = d.subscription_id
               WHERE d.id = $1 FOR UPDATE OF d""", delivery_id)
        if status == "failed":
            await conn.execute(
                """UPDATE alert_deliveries SET status = 'pending', next_attempt_at = now(), window_start = now()
                   WHERE id = $1""",
                delivery_id,
            )
    return status


class DeliveryRow(TypedDict):
    """One delivery as ``list_deliveries`` shows it: its state, its recipient and what it carries."""

    id: uuid.UUID
    status: str
    """pending, sent, failed or cancelled."""
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
    subscription_id: int
    label: str
    channel: str
    carries: str
    """"{agreement id} {level} ({kind})" for an alert, "digest {key}" for a digest."""


async def list_deliveries(pool: Pool, status: str | None, limit: int) -> list[DeliveryRow]:
    """At most ``limit`` deliveries (those with ``status`` only, unless None), newest first."""
    rows = await pool.fetch(
        """SELECT d.id, d.status, d.attempts, d.created_at, d.next_attempt_at, d.sent_at, d.last_error,
                  s.id AS subscription_id, s.label, s.channel,
                  coalesce(a.agreement_id || ' ' || a.level || ' (' || a.kind || ')',
                           'digest ' || d.digest_key) AS carries
           FROM alert_deliveries d
           JOIN alert_subscriptions s ON s.id = d.subscription_id
           LEFT JOIN alerts a ON a.id = d.alert_id
           WHERE $1::text IS NULL OR d.status = $1
           ORDER BY d.created_at DESC, d.id
           LIMIT $2""",
        status,
        limit,
    )
    return [cast(DeliveryRow, dict(row)) for row in rows]


async def seconds_until_due(pool: Pool) -> float | None:
    """Seconds until the earliest pending delivery falls due (negative if overdue); None if none is pending."""
    wait: float | None = await pool.fetchval(
        """SELECT extract(epoch FROM min(next_attempt_at) - now())::float8
           FROM alert_deliveries WHERE status = 'pending'"""
    )
    return wait


async def enqueue_digest(pool: Pool, subscription: Subscription, digest_key: str, alerts: list[Alert]) -> bool:
    """Write one digest delivery of ``alerts`` to ``subscription`` (as stored, with its id), once per
    ``digest_key`` (the period); False if it was already there. Raises ValueError for a subscription not stored."""
    if subscription.id is None:
        raise ValueError(f"subscription {subscription.label!r} is not stored: it has no id")
    payload = json.dumps([a.model_dump(mode="json") for a in alerts], ensure_ascii=False)
    inserted = await pool.fetchval(
        """INSERT INTO alert_deliveries (subscription_id, digest_key, digest)
           VALUES ($1, $2, $3::jsonb)
           ON CONFLICT DO NOTHING RETURNING id""",
        subscription.id,
        digest_key,
        payload,
    )
    return inserted is not None
