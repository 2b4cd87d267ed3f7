"""No caller can stop a worker: every kind of forged or malformed attestation, signature, key and payload is
refused with a typed error, through a raw Temporal client (at the worker as operators run it, a fresh process)
and through the API; the worker keeps serving and no agreement is left with a failed workflow task (issue 22)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, date, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import HMACAlgorithm
from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain import attestation
from domain.errors import ACTION_REJECTED, INVALID_PAYLOAD
from tests.helpers import assert_eventually, factories
from tests.helpers.harness import Harness
from tests.helpers.processes import WorkerProcess, worker_environment
from tests.test_api import IdentityProvider, attested_request, serving
from workflows.agreement import workflow_id
from workflows.contract import UPDATES

KID = "api-1"
ISSUER = "https://login.example.invalid/lichfield/v2.0"
LEAD = factories.LEAD.model_dump()
PRIYA = factories.IDENTITIES["Priya Shah"]
PRIYA_SUBJECT = "priya-object-id"
"""The lead signatory's subject at ``ISSUER``: the identity the raw agreements bind for her."""


def b64(value: Any) -> str:
    """``value`` as a JWS part: JSON (or bytes as they are), base64url without padding."""
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forgeries(claims: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, str]:
    """Every kind of attestation the API did not sign, each under the configured key id ``KID``."""
    good = attestation.sign(claims, key, KID)
    header, payload, signature = good.split(".")
    pem = factories.public_pem(key)
    hs256_header = b64({"alg": "HS256", "kid": KID, "typ": "JWT"})
    hs256 = HMACAlgorithm(HMACAlgorithm.SHA256).sign(f"{hs256_header}.{payload}".encode(), pem.encode())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    return {
        "a bad signature under the configured key id": attestation.sign(claims, Ed25519PrivateKey.generate(), KID),
        "claims altered under a real signature": f"{header}.{b64({**claims, 'seq': claims['seq'] + 1})}.{signature}",
        "HS256 with the public key as the secret": f"{hs256_header}.{payload}.{b64(hs256)}",
        "alg none": f"{b64({'alg': 'none', 'kid': KID})}.{payload}.",
        "EdDSA named but no signature": f"{header}.{payload}.",
        "truncated": good[: len(good) - 7],
        "a signature that is not base64": f"{header}.{payload}.!!not*base64!!",
        "nothing that is base64": "%%%.%%%.%%%",
        "one part only": "eyJ",
        "an RSA key's signature (RS256)": jwt.encode(claims, rsa_key, algorithm="RS256", headers={"kid": KID}),
        "a P-256 key's signature (ES256)": jwt.encode(claims, ec_key, algorithm="ES256", headers={"kid": KID}),
        "a header that is not an object": f"{b64([1, 2])}.{payload}.{signature}",
        "a key id that is not a string": attestation.sign(claims, key, KID).replace(header, b64(
            {"alg": "EdDSA", "kid": {"k": KID}, "typ": "JWT"}), 1),
        "a payload that is not an object": jwt.api_jws.PyJWS().encode(b"[1, 2, 3]", key, algorithm="EdDSA",
                                                                      headers={"kid": KID}),
        "a payload that is not JSON": jwt.api_jws.PyJWS().encode(b"\xff\xfe", key, algorithm="EdDSA",
                                                                 headers={"kid": KID}),
        "claims of the wrong types": attestation.sign(
            {**claims, "sub": {"name": PRIYA_SUBJECT}, "seq": str(claims["seq"]), "name": ["Priya"]}, key, KID),
        "claims missing": attestation.sign({"sub": PRIYA_SUBJECT}, key, KID),
    }


def lead_claims(agreement_id: str, update: str, action: BaseModel, seq: int) -> dict[str, Any]:
    """The claims the API signs for the lead signatory, signed in at ``ISSUER``, sending ``action``."""
    return attestation.attestation_claims(issuer=ISSUER, subject=PRIYA_SUBJECT, name="Priya Shah", claim=None,
                                          agreement_id=agreement_id, update=update, action=action, seq=seq,
                                          at=datetime.now(UTC))


def lead_bound_partners() -> list[dict[str, Any]]:
    """The test proposal's partners, the lead's signatory bound to ``PRIYA_SUBJECT`` at ``ISSUER`` (the others
    bind themselves)."""
    partners = factories.proposal_data()["partners"]
    for partner in partners:
        for signatory in partner["signatories"]:
            if signatory["name"] == "Priya Shah":
                signatory["identity"] = {"issuer": ISSUER, "subject": PRIYA_SUBJECT}
    return partners


