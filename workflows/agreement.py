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
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.ledger import LedgerActivities
    from domain import actions, drift, lifecycle, limits
    from domain.actions import Action, Reply, action_id_of
    from domain.agreement import Agreement, AgreementInput
    from domain.delegation import renumbered
    from domain.errors import (
        ACTION_REJECTED,
        AGREEMENT_EXISTS,
        AGREEMENT_ID_MISMATCH,
        INVALID_PAYLOAD,
        LEDGER_CONFLICT,
        UNKNOWN_ACTION,
        ActionRejected,
    )
    from domain.ledger import ChainHead, Decision, chain
    from domain.model import Stage
    from domain.rules import signatories
    from domain.status import ActionReceipt, AgreementStatus, Receipt, status_of, waiting_summary
    from workflows import rollout, search_attributes
    from workflows.converter import actor_in, log_refusal
    from workflows.web_ui import details_markdown

TASK_QUEUE = "concordat-agreements"
WORKFLOW_ID_PREFIX = "agreement-"

_LEDGER_WRITE_TIMEOUT = timedelta(seconds=10)
"""How long one attempt at a ledger write may take."""
_LEDGER_WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    non_retryable_error_types=[LEDGER_CONFLICT],
)
"""Ledger writes are retried until they succeed, but for a conflict (another decision under the same number)."""
_LOCAL_RETRY_THRESHOLD = timedelta(seconds=8)
"""A local ledger write whose next attempt is further off than this waits for it on a workflow timer (a new workflow
task) rather than inside the current task, which the worker otherwise keeps alive with heartbeats: a long PostgreSQL
outage then costs a timer per retry, not a held task."""
HISTORY_BOUND = 200
"""Since ``answered-in-one-task``, a run continues as new once its history holds this many events (or the server
suggests it), checked after every action and wake: a whole lifecycle to its first review fits in one run, a run
stays under the 250 events ``tests/test_long_life.py`` holds every run to (an action adds about ten), and a worker
rebuilding an evicted run replays it in milliseconds. Temporal's own limits (50,000 events, 50 MB) are far off."""


def workflow_id(agreement_id: str) -> str:
    """The workflow id of an agreement: one workflow per agreement id, ever."""
    return f"{WORKFLOW_ID_PREFIX}{agreement_id}"


def agreement_id_of(workflow_id: str) -> str:
    """The agreement id of an agreement's workflow id: the inverse of ``workflow_id``."""
    return workflow_id.removeprefix(WORKFLOW_ID_PREFIX)


def _refusal_of(error: ActivityError | ApplicationError) -> ApplicationError | None:
    """The ledger's refusal in a failed write: the cause of an ordinary activity's ``ActivityError``; a local
    activity's non-retryable failure reaches the workflow as the ``ApplicationError`` itself."""
    cause = error.cause if isinstance(error, ActivityError) else error
    return cause if isinstance(cause, ApplicationError) else None


