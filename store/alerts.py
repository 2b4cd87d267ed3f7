"""Alerts (table ``alerts``, migration 0001): each level a drift condition reaches, stored once, its deliveries
enqueued in the same transaction, and announced with NOTIFY on ``ALERT_CHANNEL`` when it commits."""

import json
from collections.abc import Callable
from typing import TypedDict

import asyncpg
from pydantic import BaseModel, ConfigDict

from domain.drift import Alert
from store import outbox
from store.database import Pool

ALERT_CHANNEL = "concordat_alerts"
"""The PostgreSQL NOTIFY channel on which every new alert is announced.

The payload is a small JSON object (an ``Announcement``): NOTIFY payloads must stay under 8000 bytes, so the
full details are read from the ``alerts`` row by ``alert_id``.
"""

_NOTIFY_LIMIT = 7000

_INSERT_ALERT = """
    INSERT INTO alerts (agreement_id, condition, level, kind, stage, message, details, reached_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)
    ON CONFLICT (agreement_id, condition, level) DO NOTHING
    RETURNING id
"""


class Announcement(TypedDict):
    """What ``ALERT_CHANNEL`` carries for one new alert; ``message`` may be cut short, ending "..."."""

    alert_id: int
    agreement_id: str
    kind: str
    level: str
    stage: str
    condition: str
    message: str


class RaisedAlert(BaseModel):
    """An alert new to the database, and how many deliveries were enqueued for it."""

    model_config = ConfigDict(frozen=True)

    alert: Alert
    deliveries: int


async def raise_alerts(pool: Pool, alerts: list[Alert]) -> list[RaisedAlert]:
    """Store each alert once (per agreement, condition and level) with its deliveries to the active
    subscriptions it reaches, in one transaction, and NOTIFY ``ALERT_CHANNEL`` of each when it commits.

    Returns the alerts that were new; a repeat (a retry) stores, enqueues and announces nothing."""
    raised = []
    async with pool.acquire() as conn, conn.transaction():
        subscriptions = await outbox.active_subscriptions(conn)
        for alert in alerts:
            alert_id = await conn.fetchval(
                _INSERT_ALERT,
                alert.agreement_id,
                alert.condition,
                alert.level,
                alert.kind.value,
                alert.stage.value,
                alert.message,
                alert.model_dump_json(),
                alert.reached_at,
            )
            if alert_id is not None:
                deliveries = await outbox.enqueue_alert(conn, alert_id, alert, subscriptions)
                await conn.execute("SELECT pg_notify($1, $2)", ALERT_CHANNEL, announcement(alert_id, alert))
                raised.append(RaisedAlert(alert=alert, deliveries=deliveries))
    return raised


def announcement(alert_id: int, alert: Alert) -> str:
    """The NOTIFY payload (an ``Announcement`` as JSON) for a new alert, its message cut to fit PostgreSQL's
    limit."""
    envelope = Announcement(
        alert_id=alert_id,
        agreement_id=alert.agreement_id,
        kind=alert.kind.value,
        level=alert.level,
        stage=alert.stage.value,
        condition=alert.condition,
        message=alert.message,
    )
    text = json.dumps(envelope, ensure_ascii=False)
    excess = len(text.encode()) - _NOTIFY_LIMIT
    if excess > 0:
        message = alert.message.encode()[: max(0, len(alert.message.encode()) - excess - 3)]
        envelope["message"] = message.decode(errors="ignore") + "..."
        text = json.dumps(envelope, ensure_ascii=False)
    return text


class AlertListener:
    """A dedicated connection listening on ``ALERT_CHANNEL``, from ``listen``."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    @property
    def closed(self) -> bool:
        """Whether the connection has closed (by ``close``, or lost): listen again for more announcements."""
        return bool(self._connection.is_closed())

    async def close(self) -> None:
        """Stop listening and close the connection."""
        await self._connection.close()


async def listen(dsn: str, on_alert: Callable[[Announcement], None]) -> AlertListener:
    """Call ``on_alert`` with each new alert's announcement, on a connection of its own to ``dsn``, until the
    listener returned is closed. Raises one of ``store.database.CONNECT_ERRORS`` if the database cannot be
    reached."""
    connection = await asyncpg.connect(dsn)

    def announced(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        on_alert(json.loads(payload))

    await connection.add_listener(ALERT_CHANNEL, announced)
    return AlertListener(connection)
