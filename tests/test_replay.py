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

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
BEFORE_PATCHES = sorted((Path(__file__).parent / "histories" / "before-patches").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_every_lifecycle_path_has_saved_histories():
    recorded = {path.stem.rsplit("-run", 1)[0] for path in HISTORIES}
    assert recorded == set(SCENARIOS)
    assert any(path.stem.endswith("run02") for path in HISTORIES), "a continue-as-new chain is among them"


@pytest.mark.parametrize("path", HISTORIES, ids=[path.stem for path in HISTORIES])
async def test_saved_history_replays(path: Path):
    replayer = Replayer(workflows=[AgreementWorkflow], data_converter=data_converter)
    await replayer.replay_workflow(load(path))


@pytest.mark.parametrize("path", BEFORE_PATCHES, ids=[path.stem for path in BEFORE_PATCHES])
async def test_a_history_recorded_before_a_patch_replays_down_the_old_branch(path: Path):
    replayer = Replayer(workflows=[AgreementWorkflow], data_converter=data_converter)
    await replayer.replay_workflow(load(path))


async def test_a_non_deterministic_change_is_caught_by_replay():
    replayer = Replayer(workflows=[PausingAgreementWorkflow], data_converter=data_converter)
    with pytest.raises(NondeterminismError):
        await replayer.replay_workflow(load(HISTORIES[0]))
