"""The dispatcher: sends the outbox's deliveries, each until it is taken or its time runs out.

It wakes when an alert is announced on ``concordat_alerts``, when the next retry falls due,
and at least every ``CONCORDAT_DELIVERY_POLL_SECONDS``. Each round it claims up to a batch of
due deliveries (``FOR UPDATE SKIP LOCKED``: dispatchers share the work and never take the same
row), records the attempt, sends them concurrently, and records each outcome. A failed attempt
is retried after an exponential backoff kept in the row (``next_attempt_at``, ``attempts``), unless the receiver's
answer says a retry cannot help (a permanent 4xx such as 413: ``DeliveryError.permanent``), when it is failed at once;
a delivery still failing ``CONCORDAT_DELIVERY_GIVE_UP_SECONDS`` after it was first due is marked
failed. A dispatcher that dies mid-send leaves the row claimed for ``CONCORDAT_DELIVERY_LEASE_SECONDS``;
then any dispatcher sends it again under the same delivery id.
"""

from __future__ import annotations

import asyncio

import httpx
import structlog

from dispatcher.channels import DeliveryError, deliver
from dispatcher.messages import render
from dispatcher.settings import DispatcherSettings
from store import alerts, outbox
from store.database import OUTAGE_ERRORS, Pool
from store.outbox import Claimed

log = structlog.get_logger("concordat.dispatcher")


class Dispatcher:
    def __init__(self, pool: Pool, settings: DispatcherSettings) -> None:
        self._pool = pool
        self._settings = settings
        self._wake = asyncio.Event()
        self._listener: alerts.AlertListener | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; the batch in flight is finished first."""
        settings = self._settings
        try:
            async with httpx.AsyncClient(timeout=settings.send_timeout_seconds) as client:
                while not stop.is_set():
                    self._wake.clear()
                    try:
                        await self._keep_listening()
                        claimed = await self.dispatch_once(client)
                        if len(claimed) == settings.batch_size:
                            continue
                        pause = await self._until_next_due()
                    except OUTAGE_ERRORS as error:
                        log.warning("dispatcher_database_unavailable", error=str(error))
                        pause = min(settings.poll_seconds, 5.0)
                    await self._sleep(pause, stop)
        finally:
            if self._listener is not None and not self._listener.closed:
                await self._listener.close()

    async def dispatch_once(self, client: httpx.AsyncClient) -> list[Claimed]:
        """Claim the due deliveries (up to a batch), send them, and record each outcome."""
        claimed = await outbox.claim_due(self._pool, self._settings.batch_size, self._settings.lease_seconds)
        outcomes = await asyncio.gather(*(self._attempt(client, d) for d in claimed), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # the database failed while recording: the rows are retried after their lease
        return claimed

    async def _attempt(self, client: httpx.AsyncClient, delivery: Claimed) -> None:
        settings = self._settings
        subscription = delivery.subscription
        context = {"delivery_id": str(delivery.id), "subscription_id": subscription.id,
                   "channel": subscription.channel.value, "attempt": delivery.attempt}
        try:
            message = render(delivery, settings.web_ui_url, settings.namespace, settings.pages_url)
            await deliver(settings, client, subscription, message)
        except Exception as error:
            # A receiver's refusal (DeliveryError) or anything unforeseen in this one delivery: recorded
            # as a failed attempt and retried, so that one bad delivery never stops the others.
            if not isinstance(error, DeliveryError):
                log.exception("delivery_error_unexpected", **context)
            reason = str(error) if isinstance(error, DeliveryError) else f"{type(error).__name__}: {error}"
            retry_in = settings.backoff_seconds(delivery.attempt)
            permanent = isinstance(error, DeliveryError) and error.permanent
            status = await outbox.record_failed(self._pool, delivery.id, delivery.attempt, reason, retry_in,
                                                0.0 if permanent else settings.give_up_seconds)
            if status == "failed":
                log.error("delivery_failed", **context, error=reason)
            else:
                log.warning("delivery_attempt_failed", **context, error=reason, retry_in_seconds=retry_in)
            return
        await outbox.record_sent(self._pool, delivery.id, delivery.attempt)
        log.info("delivery_sent", **context, subject=message.subject)

    async def _until_next_due(self) -> float:
        """Seconds until the earliest pending delivery falls due, at most the poll interval."""
        wait = await outbox.seconds_until_due(self._pool)
        poll = self._settings.poll_seconds
        return poll if wait is None else max(0.0, min(wait, poll))

    async def _keep_listening(self) -> None:
        """(Re)open the LISTEN connection, so a new alert wakes the dispatcher at once."""
        if self._listener is not None and not self._listener.closed:
            return
        self._listener = await alerts.listen(self._settings.database_url or "", lambda _: self._wake.set())

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        """Until ``seconds`` pass, an alert is announced, or ``stop`` is set."""
        if seconds <= 0:
            return
        stopping = asyncio.ensure_future(stop.wait())
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([stopping, woken], timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            woken.cancel()
