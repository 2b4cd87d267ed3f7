"""The one typed seam for acting on agreements from Python: ``AgreementClient``.

The command line, the demo, the benchmark and the tests all start, act on, read and list
agreements through it, so an action's name and shape are checked where it is written:

    agreements = AgreementClient(await connect_temporal())
    status = await agreements.start(request)          # returns once the agreement has opened
    status = await agreements.act("waste-2027", AgreementWorkflow.record_sign_off,
                                  SignOff(actor=Actor(body="E07000199", signatory="Owen Hughes"), decision="approve",
                                          version=(await agreements.status("waste-2027")).version))

Every method that takes an agreement id also takes the workflow id the Web UI shows
(``agreement-waste-2027``). An agreement is read from its newest run that opened: a later
start that the engine refused (``AgreementExists``, ``AgreementIdMismatch``) never hides it.
Failures are raised as the exceptions below, worded for a council officer.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, overload

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import QueryRejectCondition
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.actions import Reply, action_id_of
from domain.agreement import ClosedOutcome, Closure
from domain.errors import AGREEMENT_EXISTS
from domain.ledger import ChainHead
from domain.model import AgreementRequest, Rag, Stage
from domain.status import AgreementStatus, Receipt
from domain.timestamps import utc_text
from workflows import search_attributes as sa
from workflows.agreement import TASK_QUEUE, WORKFLOW_ID_PREFIX, AgreementWorkflow, agreement_id_of, workflow_id
from workflows.contract import UPDATES, WORKFLOW_TYPE, start_options
from workflows.seam import OPENING_TIMEOUT, ActionT, Update, update_name

AgreementHandle = WorkflowHandle[AgreementWorkflow, AgreementStatus]


class AgreementError(Exception):
    """Anything the client reports about an agreement; ``str()`` is one line for an officer."""


class AgreementNotFound(AgreementError):
    """Temporal holds no agreement with this id (nor with this workflow id)."""

    def __init__(self, agreement_id: str) -> None:
        super().__init__(f"no such agreement {agreement_id}")
        self.agreement_id = agreement_id


class AgreementClosed(AgreementError):
    """The agreement has closed, so it takes no further action.

    ``outcome`` is ``completed``, ``terminated``, ``rejected`` or ``withdrawn`` when the lifecycle closed
    it (``reason`` is the recorded reason), or the workflow's own status (e.g. ``terminated``) when an
    operator stopped it outside the lifecycle. ``closed_at`` is UTC.
    """

    def __init__(self, agreement_id: str, outcome: str, reason: str, closed_at: datetime | None) -> None:
        when = f" at {utc_text(closed_at)}" if closed_at else ""
        super().__init__(
            f"agreement {agreement_id} is closed ({outcome}: {reason}){when}; no further action is possible")
        self.agreement_id, self.outcome, self.reason, self.closed_at = agreement_id, outcome, reason, closed_at


class ActionRefused(AgreementError):
    """The engine refused an action; nothing was written. ``type`` is the failure type (e.g. ``ActionRejected``,
    ``InvalidPayload``), ``details`` the failure's structured details, if any."""

    def __init__(self, message: str, type: str | None, details: builtins.list[Any]) -> None:
        super().__init__(f"refused: {message}")
        self.message, self.type, self.details = message, type, details


class StartRefused(AgreementError):
    """A start that did not open an agreement; nothing was written to the ledger.

    ``type`` is ``AgreementExists`` (the id is taken: by a running or closed agreement, or by a ledger),
    ``AgreementIdMismatch`` (the workflow id is not ``agreement-{agreement_id}``), ``InvalidPayload``, or
    the failure type of whatever else stopped the run before it opened.
    """

    def __init__(self, agreement_id: str, type: str, message: str) -> None:
        super().__init__(f"agreement {agreement_id} did not open: {message} ({type})")
        self.agreement_id, self.type, self.message = agreement_id, type, message


