"""One shared-services agreement as one durable workflow.

The workflow orchestrates; the domain decides. Each human action arrives as an
update: its validator runs the domain rules on a copy of the state, so a bad
action is rejected before it touches history. An accepted action takes the lock,
runs the rules again, writes the resulting decisions to the ledger, and only then
adopts the new state and answers the caller. Between actions the workflow sleeps
until the next drift level is due, and raises the alerts that fall due.

The whole state is one ``Agreement`` model, so the workflow continues as new after
every review cycle (or when the server suggests it) carrying nothing else: a
ten-year agreement is a chain of short runs.
"""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.ledger import LedgerActivities
    from domain import drift, lifecycle
    from domain.actions import (
        Action,
        DecideReview,
        RecordKpiReadings,
        ReportMilestone,
        ReviseProposal,
        SetObjectives,
        SignOff,
        SubmitForSignOff,
        SubmitProposal,
        Withdraw,
    )
    from domain.errors import (
        ACTION_REJECTED,
        AGREEMENT_EXISTS,
        AGREEMENT_ID_MISMATCH,
        LEDGER_CONFLICT,
        ActionRejected,
    )
    from domain.ledger import ChainHead, Decision, chain
    from domain.model import Stage
    from domain.status import AgreementStatus, details_markdown, status_of, waiting_summary
    from workflows import search_attributes

TASK_QUEUE = "concordat-agreements"
WORKFLOW_ID_PREFIX = "agreement-"

RAISE_LEVELS_REACHED_WHILE_RAISING = "raise-levels-reached-while-raising"
"""Patch: before it, a level reached while an alert was being raised waited for the next level."""
UPSERT_ONLY_CHANGED_ATTRIBUTES = "upsert-only-changed-search-attributes"
"""Patch: before it, every change the Web UI shows (even details alone) upserted all seven attributes."""
REFUSE_A_WORKFLOW_ID_OF_ANOTHER_AGREEMENT = "refuse-a-workflow-id-of-another-agreement"
"""Patch: before it, a run whose workflow id named another agreement opened and recorded its own agreement id."""

_LEDGER_WRITE = {
    "start_to_close_timeout": timedelta(seconds=10),
    "retry_policy": RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
        non_retryable_error_types=[LEDGER_CONFLICT],
    ),
}


def workflow_id(agreement_id: str) -> str:
    """The workflow id of an agreement: one workflow per agreement id, ever."""
    return f"{WORKFLOW_ID_PREFIX}{agreement_id}"


def agreement_id_of(workflow_id: str) -> str:
    """The agreement id of an agreement's workflow id: the inverse of ``workflow_id``."""
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX)