def attested(update: str, data: dict[str, Any], agreement_id: str, seq: int, key: Ed25519PrivateKey) -> BaseModel:
    """The lead's action ``update`` of ``data`` with an action id, attested as the API would sign it."""
    action = UPDATES[update].model_validate({"action_id": f"forgery-test-{uuid.uuid4().hex[:8]}", **data})
    claims = lead_claims(agreement_id, update, action, seq)
    return action.model_copy(update={"attestation": attestation.sign(claims, key, KID)})


async def act(handle: WorkflowHandle[Any, Any], update: str, action: BaseModel) -> dict[str, Any]:
    result: dict[str, Any] = await handle.execute_update(update, action, result_type=dict)
    return result


async def to_sign_off(client: Client, task_queue: str, key: Ed25519PrivateKey) -> tuple[WorkflowHandle[Any, Any],
                                                                                       dict[str, Any]]:
    """An attested agreement, started raw and taken to sign-off by its lead with real attestations."""
    agreement_id = f"forgery-{uuid.uuid4().hex[:10]}"
    request = factories.request_data(agreement_id, settings={"require_attestation": True,
                                                             "attestor_keys": {KID: factories.public_pem(key)}},
                                     partners=lead_bound_partners())
    handle = await client.start_workflow("AgreementWorkflow", request, id=workflow_id(agreement_id),
                                         task_queue=task_queue)
    status: dict[str, Any] = await assert_eventually(lambda: _opened(handle))
    for update, body in (("submit_proposal", {}),
                         ("set_objectives", {"plan": factories.plan_data(date.fromisoformat(
                             status["stage_started_at"][:10]))}),
                         ("submit_for_sign_off", {})):
        status = await act(handle, update, attested(update, {"actor": LEAD, **body}, agreement_id,
                                                    status["decisions_recorded"], key))
    return handle, status


async def _opened(handle: WorkflowHandle[Any, Any]) -> dict[str, Any] | None:
    status: dict[str, Any] = await handle.query("status", result_type=dict)
    return status if status["decisions_recorded"] else None


async def failed_tasks(handle: WorkflowHandle[Any, Any]) -> list[str]:
    """The failed workflow tasks in ``handle``'s history: none, for an agreement no caller could stick."""
    return [EventType.Name(event.event_type) async for event in handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]


async def refused_while_serving(process: WorkerProcess, update: Awaitable[Any]) -> ApplicationError:
    """The refusal of ``update``; fails at once, with the worker's log, if the worker process exits meanwhile
    (the update would otherwise wait for a worker for ever)."""
    assert process.process is not None
    sent, exited = asyncio.ensure_future(update), asyncio.create_task(process.process.wait())
    await asyncio.wait([sent, exited], return_when=asyncio.FIRST_COMPLETED)
    if not sent.done():
        sent.cancel()
        raise AssertionError("the worker process stopped:\n" + "".join(process.lines[-20:]))
    exited.cancel()
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        sent.result()
    assert isinstance(refused.value.cause, ApplicationError), refused.value.cause
    return refused.value.cause


@pytest.fixture
async def worker_process(env: WorkflowEnvironment, postgres_dsn: str) -> AsyncIterator[tuple[WorkerProcess, str]]:
    """``python worker.py`` as operators run it: a fresh process, which has checked no signature yet."""
    task_queue = f"forgeries-{uuid.uuid4()}"
    process = WorkerProcess(worker_environment(env.client.service_client.config.target_host, postgres_dsn,
                                               task_queue))
    await process.start()
    try:
        yield process, task_queue
    finally:
        assert await process.stop() == 0


