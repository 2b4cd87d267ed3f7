"""Delegation of signature on the workflow, with time skipped: a delegate signs for an absent signatory within the
delegation's dates and is refused after them, or once it is withdrawn; the ledger names both, and its chain
verifies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain.actions import Actor, DelegateSignature, WithdrawDelegation
from domain.model import BoundIdentity
from domain.story import story
from tests.helpers.builders import LEAD, STAFFORDSHIRE, TAMWORTH, approve
from tests.helpers.harness import Harness, version, walk_to_sign_off
from workflows.agreement import AgreementWorkflow


def delegation(actor: Actor, delegate: str, subject: str, starts, days: int) -> DelegateSignature:
    identity = BoundIdentity(issuer="https://login.example/staffordshire/v2.0", subject=subject)
    return DelegateSignature(actor=actor, delegate=delegate, delegate_identity=identity, starts=starts,
                             ends=starts + timedelta(days=days - 1), reason="annual leave")


async def refused(handle, action) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(AgreementWorkflow.record_sign_off, action)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_a_delegate_signs_within_the_dates_and_is_refused_after_them_or_once_withdrawn(harness: Harness):
    handle = await harness.start()
    await walk_to_sign_off(handle)
    today = (await harness.env.get_current_time()).date()
    await handle.execute_update(AgreementWorkflow.delegate_signature,
                                delegation(STAFFORDSHIRE, "Femi Adeyemi", "femi", today, 2))
    await handle.execute_update(AgreementWorkflow.delegate_signature,
                                delegation(TAMWORTH, "Sam Okafor", "sam", today, 7))
    status = await handle.execute_update(AgreementWorkflow.delegate_signature,
                                         delegation(LEAD, "Tom Ward", "tom", today, 30))
    assert [(d.signatory, d.delegate) for d in status.delegations] == [
        ("Grace Adeyemi", "Femi Adeyemi"), ("Owen Hughes", "Sam Okafor"), ("Priya Shah", "Tom Ward")]
    await handle.execute_update(AgreementWorkflow.withdraw_delegation, WithdrawDelegation(actor=LEAD))

    await harness.skip(timedelta(days=3))
    signed = await version(handle)
    for_grace = STAFFORDSHIRE.model_copy(update={"delegate": "Femi Adeyemi"})
    ledger_before = await harness.ledger(handle.agreement_id)
    assert (await refused(handle, approve(for_grace, signed))).details[0][0]["code"] == "delegation_ended"
    for_priya = LEAD.model_copy(update={"delegate": "Tom Ward"})
    assert (await refused(handle, approve(for_priya, signed))).details[0][0]["code"] == "delegation_withdrawn"
    assert await harness.ledger(handle.agreement_id) == ledger_before, "a refused delegate recorded nothing"

    for_owen = TAMWORTH.model_copy(update={"delegate": "Sam Okafor"})
    status = await handle.execute_update(AgreementWorkflow.record_sign_off, approve(for_owen, signed))
    assert [(s.signatory, s.delegate) for s in status.sign_offs] == [("Owen Hughes", "Sam Okafor")]
    assert [d.delegate for d in status.delegations] == ["Sam Okafor"], "an ended or withdrawn one is not shown"

    entries = await harness.ledger(handle.agreement_id)
    signed_off = entries[-1]
    assert (signed_off.kind, signed_off.actor_signatory) == ("signed_off", "Owen Hughes")
    assert signed_off.payload["actor"]["delegate"] == "Sam Okafor"
    assert story(entries)[-1].who == "Sam Okafor for Owen Hughes (Tamworth Borough Council)"
    assert [e.kind for e in entries].count("signature_delegated") == 3
    assert entries[[e.kind for e in entries].index("delegation_withdrawn")].payload["delegate"] == "Tom Ward"
    assert (await harness.verify(handle.agreement_id)).valid
