"""Each kind of drift raises exactly one alert per level, carrying who is late and by how much."""

import json
import uuid
from collections import Counter
from datetime import timedelta

import asyncpg
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.ledger import LedgerActivities
from domain.model import Rag, Stage
from tests.helpers import assert_eventually
from tests.helpers.builders import LEAD, TAMWORTH, approve, readings, report
from tests.helpers.harness import (
    AMBER_THEN_RED_HALF_A_SECOND_APART,
    Harness,
    approve_by_all,
    slow_raise_alerts,
    version,
    walk_to_sign_off,
)
from workflows.agreement import AgreementWorkflow

MINUTE = timedelta(minutes=1)


async def alert_levels(harness: Harness, agreement_id: str) -> Counter[tuple[str, str]]:
    return Counter((row["kind"], row["level"]) for row in await harness.alerts(agreement_id))


async def wait_for_alerts(harness: Harness, agreement_id: str, count: int) -> list:
    async def enough():
        rows = await harness.alerts(agreement_id)
        return rows if len(rows) >= count else None

    return await assert_eventually(enough)


async def test_a_late_stage_turns_amber_then_red_then_escalates(harness: Harness):
    settings = {"stage_durations": {"proposal": "P10D"}, "escalation_interval": "P2D"}
    handle = await harness.start(settings=settings)
    agreement_id = handle.agreement_id

    await harness.skip(timedelta(days=8) - MINUTE)
    assert (await handle.query(AgreementWorkflow.status)).rag is Rag.GREEN
    assert await harness.alerts(agreement_id) == []

    await harness.skip(2 * MINUTE)
    [amber] = await wait_for_alerts(harness, agreement_id, 1)
    assert amber["level"] == "amber" and amber["stage"] == "proposal"
    assert (await handle.query(AgreementWorkflow.status)).rag is Rag.AMBER

    await harness.skip(timedelta(days=2))
    rows = await wait_for_alerts(harness, agreement_id, 2)
    red = rows[1]
    assert red["level"] == "red"
    details = json.loads(red["details"])
    assert details["agreement_id"] == agreement_id
    assert details["waiting_on"][0]["body_name"] == "Lichfield District Council"
    assert details["off_by"].startswith("is overdue")
    assert agreement_id in red["message"] and "proposal" in red["message"]

    await harness.skip(timedelta(days=6))
    await wait_for_alerts(harness, agreement_id, 5)
    status = await handle.query(AgreementWorkflow.status)
    assert status.rag is Rag.RED
    assert [a.level for a in status.open_alerts] == ["escalation 3"]
    assert await alert_levels(harness, agreement_id) == Counter({
        ("stage_drift", "amber"): 1, ("stage_drift", "red"): 1, ("stage_drift", "escalation 1"): 1,
        ("stage_drift", "escalation 2"): 1, ("stage_drift", "escalation 3"): 1,
    })
    assert await harness.activities_scheduled(handle, "raise_alerts") == 5, "the workflow raised a level twice"


async def test_a_sign_off_alert_names_the_partners_not_yet_signed(harness: Harness):
    handle = await harness.start(settings={"stage_durations": {"sign_off": "P20D"}})
    agreement_id = handle.agreement_id
    await walk_to_sign_off(handle)
    await handle.execute_update(AgreementWorkflow.record_sign_off, approve(LEAD, await version(handle)))

    await harness.skip(timedelta(days=20, minutes=1))
    rows = await wait_for_alerts(harness, agreement_id, 2)
    red = json.loads(rows[-1]["details"])
    assert red["level"] == "red" and red["stage"] == "sign_off"
    assert [w["body_name"] for w in red["waiting_on"]] == ["Tamworth Borough Council", "Staffordshire County Council"]
    assert "Tamworth Borough Council (sign-off)" in rows[-1]["message"]


async def test_an_overdue_milestone_raises_one_alert(harness: Harness):
    handle = await harness.start(settings={"stage_durations": {"implementation": "P400D"}})
    agreement_id = handle.agreement_id
    await walk_to_sign_off(handle)
    status = await approve_by_all(handle)
    assert status.stage is Stage.IMPLEMENTATION
    fleet_due = next(m.due for m in status.milestones if m.id == "fleet")

    await harness.skip(timedelta(days=33))
    [row] = await wait_for_alerts(harness, agreement_id, 1)
    assert (row["kind"], row["level"]) == ("milestone_overdue", "red")
    details = json.loads(row["details"])
    assert details["subject"] == "milestone fleet 'Joint fleet procured'"
    assert f"due {fleet_due}" in details["off_by"]
    assert [w["body_name"] for w in details["waiting_on"]] == ["Lichfield District Council"]

    await harness.skip(timedelta(days=10))
    await handle.query(AgreementWorkflow.status)
    assert await alert_levels(harness, agreement_id) == Counter({("milestone_overdue", "red"): 1})
    assert await harness.activities_scheduled(handle, "raise_alerts") == 1
    status = await handle.query(AgreementWorkflow.status)
    assert status.rag is Rag.RED


async def test_a_kpi_reading_outside_red_tolerance_raises_one_alert(harness: Harness):
    handle = await harness.start()
    agreement_id = handle.agreement_id
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    for actor, milestone in ((LEAD, "fleet"), (TAMWORTH, "rounds")):
        status = await handle.execute_update(AgreementWorkflow.report_milestone, report(milestone, actor))
    assert status.stage is Stage.REVIEW
    await harness.skip(status.stage_started_at - await harness.env.get_current_time() + MINUTE)

    red_cost = readings(cost="66.5", on_time=None)
    status = await handle.execute_update(AgreementWorkflow.record_kpi_readings, red_cost)
    assert status.rag is Rag.RED
    [row] = await wait_for_alerts(harness, agreement_id, 1)
    assert (row["kind"], row["level"]) == ("kpi_red", "red")
    assert "reads 66.5 GBP, 6.50 over its target 60.00 (red tolerance 5)" in row["message"]

    await handle.execute_update(AgreementWorkflow.record_kpi_readings, red_cost)
    await handle.query(AgreementWorkflow.status)
    assert await alert_levels(harness, agreement_id) == Counter({("kpi_red", "red"): 1})
    assert await harness.activities_scheduled(handle, "raise_alerts") == 1


async def test_a_level_reached_while_the_last_alert_is_being_raised_is_raised_at_once(
    env: WorkflowEnvironment, pool: asyncpg.Pool
):
    """Amber and red fall half a second apart and raising amber takes a second: red must not wait a week."""
    ledger = LedgerActivities(pool)
    harness = Harness(env, pool, f"test-{uuid.uuid4()}")
    async with Worker(env.client, task_queue=harness.task_queue, workflows=[AgreementWorkflow],
                      activities=[ledger.record_decisions, slow_raise_alerts(ledger)]):
        handle = await harness.start(settings=AMBER_THEN_RED_HALF_A_SECOND_APART)
        agreement_id = handle.agreement_id
        await harness.skip(timedelta(seconds=99.4))
        await harness.skip(timedelta(minutes=2))
        rows = await wait_for_alerts(harness, agreement_id, 2)
        assert [row["level"] for row in rows] == ["amber", "red"]
        assert await harness.activities_scheduled(handle, "raise_alerts") == 2
        await handle.terminate("test finished")
