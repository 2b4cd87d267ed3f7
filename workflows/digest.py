"""The alert digest: started by a Temporal Schedule (daily or weekly), it enqueues one digest
delivery per digest subscription with open alerts, through the same outbox the dispatcher sends.

The workflow only names the period; the activity reads the subscriptions from PostgreSQL and the
open alerts from the agreements, and returns a count, so no official's name enters its history.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

from workflows import rollout

with workflow.unsafe.imports_passed_through():
    from domain.delivery import Cadence, DigestRun, digest_period

DEFAULT_TIME_ZONE = "Europe/London"
"""The time zone of a schedule made before schedules passed theirs (``alerts digest-schedule``'s default)."""

DIGEST_ACTIVITY = "enqueue_digests"


def schedule_id(cadence: Cadence) -> str:
    """The Temporal Schedule of a cadence's digest: one per namespace."""
    return f"concordat-alert-digest-{cadence.value}"


@workflow.defn
class AlertDigestWorkflow:
    @workflow.run
    async def run(self, cadence: Cadence, time_zone: str = DEFAULT_TIME_ZONE) -> int:
        """Enqueue this period's digests, the period read in ``time_zone`` (the schedule's, an IANA name);
        returns how many were enqueued. An unknown time zone fails the run, not its workflow task."""
        zone = time_zone if workflow.patched(rollout.DIGEST_LOCAL_PERIODS) else "UTC"
        try:
            period = digest_period(cadence, workflow.now(), zone)
        except ValueError as error:
            raise ApplicationError(str(error), type="InvalidTimeZone", non_retryable=True) from None
        run = DigestRun(cadence=cadence, period=period)
        return await workflow.execute_activity(
            DIGEST_ACTIVITY,
            run,
            result_type=int,
            summary=f"enqueue the {cadence.value} digests of {run.period}",
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=5), maximum_interval=timedelta(minutes=5)),
        )
