"""Delegation of signature, by the pure rules: a signatory delegates to a named colleague of the same body for a
stated period; the colleague signs sign-offs (and variations) "for" them within the dates, and is refused after
them, once withdrawn, before they start and for any other action; the ledger and the story name both."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from rich.console import Console

from cli.status import print_status
from domain import attestation
from domain.actions import Actor, DelegateSignature, WithdrawDelegation
from domain.agreement import Agreement
from domain.delegation import renumbered
from domain.errors import ActionRejected
from domain.ledger import GENESIS, ChainHead, chain
from domain.lifecycle import evolve
from domain.model import BoundIdentity
from domain.status import status_of
from domain.story import story
from tests.helpers import factories
from tests.helpers.agreements import apply, in_sign_off, north_west_live
from tests.helpers.builders import (
    LEAD,
    STAFFORDSHIRE,
    T0,
    TAMWORTH,
    after,
    approve,
    name_signatory,
    propose,
    report,
    retire,
    sign,
)

TAMWORTH_IDP = "https://login.example/tamworth/v2.0"
SAM = BoundIdentity(issuer=TAMWORTH_IDP, subject="sam-oid")
FOR_OWEN = Actor(body=factories.TAMWORTH, signatory="Owen Hughes", delegate="Sam Okafor")
ATTESTOR = Ed25519PrivateKey.generate()


def delegate(days: int = 14, actor: Actor = TAMWORTH, starts_in: int = 0, **fields: Any) -> DelegateSignature:
    """Owen Hughes delegates to Sam Okafor from ``starts_in`` days after T0 for ``days`` days (inclusive)."""
    starts = T0.date() + timedelta(days=starts_in)
    data = {"actor": actor, "delegate": "Sam Okafor", "delegate_identity": SAM, "starts": starts,
            "ends": starts + timedelta(days=days - 1), "reason": "annual leave", **fields}
    return DelegateSignature.model_validate(data)


def refusal(state: Agreement, action: Any, days: float = 0) -> ActionRejected:
    with pytest.raises(ActionRejected) as refused:
        evolve(state, action, after(days))
    return refused.value


def signing(state: Agreement) -> Any:
    return approve(FOR_OWEN, version=state.version)


def test_a_delegate_signs_for_the_signatory_within_the_dates_and_the_record_names_both():
    before = in_sign_off()
    state = apply(before, delegate())
    assert [(d.signatory, d.delegate, d.decision) for d in state.delegations] == [
        ("Owen Hughes", "Sam Okafor", before.chain.seq + 1)]
    transition = evolve(state, signing(state), after(13, hours=14))
    signed = transition.decisions[0]
    assert (signed.kind, signed.actor_body, signed.actor_signatory) == ("signed_off", factories.TAMWORTH,
                                                                        "Owen Hughes")
    assert signed.payload["actor"] == {"body": factories.TAMWORTH, "signatory": "Owen Hughes",
                                       "delegate": "Sam Okafor"}
    record = transition.agreement.sign_offs[factories.TAMWORTH]
    assert (record.signatory, record.delegate, record.signer) == ("Owen Hughes", "Sam Okafor", "Sam Okafor")
    entries = chain(state.agreement_id, ChainHead(seq=0, hash=GENESIS), transition.decisions)
    assert story(entries)[0].who == f"Sam Okafor for Owen Hughes ({factories.TAMWORTH})"


def test_a_delegate_is_refused_after_the_end_before_the_start_once_withdrawn_and_by_another_name():
    state = apply(in_sign_off(), delegate(days=14))
    assert refusal(state, signing(state), days=14).code == "delegation_ended"
    later = apply(in_sign_off(), delegate(starts_in=3))
    assert refusal(later, signing(later), days=2).code == "delegation_not_started"
    withdrawn = apply(state, WithdrawDelegation(actor=TAMWORTH, reason="back early"))
    refused = refusal(withdrawn, signing(withdrawn), days=1)
    assert refused.code == "delegation_withdrawn" and refused.field == "actor.delegate"
    someone = approve(FOR_OWEN.model_copy(update={"delegate": "Ann Lee"}), version=state.version)
    assert refusal(state, someone).code == "not_delegated"
    for_grace = approve(STAFFORDSHIRE.model_copy(update={"delegate": "Sam Okafor"}), version=state.version)
    assert refusal(state, for_grace).code == "not_delegated"


def test_a_delegate_signs_and_does_nothing_else():
    live = apply(in_sign_off(), delegate(days=200), approve(LEAD), approve(TAMWORTH), approve(STAFFORDSHIRE))
    milestone = report("rounds", FOR_OWEN)
    assert refusal(live, milestone).code == "not_delegable"
    assert refusal(live, delegate(actor=FOR_OWEN)).code == "not_delegable"
    assert refusal(live, WithdrawDelegation(actor=FOR_OWEN)).code == "not_delegable"


def test_a_delegation_is_bounded_starts_today_or_later_and_is_one_at_a_time():
    state = in_sign_off()
    with pytest.raises(ValidationError, match="at most 366 days"):
        delegate(days=367)
    with pytest.raises(ValidationError, match="before it starts"):
        delegate(days=0)
    assert refusal(state, delegate(starts_in=-1)).code == "starts_in_the_past"
    assert refusal(state, delegate(delegate="owen hughes")).code == "delegate_is_signatory"
    grace = BoundIdentity(issuer="https://login.example/staffordshire/v2.0", subject="grace")
    assert refusal(state, delegate(delegate="Grace Adeyemi", delegate_identity=grace)).code == (
        "delegate_of_another_body")
    delegated = apply(state, delegate())
    assert refusal(delegated, delegate(delegate="Ann Lee", starts_in=20)).code == "already_delegated"
    assert refusal(delegated, WithdrawDelegation(actor=LEAD)).code == "no_delegation"
    withdrawn = apply(delegated, WithdrawDelegation(actor=TAMWORTH))
    again = apply(withdrawn, delegate(delegate="Ann Lee", starts_in=20))
    assert [(d.delegate, d.withdrawn) for d in again.delegations] == [("Ann Lee", None)], "the old one is cleared"
    ended = apply(delegated, delegate(delegate="Ann Lee", starts_in=20), now=after(15))
    assert [d.delegate for d in ended.delegations] == ["Ann Lee"], "a delegation that ended makes way for another"


def test_the_status_lists_the_delegations_that_stand():
    state = apply(in_sign_off(), delegate(days=14))
    assert [d.delegate for d in status_of(state, after(13)).delegations] == ["Sam Okafor"]
    assert status_of(state, after(14)).delegations == []
    withdrawn = apply(state, WithdrawDelegation(actor=TAMWORTH))
    assert status_of(withdrawn, after(1)).delegations == []
    alice = name_signatory(TAMWORTH, factories.TAMWORTH, "Alice Grant")
    retired = apply(state, alice, retire(TAMWORTH, factories.TAMWORTH, "Owen Hughes", T0.date()))
    assert status_of(retired, after(1)).delegations == [], "nobody signs for a signatory who has retired"
    refused = refusal(retired, approve(FOR_OWEN, version=retired.version), days=1)
    assert refused.code == "not_a_signatory"


def test_an_actor_without_a_delegate_and_a_signature_record_serialise_as_they_always_did():
    assert TAMWORTH.model_dump(mode="json") == {"body": factories.TAMWORTH, "signatory": "Owen Hughes"}
    state = apply(in_sign_off(), approve(TAMWORTH))
    assert "delegate" not in state.sign_offs[factories.TAMWORTH].model_dump(mode="json")
    assert "actor" not in evolve(in_sign_off(), approve(TAMWORTH), T0).decisions[0].payload


def attested(action: Any, state: Agreement, subject: str) -> Any:
    action = action.model_copy(update={"action_id": f"api-{state.chain.seq}-{subject}"})
    claims = attestation.attestation_claims(issuer=TAMWORTH_IDP, subject=subject, name=subject, claim=None,
                                            agreement_id=state.agreement_id, update="record_sign_off", action=action,
                                            seq=state.chain.seq, at=T0)
    return action.model_copy(update={"attestation": attestation.sign(claims, ATTESTOR, "api-1")})


def test_on_an_attested_agreement_the_delegate_is_attested_as_themselves():
    settings = {"require_attestation": True, "attestor_keys": {"api-1": factories.public_pem(ATTESTOR)}}
    state = in_sign_off()
    state = state.model_copy(update={"settings": state.settings.model_copy(update=settings)})
    owen = BoundIdentity(issuer=TAMWORTH_IDP, subject="owen-oid")
    register = {factories.TAMWORTH: [s.model_copy(update={"identity": owen})
                                     for s in state.signatories(factories.TAMWORTH)]}
    state = state.model_copy(update={"signatory_register": register})
    state = evolve(state, attested(delegate(), state, "owen-oid"), T0).agreement
    as_owen = attested(signing(state), state, "owen-oid")
    assert refusal(state, as_owen).code == "not_that_delegate"
    signed = evolve(state, attested(signing(state), state, "sam-oid"), after(1)).agreement
    assert signed.sign_offs[factories.TAMWORTH].delegate == "Sam Okafor"


def test_a_delegate_signs_a_variation_for_the_signatory():
    cumbria = factories.CUMBRIA_SIGNATORY
    deputy = BoundIdentity(issuer="https://login.example/cumbria/v2.0", subject="deputy")
    agreement = apply(north_west_live(), delegate(actor=cumbria, delegate_identity=deputy),
                      propose(factories.blackpool_leaves(T0.date() + timedelta(days=200))))
    for_cumbria = cumbria.model_copy(update={"delegate": "Sam Okafor"})
    signed = evolve(agreement, sign(for_cumbria), after(1))
    assert signed.decisions[0].payload["actor"]["delegate"] == "Sam Okafor"
    assert signed.agreement.variation is not None
    assert signed.agreement.variation.signatures[factories.CUMBRIA].signer == "Sam Okafor"
    assert refusal(agreement, sign(for_cumbria), days=14).code == "delegation_ended"


def test_a_delegation_recorded_later_in_the_ledger_than_expected_is_renumbered_to_match():
    made = apply(in_sign_off(), delegate()).delegations
    first = made[0].decision
    withdrawn = apply(in_sign_off(), delegate(), WithdrawDelegation(actor=TAMWORTH)).delegations
    assert [(d.decision, d.withdrawn) for d in renumbered(made, first, 3)] == [(first + 3, None)]
    assert [(d.decision, d.withdrawn) for d in renumbered(withdrawn, first, 3)] == [(first + 3, first + 3)]
    assert renumbered(made, first + 1, 3) == made


def test_the_command_line_s_status_shows_who_signed_for_whom_and_the_delegations():
    state = apply(in_sign_off(), delegate())
    state = evolve(state, signing(state), after(1)).agreement
    out = io.StringIO()
    print_status(Console(file=out, width=200, color_system=None), status_of(state, after(1)))
    text = out.getvalue()
    assert "\tSam Okafor for Owen Hughes\tapprove" in text
    assert f"\tOwen Hughes\tSam Okafor\t{T0.date()}\t{state.delegations[0].ends}\t#1" in text
