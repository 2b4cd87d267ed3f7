"""Hostile input: random and malicious payloads are either refused with a reason or accepted as valid.

Domain rules get hundreds of hypothesis examples each; the workflow gets a seeded stream of
hostile updates on the time-skipping server, after which no workflow task has failed and the
ledger is intact.
"""

import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import drift, lifecycle
from domain.errors import ACTION_REJECTED, INVALID_PAYLOAD, ActionRejected, explain
from domain.model import AgreementRequest
from domain.status import status_of
from tests.helpers import assert_eventually, factories
from tests.helpers.agreements import apply, in_implementation, in_objective_setting, in_sign_off, live, opened
from tests.helpers.builders import LEAD, T0, TAMWORTH, after, propose
from tests.helpers.harness import Harness
from workflows.contract import UPDATES

HOSTILE_STRINGS = [
    "", " ", "x" * 100_000, "\x00", "\ud800", "\x85", "\x7f", "\u202eevil", "a\u200db", "e\u0301" * 50,
    "🏛️" * 30, "Lісhfіеld", "'; DROP TABLE decisions; --", "{{7*7}}", "\n\t", None,
]
HOSTILE_NUMBERS = ["-1", "NaN", "Infinity", "-Infinity", "1e309", "1" * 40, "0.0000001", -5, 1e308, True, [], {}]
HOSTILE_DATES = ["0001-01-01", "9999-12-31", "2027-02-30", "yesterday", 0, None]
HOSTILE_VALUES = HOSTILE_STRINGS + HOSTILE_NUMBERS + HOSTILE_DATES + [[1, 2], {"a": 1}, [None] * 3]

VALID_ACTIONS: dict[str, dict[str, Any]] = {
    "revise_proposal": {"actor": LEAD.model_dump(), "proposal": factories.proposal_data()},
    "submit_proposal": {"actor": LEAD.model_dump()},
    "set_objectives": {"actor": LEAD.model_dump(), "plan": factories.plan_data(T0.date())},
    "submit_for_sign_off": {"actor": LEAD.model_dump()},
    "record_sign_off": {"actor": TAMWORTH.model_dump(), "decision": "reject", "reason": "too costly"},
    "report_milestone": {"actor": LEAD.model_dump(), "milestone_id": "fleet", "status": "complete",
                         "percent_complete": 100},
    "record_kpi_readings": {"actor": LEAD.model_dump(), "readings": [{"kpi_id": "missed-bins", "value": "99"}]},
    "record_benefits": {"actor": LEAD.model_dump(), "actual_annual_cost": "3800000.00", "contributions": [
        {"body": factories.LICHFIELD, "annual_amount": "1900000.00"},
        {"body": factories.TAMWORTH, "annual_amount": "1200000.00"},
        {"body": factories.STAFFORDSHIRE, "annual_amount": "700000.00"}]},
    "review_risks": {"actor": LEAD.model_dump(), "risks": [factories.risk_data(factories.TAMWORTH, "depot", 4, 5)]},
    "record_lessons": {"actor": TAMWORTH.model_dump(), "lessons": [
        {"what_worked": "One depot for both fleets", "what_did_not": "Two payroll systems", "tags": ["fleet"]}]},
    "decide_review": {"actor": LEAD.model_dump(), "outcome": "continue", "reason": "on track"},
    "withdraw": {"actor": LEAD.model_dump(), "reason": "partners chose another provider"},
    "propose_variation": {"actor": LEAD.model_dump(), "variation": {
        "reason": "Cannock Chase joins", "effective_on": after(60).date().isoformat(), "changes": [
            {"kind": "join", "annual_contribution": "500000.00", "body": {
                "code": "E07000192", "name": "Cannock Chase District Council",
                "signatories": [{"name": "Martin Lee", "role": "Chief Executive"}]}},
            {"kind": "leave", "body": factories.STAFFORDSHIRE, "notice_period": "P30D",
             "exit_terms": "Pays to the end of the year", "exit_amount": "-100.00"}]}},
    "sign_variation": {"actor": TAMWORTH.model_dump(), "decision": "approve"},
    "withdraw_variation": {"actor": LEAD.model_dump(), "reason": "the partners think again"},
    "name_signatory": {"actor": LEAD.model_dump(), "of_body": factories.LICHFIELD, "name": "Tom Ward",
                       "role": "Deputy Chief Executive", "reason": ""},
    "retire_signatory": {"actor": LEAD.model_dump(), "of_body": factories.LICHFIELD, "name": "Tom Barker",
                         "retired_on": T0.date().isoformat()},
    "bind_identity": {"actor": TAMWORTH.model_dump(), "name": "Owen Hughes",
                      "identity": {"issuer": "https://login.example/tamworth/v2.0", "subject": "owen-oid"}},
    "change_attestor_keys": {"actor": LEAD.model_dump(), "reason": "the API's signing key is rotated",
                             "add": {"api-2": factories.public_pem(factories.ATTESTOR_KEY)}},
    "delegate_signature": {"actor": TAMWORTH.model_dump(), "delegate": "Sam Okafor", "delegate_identity": {
        "issuer": "https://login.example/tamworth/v2.0", "subject": "sam-oid"}, "starts": T0.date().isoformat(),
        "ends": after(14).date().isoformat(), "reason": "annual leave"},
    "withdraw_delegation": {"actor": TAMWORTH.model_dump(), "reason": "back early"},
}


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON document where a value can be replaced or removed."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutate(document: Any, path: tuple, how: str, value: Any) -> Any:
    copy = json.loads(json.dumps(document))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if how == "remove":
        del parent[last]
    elif how == "duplicate" and isinstance(parent, list):
        parent.append(parent[last])
    elif how == "extra" and isinstance(parent, dict):
        parent["unexpected_field"] = value
    else:
        parent[last] = value
    return copy


