"""AgreementClient on the time-skipping server: typed actions, both kinds of id, typed refusals, and what
every run of a long-lived agreement shows in the Web UI."""

import pytest

from domain.actions import SignOff, SignOffDecision, SubmitProposal
from domain.errors import ACTION_REJECTED
from domain.model import Stage
from tests.helpers import factories
from tests.helpers.harness import Harness, approve_by_all, walk_to_sign_off
from tests.test_workflow_lifecycle import conclude_review, go_live
from workflows.agreement import AgreementWorkflow, agreement_id_of, workflow_id
from workflows.client import ActionRefused, AgreementNotFound
from workflows.contract import start_options


async def test_an_action_of_the_wrong_name_or_shape_is_not_sent(harness: Harness):
    handle = await harness.start()
    agreement_id = agreement_id_of(handle.id)
    submit = SubmitProposal(actor=factories.LEAD)

    with pytest.raises(TypeError, match="record_sign_off takes a SignOff, not a SubmitProposal"):
        await harness.agreements.act(agreement_id, AgreementWorkflow.record_sign_off, submit)
    with pytest.raises(TypeError, match="'sign_off' is not an action of the agreement workflow"):
        await harness.agreements.act(agreement_id, "sign_off", submit)

    assert await harness.trace_of_updates(handle) == []
    status = await harness.agreements.act(workflow_id(agreement_id), AgreementWorkflow.submit_proposal, submit)
    assert status.stage is Stage.OBJECTIVE_SETTING
    assert (await harness.agreements.status(workflow_id(agreement_id))).stage is Stage.OBJECTIVE_SETTING


async def test_a_refusal_is_typed_and_names_the_reason(harness: Harness):
    agreement_id = agreement_id_of((await harness.start()).id)
    approval = SignOff(actor=factories.TAMWORTH_SIGNATORY, decision=SignOffDecision.APPROVE)

    with pytest.raises(ActionRefused) as refused:
        await harness.agreements.act(agreement_id, AgreementWorkflow.record_sign_off, approval)

    assert refused.value.type == ACTION_REJECTED
    assert refused.value.message.startswith("cannot sign off while agreement")
    with pytest.raises(AgreementNotFound, match="no such agreement agreement-none"):
        await harness.agreements.status("agreement-none")


async def test_every_run_of_a_long_lived_agreement_keeps_its_memo(harness: Harness, monkeypatch: pytest.MonkeyPatch):
    request = factories.request(harness.new_id(), settings={"term": "P364D"})
    handle = await harness.start(request)
    await walk_to_sign_off(handle)
    await approve_by_all(handle)
    await go_live(handle)
    await harness.continue_as_new_at_next_task(handle, monkeypatch)
    await conclude_review(harness, handle)

    latest = await handle.describe()
    assert latest.run_id != harness.first_run_ids[handle.id], "the agreement continued as new"
    assert await latest.memo() == start_options(request)["memo"]
    first = await harness.client.get_workflow_handle(handle.id, run_id=harness.first_run_ids[handle.id]).describe()
    assert await first.static_summary() == start_options(request)["static_summary"]
