"""A caller may ask an update for a short receipt instead of the agreement's whole status."""

from domain.actions import Reply
from domain.model import Stage
from domain.status import AgreementStatus, Receipt
from tests.helpers.builders import submit
from tests.helpers.harness import Harness
from workflows.agreement import AgreementWorkflow


async def test_a_receipt_names_the_decisions_stage_and_version_and_nothing_of_it_is_recorded(harness: Harness):
    handle = await harness.start()
    action = submit().model_copy(update={"action_id": "submit-once"})
    receipt = await harness.agreements.act_for_receipt(handle.agreement_id, AgreementWorkflow.submit_proposal, action)
    status = await handle.query(AgreementWorkflow.status)
    assert isinstance(receipt, Receipt)
    assert (receipt.agreement_id, receipt.stage, receipt.version, receipt.decisions_recorded) == (
        handle.agreement_id, Stage.OBJECTIVE_SETTING, status.version, status.decisions_recorded)
    assert (receipt.action.action_id, receipt.action.first_seq, receipt.action.last_seq, receipt.action.repeat) == (
        "submit-once", 2, 3, False)

    again = await harness.agreements.act(handle.agreement_id, AgreementWorkflow.submit_proposal, action)
    assert isinstance(again, AgreementStatus) and again.action is not None and again.action.repeat, \
        "a repeat may ask for the other answer: the reply is no part of what the action is"
    assert again.model_copy(update={"action": None}) == status
    entries = await harness.ledger(handle.agreement_id)
    assert len(entries) == 3 and all("reply" not in entry.payload for entry in entries), "the reply is not recorded"


def test_the_reply_is_left_out_of_an_actions_json_while_it_is_the_default():
    assert "reply" not in submit().model_dump(mode="json")
    assert submit().model_copy(update={"reply": Reply.RECEIPT}).model_dump(mode="json")["reply"] == "receipt"
