"""A sign-off round on the real Temporal dev server, with the ledger and alerts in a real PostgreSQL."""

import json

import asyncpg
import pytest
from temporalio.client import WorkflowUpdateFailedError

from domain.actions import Actor
from domain.drift import Alert
from domain.model import Stage
from store.alerts import ALERT_CHANNEL
from tests.helpers import assert_eventually, factories
from tests.helpers.builders import LEAD, STAFFORDSHIRE, TAMWORTH, approve, reject, send_for_sign_off, submit
from tests.helpers.harness import Harness, approve_by_all, version, walk_to_sign_off
from workflows.agreement import AgreementWorkflow

pytestmark = pytest.mark.dev_server


async def test_a_sign_off_round_records_every_decision_once(harness: Harness):
    handle = await harness.start()
    agreement_id = handle.agreement_id
    await walk_to_sign_off(handle)
    status = await handle.execute_update(AgreementWorkflow.record_sign_off, reject(
        TAMWORTH, "the fleet costs need a second look", await version(handle)))
    assert status.stage is Stage.PROPOSAL
    await handle.execute_update(AgreementWorkflow.submit_proposal, submit())
    await handle.execute_update(AgreementWorkflow.submit_for_sign_off, send_for_sign_off())
    impostor = Actor(body=factories.TAMWORTH, signatory="Priya Shah")
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(AgreementWorkflow.record_sign_off, approve(impostor, await version(handle)))
    status = await approve_by_all(handle)
    assert status.stage is Stage.IMPLEMENTATION

    entries = await harness.ledger(agreement_id)
    assert [e.seq for e in entries] == list(range(1, status.decisions_recorded + 1))
    assert [(e.kind, e.actor_body) for e in entries if e.kind == "signed_off"] == [
        ("signed_off", factories.TAMWORTH),
        ("signed_off", factories.LICHFIELD),
        ("signed_off", factories.TAMWORTH),
        ("signed_off", factories.STAFFORDSHIRE),
    ]
    rejection = next(e for e in entries if e.kind == "signed_off")
    assert rejection.actor_signatory == "Owen Hughes"
    assert rejection.payload == {"decision": "reject", "reason": "the fleet costs need a second look",
                                 "version": rejection.payload["version"]}
    assert len(rejection.payload["version"]) == 64, "the ledger records the version signed"
    assert [e.payload["to"] for e in entries if e.kind == "stage_changed"] == [
        "objective_setting", "sign_off", "proposal", "objective_setting", "sign_off", "implementation"]
    verification = await harness.verify(agreement_id)
    assert verification.valid and verification.entries == len(entries)


async def test_a_late_sign_off_is_alerted_to_listeners(harness: Harness, postgres_dsn: str):
    listener = await asyncpg.connect(postgres_dsn)
    announced: list[dict] = []
    await listener.add_listener(ALERT_CHANNEL, lambda *args: announced.append(json.loads(args[3])))
    try:
        settings = {"stage_durations": {"sign_off": "PT6S"}, "amber_share": "0.5", "escalation_interval": "PT2S"}
        handle = await harness.start(settings=settings)
        agreement_id = handle.agreement_id
        await walk_to_sign_off(handle)
        await handle.execute_update(AgreementWorkflow.record_sign_off, approve(TAMWORTH, await version(handle)))

        async def three_announced() -> list[dict] | None:
            ours = [a for a in announced if a["agreement_id"] == agreement_id]
            return ours[:3] if len(ours) >= 3 else None

        first_three = await assert_eventually(three_announced, timeout=90)
        assert [a["level"] for a in first_three] == ["amber", "red", "escalation 1"]
        for alert_announced in first_three:
            details = await harness.pool.fetchval("SELECT details FROM alerts WHERE id = $1",
                                                  alert_announced["alert_id"])
            alert = Alert.model_validate_json(details)
            assert [w.body_name for w in alert.waiting_on] == [
                "Lichfield District Council", "Staffordshire County Council"]

        await approve_by_all_remaining(handle)
        rows = await assert_eventually(lambda: harness.alerts(agreement_id))
        assert len({(r["condition"], r["level"]) for r in rows}) == len(rows)
        assert json.loads(rows[0]["details"])["stage"] == "sign_off"
    finally:
        await listener.close()


async def approve_by_all_remaining(handle) -> None:
    for actor in (LEAD, STAFFORDSHIRE):
        await handle.execute_update(AgreementWorkflow.record_sign_off, approve(actor, await version(handle)))
