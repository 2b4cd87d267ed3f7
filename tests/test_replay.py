"""Saved histories of every lifecycle path must replay on today's workflow code."""

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.histories.record import SCENARIOS
from tests.nondeterministic import PausingAgreementWorkflow
from workflows.agreement import AgreementWorkflow
from workflows.converter import data_converter

SAVED = Path(__file__).parent / "histories"
HISTORIES = sorted(SAVED.glob("*.json"))
BEFORE_PATCHES = sorted((SAVED / "before-patches").glob("*.json"))
"""Histories that take a patch's old branch: agreements started before the change must keep running."""


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_every_lifecycle_path_has_saved_histories():
    recorded = {path.stem.rsplit("-run", 1)[0] for path in HISTORIES}
    assert recorded == set(SCENARIOS)
    assert any(path.stem.endswith("run02") for path in HISTORIES), "a continue-as-new chain is among them"


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