@st.composite
def hostile(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with one to three places replaced, removed, duplicated or padded with hostile values."""
    for _ in range(draw(st.integers(1, 3))):
        places = paths(document)
        if not places:
            break
        document = mutate(document, draw(st.sampled_from(places)),
                          draw(st.sampled_from(["replace", "replace", "remove", "duplicate", "extra"])),
                          draw(st.sampled_from(HOSTILE_VALUES) | st.text(max_size=50) | st.integers()
                               | st.floats(allow_nan=True)))
    return document


def storable(model: BaseModel) -> None:
    """What the ledger stores must survive JSON and UTF-8: no NUL, no lone surrogates."""
    text = model.model_dump_json()
    text.encode("utf-8")
    assert "\\u0000" not in text
    assert type(model).model_validate_json(text) == model


def validate_or_explain(model: type[BaseModel], payload: Any) -> BaseModel | None:
    try:
        parsed = model.model_validate(payload)
    except ValidationError as error:
        message = explain(error)
        assert message.startswith("Invalid ") and ": " in message
        return None
    storable(parsed)
    return parsed


@settings(max_examples=400, deadline=None)
@given(hostile(factories.request_data("hostile")))
def test_hostile_agreement_requests_are_refused_with_a_reason_or_valid(payload):
    validate_or_explain(AgreementRequest, payload)


AGREEMENTS = {"opened": opened(), "objective_setting": in_objective_setting(), "sign_off": in_sign_off(),
              "implementation": in_implementation(), "live": live(),
              "variation_pending": apply(live(), propose(VALID_ACTIONS["propose_variation"]["variation"],
                                                                LEAD))}


@pytest.mark.parametrize("update", sorted(UPDATES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_actions_never_break_the_rules(update, data):
    model = UPDATES[update]
    action = validate_or_explain(model, data.draw(hostile(VALID_ACTIONS[update])))
    if action is None:
        return
    agreement = AGREEMENTS[data.draw(st.sampled_from(sorted(AGREEMENTS)))]
    before = agreement.model_dump()
    now = data.draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                                 timezones=st.just(UTC)))
    try:
        transition = lifecycle.evolve(agreement, action, now)
    except ActionRejected as rejection:
        assert str(rejection)
    else:
        for decision in transition.decisions:
            storable(decision)
        status_of(transition.agreement, now)
        later = drift.next_check(transition.agreement, now)
        assert later is None or later > now
    assert agreement.model_dump() == before, "evolve must not change the agreement it is given"


async def test_a_stream_of_hostile_updates_never_fails_a_workflow_task(harness: Harness):
    rng = random.Random(2027)
    sendable = [v for v in HOSTILE_VALUES if v != "\ud800"]  # the client itself cannot encode a lone surrogate
    handle = await harness.start()
    agreement_id = handle.agreement_id
    accepted = refused = 0
    for _ in range(120):
        update = rng.choice(sorted(set(UPDATES) - {"withdraw"}))  # a valid withdrawal would close the agreement
        payload = VALID_ACTIONS[update]
        for _ in range(rng.randint(1, 3)):
            places = paths(payload)
            if not places:
                break
            payload = mutate(payload, rng.choice(places), rng.choice(["replace", "remove", "extra"]),
                             rng.choice(sendable))
        try:
            await handle.execute_update(update, payload)
            accepted += 1
        except WorkflowUpdateFailedError as failure:
            assert isinstance(failure.cause, ApplicationError) and failure.cause.message
            assert failure.cause.type in (INVALID_PAYLOAD, ACTION_REJECTED)
            problems = failure.cause.details[0]
            assert problems and all(set(problem) == {"field", "code", "message"} for problem in problems)
            refused += 1
    trace = await harness.trace_of_updates(handle)
    assert "EVENT_TYPE_WORKFLOW_TASK_FAILED" not in trace
    assert trace.count("EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED") == accepted
    entries = await harness.ledger(agreement_id)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    assert (await harness.verify(agreement_id)).valid
    assert refused > 100
    status = await handle.query("status")
    assert status["agreement_id"] == agreement_id


@pytest.mark.parametrize("seed", range(8))
async def test_hostile_start_input_fails_fast_or_runs(harness: Harness, seed: int):
    rng = random.Random(seed)
    payload = factories.request_data(harness.new_id("hostile-start"))
    places = [p for p in paths(payload) if p[0] != "agreement_id"]
    payload = mutate(payload, rng.choice(places), "replace", rng.choice(HOSTILE_VALUES[6:]))
    handle = await harness.start(payload, wait_opened=False)

    async def settled() -> list[str] | None:
        kinds = [EventType.Name(e.event_type) for e in await harness.history_events(handle)]
        done = {"EVENT_TYPE_WORKFLOW_EXECUTION_FAILED", "EVENT_TYPE_ACTIVITY_TASK_COMPLETED"}
        return kinds if done & set(kinds) else None

    kinds = await assert_eventually(settled)
    assert "EVENT_TYPE_WORKFLOW_TASK_FAILED" not in kinds
