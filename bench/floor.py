"""The floor workflows: what Temporal itself costs for the same work, with no governance logic.

A floor lifecycle takes the same number of updates as an agreement's, each running one
activity that writes one row, and re-arms a timer after each like the agreement does; the
local-activity floor runs the same workflow with each row written in a local activity.
A floor deadline is a timer followed by one row written. Only workflow code lives here:
the sandbox re-imports this module, so its activities live in bench/worker.py.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow

_WRITE_TIMEOUT = timedelta(seconds=10)
"""How long one floor write may take, as an agreement's ledger write."""

FLOOR_TABLE = """CREATE TABLE IF NOT EXISTS bench_floor (
    id bigserial PRIMARY KEY, workflow_id text NOT NULL, payload jsonb NOT NULL,
    written_at timestamptz NOT NULL DEFAULT clock_timestamp())"""


@workflow.defn
class FloorLifecycleWorkflow:
    """``updates`` updates, each writing one row; with ``local``, each row in a local activity (the local-activity
    floor: the fastest bare workflow doing the same work, answered in the task that accepts the update)."""

    def __init__(self) -> None:
        self._done = 0
        self._opened = False
        self._local = False

    @workflow.run
    async def run(self, updates: int, local: bool = False) -> int:
        self._local = local
        await self._write({"opened": True})
        self._opened = True
        while self._done < updates:
            await self._sleep_until_updated_or_a_day()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._done

    async def _sleep_until_updated_or_a_day(self) -> None:
        """The agreement's wait: until an update lands, with a timer that is re-armed after each."""
        seen = self._done
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._done != seen, timeout=timedelta(days=1))

    @workflow.query
    def opened(self) -> bool:
        """Whether the opening row is written, as the agreement's status says once its opening is recorded."""
        return self._opened

    @workflow.update
    async def act(self, payload: dict) -> int:
        await self._write(payload)
        self._done += 1
        return self._done

    async def _write(self, payload: dict) -> None:
        """One row, in an ordinary activity or (``local``) a local one, with Temporal's default retries."""
        if self._local:
            await workflow.execute_local_activity("floor_write", payload, start_to_close_timeout=_WRITE_TIMEOUT)
        else:
            await workflow.execute_activity("floor_write", payload, start_to_close_timeout=_WRITE_TIMEOUT)


@workflow.defn
class FloorDeadlineWorkflow:
    def __init__(self) -> None:
        self._deadline: datetime | None = None

    @workflow.run
    async def run(self, deadline: datetime) -> None:
        self._deadline = deadline
        await workflow.sleep(max(deadline - workflow.now(), timedelta(milliseconds=1)))
        await workflow.execute_activity("floor_write", {"alert": "deadline"}, start_to_close_timeout=_WRITE_TIMEOUT)

    @workflow.query
    def deadline(self) -> datetime | None:
        """Answered once the first task has run, as the agreement's status query is."""
        return self._deadline