class AgreementRecordGone(AgreementError):
    """The agreement's ledger exists but Temporal no longer holds its workflow history (deleted at the end of
    the namespace's retention period), so its status cannot be read; its ledger can still be verified."""

    def __init__(self, agreement_id: str) -> None:
        super().__init__(
            f"agreement {agreement_id} has closed and Temporal no longer holds its record (past the namespace's "
            "retention period); its decisions are in the ledger: see `starter.py ledger`"
        )
        self.agreement_id = agreement_id


class OutcomeUnknown(AgreementError):
    """The client could not learn whether the agreement accepted an action (the connection was lost, or the call
    ran out of time, even after sending it again): it may or may not be recorded. Sending it again with the same
    ``action_id`` is safe: if it was recorded, the answer is a repeat."""

    def __init__(self, agreement_id: str, action_id: str, cause: str) -> None:
        super().__init__(
            f"the outcome is unknown; check status: Temporal could not be asked whether agreement {agreement_id} "
            f"accepted action {action_id} ({cause}). Send it again with action id {action_id}: if it was "
            "recorded, the answer is a repeat")
        self.agreement_id = agreement_id
        self.action_id = action_id


UNKNOWN_OUTCOME_STATUSES = (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED,
                            RPCStatusCode.UNKNOWN)
"""The RPC failures after which an update may or may not have been accepted."""
_RESEND_AFTER = 2.0
"""Seconds before an action whose outcome is unknown is sent once more, under the same id."""


class AgreementNotOpened(AgreementError):
    """The agreement was started but its opening decision was not recorded in time (is a worker running?)."""

    def __init__(self, agreement_id: str, waited: timedelta) -> None:
        super().__init__(
            f"agreement {agreement_id} was started but has not opened after {waited.total_seconds():.0f} s: "
            "is a worker running, and the ledger database reachable?"
        )
        self.agreement_id = agreement_id


@dataclass(frozen=True)
class AgreementRow:
    """One agreement as Temporal's visibility store lists it (its newest run that opened)."""

    agreement_id: str
    run_id: str
    title: str | None
    """The agreement's title (``AgreementTitle``; None on runs begun before the title-searchable patch)."""
    stage: str | None
    rag: str | None
    lead_body: str | None
    next_deadline: datetime | None
    open_alerts: int | None
    execution_status: str | None
    """The workflow's status, lowercased: ``running``, ``completed``, ``terminated``, ..."""


QUERY_TIMEOUT = timedelta(seconds=15)
"""How long a status query may wait for a worker to answer. A closed agreement's status is computed by replaying
its history on a worker: with none polling (workers down), the query fails with ``RPCError`` (DEADLINE_EXCEEDED:
the API answers 503, the CLI exits 3) instead of waiting for ever."""

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""What a body's code in a list filter may be (``domain.model.Code``): letters, digits, dot, dash, underscore."""


def visibility_query(
    stage: Stage | str | None = None, rag: Rag | str | None = None, lead: str | None = None,
    include_closed: bool = False,
) -> str:
    """The Temporal visibility query for agreements at ``stage`` with ``rag`` led by ``lead`` (each optional).

    The query is built from validated values only: ``stage`` and ``rag`` are taken as their enums' values and
    ``lead`` must match ``CODE_PATTERN`` (no quote or space can reach the query text); raises ``ValueError``
    naming the filter otherwise.
    """
    clauses = [f"WorkflowType = '{WORKFLOW_TYPE}'"]
    clauses.append("ExecutionStatus != 'ContinuedAsNew'" if include_closed else "ExecutionStatus = 'Running'")
    if lead and not re.fullmatch(CODE_PATTERN, lead):
        raise ValueError(f"lead: {lead!r} is not a body's code (letters, digits, '.', '-', '_'; at most 64)")
    values = (Stage(stage).value if stage else None, Rag(rag).value if rag else None, lead or None)
    for key, value in zip((sa.STAGE, sa.RAG, sa.LEAD_BODY), values, strict=True):
        if value:
            clauses.append(f"{key.name} = '{value}'")
    return " AND ".join(clauses)


