"""The HTTP API with real tokens: an OpenID provider's keys served as a JWKS over HTTP on localhost, tokens
signed with them, the API served by uvicorn over HTTP, Temporal and PostgreSQL real."""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import structlog
import structlog.testing
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

import starter
from api.app import create_app
from api.settings import ApiSettings
from api.tokens import TokenVerifier
from domain import attestation
from domain.actions import Actor, SignOff
from domain.errors import ACTION_REJECTED
from domain.ledger import ChainHead, Decision, chain
from tests.helpers import assert_eventually, factories
from tests.helpers.harness import Harness
from tests.helpers.identity import AUDIENCE, IdentityProvider
from web.settings import PagesSettings
from workflows.agreement import workflow_id
from workflows.client import ActionRefused
from workflows.contract import CONTRACT_DIR

PRIYA, OWEN, GRACE = (factories.IDENTITIES[name] for name in ("Priya Shah", "Owen Hughes", "Grace Adeyemi"))
NAMES = {identity: name for name, identity in factories.IDENTITIES.items()}


def signing_key_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    idp = IdentityProvider()
    yield idp
    idp.close()


class Api:
    """The API served over HTTP, and a client that calls it as someone."""

    def __init__(self, http: httpx.AsyncClient, provider: IdentityProvider, settings: ApiSettings) -> None:
        self.http, self.provider, self.settings = http, provider, settings

    def bearer(self, identity: str, **token: Any) -> dict[str, str]:
        """A token of the account ``identity``, named as the register names them."""
        return self.provider.bearer(identity, **{"name": NAMES.get(identity), **token})

    async def act(self, identity: str | None, agreement_id: str, action: str, body: dict[str, Any],
                  **token: Any) -> httpx.Response:
        headers = self.bearer(identity, **token) if identity else {}
        return await self.http.post(f"/agreements/{agreement_id}/actions/{action}", json=body, headers=headers)


@asynccontextmanager
async def serving(harness: Harness, provider: IdentityProvider, key: Ed25519PrivateKey,
                  kid: str = "api-1", *, pages: PagesSettings | None = None, port: int = 0,
                  **variables: str) -> AsyncIterator[Api]:
    """The API on ``harness`` trusting ``provider`` as its own issuer (for every body unless ``variables`` say
    otherwise), signing attestations with ``key`` as ``kid``; other settings from ``variables``; with ``pages``,
    serving the pages too; on ``port`` (0: any free port)."""
    settings = ApiSettings.model_validate({
        "CONCORDAT_API_ISSUER": provider.issuer, "CONCORDAT_API_AUDIENCE": AUDIENCE,
        "CONCORDAT_API_JWKS_URL": provider.jwks_url, "CONCORDAT_API_SIGNING_KEY": signing_key_pem(key),
        "CONCORDAT_API_SIGNING_KEY_ID": kid, "CONCORDAT_API_DIRECTORY_SECONDS": "0", **variables})
    app = create_app(settings, harness.agreements, TokenVerifier(settings), harness.pool, pages)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve())
    async def started() -> bool:
        return server.started

    await assert_eventually(started)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            yield Api(http, provider, settings)
    finally:
        server.should_exit = True
        await task


def attested_request(agreement_id: str, keys: dict[str, str], provider: IdentityProvider) -> dict[str, Any]:
    """The test agreement requiring attestation by ``keys``, the lead's signatory bound to their account at
    ``provider`` (the partners' signatories bind themselves)."""
    partners = factories.proposal_data()["partners"]
    for partner in partners:
        for signatory in partner["signatories"]:
            if signatory["name"] == "Priya Shah":
                signatory["identity"] = provider.identity(PRIYA)
    return factories.request_data(agreement_id, settings={"require_attestation": True, "attestor_keys": keys},
                                  partners=partners)