@workflow.defn
class AgreementWorkflow:
    @workflow.init
    def __init__(self, start: lifecycle.AgreementInput) -> None:
        if start.carried is None:
            opening = lifecycle.open_agreement(start, workflow.now())
            self._agreement, self._unrecorded = opening.agreement, opening.decisions
        elif workflow.info().continued_run_id is None:
            raise ApplicationError(
                "carried state is accepted only when the engine continues an agreement as new",
                type="InvalidPayload",
                non_retryable=True,
            )
        else:
            self._agreement, self._unrecorded = start.carried, []
        self._review_at_start = self._agreement.review_number
        self._lock = asyncio.Lock()
        self._published: tuple[list[SearchAttributeUpdate], str] | None = None

    @workflow.run
    async def run(self, start: lifecycle.AgreementInput) -> AgreementStatus:
        if start.carried is None:
            self._refuse_a_workflow_id_of_another_agreement()
        if self._unrecorded:
            async with self._lock:
                await self._open()
        while self._agreement.stage is not Stage.CLOSED:
            await self._raise_due_alerts()
            status = self._publish()
            if self._time_to_continue_as_new():
                await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._lock.locked())
                self._agreement.raised_alerts = drift.alerts_still_relevant(self._agreement)
                workflow.continue_as_new(start.model_copy(update={"carried": self._agreement}))
            await self._sleep_until_changed_or(drift.next_check(self._agreement, workflow.now()), status)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._publish()

    @workflow.query
    def status(self) -> AgreementStatus:
        return status_of(self._agreement, workflow.now())

    @workflow.update
    async def revise_proposal(self, action: ReviseProposal) -> AgreementStatus:
        return await self._act(action)

    @revise_proposal.validator
    def _check_revise_proposal(self, action: ReviseProposal) -> None:
        self._evolve(action)

    @workflow.update
    async def submit_proposal(self, action: SubmitProposal) -> AgreementStatus:
        return await self._act(action)

    @submit_proposal.validator
    def _check_submit_proposal(self, action: SubmitProposal) -> None:
        self._evolve(action)

    @workflow.update
    async def set_objectives(self, action: SetObjectives) -> AgreementStatus:
        return await self._act(action)

    @set_objectives.validator
    def _check_set_objectives(self, action: SetObjectives) -> None:
        self._evolve(action)

    @workflow.update
    async def submit_for_sign_off(self, action: SubmitForSignOff) -> AgreementStatus:
        return await self._act(action)

    @submit_for_sign_off.validator
    def _check_submit_for_sign_off(self, action: SubmitForSignOff) -> None:
        self._evolve(action)

    @workflow.update
    async def record_sign_off(self, action: SignOff) -> AgreementStatus:
        return await self._act(action)

    @record_sign_off.validator
    def _check_record_sign_off(self, action: SignOff) -> None:
        self._evolve(action)

    @workflow.update
    async def report_milestone(self, action: ReportMilestone) -> AgreementStatus:
        return await self._act(action)

    @report_milestone.validator
    def _check_report_milestone(self, action: ReportMilestone) -> None:
        self._evolve(action)

    @workflow.update
    async def record_kpi_readings(self, action: RecordKpiReadings) -> AgreementStatus:
        return await self._act(action)

    @record_kpi_readings.validator
    def _check_record_kpi_readings(self, action: RecordKpiReadings) -> None:
        self._evolve(action)

    @workflow.update
    async def decide_review(self, action: DecideReview) -> AgreementStatus:
        return await self._act(action)

    @decide_review.validator
    def _check_decide_review(self, action: DecideReview) -> None:
        self._evolve(action)

    @workflow.update
    async def withdraw(self, action: Withdraw) -> AgreementStatus:
        return await self._act(action)

    @withdraw.validator
    def _check_withdraw(self, action: Withdraw) -> None:
        self._evolve(action)

    def _evolve(self, action: Action) -> lifecycle.Transition:
        try:
            return lifecycle.evolve(self._agreement, action, workflow.now())
        except ActionRejected as rejection:
            update = workflow.current_update_info()
            workflow.logger.warning(
                "action refused",
                extra={
                    "refusal": {
                        "agreement_id": self._agreement.agreement_id,
                        "action": update.name if update else type(action).__name__,
                        "actor_body": action.actor.body,
                        "actor_signatory": action.actor.signatory,
                        "reason": str(rejection),
                    }
                },
            )
            raise ApplicationError(str(rejection), type=ACTION_REJECTED, non_retryable=True) from None

    async def _act(self, action: Action) -> AgreementStatus:
        """Check again under the lock, record the decisions, then adopt the new state."""
        await workflow.wait_condition(lambda: not self._unrecorded)
        async with self._lock:
            transition = self._evolve(action)
            await self._record(transition.agreement, transition.decisions)
            self._agreement = transition.agreement
        return self.status()

    def _refuse_a_workflow_id_of_another_agreement(self) -> None:
        """A fresh start must run as ``agreement-{agreement_id}``; any other workflow id fails the run with
        ``AgreementIdMismatch`` before anything is recorded."""
        expected = workflow_id(self._agreement.agreement_id)
        actual = workflow.info().workflow_id
        if actual != expected and workflow.patched(REFUSE_A_WORKFLOW_ID_OF_ANOTHER_AGREEMENT):
            raise ApplicationError(
                f"workflow id {actual} does not belong to agreement {self._agreement.agreement_id}: "
                f"its workflow id is {expected}; nothing was recorded",
                {"workflow_id": actual, "expected_workflow_id": expected},
                type=AGREEMENT_ID_MISMATCH,
                non_retryable=True,
            )

    async def _open(self) -> None:
        """Record the opening decision; fail the run with ``AgreementExists`` if the id already has a ledger."""
        try:
            await self._record(self._agreement, self._unrecorded)
        except ActivityError as error:
            cause = error.cause
            if isinstance(cause, ApplicationError) and cause.type == AGREEMENT_EXISTS:
                raise ApplicationError(cause.message, type=AGREEMENT_EXISTS, non_retryable=True) from None
            raise

    async def _record(self, agreement: lifecycle.Agreement, decisions: list[Decision]) -> None:
        entries = chain(agreement.agreement_id, agreement.chain, decisions)
        await workflow.execute_activity_method(
            LedgerActivities.record_decisions,
            entries,
            summary="record " + ", ".join(d.kind.replace("_", " ") for d in decisions),
            **_LEDGER_WRITE,
        )
        agreement.chain = ChainHead(seq=entries[-1].seq, hash=entries[-1].hash)
        if agreement is self._agreement:
            self._unrecorded = []

    async def _raise_due_alerts(self) -> None:
        """Raise every drift level reached, including one reached while the last was being raised."""
        async with self._lock:
            due = drift.due_alerts(self._agreement, workflow.now())
            while due:
                await workflow.execute_activity_method(
                    LedgerActivities.raise_alerts,
                    due,
                    summary="raise " + ", ".join(f"{a.level} alert on {a.subject}" for a in due),
                    **_LEDGER_WRITE,
                )
                self._agreement.raised_alerts.extend(alert.key for alert in due)
                due = drift.due_alerts(self._agreement, workflow.now())
                if due and not workflow.patched(RAISE_LEVELS_REACHED_WHILE_RAISING):
                    return

    def _time_to_continue_as_new(self) -> bool:
        """After each review cycle, or when history grows long, start a fresh run."""
        next_review = self._agreement.review_number != self._review_at_start
        return next_review or workflow.info().is_continue_as_new_suggested()

    def _publish(self) -> AgreementStatus:
        """Keep the Web UI current: search attributes to filter by, details to read; returns the status shown."""
        status = self.status()
        attributes = search_attributes.updates(status)
        details = details_markdown(status)
        if (attributes, details) == self._published:
            return status
        if workflow.patched(UPSERT_ONLY_CHANGED_ATTRIBUTES):
            before = self._published[0] if self._published else []
            if changed := [update for update in attributes if update not in before]:
                workflow.upsert_search_attributes(changed)
        else:
            workflow.upsert_search_attributes(attributes)
        workflow.set_current_details(details)
        self._published = (attributes, details)
        return status

    async def _sleep_until_changed_or(self, wake_at: datetime | None, status: AgreementStatus) -> None:
        """Sleep until an action is recorded or the next drift level is reached."""
        seen = self._agreement.chain.seq
        try:
            await workflow.wait_condition(
                lambda: self._agreement.chain.seq != seen,
                timeout=None if wake_at is None else wake_at - workflow.now(),
                timeout_summary=waiting_summary(status),
            )
        except asyncio.TimeoutError:
            pass