@workflow.defn
class AgreementWorkflow:
    @workflow.init
    def __init__(self, start: AgreementInput) -> None:
        self._state_version = 0
        if start.carried is None:
            opening = lifecycle.open_agreement(start, rollout.opening_time())
            self._agreement, self._unrecorded = opening.agreement, opening.decisions
        elif workflow.info().continued_run_id is None:
            message = "carried state is accepted only when the engine continues an agreement as new"
            log_refusal(start.agreement_id, "start", start.proposal.lead_body, None, message)
            problem = {"field": "carried", "code": "carried_state_refused", "message": message}
            raise ApplicationError(message, [problem], type=INVALID_PAYLOAD, non_retryable=True)
        else:
            self._agreement, self._unrecorded = start.carried, []
        self._title_searchable = rollout.adopt_rules(self._agreement, opening=start.carried is None)
        self._local_writes = self._agreement.ledger_written_locally
        if start.carried is None:
            self._refuse_identities_of_other_bodies()
        self._review_at_start = self._agreement.review_number
        self._lock = asyncio.Lock()
        self._published: tuple[tuple[int, int, int, datetime], list[SearchAttributeUpdate], str] | None = None
        self._reached_memo: tuple[tuple[int, int, int, datetime], list[drift.Alert]] | None = None
        self._status_memo: tuple[tuple[int, int, int, datetime], AgreementStatus] | None = None
        self._validated: dict[str, tuple[tuple[int, int, int, datetime], lifecycle.Transition]] = {}

    @property
    def _agreement(self) -> Agreement:
        """The agreement's state. Setting it counts a new version (see ``_state_key``)."""
        return self._state

    @_agreement.setter
    def _agreement(self, agreement: Agreement) -> None:
        self._state = agreement
        self._state_version += 1

    def _state_key(self) -> tuple[int, int, int, datetime]:
        """What the rules, the drift conditions and the status read, as a key for what was computed from them:
        the state's version (a new state each time one is adopted), the two parts changed in place (the ledger
        head and the raised alerts, which only grow within a run) and the workflow's time."""
        state = self._state
        return self._state_version, state.chain.seq, len(state.raised_alerts), workflow.now()

    def _refuse_identities_of_other_bodies(self) -> None:
        """Under rules version 2, fail a start whose proposal binds another body's signatories (nothing is
        recorded): the lead names them by name and role, and each binds their own identity."""
        try:
            signatories.refuse_identities_at_opening(self._agreement)
        except ActionRejected as rejection:
            agreement = self._agreement
            log_refusal(agreement.agreement_id, "start", agreement.proposal.lead_body, None, str(rejection))
            raise ApplicationError(str(rejection), rejection.problems(), type=ACTION_REJECTED,
                                   non_retryable=True) from None

    @workflow.run
    async def run(self, start: AgreementInput) -> AgreementStatus:
        if start.carried is None:
            self._refuse_a_workflow_id_of_another_agreement()
        if self._unrecorded:
            async with self._lock:
                await self._open()
        try:
            while self._agreement.stage is not Stage.CLOSED:
                await self._raise_due_alerts()
                await self._vary_when_due()
                waiting = limits.clip(waiting_summary(self._publish()), limits.SUMMARY_BYTES)
                if self._time_to_continue_as_new():
                    await workflow.wait_condition(
                        lambda: workflow.all_handlers_finished() and not self._lock.locked())
                    self._agreement.raised_alerts = drift.alerts_still_relevant(self._agreement)
                    workflow.continue_as_new(start.model_copy(update={"carried": self._agreement}))
                wake_at = self._next_wake()
                self._status_memo = self._reached_memo = None  # recomputed when next read: not kept while asleep
                await self._sleep_until_changed_or(wake_at, waiting)
            await workflow.wait_condition(workflow.all_handlers_finished)
        except asyncio.CancelledError:
            if not workflow.patched(rollout.RECORD_CANCELLATION):
                raise
            await self._record_cancellation()
            raise
        return self._publish()

    async def _record_cancellation(self) -> None:
        """Close the agreement because an operator cancelled its workflow, recorded as a withdrawal is (a
        ``cancelled`` decision by nobody, then the move to closed), once any action under way is recorded; the
        run then ends cancelled. Nothing is recorded for an agreement already closed."""
        async with self._lock:
            if self._agreement.closure is not None:
                return
            transition = lifecycle.stop_by_operator(
                self._agreement, workflow.now(), "cancelled", "an operator cancelled the agreement's workflow",
                requested_by="Temporal operator (workflow cancellation)")
            await self._record(transition.agreement, transition.decisions)
            self._agreement = transition.agreement
        self._publish()

    @workflow.query
    def status(self) -> AgreementStatus:
        """The status at the workflow's time, computed once for each state and moment (it is read several
        times in each activation: to answer an update, to publish, to word the timer)."""
        key = self._state_key()
        if self._status_memo is None or self._status_memo[0] != key:
            self._status_memo = (key, status_of(self._agreement, workflow.now(), self._reached()))
        return self._status_memo[1]

    def _reached(self) -> list[drift.Alert]:
        """``drift.conditions`` now, computed once for each state and moment."""
        key = self._state_key()
        if self._reached_memo is None or self._reached_memo[0] != key:
            self._reached_memo = (key, drift.conditions(self._agreement, workflow.now()))
        return self._reached_memo[1]

    @workflow.update
    async def revise_proposal(self, action: actions.ReviseProposal) -> AgreementStatus | Receipt:
        return await self._act(action)

    @revise_proposal.validator
    def _check_revise_proposal(self, action: actions.ReviseProposal) -> None:
        self._evolve(action)

    @workflow.update
    async def submit_proposal(self, action: actions.SubmitProposal) -> AgreementStatus | Receipt:
        return await self._act(action)

    @submit_proposal.validator
    def _check_submit_proposal(self, action: actions.SubmitProposal) -> None:
        self._evolve(action)

    @workflow.update
    async def set_objectives(self, action: actions.SetObjectives) -> AgreementStatus | Receipt:
        return await self._act(action)

    @set_objectives.validator
    def _check_set_objectives(self, action: actions.SetObjectives) -> None:
        self._evolve(action)

    @workflow.update
    async def submit_for_sign_off(self, action: actions.SubmitForSignOff) -> AgreementStatus | Receipt:
        return await self._act(action)

    @submit_for_sign_off.validator
    def _check_submit_for_sign_off(self, action: actions.SubmitForSignOff) -> None:
        self._evolve(action)

    @workflow.update
    async def record_sign_off(self, action: actions.SignOff) -> AgreementStatus | Receipt:
        return await self._act(action)

    @record_sign_off.validator
    def _check_record_sign_off(self, action: actions.SignOff) -> None:
        self._evolve(action)

    @workflow.update
    async def report_milestone(self, action: actions.ReportMilestone) -> AgreementStatus | Receipt:
        return await self._act(action)

    @report_milestone.validator
    def _check_report_milestone(self, action: actions.ReportMilestone) -> None:
        self._evolve(action)

    @workflow.update
    async def record_kpi_readings(self, action: actions.RecordKpiReadings) -> AgreementStatus | Receipt:
        return await self._act(action)

    @record_kpi_readings.validator
    def _check_record_kpi_readings(self, action: actions.RecordKpiReadings) -> None:
        self._evolve(action)

    @workflow.update
    async def decide_review(self, action: actions.DecideReview) -> AgreementStatus | Receipt:
        return await self._act(action)

    @decide_review.validator
    def _check_decide_review(self, action: actions.DecideReview) -> None:
        self._evolve(action)

    @workflow.update
    async def record_benefits(self, action: actions.RecordBenefits) -> AgreementStatus | Receipt:
        return await self._act(action)

    @record_benefits.validator
    def _check_record_benefits(self, action: actions.RecordBenefits) -> None:
        self._evolve(action)

    @workflow.update
    async def review_risks(self, action: actions.ReviewRisks) -> AgreementStatus | Receipt:
        return await self._act(action)

    @review_risks.validator
    def _check_review_risks(self, action: actions.ReviewRisks) -> None:
        self._evolve(action)

    @workflow.update
    async def record_lessons(self, action: actions.RecordLessons) -> AgreementStatus | Receipt:
        return await self._act(action)

    @record_lessons.validator
    def _check_record_lessons(self, action: actions.RecordLessons) -> None:
        self._evolve(action)

    @workflow.update
    async def withdraw(self, action: actions.Withdraw) -> AgreementStatus | Receipt:
        return await self._act(action)

    @withdraw.validator
    def _check_withdraw(self, action: actions.Withdraw) -> None:
        self._evolve(action)

    @workflow.update
    async def propose_variation(self, action: actions.ProposeVariation) -> AgreementStatus | Receipt:
        return await self._act(action)

    @propose_variation.validator
    def _check_propose_variation(self, action: actions.ProposeVariation) -> None:
        self._evolve(action)

    @workflow.update
    async def sign_variation(self, action: actions.SignVariation) -> AgreementStatus | Receipt:
        return await self._act(action)

    @sign_variation.validator
    def _check_sign_variation(self, action: actions.SignVariation) -> None:
        self._evolve(action)

    @workflow.update
    async def withdraw_variation(self, action: actions.WithdrawVariation) -> AgreementStatus | Receipt:
        return await self._act(action)

    @withdraw_variation.validator
    def _check_withdraw_variation(self, action: actions.WithdrawVariation) -> None:
        self._evolve(action)

    @workflow.update
    async def name_signatory(self, action: actions.NameSignatory) -> AgreementStatus | Receipt:
        return await self._act(action)

    @name_signatory.validator
    def _check_name_signatory(self, action: actions.NameSignatory) -> None:
        self._evolve(action)

    @workflow.update
    async def retire_signatory(self, action: actions.RetireSignatory) -> AgreementStatus | Receipt:
        return await self._act(action)

    @retire_signatory.validator
    def _check_retire_signatory(self, action: actions.RetireSignatory) -> None:
        self._evolve(action)

    @workflow.update
    async def bind_identity(self, action: actions.BindIdentity) -> AgreementStatus | Receipt:
        return await self._act(action)

    @bind_identity.validator
    def _check_bind_identity(self, action: actions.BindIdentity) -> None:
        self._evolve(action)

    @workflow.update
    async def change_attestor_keys(self, action: actions.ChangeAttestorKeys) -> AgreementStatus | Receipt:
        return await self._act(action)

    @change_attestor_keys.validator
    def _check_change_attestor_keys(self, action: actions.ChangeAttestorKeys) -> None:
        self._evolve(action)

    @workflow.update
    async def delegate_signature(self, action: actions.DelegateSignature) -> AgreementStatus | Receipt:
        return await self._act(action)

    @delegate_signature.validator
    def _check_delegate_signature(self, action: actions.DelegateSignature) -> None:
        self._evolve(action)

    @workflow.update
    async def withdraw_delegation(self, action: actions.WithdrawDelegation) -> AgreementStatus | Receipt:
        return await self._act(action)

    @withdraw_delegation.validator
    def _check_withdraw_delegation(self, action: actions.WithdrawDelegation) -> None:
        self._evolve(action)

    @workflow.update(dynamic=True)
    async def unknown_action(self, name: str, args: Sequence[RawValue]) -> AgreementStatus | Receipt:
        raise self._unknown_action(name, args)

    @unknown_action.validator
    def _check_unknown_action(self, name: str, args: Sequence[RawValue]) -> None:
        raise self._unknown_action(name, args)

    def _unknown_action(self, name: str, args: Sequence[RawValue]) -> ApplicationError:
        """The refusal of an update name the agreement does not have (a typo, or a newer client's action)."""
        message = f"agreement workflows have no action {name!r}; the actions are listed in the contract"
        body, signatory = actor_in(args[0].payload) if args else (None, None)
        log_refusal(self._agreement.agreement_id, name, body, signatory, message)
        problem = {"field": "", "code": "unknown_action", "message": message}
        return ApplicationError(message, [problem], type=UNKNOWN_ACTION, non_retryable=True)

    def _evolve(self, action: Action) -> lifecycle.Transition:
        """Run the rules on ``action``, named by its action id or else by the update's id.

        The transition an update's validator computes is kept, with the state key it was computed from, for
        the update's handler: when the state and the time are still the same there (the usual case: the
        handler runs in the same activation), the handler takes it rather than running the rules again. The
        result is the same either way, so a replay (where validators do not run) issues the same commands.
        """
        update = workflow.current_update_info()
        key = self._state_key()
        if update is not None and (kept := self._validated.get(update.id)) is not None and kept[0] == key:
            return kept[1]
        if action.action_id is None and update is not None:
            action = action.model_copy(update={"action_id": action_id_of(update.id)})
        name = update.name if update else type(action).__name__
        try:
            transition = lifecycle.evolve(self._agreement, action, workflow.now())
        except ActionRejected as rejection:
            log_refusal(self._agreement.agreement_id, name, action.actor.body, action.actor.signatory, str(rejection))
            raise ApplicationError(
                str(rejection), rejection.problems(), type=ACTION_REJECTED, non_retryable=True
            ) from None
        except workflow.NondeterminismError:
            raise
        except Exception as error:  # a rule that breaks on some input refuses it: nothing a caller sends may fail
            # the workflow task (which would retry it for ever, holding the agreement) or stop the worker
            workflow.logger.exception("action_check_failed", extra={"agreement_id": self._agreement.agreement_id,
                                                                   "action": name})
            message = (f"the engine could not check this {name.replace('_', ' ')} ({type(error).__name__}); "
                       "nothing was recorded")
            log_refusal(self._agreement.agreement_id, name, action.actor.body, action.actor.signatory, message)
            problem = {"field": "", "code": "unchecked", "message": message}
            raise ApplicationError(message, [problem], type=ACTION_REJECTED, non_retryable=True) from None
        if update is not None:
            self._validated[update.id] = (key, transition)
        return transition

    async def _act(self, action: Action) -> AgreementStatus | Receipt:
        """Check again under the lock, record the decisions, then adopt the new state.

        A repeat of a remembered action records nothing; either way the answer says, in ``action``, which
        ledger entries hold the action's decisions and whether this was a repeat. The answer is the whole status,
        or the short ``Receipt`` where the action asks for one (``reply``): the same whichever is asked, so the
        choice alters no command and needs no patch.
        """
        await workflow.wait_condition(lambda: not self._unrecorded)
        async with self._lock:
            try:
                transition = self._evolve(action)
            finally:
                if (update := workflow.current_update_info()) is not None:
                    self._validated.pop(update.id, None)
            found = False
            if not transition.repeat:
                found = await self._record(transition.agreement, transition.decisions)
                self._agreement = transition.agreement
        if transition.remembered is None:
            return self.status()
        remembered = next((r for r in reversed(self._agreement.recent_actions)
                           if r.action_id == transition.remembered.action_id), transition.remembered)
        receipt = ActionReceipt(action_id=remembered.action_id, first_seq=remembered.first_seq,
                                last_seq=remembered.last_seq, repeat=transition.repeat or found)
        if action.reply is Reply.RECEIPT:
            agreement = self._agreement
            return Receipt(agreement_id=agreement.agreement_id, action=receipt, stage=agreement.stage,
                           version=agreement.version, decisions_recorded=agreement.chain.seq)
        return self.status().model_copy(update={"action": receipt})

    def _refuse_a_workflow_id_of_another_agreement(self) -> None:
        """A fresh start must run as ``agreement-{agreement_id}``; any other workflow id fails the run with
        ``AgreementIdMismatch`` before anything is recorded."""
        expected = workflow_id(self._agreement.agreement_id)
        actual = workflow.info().workflow_id
        if actual != expected and rollout.applies(self._agreement, rollout.REFUSE_A_WORKFLOW_ID_OF_ANOTHER_AGREEMENT):
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
        except (ActivityError, ApplicationError) as error:
            refusal = _refusal_of(error)
            if refusal is not None and refusal.type == AGREEMENT_EXISTS:
                raise ApplicationError(refusal.message, type=AGREEMENT_EXISTS, non_retryable=True) from None
            raise

    async def _record(self, agreement: Agreement, decisions: list[Decision]) -> bool:
        """Write ``decisions`` after ``agreement``'s chain head and move the head (in place) to the last written.

        The ledger is the record: when it already holds another decision at the next number (only a Temporal
        reset across an accepted action brings that), since ``ledger-is-the-record`` the decisions are recorded
        at the ledger's head instead (a repeat found as such, a divergence after a ``reset_recorded`` decision)
        and the agreement adopts the ledger's head, its remembered action (and a delegation it made or withdrew)
        renumbered to match.

        Returns whether the decisions were found already in the ledger, nothing written: a repeat of an action
        whose write committed but whose answer was lost (a local write's task that never completed, a reset)."""
        entries = chain(agreement.agreement_id, agreement.chain, decisions)
        summary = limits.clip("record " + ", ".join(d.kind.replace("_", " ") for d in decisions), limits.SUMMARY_BYTES)
        try:
            await self._write(LedgerActivities.record_decisions, entries, summary)
        except (ActivityError, ApplicationError) as error:
            refusal = _refusal_of(error)
            conflict = refusal is not None and refusal.type == LEDGER_CONFLICT
            if not conflict or not workflow.patched(rollout.LEDGER_IS_THE_RECORD):
                raise
            recorded = await workflow.execute_activity_method(
                LedgerActivities.record_at_ledger_head, entries, summary=summary,
                start_to_close_timeout=_LEDGER_WRITE_TIMEOUT, retry_policy=_LEDGER_WRITE_RETRY,
            )
            shift = recorded[0].seq - entries[0].seq
            found = shift == 0
            agreement.recent_actions = [
                action.model_copy(update={"first_seq": action.first_seq + shift, "last_seq": action.last_seq + shift})
                if action.first_seq == entries[0].seq else action
                for action in agreement.recent_actions
            ]
            agreement.delegations = renumbered(agreement.delegations, entries[0].seq, shift)
            entries = recorded
        else:
            found = False
        agreement.chain = ChainHead(seq=entries[-1].seq, hash=entries[-1].hash)
        if agreement is self._agreement:
            self._unrecorded = []
        return found

    async def _write(self, activity: Callable[[LedgerActivities, Any], Awaitable[None]], arg: Any,
                     summary: str) -> None:
        """Run an idempotent ledger activity (``record_decisions`` or ``raise_alerts``) with ``arg``, retried until
        it succeeds or refuses (``LedgerConflict``, ``AgreementExists``), raising ``ActivityError`` then.

        Since ``answered-in-one-task`` it runs as a local activity, in the worker that holds the workflow task: no
        server round trip, and the update is answered in the task that accepted it, once the write is committed.
        Each attempt may take ``_LEDGER_WRITE_TIMEOUT`` and there is no overall limit, as for the ordinary activity:
        while an attempt runs or a retry is near, the worker heartbeats the workflow task (so the task timeout does
        not cut a slow write short); a retry further off than ``_LOCAL_RETRY_THRESHOLD`` waits on a workflow timer.
        A worker that dies mid-write leaves no marker, so the next worker writes again: the write is idempotent by
        agreement, number and hash, and a decision committed under another time (the new task's) is found by
        ``ledger-is-the-record`` as a repeat."""
        if self._local_writes:
            await workflow.execute_local_activity_method(
                activity, arg, summary=summary, start_to_close_timeout=_LEDGER_WRITE_TIMEOUT,
                retry_policy=_LEDGER_WRITE_RETRY, local_retry_threshold=_LOCAL_RETRY_THRESHOLD)
        else:
            await workflow.execute_activity_method(
                activity, arg, summary=summary, start_to_close_timeout=_LEDGER_WRITE_TIMEOUT,
                retry_policy=_LEDGER_WRITE_RETRY)

    async def _raise_due_alerts(self) -> None:
        """Raise every drift level reached, including one reached while the last was being raised."""
        async with self._lock:
            due = drift.due_alerts(self._agreement, workflow.now(), self._reached())
            while due:
                await self._write(LedgerActivities.raise_alerts, due, limits.clip(
                    "raise " + ", ".join(f"{a.level} alert on {a.subject}" for a in due), limits.SUMMARY_BYTES))
                self._agreement.raised_alerts.extend(alert.key for alert in due)
                due = drift.due_alerts(self._agreement, workflow.now(), self._reached())
                if due and not rollout.applies(self._agreement, rollout.RAISE_LEVELS_REACHED_WHILE_RAISING):
                    return

    async def _vary_when_due(self) -> None:
        """Record an agreed variation taking effect once its effective date has come.

        Only agreements with an agreed variation reach the activity, so older histories replay unchanged.
        """
        due = self._agreement.variation_due_at
        if due is None or due > workflow.now():
            return
        async with self._lock:
            transition = lifecycle.take_effect(self._agreement, workflow.now())
            await self._record(transition.agreement, transition.decisions)
            self._agreement = transition.agreement

    def _next_wake(self) -> datetime | None:
        """The next drift level, or the moment an agreed variation takes effect, whichever is sooner."""
        moments = [drift.next_check(self._agreement, workflow.now()), self._agreement.variation_due_at]
        return min((moment for moment in moments if moment is not None), default=None)

    def _time_to_continue_as_new(self) -> bool:
        """When history grows long (``HISTORY_BOUND`` events, since ``answered-in-one-task``), or the server
        suggests it, start a fresh run; a run begun before that patch also after each review cycle."""
        info = workflow.info()
        if info.is_continue_as_new_suggested():
            return True
        if self._agreement.runs_until_history_bound:
            return info.get_current_history_length() >= HISTORY_BOUND
        return self._agreement.review_number != self._review_at_start

    def _publish(self) -> AgreementStatus:
        """Keep the Web UI current: search attributes to filter by, details to read; returns the status shown.

        Only what changed is sent: nothing when the state and moment are those last published (or the status
        words the same attributes and details), and since ``upsert-only-changed-search-attributes`` only the attributes
        whose values changed; since ``rules-carried``, only those that differ from the run's own (a continued
        run starts with the attributes its predecessor had)."""
        status, key = self.status(), self._state_key()
        if self._published is not None and self._published[0] == key:
            return status
        attributes = search_attributes.updates(status, with_title=self._title_searchable)
        details = limits.clip(details_markdown(status), limits.DETAILS_BYTES)
        if self._published is not None and (attributes, details) == self._published[1:]:
            self._published = (key, attributes, details)
            return status
        rollout.upsert_search_attributes(self._agreement, attributes, self._published[1] if self._published else [])
        workflow.set_current_details(details)
        self._published = (key, attributes, details)
        return status

    async def _sleep_until_changed_or(self, wake_at: datetime | None, waiting: str) -> None:
        """Sleep until an action is recorded or the next drift level is reached; ``waiting`` words the timer."""
        seen = self._agreement.chain.seq
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._agreement.chain.seq != seen,
                timeout=None if wake_at is None else wake_at - workflow.now(),
                timeout_summary=waiting,
            )
