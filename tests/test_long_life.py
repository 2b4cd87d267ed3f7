"""A ten-year agreement: forty quarterly reviews, amendments, re-sign-offs and drift, in short runs."""

from datetime import timedelta

from temporalio.api.enums.v1 import EventType

from domain.ledger import ChainHead
from domain.model import Stage
from tests.helpers.builders import LEAD, TAMWORTH, decide, readings, reject, report, send_for_sign_off
from tests.helpers.harness import Harness, approve_by_all, version, walk_to_sign_off
from workflows import rollout
from workflows.agreement import AgreementWorkflow

TEN_YEARS = {"term": "P3640D"}  # forty 91-day review periods
MAX_EVENTS_PER_RUN = 250


async def until_review_opens(harness: Harness, handle) -> None:
    status = await handle.query(AgreementWorkflow.status)
    now = await harness.env.get_current_time()
    if status.stage_started_at > now:
        await harness.skip(status.stage_started_at - now + timedelta(hours=1))


async def test_ten_years_of_reviews_in_bounded_runs_with_one_verified_chain(harness: Harness):
    handle = await harness.start(settings=TEN_YEARS)
    agreement_id = handle.agreement_id
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    for actor, milestone in ((LEAD, "fleet"), (TAMWORTH, "rounds")):
        status = await handle.execute_update(AgreementWorkflow.report_milestone, report(milestone, actor))

    amendments = rejected_amendments = 0
    while status.stage is not Stage.CLOSED:
        review = status.review_number
        await until_review_opens(harness, handle)
        if review % 8 == 5:  # now and then the lead body is a month late, and the review turns red
            await harness.skip(timedelta(days=31))
        cost = "68" if review % 10 == 3 else "61"  # a bad quarter: the cost KPI reads red
        await handle.execute_update(AgreementWorkflow.record_kpi_readings, readings(cost=cost, on_time="99.2"))
        outcome = "amend" if review in (12, 27) else "continue"
        before = await handle.execute_update(AgreementWorkflow.decide_review,
                                             decide(outcome, reason="quarterly benefits review"))
        after = await handle.query(AgreementWorkflow.status)
        assert after == before.model_copy(update={"action": None}), \
            "the status must read the same across the continue-as-new boundary (an update's adds its action)"
        if outcome == "amend":
            amendments += 1
            await handle.execute_update(AgreementWorkflow.submit_for_sign_off, send_for_sign_off())
            if review == 27:
                await handle.execute_update(AgreementWorkflow.record_sign_off, reject(
                    TAMWORTH, "the new targets are too soft", await version(handle)))
                rejected_amendments += 1
                await handle.execute_update(AgreementWorkflow.submit_for_sign_off, send_for_sign_off())
            before = await approve_by_all(handle)
        status = await handle.query(AgreementWorkflow.status)

    result = await handle.result()
    assert result.closure is not None and result.closure.outcome == "completed"
    assert result.review_number == 40 and (amendments, rejected_amendments) == (2, 1)

    histories = await harness.runs(handle.id)
    sizes = [len(events) for events in histories]
    assert 2 <= len(histories) < 40, f"expected runs continued as history nears its bound, got {len(histories)}"
    assert max(sizes) <= MAX_EVENTS_PER_RUN, f"largest run has {max(sizes)} events"
    markers = [[e for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
                and e.marker_recorded_event_attributes.marker_name == "core_patch"] for events in histories]
    assert [len(run) for run in markers] == [len(rollout.CURRENT_RULES)] + [0] * (len(histories) - 1), \
        "the rules are asked of history once (a marker per current patch), as the agreement opens, then carried"
    for events in histories[1:]:
        first_upsert = next((e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
                             for e in events if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES),
                            {})
        assert "LeadBody" not in first_upsert and "AgreementTitle" not in first_upsert, \
            "a continued run starts with its predecessor's search attributes and upserts only what changed"

    ledger = await harness.ledger(agreement_id)
    assert len(ledger) == result.decisions_recorded
    head = ChainHead(seq=ledger[-1].seq, hash=ledger[-1].hash)
    assert head == result.ledger_head
    assert (await harness.verify(agreement_id)).valid
    assert (await harness.pool.fetchval("SELECT count(*) FROM decisions WHERE agreement_id = $1 AND kind = "
                                        "'review_decided'", agreement_id)) == 40
    kinds = {(row["kind"], row["level"]) for row in await harness.alerts(agreement_id)}
    assert {("stage_drift", "amber"), ("stage_drift", "red"), ("kpi_red", "red")} <= kinds
    print(f"ten years: {len(histories)} runs, events per run min {min(sizes)} max {max(sizes)}, "
          f"{len(ledger)} decisions")
