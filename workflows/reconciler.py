"""The termination reconciler: started by a Temporal Schedule (every few minutes), it records in the ledger
each agreement an operator terminated, which no workflow code sees (``activities.reconcile``).

The workflow only runs the activity; the activity finds the terminations and writes the ledger, and returns a
count, so nothing of an agreement enters this workflow's history.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.common import RetryPolicy

RECONCILE_ACTIVITY = "record_terminations"
SCHEDULE_ID = "concordat-record-terminations"
"""The reconciler's Temporal Schedule: one per namespace."""


@workflow.defn
class TerminationReconcilerWorkflow:
    @workflow.run
    async def run(self) -> int:
        """Record every termination not yet in the ledger; returns how many agreements it closed."""
        return await workflow.execute_activity(
            RECONCILE_ACTIVITY,
            result_type=int,
            summary="record terminated agreements in the ledger",
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5)),
        )


def reconcile_schedule(every: timedelta, task_queue: str) -> Schedule:
    """The Temporal Schedule that runs the reconciler every ``every``; runs never overlap."""
    return Schedule(
        action=ScheduleActionStartWorkflow(TerminationReconcilerWorkflow.run, id="record-terminations",
                                           task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )
