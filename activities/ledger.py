"""The ledger activities: record decisions and raise alerts through ``store``, and log what they wrote."""

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.drift import Alert
from domain.errors import AGREEMENT_EXISTS, LEDGER_CONFLICT
from domain.ledger import LedgerEntry
from store import alerts, ledger
from store.database import Pool

log = structlog.get_logger(__name__)


class LedgerActivities:
    """Writes decisions and alerts; every write is idempotent, so retries are safe."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @activity.defn(name="record_decisions")
    async def record_decisions(self, entries: list[LedgerEntry]) -> None:
        """Append ``entries`` atomically; a retry finds them already there and succeeds.

        Raises a non-retryable ``ApplicationError``, having written nothing, when the ledger
        already holds a different decision at one of their sequence numbers: of type ``AgreementExists``
        when that is the opening decision (#1: another start of an agreement id that already has a
        ledger), ``LedgerConflict`` otherwise.
        """
        try:
            await ledger.append(self._pool, entries)
        except ledger.DecisionConflict as conflict:
            raise _refusal(conflict) from None
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

    @activity.defn(name="record_at_ledger_head")
    async def record_at_ledger_head(self, entries: list[LedgerEntry]) -> list[LedgerEntry]:
        """Record ``entries`` where the ledger has moved past the workflow's head (after a Temporal reset), as
        ``store.ledger.append_at_ledger_head`` says: a repeat is found, a divergence recorded with a
        ``reset_recorded`` decision; returns the entries as the ledger holds them, to adopt."""
        recorded = await ledger.append_at_ledger_head(self._pool, entries)
        if recorded[0].seq != entries[0].seq or recorded[0].hash != entries[0].hash:
            log.warning("ledger_ahead_of_workflow", agreement_id=entries[0].agreement_id,
                        workflow_head=entries[0].seq - 1, recorded_from=recorded[0].seq,
                        repeat=recorded[0].seq == entries[0].seq)
        return recorded

    @activity.defn(name="raise_alerts")
    async def raise_alerts(self, raised: list[Alert]) -> None:
        """Store each alert once with its deliveries (the outbox, in the same transaction),
        NOTIFY listeners when the row commits, and log it. A retry finds the alert stored and adds nothing."""
        for new in await alerts.raise_alerts(self._pool, raised):
            alert = new.alert
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
                deliveries=new.deliveries,
            )


def _refusal(conflict: ledger.DecisionConflict) -> ApplicationError:
    """The activity's failure for a conflicting entry: ``AgreementExists`` for an opening, else ``LedgerConflict``."""
    entry = conflict.entry
    if entry.seq == 1:
        message = (f"agreement {entry.agreement_id} already exists: it was opened at "
                   f"{conflict.stored_at:%Y-%m-%d %H:%M} UTC and an agreement id is used once, ever; "
                   "nothing was written")
        problem = {"field": "agreement_id", "code": "agreement_exists", "message": message}
        return ApplicationError(message, [problem], type=AGREEMENT_EXISTS, non_retryable=True)
    message = str(conflict)
    problem = {"field": "", "code": "ledger_conflict", "message": message}
    return ApplicationError(message, [problem], type=LEDGER_CONFLICT, non_retryable=True)