LEAD = factories.LEAD.model_dump()
TAMWORTH = factories.TAMWORTH_SIGNATORY.model_dump()
STAFFORDSHIRE = factories.STAFFORDSHIRE_SIGNATORY.model_dump()


async def open_to_sign_off(harness: Harness, api: Api, key: Ed25519PrivateKey, kid: str = "api-1") -> dict:
    """Open an attested agreement through the API and take it to sign-off; returns its status (JSON)."""
    agreement_id = harness.new_id("api")
    response = await api.http.post("/agreements", json=attested_request(agreement_id, {kid: factories.public_pem(key)},
                                                                        api.provider), headers=api.bearer(PRIYA))
    assert response.status_code == 201, response.text
    harness.started.append(harness.client.get_workflow_handle(workflow_id(agreement_id)))
    status = response.json()
    assert status["require_attestation"] and status["attestor_keys"] == [kid]
    for identity, actor in ((OWEN, TAMWORTH), (GRACE, STAFFORDSHIRE)):
        response = await api.act(identity, agreement_id, "bind_identity", {"actor": actor, "name": actor["signatory"]})
        assert response.status_code == 200, response.text
    for action, body in (("submit_proposal", {}),
                         ("set_objectives", {"plan": factories.plan_data(date.fromisoformat(
                             status["stage_started_at"][:10]))}),
                         ("submit_for_sign_off", {})):
        response = await api.act(PRIYA, agreement_id, action, {"actor": LEAD, **body})
        assert response.status_code == 200, response.text
    return response.json()


async def footprint(harness: Harness, agreement_id: str) -> tuple[list[str], int]:
    """What an action leaves: the workflow's update events, and the ledger's length."""
    handle = harness.client.get_workflow_handle(workflow_id(agreement_id))
    return await harness.trace_of_updates(handle), len(await harness.ledger(agreement_id))


async def test_the_named_signatory_signs_the_version_they_read_and_the_ledger_keeps_the_proof(
        harness: Harness, provider: IdentityProvider):
    key = Ed25519PrivateKey.generate()
    async with serving(harness, provider, key) as api:
        status = await open_to_sign_off(harness, api, key)
        agreement_id, version = status["agreement_id"], status["version"]
        assert len(version) == 64

        response = await api.act(OWEN, agreement_id, "record_sign_off",
                                 {"actor": TAMWORTH, "decision": "approve", "version": version})
        assert response.status_code == 200, response.text
        assert [s["signatory"] for s in response.json()["sign_offs"]] == ["Owen Hughes"]

        stale = "0" * 64
        response = await api.act(GRACE, agreement_id, "record_sign_off",
                                 {"actor": STAFFORDSHIRE, "decision": "approve", "version": stale})
        assert response.status_code == 409
        [problem] = response.json()["problems"]
        assert (problem["field"], problem["code"]) == ("version", "stale_version")
        assert version in problem["message"] and response.json()["type"] == ACTION_REJECTED

        response = await api.http.post(f"/agreements/{agreement_id}/actions/record_sign_off", json={
            "actor": STAFFORDSHIRE, "decision": "approve", "version": version},
            headers={**api.bearer(GRACE), "Prefer": "return=minimal"})
        assert response.status_code == 200, response.text
        receipt = response.json()
        assert set(receipt) == {"agreement_id", "action", "stage", "version", "decisions_recorded"}, receipt
        assert (receipt["stage"], receipt["version"], receipt["action"]["repeat"]) == ("sign_off", version, False)
        assert receipt["action"]["first_seq"] == receipt["action"]["last_seq"] == receipt["decisions_recorded"]

        ledger = (await api.http.get(f"/agreements/{agreement_id}/ledger", headers=api.bearer(GRACE))).json()
        assert ledger["verification"]["valid"] and ledger["attestations"]["valid"]
        def attested(identity: str) -> str:
            return f"{NAMES[identity]} ({provider.subject(identity)} at {provider.issuer})"

        assert [(row["kind"], row["identity"]) for row in ledger["attestations"]["rows"]] == [
            ("identity_bound", attested(OWEN)), ("identity_bound", attested(GRACE)),
            ("proposal_submitted", attested(PRIYA)), ("objectives_set", attested(PRIYA)),
            ("submitted_for_sign_off", attested(PRIYA)), ("signed_off", attested(OWEN)),
            ("signed_off", attested(GRACE))]
        shown = (await api.http.get(f"/agreements/{agreement_id}", headers=api.bearer(GRACE))).json()
        assert shown["version"] == version

        served = (await api.http.get("/openapi.json")).json()
        assert served == json.loads((CONTRACT_DIR / "openapi.json").read_text())