@pytest.mark.dev_server
async def test_a_worker_refuses_every_forged_attestation_sent_raw_and_keeps_serving(
        env: WorkflowEnvironment, worker_process: tuple[WorkerProcess, str]):
    process, task_queue = worker_process
    key = Ed25519PrivateKey.generate()
    handle, status = await to_sign_off(env.client, task_queue, key)
    agreement_id = handle.id.removeprefix("agreement-")
    sign_off = UPDATES["record_sign_off"].model_validate(
        {"actor": LEAD, "decision": "approve", "version": status["version"], "action_id": "forged-sign-off"})
    claims = lead_claims(agreement_id, "record_sign_off", sign_off, status["decisions_recorded"])
    for case, token in forgeries(claims, key).items():
        cause = await refused_while_serving(process, act(handle, "record_sign_off",
                                                         sign_off.model_copy(update={"attestation": token})))
        assert cause.type == ACTION_REJECTED, (case, cause)
        assert [p["code"] for p in cause.details[0]] == ["attestation_invalid"], (case, cause.message)

    keys_of_no_use = {"garbage": "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n",
                      "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
                          serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()}
    for kid, pem in keys_of_no_use.items():
        rotation = {"actor": LEAD, "reason": "a key of no use", "add": {kid: pem}, "attestation": "not.checked.yet"}
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update("change_attestor_keys", rotation)
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == INVALID_PAYLOAD, (kid, cause)

        other_id = f"forgery-key-{uuid.uuid4().hex[:10]}"
        request = factories.request_data(other_id, settings={"require_attestation": True, "attestor_keys": {kid: pem}})
        started = await env.client.start_workflow("AgreementWorkflow", request, id=workflow_id(other_id),
                                                  task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failed:
            await started.result()
        assert isinstance(failed.value.cause, ApplicationError) and failed.value.cause.type == INVALID_PAYLOAD
        assert await failed_tasks(started) == []

    signed = await act(handle, "record_sign_off", attested(
        "record_sign_off", {"actor": LEAD, "decision": "approve", "version": status["version"]}, agreement_id,
        status["decisions_recorded"], key))
    assert [s["signatory"] for s in signed["sign_offs"]] == ["Priya Shah"]
    another = await env.client.start_workflow("AgreementWorkflow", factories.request_data(f"after-{agreement_id}"),
                                              id=workflow_id(f"after-{agreement_id}"), task_queue=task_queue)
    await assert_eventually(lambda: _opened(another))
    moved = await act(another, "submit_proposal", UPDATES["submit_proposal"].model_validate({"actor": LEAD}))
    assert moved["stage"] == "objective_setting"
    assert await failed_tasks(handle) == [] and await failed_tasks(another) == []
    for started_handle in (handle, another):
        await started_handle.terminate("test finished")
    assert process.process is not None and process.process.returncode is None
    logged = "".join(process.lines)
    assert "imported after initial workflow load" not in logged and "aborting" not in logged


async def test_the_api_forwards_no_attestation_but_its_own_and_the_worker_keeps_serving(harness: Harness):
    provider = IdentityProvider()
    key = Ed25519PrivateKey.generate()
    try:
        async with serving(harness, provider, key, kid=KID) as api:
            agreement_id = harness.new_id("forgery-api")
            own_key = factories.public_pem(Ed25519PrivateKey.generate())
            garbage = "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n"
            for keys, code in (({KID: own_key}, "not_the_deployments_keys"), ({"mine": own_key},
                               "not_the_deployments_keys"), ({KID: garbage}, "string_pattern_mismatch")):
                request = factories.request_data(agreement_id, settings={"require_attestation": True,
                                                                         "attestor_keys": keys},
                                                 partners=attested_request(agreement_id, keys, provider)[
                                                     "proposal"]["partners"])
                response = await api.http.post("/agreements", json=request, headers=api.bearer(PRIYA))
                assert response.status_code == 422, response.text
                assert response.json()["problems"][0]["code"] == code, response.text
            deployment = (await api.http.get("/attestor-keys")).json()
            request = attested_request(agreement_id, deployment, provider)
            response = await api.http.post("/agreements", json=request, headers=api.bearer(PRIYA))
            assert response.status_code == 201, response.text
            harness.started.append(harness.client.get_workflow_handle(workflow_id(agreement_id)))
            status = response.json()
            assert status["attestor_keys"] == [KID]
            sign_off = UPDATES["submit_proposal"].model_validate({"actor": LEAD, "action_id": "forged-by-api"})
            claims = attestation.attestation_claims(issuer=provider.issuer, subject=provider.subject(PRIYA),
                                                    name="Priya Shah", claim=None, agreement_id=agreement_id,
                                                    update="submit_proposal", action=sign_off,
                                                    seq=status["decisions_recorded"], at=datetime.now(UTC))
            for case, token in forgeries(claims, key).items():
                response = await api.act(PRIYA, agreement_id, "submit_proposal",
                                         {"actor": LEAD, "attestation": token})
                assert response.status_code == 422, (case, response.text)
                body = response.json()
                assert set(body) == {"type", "message", "problems"} and body["type"] == INVALID_PAYLOAD, case
            response = await api.act(PRIYA, agreement_id, "submit_proposal", {"actor": LEAD})
            assert response.status_code == 200, response.text
            handle = harness.client.get_workflow_handle(workflow_id(agreement_id))
            assert await failed_tasks(handle) == []
    finally:
        provider.close()