def _opened(attributes: Any) -> bool:
    """A run that published its stage has recorded its opening decision (it publishes only after that)."""
    return attributes.get(sa.STAGE) is not None


TERMINATED_BY_AN_OPERATOR = "an operator terminated the agreement's workflow"
"""The closure reason of a status whose run was terminated (``_as_stopped``)."""


async def _as_stopped(handle: AgreementHandle, status: AgreementStatus) -> AgreementStatus:
    """``status`` as it stands: for a run an operator terminated (which no workflow code sees, so its own state
    still looks open), closed (terminated) at the termination, waiting on nobody."""
    if status.closure is not None:
        return status
    description = await handle.describe()
    if description.status is not WorkflowExecutionStatus.TERMINATED:
        return status
    at = description.close_time or status.stage_started_at
    closure = Closure(outcome=ClosedOutcome.TERMINATED, reason=TERMINATED_BY_AN_OPERATOR, at=at)
    return status.model_copy(update={"stage": Stage.CLOSED, "closure": closure, "stage_started_at": at,
                                     "deadline": None, "waiting_on": [], "open_alerts": []})


def candidate_ids(name: str) -> builtins.list[str]:
    """The agreement ids ``name`` may mean, to try in turn: ``name`` itself, then, when it is the Web UI's
    workflow id of an agreement (``agreement-waste-2027``), the agreement id within it."""
    if name.startswith(WORKFLOW_ID_PREFIX) and len(name) > len(WORKFLOW_ID_PREFIX):
        return [name, agreement_id_of(name)]
    return [name]