async def test_anyone_but_the_named_signatory_is_refused_and_leaves_nothing(
        harness: Harness, provider: IdentityProvider):
    key = Ed25519PrivateKey.generate()
    async with serving(harness, provider, key) as api:
        status = await open_to_sign_off(harness, api, key)
        agreement_id = status["agreement_id"]
        sign_off = {"actor": TAMWORTH, "decision": "approve", "version": status["version"]}
        before = await footprint(harness, agreement_id)
        forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = int(time.time())
        refusals = {
            "another person": (PRIYA, {}, 403),
            "an expired token": (OWEN, {"lifetime": -120}, 401),
            "a token not valid yet": (OWEN, {"not_before": now + 3600}, 401),
            "a wrong audience": (OWEN, {"audience": "api://another-service"}, 401),
            "a wrong issuer": (OWEN, {"issuer": "https://login.example.invalid/other-tenant/v2.0"}, 401),
            "a forged signature": (OWEN, {"key": forger}, 401),
            "no token": (None, {}, 401),
        }
        for case, (identity, token, code) in refusals.items():
            response = await api.act(identity, agreement_id, "record_sign_off", sign_off, **token)
            assert response.status_code == code, (case, response.text)
            assert response.json()["problems"][0]["message"], case
            assert await footprint(harness, agreement_id) == before, f"{case} left a trace"
        with structlog.testing.capture_logs() as logs:
            response = await api.act(PRIYA, agreement_id, "record_sign_off", sign_off)
        assert response.json()["problems"][0]["code"] == "not_that_signatory"
        assert {"event": "action_refused", "identity": f"{provider.subject(PRIYA)} at {provider.issuer}",
                "name": "Priya Shah", "agreement_id": agreement_id, "action": "record_sign_off",
                "actor_body": factories.TAMWORTH, "actor_signatory": "Owen Hughes", "refusal": "not_that_signatory",
                "log_level": "warning"} in logs
        assert "Priya Shah" in response.json()["message"]
        assert "may not act as Owen Hughes" in response.json()["message"]


async def test_a_direct_temporal_update_cannot_act_on_an_attested_agreement(
        harness: Harness, provider: IdentityProvider):
    key = Ed25519PrivateKey.generate()
    async with serving(harness, provider, key) as api:
        status = await open_to_sign_off(harness, api, key)
    agreement_id = status["agreement_id"]
    before = await footprint(harness, agreement_id)
    sign_off = SignOff(actor=Actor(**TAMWORTH), decision="approve", version=status["version"], action_id="direct-1")

    def attested(identity: str, signing_key: Ed25519PrivateKey) -> SignOff:
        claims = attestation.attestation_claims(issuer=provider.issuer, subject=provider.subject(identity),
                                                name=NAMES[identity], claim=None, agreement_id=agreement_id,
                                                update="record_sign_off", action=sign_off,
                                                seq=status["decisions_recorded"], at=datetime.now(UTC))
        return sign_off.model_copy(update={"attestation": attestation.sign(claims, signing_key, "api-1")})

    another_actions = (await harness.ledger(agreement_id))[-2].payload["attestation"]
    attempts = [
        ("attestation_required", sign_off),
        ("attestation_invalid", attested(OWEN, Ed25519PrivateKey.generate())),
        ("attestation_invalid", sign_off.model_copy(update={"attestation": another_actions})),
        ("not_that_signatory", attested(PRIYA, key)),
    ]
    for code, action in attempts:
        with pytest.raises(ActionRefused) as refused:
            await harness.agreements.act(agreement_id, "record_sign_off", action)
        assert refused.value.type == ACTION_REJECTED
        assert refused.value.details[0][0]["code"] == code, refused.value.message
        assert await footprint(harness, agreement_id) == before


