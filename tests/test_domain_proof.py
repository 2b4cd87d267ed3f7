"""Sign what you saw, attested actions and attestor keys, as pure rules."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain import attestation
from domain.actions import Action, ChangeAttestorKeys, SignOff, SubmitProposal
from domain.agreement import Agreement
from domain.errors import ActionRejected
from domain.ledger import ChainHead, chain
from domain.lifecycle import evolve, open_agreement
from domain.model import AgreementRequest, Signatory
from domain.proof import recorded_keys, verify_attestations
from tests.helpers import factories
from tests.helpers.agreements import apply, in_sign_off, north_west_live
from tests.helpers.builders import (
    LANCASHIRE,
    LEAD,
    STAFFORDSHIRE,
    T0,
    TAMWORTH,
    after,
    approve,
    propose,
    reject,
    send_for_sign_off,
    set_objectives,
    sign,
    submit,
)

OWEN = "owen.hughes@tamworth.gov.uk"
PRIYA = "priya.shah@lichfield.gov.uk"


def refusal(agreement: Agreement, action: Action) -> ActionRejected:
    with pytest.raises(ActionRejected) as refused:
        evolve(agreement, action, T0)
    return refused.value


def signed_off(version: str | None, actor: Any = TAMWORTH) -> SignOff:
    return SignOff(actor=actor, decision="approve", version=version)


def test_a_sign_off_names_the_version_it_approves_and_a_stale_one_is_refused_naming_the_current():
    agreement = in_sign_off().model_copy(update={"versions_signed": True})
    first = agreement.version
    assert len(first) == 64 and apply(agreement, signed_off(first)).sign_offs["E07000199"].signatory == "Owen Hughes"

    missing = refusal(agreement, signed_off(None))
    assert (missing.code, missing.field) == ("version_required", "version") and first in str(missing)

    rejected = apply(agreement, reject(TAMWORTH).model_copy(update={"version": first}))
    revised = apply(rejected, submit(), set_objectives(), send_for_sign_off())
    assert revised.version == first, "the same proposal and plan are the same version"
    cheaper = [{"body": "E07000194", "annual_amount": "100.00"}, {"body": "E07000199", "annual_amount": "100.00"},
               {"body": "E10000028", "annual_amount": "100.00"}]
    changed = apply(rejected, submit(), set_objectives(contributions=cheaper), send_for_sign_off())
    assert changed.version != first
    stale = refusal(changed, signed_off(first))
    assert stale.code == "stale_version" and first in str(stale) and changed.version in str(stale)


def test_before_the_sign_what_you_saw_patch_a_version_is_optional_but_checked_when_named():
    agreement = in_sign_off()
    assert not agreement.versions_signed
    assert apply(agreement, signed_off(None)).sign_offs
    assert refusal(agreement, signed_off("0" * 64)).code == "stale_version"


def test_what_older_agreements_recorded_reads_and_hashes_as_it_did():
    """Fields added since are left out of JSON while they hold their defaults: ledger payloads, proposals and
    fingerprints of remembered actions are byte for byte what the older engine wrote."""
    assert Signatory(name="Owen Hughes", role="Chief Executive").model_dump() == {
        "name": "Owen Hughes", "role": "Chief Executive"}
    assert SignOff(actor=TAMWORTH, decision="approve").model_dump(mode="json") == {
        "actor": TAMWORTH.model_dump(), "action_id": None, "decision": "approve", "reason": ""}
    assert "require_attestation" not in factories.request().model_dump(mode="json")["settings"]
    payload = evolve(in_sign_off(), signed_off(None), T0).decisions[0].payload
    assert payload == {"decision": "approve", "reason": ""}


KEY = Ed25519PrivateKey.generate()


def attested_request(**identities: str) -> AgreementRequest:
    """The test agreement, requiring attestation by KEY ('api-1'), its signatories with ``identities``."""
    data = factories.request_data(settings={"require_attestation": True,
                                            "attestor_keys": {"api-1": factories.public_pem(KEY)}})
    for partner in data["proposal"]["partners"]:
        for signatory in partner["signatories"]:
            if signatory["name"] in identities:
                signatory["identity"] = identities[signatory["name"]]
    return AgreementRequest.model_validate(data)


def attested_agreement(**identities: str) -> Agreement:
    return open_agreement(attested_request(**identities), T0).agreement


def attest(action: Action, identity: str, agreement_id: str = "waste-2027", key: Any = KEY, seq: int = 0
           ) -> Action:
    action = action.model_copy(update={"action_id": action.action_id or "api-1"})
    claims = attestation.attestation_claims(issuer="https://login.example/tenant/v2.0",
                                            subject=f"subject-of-{identity}", name=identity, claim=identity,
                                            agreement_id=agreement_id, update="submit_proposal", action=action,
                                            seq=seq, at=T0)
    return action.model_copy(update={"attestation": attestation.sign(claims, key, "api-1")})


def test_an_attested_agreement_takes_only_actions_attested_for_the_signatory_they_name():
    agreement = attested_agreement(**{"Priya Shah": PRIYA})
    plain = SubmitProposal(actor=LEAD)
    assert refusal(agreement, plain).code == "attestation_required"
    assert refusal(agreement, attest(plain, OWEN)).code == "not_that_signatory"
    assert refusal(agreement, attest(plain, PRIYA, key=Ed25519PrivateKey.generate())).code == "attestation_invalid"
    assert refusal(agreement, attest(plain, PRIYA, agreement_id="another")).code == "attestation_invalid"
    tampered = attest(plain, PRIYA).model_copy(update={"action_id": "api-2"})
    assert "other content" in str(refusal(agreement, tampered))
    assert refusal(agreement, attest(plain, PRIYA, seq=1)).code == "attestation_invalid", "from the future"
    later = agreement.model_copy(update={"chain": agreement.chain.model_copy(update={"seq": 51})})
    replayed = refusal(later, attest(plain, PRIYA))
    assert "had 0 decisions; it has 51" in str(replayed) and "send the action through the API again" in str(replayed)
    assert evolve(agreement.model_copy(update={"chain": agreement.chain.model_copy(update={"seq": 50})}),
                  attest(plain, PRIYA), T0).decisions
    unidentified = attest(SubmitProposal(actor={"body": "E07000194", "signatory": "Tom Barker"}), "tom@lichfield")
    assert refusal(agreement, unidentified).code == "identity_not_registered"

    transition = evolve(agreement, attest(plain, PRIYA.upper()), T0)
    [decision, _] = transition.decisions
    assert decision.payload["action_id"] == "api-1" and decision.payload["attestation"]


def test_the_ledger_proves_each_attested_action_offline_and_names_an_altered_row():
    opening = open_agreement(attested_request(**{"Priya Shah": PRIYA}), T0)
    transition = evolve(opening.agreement, attest(SubmitProposal(actor=LEAD), PRIYA), T0)
    entries = chain("waste-2027", ChainHead(), [*opening.decisions, *transition.decisions])
    keys = recorded_keys(entries)
    assert keys == {"api-1": factories.public_pem(KEY)}
    report = verify_attestations("waste-2027", entries, keys)
    assert report.valid and report.attested == 1 and report.rows[0].identity == f"{PRIYA} (subject-of-{PRIYA} at https://login.example/tenant/v2.0)"

    altered = entries[1].model_copy(update={"actor_signatory": "Tom Barker"})
    report = verify_attestations("waste-2027", [entries[0], altered, *entries[2:]], keys)
    assert not report.valid and report.first_bad_seq == 2 and "decision #2" in str(report.problem)


def test_attestor_keys_are_added_and_retired_by_the_lead_body_and_one_always_remains():
    agreement = attested_agreement(**{"Priya Shah": PRIYA})
    new = factories.public_pem(Ed25519PrivateKey.generate())
    added = apply(agreement, attest(ChangeAttestorKeys(actor=LEAD, add={"api-2": new}, reason="rotation"), PRIYA))
    assert sorted(added.settings.attestor_keys) == ["api-1", "api-2"]
    last = attest(ChangeAttestorKeys(actor=LEAD, retire=["api-1"], reason="retire the only key"), PRIYA)
    assert "keeps at least one attestor key" in str(refusal(agreement, last))
    unknown = attest(ChangeAttestorKeys(actor=LEAD, retire=["api-9"], reason="no such key"), PRIYA)
    assert "no attestor key api-9" in str(refusal(agreement, unknown))
    clash = attest(ChangeAttestorKeys(actor=LEAD, add={"api-1": new}, reason="reuse an id"), PRIYA)
    assert "taken by another key" in str(refusal(agreement, clash))
    by_partner = ChangeAttestorKeys(actor=STAFFORDSHIRE, add={"api-3": new}, reason="not the lead")
    assert refusal(apply(in_sign_off(), approve(LEAD), now=after(1)), by_partner).code == "lead_only"


def test_a_variation_is_signed_by_the_version_read():
    agreement = apply(north_west_live(), propose(factories.cumbria_reorganisation(T0.date())), now=after(1))
    agreement = agreement.model_copy(update={"versions_signed": True})
    current = agreement.variation_version
    assert current is not None and len(current) == 64
    assert refusal(agreement, sign(LANCASHIRE)).code == "version_required"
    stale = refusal(agreement, sign(LANCASHIRE).model_copy(update={"version": "0" * 64}))
    assert stale.code == "stale_version" and current in str(stale) and "variation 1" in str(stale)
    signed = apply(agreement, sign(LANCASHIRE).model_copy(update={"version": current}), now=after(1))
    assert list(signed.variation.signatures) == [factories.LANCASHIRE]