class AgreementClient:
    """``Agreements`` (``workflows.seam``) directly on Temporal: start, act on, read and list agreements, on the
    Temporal ``client`` given (whose data converter must be Concordat's, ``workflows.converter.data_converter``,
    as ``runtime.temporal.connect_temporal`` sets).

    ``task_queue`` is where new agreements are started (the workers' ``CONCORDAT_TASK_QUEUE``).
    """

    def __init__(self, client: Client, task_queue: str = TASK_QUEUE) -> None:
        self.client = client
        self.task_queue = task_queue

    def _handle(self, agreement_workflow_id: str, run_id: str | None = None) -> AgreementHandle:
        """The handle of an agreement's workflow (its latest run, or ``run_id``), typed as the agreement's."""
        return self.client.get_workflow_handle(agreement_workflow_id, run_id=run_id, result_type=AgreementStatus)

    # --- starting ---------------------------------------------------------------------------------

    async def start(self, request: AgreementRequest, *, timeout: timedelta = OPENING_TIMEOUT) -> AgreementStatus:
        """Start the agreement ``request`` describes and wait until it has opened (its opening decision is in the
        ledger); returns its first status.

        Raises ``StartRefused`` (type ``AgreementExists`` when the id was ever used; nothing started),
        ``AgreementNotOpened`` after ``timeout``, or ``RPCError`` when Temporal cannot be reached.
        """
        return await self.until_opened(await self.start_without_waiting(request), timeout=timeout)

    async def start_without_waiting(self, request: AgreementRequest) -> AgreementHandle:
        """Start the agreement with ``start_options`` and return its handle at once, before it has opened.

        Raises ``StartRefused`` (``AgreementExists``) when a workflow with its id was ever started.
        """
        try:
            # ``args``: the run takes the engine's ``AgreementInput``, of which a caller's request is the start.
            return await self.client.start_workflow(
                AgreementWorkflow.run, args=[request], **start_options(request, self.task_queue))
        except WorkflowAlreadyStartedError:
            raise StartRefused(
                request.agreement_id, AGREEMENT_EXISTS,
                f"agreement {request.agreement_id} already exists and an agreement id is used once, ever; "
                "nothing was started",
            ) from None

    async def until_opened(
        self, handle: WorkflowHandle[Any, Any], *, timeout: timedelta = OPENING_TIMEOUT
    ) -> AgreementStatus:
        """Wait until the run ``handle`` started (by this client or any other) has recorded its opening decision;
        returns the agreement's first status.

        Raises ``StartRefused`` when the run closed without opening (e.g. ``AgreementExists``,
        ``AgreementIdMismatch``, ``InvalidPayload``), ``AgreementNotOpened`` after ``timeout``.
        """
        agreement_id = agreement_id_of(handle.id)
        run = self._handle(handle.id, handle.result_run_id or handle.run_id)
        clock = asyncio.get_running_loop()
        deadline = clock.time() + timeout.total_seconds()
        interval = 0.02
        while True:
            left = timedelta(seconds=max(0.1, deadline - clock.time()))
            try:
                status = await run.query(AgreementWorkflow.status, rpc_timeout=left,
                                         reject_condition=QueryRejectCondition.NOT_OPEN)
                if status.decisions_recorded >= 1:
                    return status
            except WorkflowQueryRejectedError:
                return await self._opened_before_closing(agreement_id, run)
            except (WorkflowQueryFailedError, RPCError):
                # Not yet through its first workflow task, refused in it, or no worker has answered. A run that
                # answered was open (the query is refused once it has closed), so only here is it described.
                if (await run.describe()).status is not WorkflowExecutionStatus.RUNNING:
                    raise await self._refusal(agreement_id, run) from None
            if clock.time() > deadline:
                raise AgreementNotOpened(agreement_id, timeout)
            await asyncio.sleep(interval)
            interval = min(interval * 2, 0.5)

    async def _opened_before_closing(self, agreement_id: str, run: AgreementHandle) -> AgreementStatus:
        """The last status of a run that has closed, when it had opened first; else raises ``StartRefused``
        saying why it did not open."""
        try:
            status = await run.query(AgreementWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
        except (WorkflowQueryFailedError, RPCError):
            raise await self._refusal(agreement_id, run) from None
        if status.decisions_recorded < 1:
            raise await self._refusal(agreement_id, run)
        return status

    async def _refusal(self, agreement_id: str, run: AgreementHandle) -> StartRefused:
        """Why a run closed before it opened, from its failure."""
        try:
            await run.result(follow_runs=False)
        except WorkflowFailureError as failure:
            cause = failure.cause
            if isinstance(cause, ApplicationError):
                return StartRefused(agreement_id, cause.type or "ApplicationError", cause.message)
            return StartRefused(agreement_id, type(cause).__name__, str(cause))
        return StartRefused(agreement_id, "Closed", "its workflow closed before the agreement opened")

    # --- acting -------------------------------------------------------------------------------------

    @overload
    async def act(
        self, agreement_id: str, update: Update[ActionT], action: ActionT) -> AgreementStatus: ...

    @overload
    async def act(self, agreement_id: str, update: str, action: BaseModel) -> AgreementStatus: ...

    async def act(self, agreement_id: str, update: Any, action: BaseModel) -> AgreementStatus:
        """Send ``action`` to the agreement as ``update`` and return its new status once its decisions are in the
        ledger.

        ``update`` is the workflow's update method (``AgreementWorkflow.record_sign_off``: the checker then
        holds ``action`` to its model) or its name in ``workflows.contract.UPDATES``. Raises ``TypeError`` for
        an update that does not exist or an action of another model (nothing sent), ``ActionRefused`` (nothing
        written), ``AgreementClosed``, ``AgreementNotFound``, ``StartRefused`` (it never opened) or
        ``AgreementRecordGone``.
        """
        answer = await self._act(agreement_id, update, action, Reply.STATUS)
        if not isinstance(answer, AgreementStatus):
            raise TypeError(f"the agreement answered {type(answer).__name__} where its status was asked for")
        return answer

    async def act_for_receipt(self, agreement_id: str, update: Any, action: BaseModel) -> Receipt:
        """As ``act``, answered with a short ``Receipt`` (the decisions' numbers, the stage and the version) rather
        than the whole status: a smaller answer, for callers that read the status only when they need it. Raises
        as ``act`` does."""
        answer = await self._act(agreement_id, update, action, Reply.RECEIPT)
        if isinstance(answer, AgreementStatus):  # an agreement that could not say which decisions were its own
            if answer.action is None:
                raise TypeError("the agreement answered with its status and no receipt of the action")
            return Receipt(agreement_id=answer.agreement_id, action=answer.action, stage=answer.stage,
                           version=answer.version, decisions_recorded=answer.decisions_recorded)
        return answer

    async def _act(self, agreement_id: str, update: Any, action: BaseModel, reply: Reply) -> AgreementStatus | Receipt:
        """``act``: ``action`` sent asking for the answer ``reply`` says."""
        name = update_name(update)
        model = UPDATES[name]
        if not isinstance(action, model):
            raise TypeError(f"{name} takes a {model.__name__}, not a {type(action).__name__}")
        if action.reply is not reply:
            action = action.model_copy(update={"reply": reply})
        method = getattr(AgreementWorkflow, name)
        handle = self._handle(workflow_id(agreement_id))
        try:
            return await self._send_knowing(agreement_id, handle, method, action)
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
        resolved_id, handle, description = await self._resolve(agreement_id)
        if description.status is not WorkflowExecutionStatus.RUNNING:
            raise await self._closed(resolved_id, handle, description)
        return await self._send_knowing(agreement_id, handle, method, action)

    async def _send_knowing(self, agreement_id: str, handle: AgreementHandle, method: Any,
                            action: BaseModel) -> AgreementStatus | Receipt:
        """``_send``, and when the outcome cannot be learnt (``UNKNOWN_OUTCOME_STATUSES``, or the update's call
        timed out) once more, safely: an action that names its id goes again under it (the agreement answers a
        repeat if the first was recorded), one that does not under the same update id (Temporal answers with
        the first's outcome). ``OutcomeUnknown`` if it still cannot be learnt."""
        action_id = getattr(action, "action_id", None)
        update_id = str(uuid.uuid4())
        for attempt in range(2):
            try:
                return await self._send(handle, method, action, update_id)
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                cause = "the call ran out of time"
            except RPCError as error:
                if error.status not in UNKNOWN_OUTCOME_STATUSES:
                    raise
                cause = f"the connection failed: {' '.join(error.message.split())[:200]}"
            if attempt == 0:
                await asyncio.sleep(_RESEND_AFTER)
                update_id = str(uuid.uuid4()) if action_id else update_id
        raise OutcomeUnknown(agreement_id, str(action_id or action_id_of(update_id)), cause)

    async def _send(self, handle: AgreementHandle, method: Any, action: BaseModel,
                    update_id: str) -> AgreementStatus | Receipt:
        try:
            return await handle.execute_update(method, action, id=update_id)
        except WorkflowUpdateFailedError as failure:
            cause = failure.cause
            if isinstance(cause, ApplicationError):
                raise ActionRefused(cause.message, cause.type, builtins.list(cause.details)) from None
            raise ActionRefused(str(cause), type(cause).__name__, []) from None

    async def _closed(self, agreement_id: str, handle: AgreementHandle, description: Any) -> AgreementClosed:
        status = await handle.query(AgreementWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
        if status.closure is not None:
            return AgreementClosed(agreement_id, status.closure.outcome.value, status.closure.reason, status.closure.at)
        how = description.status.name.lower() if description.status else "closed"
        return AgreementClosed(agreement_id, how, "stopped outside the agreement's lifecycle", description.close_time)

    # --- reading ------------------------------------------------------------------------------------

    async def status(self, agreement_id: str) -> AgreementStatus:
        """The agreement's current status (also once it has closed, while Temporal holds its history).

        Raises ``AgreementNotFound``, ``StartRefused`` (its only start was refused), or ``AgreementRecordGone``.
        """
        try:
            latest = self._handle(workflow_id(agreement_id))
            status = await latest.query(AgreementWorkflow.status, rpc_timeout=QUERY_TIMEOUT)
            if status.decisions_recorded >= 1:  # a refused start records nothing
                return await _as_stopped(latest, status)
        except (RPCError, WorkflowQueryFailedError):
            pass
        _, handle, _ = await self._resolve(agreement_id)
        return await _as_stopped(handle, await handle.query(AgreementWorkflow.status, rpc_timeout=QUERY_TIMEOUT))

    async def ledger_head(self, agreement_id: str) -> ChainHead:
        """Where the agreement's workflow says its hash chain ends (sequence number and hash); the same errors
        as ``status``."""
        return (await self.status(agreement_id)).ledger_head

    async def ledger_anchor(self, agreement_id: str) -> tuple[ChainHead, bool]:
        """``ledger_head``, and whether an operator terminated the workflow (so that the reconciler's closing
        decisions may follow that head); the same errors as ``status``."""
        status = await self.status(agreement_id)
        terminated = status.closure is not None and status.closure.reason == TERMINATED_BY_AN_OPERATOR
        return status.ledger_head, terminated

    async def handle(self, agreement_id: str) -> AgreementHandle:
        """A handle on the agreement's newest run that opened, for anything this client does not cover (its
        history, a terminate). It follows continue-as-new when that run is the workflow's latest.

        Raises ``AgreementNotFound``, ``StartRefused`` or ``AgreementRecordGone``.
        """
        return (await self._resolve(agreement_id))[1]

    async def _resolve(self, text: str) -> tuple[str, AgreementHandle, Any]:
        """The agreement id, a handle on its newest opened run, and that run's description."""
        for agreement_id in candidate_ids(text):
            found = await self._find_run(agreement_id)
            if found is not None:
                return agreement_id, *found
        raise AgreementNotFound(text)

    async def _find_run(self, agreement_id: str) -> tuple[AgreementHandle, Any] | None:
        wid = workflow_id(agreement_id)
        latest = self._handle(wid)
        try:
            description = await latest.describe()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return None
            raise
        if description.status is WorkflowExecutionStatus.RUNNING or _opened(description.typed_search_attributes):
            return latest, description
        opened = [run async for run in self.client.list_workflows(f"WorkflowId = '{wid}'")
                  if _opened(run.typed_search_attributes)]
        if opened:
            newest = max(opened, key=lambda run: run.start_time)
            return self._handle(wid, newest.run_id), newest
        refusal = await self._refusal(agreement_id, self._handle(wid, description.run_id))
        if refusal.type == AGREEMENT_EXISTS:
            raise AgreementRecordGone(agreement_id)
        raise refusal

    async def list(
        self, *, stage: Stage | str | None = None, rag: Rag | str | None = None, lead: str | None = None,
        include_closed: bool = False, query: str | None = None, limit: int | None = None,
    ) -> AsyncIterator[AgreementRow]:
        """One row per agreement matching the filters (or a raw visibility ``query``), newest first, at most
        ``limit``. Refused starts and the earlier runs of agreements that continued as new are left out."""
        text = f"WorkflowType = '{WORKFLOW_TYPE}' AND ({query})" if query else visibility_query(
            stage, rag, lead, include_closed)
        newest: dict[str, WorkflowExecution] = {}
        async for run in self.client.list_workflows(text):
            if not _opened(run.typed_search_attributes) and run.status is not WorkflowExecutionStatus.RUNNING:
                continue
            if run.id not in newest or run.start_time > newest[run.id].start_time:
                newest[run.id] = run
        runs = sorted(newest.values(), key=lambda run: run.start_time, reverse=True)
        for run in runs[:limit]:
            attributes = run.typed_search_attributes
            yield AgreementRow(
                agreement_id=agreement_id_of(run.id),
                run_id=run.run_id,
                title=attributes.get(sa.TITLE),
                stage=attributes.get(sa.STAGE),
                rag=attributes.get(sa.RAG),
                lead_body=attributes.get(sa.LEAD_BODY),
                next_deadline=attributes.get(sa.NEXT_DEADLINE),
                open_alerts=attributes.get(sa.OPEN_ALERTS),
                execution_status=run.status.name.lower() if run.status else None,
            )