async def test_keys_the_provider_rotates_in_are_picked_up_and_unknown_keys_refetch_at_most_once_a_minute(
        harness: Harness, provider: IdentityProvider):
    key = Ed25519PrivateKey.generate()
    async with serving(harness, provider, key) as api:
        agreement_id = (await open_to_sign_off(harness, api, key))["agreement_id"]
        fetches = provider.fetches
        provider.rotate("idp-2")
        response = await api.http.get(f"/agreements/{agreement_id}", headers=api.bearer(OWEN))
        assert response.status_code == 200, response.text
        assert provider.fetches == fetches + 1
        response = await api.http.get(f"/agreements/{agreement_id}",
                                      headers=api.bearer(OWEN, kid="idp-made-up", key=provider.keys["idp-2"]))
        assert response.status_code == 401 and "does not publish" in response.json()["message"]
        assert provider.fetches == fetches + 1, "an unknown key refetched the JWKS again within the minute"


async def run_verify(harness: Harness, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str, agreement_id: str,
                     keys: dict[str, str]) -> tuple[int, str]:
    monkeypatch.setenv("TEMPORAL_ADDRESS", harness.client.service_client.config.target_host)
    monkeypatch.setenv("DATABASE_URL", postgres_dsn)
    monkeypatch.setenv("CONCORDAT_ATTESTOR_KEYS", json.dumps(keys))
    out = io.StringIO()
    code = await starter.run_cli(["verify", agreement_id], console=Console(file=out, width=300))
    return code, out.getvalue()


async def test_the_attestor_key_is_rotated_by_a_decision_and_verify_checks_every_attestation_offline(
        harness: Harness, provider: IdentityProvider, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str):
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    async with serving(harness, provider, old, "api-1") as api:
        status = await open_to_sign_off(harness, api, old)
        agreement_id = status["agreement_id"]
        response = await api.act(PRIYA, agreement_id, "change_attestor_keys", {
            "actor": LEAD, "add": {"api-2": factories.public_pem(new)}, "reason": "the API's key is rotated"})
        assert response.json()["attestor_keys"] == ["api-1", "api-2"], response.text
    async with serving(harness, provider, new, "api-2") as api:
        response = await api.act(PRIYA, agreement_id, "change_attestor_keys", {
            "actor": LEAD, "retire": ["api-1"], "reason": "the old key is retired"})
        assert response.json()["attestor_keys"] == ["api-2"], response.text
        response = await api.act(OWEN, agreement_id, "record_sign_off",
                                 {"actor": TAMWORTH, "decision": "approve", "version": status["version"]})
        assert response.status_code == 200, response.text
    async with serving(harness, provider, old, "api-1") as api:
        response = await api.act(GRACE, agreement_id, "record_sign_off",
                                 {"actor": STAFFORDSHIRE, "decision": "approve", "version": status["version"]})
        assert response.status_code == 409 and response.json()["problems"][0]["code"] == "attestation_invalid"

    keys = {"api-1": factories.public_pem(old), "api-2": factories.public_pem(new)}
    code, out = await run_verify(harness, monkeypatch, postgres_dsn, agreement_id, keys)
    assert code == 0, out
    assert "attestations verified" in out and "8 attested actions" in out


