"""Saved histories of every lifecycle path must replay on today's workflow code."""

import base64
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.helpers.nondeterministic import PausingAgreementWorkflow
from tests.histories.record import SCENARIOS
from workflows.agreement import AgreementWorkflow, workflow_id
from workflows.converter import data_converter

SAVED = Path(__file__).parent / "histories"
HISTORIES = sorted(SAVED.glob("*.json"))
BEFORE_PATCHES = sorted((SAVED / "before-patches").glob("*.json"))
"""Histories that take a patch's old branch: agreements started before the change must keep running."""


RECORDED_UNDER = {"workflow-id-of-another-agreement": "agreement-history-mismatch-b10"}
"""Saved histories whose workflow id is not their agreement's (see ``tests/histories/before_patches.py``)."""


def load(path: Path) -> WorkflowHistory:
    """A saved history under the workflow id it ran as (its agreement's, read from its start input, unless
    ``RECORDED_UNDER`` says otherwise), as a worker replays it."""
    text = path.read_text()
    if path.stem in RECORDED_UNDER:
        return WorkflowHistory.from_json(RECORDED_UNDER[path.stem], text)
    started = json.loads(text)["events"][0]["workflowExecutionStartedEventAttributes"]
    agreement_id = json.loads(base64.b64decode(started["input"]["payloads"][0]["data"]))["agreement_id"]
    return WorkflowHistory.from_json(workflow_id(agreement_id), text)


def test_every_lifecycle_path_has_saved_histories():
    recorded = {path.stem.rsplit("-run", 1)[0] for path in HISTORIES}
    assert recorded == set(SCENARIOS)
    assert any(path.stem.endswith("run02") for path in BEFORE_PATCHES), "a continue-as-new chain is among them"


@pytest.mark.parametrize(
    "path", HISTORIES + BEFORE_PATCHES, ids=[str(path.relative_to(SAVED)) for path in HISTORIES + BEFORE_PATCHES]
)
async def test_saved_history_replays(path: Path):
    replayer = Replayer(workflows=[AgreementWorkflow], data_converter=data_converter)
    await replayer.replay_workflow(load(path))


async def test_a_non_deterministic_change_is_caught_by_replay():
    replayer = Replayer(workflows=[PausingAgreementWorkflow], data_converter=data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(load(HISTORIES[0]))


def with_readings_as_numbers(path: Path) -> WorkflowHistory:
    """A saved history whose KPI readings were sent as JSON numbers, as the engine accepted before it
    required decimal strings (a JavaScript client's ``61.0``)."""
    history = json.loads(path.read_text())
    for event in history["events"]:
        accepted = event.get("workflowExecutionUpdateAcceptedEventAttributes")
        if accepted and accepted["acceptedRequest"]["input"]["name"] == "record_kpi_readings":
            payload = accepted["acceptedRequest"]["input"]["args"]["payloads"][0]
            action = json.loads(base64.b64decode(payload["data"]))
            action["readings"] = [reading | {"value": float(reading["value"])} for reading in action["readings"]]
            payload["data"] = base64.b64encode(json.dumps(action).encode()).decode()
    return WorkflowHistory.from_json(path.stem, history)


async def test_an_action_accepted_under_older_formats_replays():
    """Today a number is refused where a decimal string is due; what was accepted before still replays."""
    history = with_readings_as_numbers(SAVED / "before-patches" / "ordinary-activities-completed-run02.json")
    sent = [e.workflow_execution_update_accepted_event_attributes.accepted_request.input for e in history.events
            if e.HasField("workflow_execution_update_accepted_event_attributes")]
    assert [(i.name, b'"value": 61.0' in i.args.payloads[0].data) for i in sent][0] == ("record_kpi_readings", True)
    replayer = Replayer(workflows=[AgreementWorkflow], data_converter=data_converter)
    await replayer.replay_workflow(history)
