"""Each body speaks for itself: identities are the issuer and subject of a council's own identity provider, bound
by that council; the lead names partners' signatories but never binds them; a person opens and reads only for
the bodies their identity provider speaks for, or as the directory grants, and every read is logged.

The API tests serve two councils' tenants over HTTP (Lichfield's and Tamworth's, each a directory issuer with its
own keys), the API's own issuer speaking for Staffordshire alone, with real signed tokens; Temporal and
PostgreSQL real.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
import structlog.testing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

import starter
from domain import attestation
from domain.actions import BindIdentity, NameSignatory, RecordLessons, ReviseProposal
from domain.agreement import Agreement
from domain.errors import ActionRejected
from domain.lifecycle import evolve, open_agreement
from domain.model import AgreementRequest, BoundIdentity, Signatory
from store import directory
from tests.helpers import assert_eventually, factories
from tests.helpers.builders import T0
from tests.helpers.harness import Harness
from tests.helpers.identity import IdentityProvider
from tests.test_api import Api, serving
from workflows.agreement import workflow_id

LICHFIELD_IDP = "https://login.example/lichfield/v2.0"
TAMWORTH_IDP = "https://login.example/tamworth/v2.0"
ATTESTOR = Ed25519PrivateKey.generate()
LEAD = factories.LEAD.model_dump()
TAMWORTH = factories.TAMWORTH_SIGNATORY.model_dump()
STAFFORDSHIRE = factories.STAFFORDSHIRE_SIGNATORY.model_dump()


# The engine's rules, pure.

def agreement(*, bound_by_own_body: bool = True, **identities: Any) -> Agreement:
    data = factories.request_data()
    for partner in data["proposal"]["partners"]:
        for signatory in partner["signatories"]:
            if signatory["name"] in identities:
                signatory["identity"] = identities[signatory["name"]]
    opened = open_agreement(AgreementRequest.model_validate(data), T0).agreement
    return opened.model_copy(update={"identities_bound_by_own_body": bound_by_own_body})


def refusal(state: Agreement, action: Any) -> ActionRejected:
    with pytest.raises(ActionRejected) as refused:
        evolve(state, action, T0)
    return refused.value


def owen(subject: str = "owen-oid") -> BoundIdentity:
    return BoundIdentity(issuer=TAMWORTH_IDP, subject=subject)


def test_the_recorded_string_form_of_an_identity_still_loads_and_serialises_as_it_was():
    recorded = Signatory.model_validate({"name": "Owen Hughes", "role": "Chief Executive",
                                         "identity": "owen.hughes@tamworth.gov.uk"})
    assert recorded.identity == "owen.hughes@tamworth.gov.uk" and recorded.bound is None
    assert recorded.model_dump(mode="json")["identity"] == "owen.hughes@tamworth.gov.uk"
    assert recorded.is_identified_by(TAMWORTH_IDP, "any", "OWEN.HUGHES@tamworth.gov.uk")
    assert not recorded.is_identified_by(TAMWORTH_IDP, "owen.hughes@tamworth.gov.uk"), "a subject is not a claim"
    bound = Signatory.model_validate({"name": "Owen Hughes", "role": "Chief Executive",
                                      "identity": {"issuer": TAMWORTH_IDP, "subject": "owen-oid"}})
    assert bound.bound == owen() and bound.is_identified_by(TAMWORTH_IDP, "owen-oid")
    assert not bound.is_identified_by(TAMWORTH_IDP, "OWEN-OID"), "subjects compare exactly"
    assert not bound.is_identified_by(LICHFIELD_IDP, "owen-oid"), "another issuer's subject is another person"
    assert not bound.is_identified_by(TAMWORTH_IDP, "other", "owen-oid"), "a display claim never matches a bound one"


def test_the_lead_names_a_partners_signatory_but_never_binds_or_changes_their_identity():
    state = agreement()
    lead_binds = BindIdentity(actor=factories.LEAD, name="Owen Hughes", identity=owen())
    assert "a body binds only its own signatories" in str(refusal(state, lead_binds))

    proposal = factories.proposal_data()
    proposal["partners"][1]["signatories"][0]["identity"] = {"issuer": LICHFIELD_IDP, "subject": "a-colleague"}
    revision = ReviseProposal(actor=factories.LEAD, proposal=proposal)
    assert refusal(state, revision).code == "identity_bound_by_own_body"

    bound = evolve(state, BindIdentity(actor=factories.TAMWORTH_SIGNATORY, name="Owen Hughes", identity=owen()),
                   T0).agreement
    assert bound.signatories(factories.TAMWORTH)[0].identity == owen()
    proposal["partners"][1]["signatories"][0]["identity"] = owen().model_dump()
    restated = ReviseProposal(actor=factories.LEAD, proposal=proposal)
    assert evolve(bound, restated, T0).decisions, "restating is no change"
    proposal["partners"][1]["signatories"][0]["identity"] = owen("someone-else").model_dump()
    assert refusal(bound, ReviseProposal(actor=factories.LEAD, proposal=proposal)).code == "identity_bound_by_own_body"

    retired = evolve(bound, BindIdentity(actor=factories.TAMWORTH_SIGNATORY, name="Owen Hughes",
                                         identity=owen("owen-new-oid")), T0).agreement
    no_one = retired.model_copy(update={"signatory_register": {**retired.signatory_register, factories.TAMWORTH: []}})
    naming = NameSignatory(actor=factories.LEAD, of_body=factories.TAMWORTH, name="Ann Lee", role="Chief Executive",
                           reason="Tamworth has no signatory", identity=BoundIdentity(issuer=LICHFIELD_IDP,
                                                                                      subject="a-colleague"))
    assert refusal(no_one, naming).code == "identity_bound_by_own_body"
    named = evolve(no_one, naming.model_copy(update={"identity": None}), T0).agreement
    assert named.signatories(factories.TAMWORTH)[0].identity is None


def test_agreements_from_before_the_rule_replay_as_they_ran():
    state = agreement(bound_by_own_body=False)
    proposal = factories.proposal_data()
    proposal["partners"][1]["signatories"][0]["identity"] = "someone@lichfield.gov.uk"
    assert evolve(state, ReviseProposal(actor=factories.LEAD, proposal=proposal), T0).decisions


def test_one_identity_is_one_signatory():
    state = agreement(**{"Owen Hughes": owen().model_dump()})
    grace = BindIdentity(actor=factories.STAFFORDSHIRE_SIGNATORY, name="Grace Adeyemi", identity=owen())
    assert refusal(state, grace).code == "identity_taken"
    again = BindIdentity(actor=factories.TAMWORTH_SIGNATORY, name="Owen Hughes", identity=owen())
    assert refusal(state, again).code == "identity_already_bound"


def attested(action: Any, state: Agreement, *, subject: str, name: str, issuer: str = TAMWORTH_IDP) -> Any:
    action = action.model_copy(update={"action_id": f"api-{state.chain.seq}-{subject}-{name}".replace(" ", "-")})
    claims = attestation.attestation_claims(issuer=issuer, subject=subject, name=name, claim=None,
                                            agreement_id=state.agreement_id, update="bind_identity", action=action,
                                            seq=state.chain.seq, at=T0)
    return action.model_copy(update={"attestation": attestation.sign(claims, ATTESTOR, "api-1")})


def test_on_an_attested_agreement_a_signatory_binds_only_the_identity_they_signed_in_with_and_then_acts():
    state = agreement().model_copy(update={"settings": AgreementRequest.model_validate(factories.request_data(
        settings={"require_attestation": True, "attestor_keys": {"api-1": factories.public_pem(ATTESTOR)}}
    )).settings})
    accept = BindIdentity(actor=factories.TAMWORTH_SIGNATORY, name="Owen Hughes", identity=owen())
    assert refusal(state, attested(accept, state, subject="someone-else", name="Owen Hughes")).field == "identity"
    wrong_person = attested(accept, state, subject="owen-oid", name="Olivia Hughes")
    assert refusal(state, wrong_person).code == "not_that_signatory"
    bound = evolve(state, attested(accept, state, subject="owen-oid", name="owen hughes"), T0).agreement
    assert bound.signatories(factories.TAMWORTH)[0].identity == owen()
    lessons = RecordLessons(actor=factories.TAMWORTH_SIGNATORY, lessons=[{"what_worked": "One depot"}])
    impostor = attested(lessons, bound, subject="owen-oid", name="Owen Hughes", issuer=LICHFIELD_IDP)
    assert refusal(bound, impostor).code == "not_that_signatory"
    takeover = attested(accept.model_copy(update={"identity": owen("other")}), bound, subject="other",
                        name="Owen Hughes")
    assert refusal(bound, takeover).code == "not_that_signatory"


# Through the API, with two councils' identity providers.

@pytest.fixture
def lichfield() -> Iterator[IdentityProvider]:
    idp = IdentityProvider("lichfield")
    yield idp
    idp.close()


@pytest.fixture
def tamworth() -> Iterator[IdentityProvider]:
    idp = IdentityProvider("tamworth")
    yield idp
    idp.close()


@pytest.fixture
def staffordshire() -> Iterator[IdentityProvider]:
    idp = IdentityProvider("staffordshire")
    yield idp
    idp.close()


@asynccontextmanager
async def councils(harness: Harness, lichfield: IdentityProvider, tamworth: IdentityProvider,
                   staffordshire: IdentityProvider, **variables: str) -> AsyncIterator[Api]:
    """The API with Lichfield's and Tamworth's tenants in the directory, its own issuer Staffordshire's; the
    directory entries are removed afterwards (the database is the session's)."""
    entries = [directory.IssuerEntry(body=body, issuer=idp.issuer, jwks_url=idp.jwks_url, audience="api://concordat",
                                     tenant=idp.tenant)
               for body, idp in ((factories.LICHFIELD, lichfield), (factories.TAMWORTH, tamworth))]
    for entry in entries:
        await directory.add_issuer(harness.pool, entry, by="deployment-admin@test")
    try:
        async with serving(harness, staffordshire, Ed25519PrivateKey.generate(),
                           CONCORDAT_API_ISSUER_BODIES=factories.STAFFORDSHIRE, **variables) as api:
            yield api
    finally:
        for entry in entries:
            await directory.remove_issuer(harness.pool, entry.body, entry.issuer, by="deployment-admin@test")


def request(agreement_id: str, lichfield: IdentityProvider, **tamworth_identity: Any) -> dict[str, Any]:
    partners = factories.proposal_data()["partners"]
    partners[0]["signatories"][0]["identity"] = lichfield.identity("priya")
    partners[1]["signatories"][0].update(tamworth_identity)
    return factories.request_data(agreement_id, partners=partners)


async def opened(harness: Harness, api: Api, lichfield: IdentityProvider) -> str:
    agreement_id = harness.new_id("identity")
    keys = (await api.http.get("/attestor-keys")).json()
    body = request(agreement_id, lichfield)
    body["settings"] = {"require_attestation": True, "attestor_keys": keys}
    response = await api.http.post("/agreements", json=body, headers=lichfield.bearer("priya", name="Priya Shah"))
    assert response.status_code == 201, response.text
    harness.started.append(harness.client.get_workflow_handle(workflow_id(agreement_id)))
    return agreement_id


async def act(api: Api, idp: IdentityProvider, username: str, agreement_id: str, action: str,
              body: dict[str, Any], **token: Any) -> Any:
    return await api.http.post(f"/agreements/{agreement_id}/actions/{action}", json=body,
                               headers=idp.bearer(username, **token))


async def test_each_council_binds_its_own_signatories_through_its_own_identity_provider(
        harness: Harness, lichfield: IdentityProvider, tamworth: IdentityProvider, staffordshire: IdentityProvider):
    async with councils(harness, lichfield, tamworth, staffordshire) as api:
        agreement_id = await opened(harness, api, lichfield)
        ledger_length = len(await harness.ledger(agreement_id))

        # Lichfield's officer cannot be Tamworth's signatory: not through Lichfield's issuer, not by any action.
        impostor = await act(api, lichfield, "colleague", agreement_id, "bind_identity",
                             {"actor": TAMWORTH, "name": "Owen Hughes"}, name="Owen Hughes")
        assert impostor.status_code == 403 and impostor.json()["type"] == "NotOfThatBody", impostor.text
        by_lead = await act(api, lichfield, "priya", agreement_id, "bind_identity",
                            {"actor": LEAD, "name": "Owen Hughes", "identity": lichfield.identity("colleague")})
        assert by_lead.status_code == 409 and "binds only its own signatories" in by_lead.json()["message"]
        proposal = request(agreement_id, lichfield, identity=lichfield.identity("colleague"))["proposal"]
        revised = await act(api, lichfield, "priya", agreement_id, "revise_proposal",
                            {"actor": LEAD, "proposal": proposal})
        assert revised.status_code == 409 and revised.json()["problems"][0]["code"] == "identity_bound_by_own_body"
        assert len(await harness.ledger(agreement_id)) == ledger_length

        # Another Tamworth account whose name is not Owen's cannot accept his role.
        other = await act(api, tamworth, "o.hughes2", agreement_id, "bind_identity",
                          {"actor": TAMWORTH, "name": "Owen Hughes"}, name="Olivia Hughes")
        assert other.status_code == 403 and "not Owen Hughes" in other.json()["message"], other.text

        # Owen signs in through Tamworth's own tenant and accepts; then he acts, and only he.
        bound = await act(api, tamworth, "owen", agreement_id, "bind_identity",
                          {"actor": TAMWORTH, "name": "Owen Hughes"}, name="Owen Hughes")
        assert bound.status_code == 200, bound.text
        [owen] = bound.json()["signatories"][factories.TAMWORTH]
        assert owen["identity"] == tamworth.identity("owen")
        same_username = await act(api, tamworth, "OWEN", agreement_id, "bind_identity",
                                  {"actor": TAMWORTH, "name": "Owen Hughes"}, name="Owen Hughes")
        assert same_username.status_code == 403, "another account with the same username took over the role"
        grace = await act(api, staffordshire, "grace", agreement_id, "bind_identity",
                          {"actor": STAFFORDSHIRE, "name": "Grace Adeyemi"}, name="Grace Adeyemi")
        assert grace.status_code == 200, grace.text

        for action, body in (("submit_proposal", {}),
                             ("set_objectives", {"plan": factories.plan_data(date.today())}),
                             ("submit_for_sign_off", {})):
            response = await act(api, lichfield, "priya", agreement_id, action, {"actor": LEAD, **body})
            assert response.status_code == 200, response.text
        version = response.json()["version"]
        sign_off = {"actor": TAMWORTH, "decision": "approve", "version": version}
        for idp, username in ((lichfield, "owen"), (tamworth, "OWEN"), (tamworth, "o.hughes2")):
            refused = await act(api, idp, username, agreement_id, "record_sign_off", sign_off, name="Owen Hughes")
            assert refused.status_code == 403, (idp.tenant, username, refused.text)
        signed = await act(api, tamworth, "owen", agreement_id, "record_sign_off", sign_off)
        assert signed.status_code == 200, signed.text

        ledger = (await api.http.get(f"/agreements/{agreement_id}/ledger",
                                     headers=tamworth.bearer("owen"))).json()
        assert ledger["attestations"]["valid"]
        rows = [(row["kind"], row["identity"]) for row in ledger["attestations"]["rows"]]
        assert ("signed_off", f"owen ({tamworth.subject('owen')} at {tamworth.issuer})") in rows
        assert ("identity_bound", f"Owen Hughes ({tamworth.subject('owen')} at {tamworth.issuer})") in rows


async def test_a_delegate_s_token_signs_for_the_signatory_and_another_colleague_s_does_not(
        harness: Harness, lichfield: IdentityProvider, tamworth: IdentityProvider, staffordshire: IdentityProvider):
    async with councils(harness, lichfield, tamworth, staffordshire) as api:
        agreement_id = await opened(harness, api, lichfield)
        bound = await act(api, tamworth, "owen", agreement_id, "bind_identity",
                          {"actor": TAMWORTH, "name": "Owen Hughes"}, name="Owen Hughes")
        assert bound.status_code == 200, bound.text
        today = date.today()
        delegation = {"actor": TAMWORTH, "delegate": "Sam Okafor", "delegate_identity": lichfield.identity("sam"),
                      "starts": today.isoformat(), "ends": (today + timedelta(days=13)).isoformat(),
                      "reason": "annual leave"}
        elsewhere = await act(api, tamworth, "owen", agreement_id, "delegate_signature", delegation)
        assert elsewhere.status_code == 409, elsewhere.text
        assert elsewhere.json()["problems"][0]["code"] == "issuer_not_of_that_body"
        by_sam = await act(api, tamworth, "sam", agreement_id, "delegate_signature",
                           {**delegation, "delegate_identity": tamworth.identity("sam")})
        assert by_sam.status_code == 403, "only Owen delegates Owen's signature"
        delegated = await act(api, tamworth, "owen", agreement_id, "delegate_signature",
                              {**delegation, "delegate_identity": tamworth.identity("sam")})
        assert delegated.status_code == 200, delegated.text
        assert [(d["delegate"], d["delegate_identity"]) for d in delegated.json()["delegations"]] == [
            ("Sam Okafor", tamworth.identity("sam"))]

        for action, body in (("submit_proposal", {}),
                             ("set_objectives", {"plan": factories.plan_data(today)}),
                             ("submit_for_sign_off", {})):
            response = await act(api, lichfield, "priya", agreement_id, action, {"actor": LEAD, **body})
            assert response.status_code == 200, response.text
        for_owen = {"actor": {**TAMWORTH, "delegate": "Sam Okafor"}, "decision": "approve",
                    "version": response.json()["version"]}
        ledger_length = len(await harness.ledger(agreement_id))
        for idp, username in ((tamworth, "ann"), (lichfield, "sam"), (tamworth, "owen")):
            refused = await act(api, idp, username, agreement_id, "record_sign_off", for_owen, name="Sam Okafor")
            assert refused.status_code == 403, (idp.tenant, username, refused.text)
        not_delegated = await act(api, tamworth, "ann", agreement_id, "record_sign_off",
                                  {**for_owen, "actor": {**TAMWORTH, "delegate": "Ann Lee"}}, name="Ann Lee")
        assert not_delegated.json()["problems"][0]["code"] == "not_delegated", not_delegated.text
        assert len(await harness.ledger(agreement_id)) == ledger_length, "a refused colleague recorded nothing"

        signed = await act(api, tamworth, "sam", agreement_id, "record_sign_off", for_owen, name="Sam Okafor")
        assert signed.status_code == 200, signed.text
        ledger = (await api.http.get(f"/agreements/{agreement_id}/ledger", headers=tamworth.bearer("sam"))).json()
        assert ledger["attestations"]["valid"]
        signed_off = ledger["entries"][-1]
        assert (signed_off["kind"], signed_off["actor_signatory"]) == ("signed_off", "Owen Hughes")
        assert signed_off["payload"]["actor"]["delegate"] == "Sam Okafor"
        rows = [(row["kind"], row["identity"]) for row in ledger["attestations"]["rows"]]
        assert ("signed_off", f"Sam Okafor ({tamworth.subject('sam')} at {tamworth.issuer})") in rows


async def test_no_one_opens_in_a_body_s_name_but_its_own_signatory_and_no_partner_sets_another_s_identity(
        harness: Harness, lichfield: IdentityProvider, tamworth: IdentityProvider, staffordshire: IdentityProvider):
    async with councils(harness, lichfield, tamworth, staffordshire) as api:
        agreement_id = harness.new_id("identity")
        body = request(agreement_id, lichfield)
        outsider = IdentityProvider("outsider")
        try:
            response = await api.http.post("/agreements", json=body, headers=outsider.bearer("mallory"))
            assert response.status_code == 401 and "not an identity provider" in response.json()["message"]
        finally:
            outsider.close()
        as_tamworth = request(agreement_id, lichfield)
        as_tamworth["proposal"]["partners"][0]["signatories"][0]["identity"] = tamworth.identity("mallory")
        response = await api.http.post("/agreements", json=as_tamworth, headers=tamworth.bearer("mallory"))
        assert response.status_code == 403 and response.json()["type"] == "NotOfThatBody", response.text
        response = await api.http.post("/agreements", json=body, headers=lichfield.bearer("tom"))
        assert response.status_code == 403 and response.json()["type"] == "NotThatSignatory", response.text
        binding = request(agreement_id, lichfield, identity=lichfield.identity("colleague"))
        response = await api.http.post("/agreements", json=binding, headers=lichfield.bearer("priya"))
        assert response.status_code == 409 and response.json()["problems"][0]["code"] == "identity_bound_by_own_body"
        recorded_form = request(agreement_id, lichfield)
        recorded_form["proposal"]["partners"][0]["signatories"][1]["identity"] = "tom.barker@lichfield.gov.uk"
        response = await api.http.post("/agreements", json=recorded_form, headers=lichfield.bearer("priya"))
        assert response.status_code == 422, response.text

        response = await api.http.post("/agreements", json=body, headers=lichfield.bearer("priya"))
        assert response.status_code == 201, "the refused attempts took nothing from Lichfield: " + response.text
        harness.started.append(harness.client.get_workflow_handle(workflow_id(agreement_id)))


@pytest.mark.dev_server
async def test_a_person_reads_only_their_bodies_agreements_or_what_they_are_granted_and_every_read_is_logged(
        harness: Harness, lichfield: IdentityProvider, tamworth: IdentityProvider, staffordshire: IdentityProvider):
    async with councils(harness, lichfield, tamworth, staffordshire) as api:
        agreement_id = await opened(harness, api, lichfield)
        stranger = IdentityProvider("cannock")
        entry = directory.IssuerEntry(body="E07000192", issuer=stranger.issuer, jwks_url=stranger.jwks_url,
                                      audience="api://concordat")
        await directory.add_issuer(harness.pool, entry, by="deployment-admin@test")
        auditor = directory.ReadGrant(issuer=stranger.issuer, subject=stranger.subject("auditor"),
                                      role="auditor", body=factories.TAMWORTH)
        try:
            for path in (f"/agreements/{agreement_id}", f"/agreements/{agreement_id}/ledger"):
                with structlog.testing.capture_logs() as logs:
                    refused = await api.http.get(path, headers=stranger.bearer("officer"))
                assert refused.status_code == 403 and refused.json()["type"] == "NotAReader", refused.text
                assert any(log["event"] == "agreement_read_refused" and log["agreement_id"] == agreement_id
                           for log in logs)
            async def listed_to(idp: IdentityProvider, username: str) -> list[str]:
                listed = await api.http.get("/agreements", params={"limit": 1000}, headers=idp.bearer(username))
                assert listed.status_code == 200, listed.text
                return [row["agreement_id"] for row in listed.json()]

            async def listed_to_tamworth() -> bool:
                return agreement_id in await listed_to(tamworth, "owen")

            await assert_eventually(listed_to_tamworth)
            assert agreement_id not in await listed_to(stranger, "officer")

            await directory.grant(harness.pool, auditor, by="deployment-admin@test")
            with structlog.testing.capture_logs() as logs:
                read = await api.http.get(f"/agreements/{agreement_id}", headers=stranger.bearer("auditor"))
                partner = await api.http.get(f"/agreements/{agreement_id}/ledger", headers=tamworth.bearer("owen"))
            assert read.status_code == 200 and partner.status_code == 200, (read.text, partner.text)
            assert {"event": "agreement_read", "reader": f"{stranger.subject('auditor')} at {stranger.issuer}",
                    "name": "auditor", "agreement_id": agreement_id, "what": "status",
                    "basis": f"auditor of {factories.TAMWORTH}", "log_level": "info"} in logs
            assert {"event": "agreement_read", "reader": f"{tamworth.subject('owen')} at {tamworth.issuer}",
                    "name": "owen", "agreement_id": agreement_id, "what": "ledger",
                    "basis": f"partner {factories.TAMWORTH}", "log_level": "info"} in logs
            changes = [(c.change, c.changed_by) for c in await directory.changes(harness.pool, limit=5)]
            assert ("read_granted", "deployment-admin@test") in changes
        finally:
            if auditor in (await directory.load(harness.pool)).grants:
                await directory.revoke(harness.pool, auditor, by="deployment-admin@test")
            await directory.remove_issuer(harness.pool, entry.body, entry.issuer, by="deployment-admin@test")
            stranger.close()


async def test_an_unverified_email_or_another_body_s_account_does_not_act_as_a_recorded_signatory(
        harness: Harness, lichfield: IdentityProvider, tamworth: IdentityProvider, staffordshire: IdentityProvider):
    """A register holding a display claim (as agreements recorded before identities were bound do; here the
    lead's own signatory, an email) keeps working for its signatory, but only through their own body's issuer
    and with an email the issuer verified; they then bind their identity."""
    priya = factories.IDENTITIES["Priya Shah"]
    partners = factories.proposal_data()["partners"]
    partners[0]["signatories"][0]["identity"] = priya
    data = factories.request_data(harness.new_id("recorded"), partners=partners)
    await harness.start(AgreementRequest.model_validate(data))
    agreement_id = data["agreement_id"]
    async with councils(harness, lichfield, tamworth, staffordshire, CONCORDAT_API_IDENTITY_CLAIM="email") as api:
        bind = {"actor": LEAD, "name": "Priya Shah"}
        for idp, claims in ((lichfield, {"email": priya, "email_verified": False}), (lichfield, {"email": priya}),
                            (tamworth, {"email": priya, "email_verified": True})):
            refused = await act(api, idp, "someone", agreement_id, "bind_identity", bind, **claims)
            assert refused.status_code == 403, (idp.tenant, claims, refused.text)
            refused = await act(api, idp, "someone", agreement_id, "submit_proposal", {"actor": LEAD}, **claims)
            assert refused.status_code == 403, (idp.tenant, claims, refused.text)
        bound = await act(api, lichfield, "priya", agreement_id, "bind_identity", bind, email=priya.upper(),
                          email_verified=True)
        assert bound.status_code == 200, bound.text
        assert bound.json()["signatories"][factories.LICHFIELD][0]["identity"] == lichfield.identity("priya")
        recorded_claim = await act(api, lichfield, "another", agreement_id, "submit_proposal", {"actor": LEAD},
                                   email=priya, email_verified=True)
        assert recorded_claim.status_code == 403, "once bound, the display claim no longer acts"


async def test_the_engine_refuses_an_opening_that_binds_another_body_s_signatory(harness: Harness):
    """A start sent to Temporal directly, not through the API, is refused too (rules version 2)."""
    data = factories.request_data(harness.new_id("direct"), partners=factories.identified_partners())
    handle = await harness.start(data, wait_opened=False)
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "ActionRejected"
    assert "binds the identities of its signatories" in cause.message
    assert cause.details[0][0]["code"] == "identity_bound_by_own_body"
    assert await harness.ledger(data["agreement_id"]) == []


async def test_the_deployment_administrators_keep_the_directory_and_every_change_is_recorded(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str):
    monkeypatch.setenv("DATABASE_URL", postgres_dsn)
    tenant = f"tenant-{harness.new_id('t')}"
    issuer = f"https://login.microsoftonline.com/{tenant}/v2.0"

    async def cli(*argv: str) -> tuple[int, str]:
        out = io.StringIO()
        return await starter.run_cli(["directory", *argv], console=Console(file=out, width=300)), out.getvalue()

    code, out = await cli("add-issuer", "--body", "E07000194", "--entra-tenant", tenant, "--audience",
                          "api://concordat", "--by", "a.admin")
    assert code == 0 and f"{issuer} now speaks for E07000194" in out, out
    code, _ = await cli("add-issuer", "--body", "E07000194", "--entra-tenant", tenant, "--audience",
                        "api://other", "--by", "a.admin")
    assert code == 1, "one issuer has one audience"
    code, _ = await cli("grant", "--issuer", issuer, "--subject", "pmo-oid", "--role", "programme_office",
                        "--by", "a.admin")
    assert code == 0
    code, out = await cli("show", "--json")
    shown = json.loads(out)
    assert {"body": "E07000194", "issuer": issuer, "audience": "api://concordat", "tenant": tenant,
            "jwks_url": f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys",
            "subject_claim": "oid"} in shown["issuers"]
    assert {"issuer": issuer, "subject": "pmo-oid", "role": "programme_office", "body": "*"} in shown["grants"]
    for argv in (("revoke", "--issuer", issuer, "--subject", "pmo-oid", "--role", "programme_office"),
                 ("remove-issuer", "--body", "E07000194", "--issuer", issuer)):
        code, _ = await cli(*argv, "--by", "b.admin")
        assert code == 0
    code, out = await cli("changes", "--limit", "4", "--json")
    assert [(c["change"], c["changed_by"]) for c in json.loads(out)] == [
        ("issuer_added", "a.admin"), ("read_granted", "a.admin"), ("read_revoked", "b.admin"),
        ("issuer_removed", "b.admin")]
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await harness.pool.execute("DELETE FROM directory_changes")


async def test_an_entra_id_tenant_names_a_person_by_their_object_id_not_the_per_application_subject(
        harness: Harness, lichfield: IdentityProvider, tamworth: IdentityProvider, staffordshire: IdentityProvider):
    entra = IdentityProvider("entra-tenant")
    entry = directory.IssuerEntry(body="E07000192", issuer=entra.issuer, jwks_url=entra.jwks_url,
                                  audience="api://concordat", tenant="entra-tenant", subject_claim="oid")
    await directory.add_issuer(harness.pool, entry, by="deployment-admin@test")
    try:
        async with councils(harness, lichfield, tamworth, staffordshire) as api:
            agreement_id = await opened(harness, api, lichfield)
            response = await api.http.get(f"/agreements/{agreement_id}",
                                          headers=entra.bearer("martin", subject="pairwise-1", oid="martin-oid"))
            assert response.status_code == 403 and "martin-oid at " in response.json()["message"], response.text
            response = await api.http.get(f"/agreements/{agreement_id}", headers=entra.bearer("martin"))
            assert response.status_code == 401 and "oid" in response.json()["message"], response.text
    finally:
        await directory.remove_issuer(harness.pool, entry.body, entry.issuer, by="deployment-admin@test")
        entra.close()