async def test_verify_names_the_row_whose_attestation_a_database_administrator_altered(
        harness: Harness, provider: IdentityProvider, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str):
    """A DBA can switch off the append-only trigger and rewrite a row, even recomputing the hash chain after it;
    the attestation of the altered row no longer fits, and `verify` names it."""
    key = Ed25519PrivateKey.generate()
    async with serving(harness, provider, key) as api:
        status = await open_to_sign_off(harness, api, key)
        agreement_id = status["agreement_id"]
        response = await api.act(OWEN, agreement_id, "record_sign_off", {
            "actor": TAMWORTH, "decision": "reject", "reason": "the contributions are too high",
            "version": status["version"]})
        assert response.status_code == 200, response.text
    entries = await harness.ledger(agreement_id)
    forged = next(entry for entry in entries if entry.kind == "signed_off")
    altered = forged.model_copy(update={"payload": {**forged.payload, "decision": "approve"}})
    after = [altered, *entries[forged.seq:]]
    rechained = chain(agreement_id, ChainHead(seq=forged.seq - 1, hash=forged.prev_hash),
                      [Decision(**entry.model_dump(include=set(Decision.model_fields))) for entry in after])
    async with harness.pool.acquire() as connection, connection.transaction():
        await connection.execute("ALTER TABLE decisions DISABLE TRIGGER decisions_append_only")
        for entry in rechained:
            await connection.execute(
                "UPDATE decisions SET payload = $3::jsonb, prev_hash = $4, hash = $5 "
                "WHERE agreement_id = $1 AND seq = $2",
                agreement_id, entry.seq, json.dumps(entry.payload), entry.prev_hash, entry.hash)
        await connection.execute("ALTER TABLE decisions ENABLE TRIGGER decisions_append_only")
    assert (await harness.verify(agreement_id)).valid, "the chain alone no longer shows the forgery"

    keys = {"api-1": factories.public_pem(key)}
    code, out = await run_verify(harness, monkeypatch, postgres_dsn, agreement_id, keys)
    assert code == 1
    assert f"attestation FAILS: {agreement_id} at decision #{forged.seq}" in " ".join(out.split())


async def test_the_command_line_acts_through_the_api_with_a_token_and_directly_only_where_attestation_is_not_required(
        harness: Harness, provider: IdentityProvider, monkeypatch: pytest.MonkeyPatch, postgres_dsn: str,
        tmp_path: Any, capsys: pytest.CaptureFixture[str]):
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv("TEMPORAL_ADDRESS", harness.client.service_client.config.target_host)
    monkeypatch.setenv("CONCORDAT_TASK_QUEUE", harness.task_queue)
    async with serving(harness, provider, key) as api:
        status = await open_to_sign_off(harness, api, key)
        agreement_id, url = status["agreement_id"], str(api.http.base_url)
        sign_off = ["record-sign-off", agreement_id, "--body", factories.TAMWORTH, "--signatory", "Owen Hughes",
                    "--decision", "approve", "--version", status["version"]]

        async def cli(*argv: str) -> tuple[int, str]:
            out = io.StringIO()
            return await starter.run_cli(list(argv), console=Console(file=out, width=300)), out.getvalue()

        capsys.readouterr()
        code, _ = await cli(*sign_off)
        assert code == 1 and "requires every action to be attested" in " ".join(capsys.readouterr().err.split())
        monkeypatch.setenv("CONCORDAT_TOKEN", provider.token(PRIYA))
        code, _ = await cli(*sign_off, "--api", url)
        assert code == 1 and "may not act as Owen Hughes" in " ".join(capsys.readouterr().err.split())
        token = tmp_path / "owen.token"
        token.write_text(provider.token(OWEN))
        code, out = await cli(*sign_off, "--api", url, "--token-file", str(token), "--json")
        assert code == 0 and [s["signatory"] for s in json.loads(out)["sign_offs"]] == ["Owen Hughes"]
        code, out = await cli("status", agreement_id, "--api", url)
        assert code == 0 and f"Version to sign (--version): {status['version']}" in out
