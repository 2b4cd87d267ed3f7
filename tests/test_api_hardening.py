"""The API checks before it trusts (issue 22), on a real API process (``python -m api``) with real tokens: the
token is checked and the size limited before a body is read, without the process's memory growing; list filters
are values, never query text; every error has the documented shape; and a schemathesis run of the committed
OpenAPI document finds no server error and no response outside its schemas."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf.duration_pb2 import Duration
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, RegisterNamespaceRequest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.limits import MAX_BODY_BYTES
from tests.helpers import assert_eventually, free_port
from tests.helpers.processes import WorkerProcess
from tests.test_api import AUDIENCE, IdentityProvider, signing_key_pem
from workflows import search_attributes
from workflows.contract import CONTRACT_DIR

PRIYA = "priya.shah@lichfield.gov.uk"
SHAPE = {"type", "message", "problems"}
MB = 1024 * 1024


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    idp = IdentityProvider()
    yield idp
    idp.close()


class ApiProcess:
    """``python -m api`` as operators run it, and an HTTP client for it."""

    def __init__(self, process: WorkerProcess, http: httpx.AsyncClient, url: str) -> None:
        self.process, self.http, self.url = process, http, url

    def rss(self) -> int:
        """The API process's resident memory, in bytes."""
        assert self.process.process is not None
        return int(psutil.Process(self.process.process.pid).memory_info().rss)


async def namespace_of_its_own(env: WorkflowEnvironment) -> str:
    """A fresh namespace on the test's server, with the agreements' search attributes: the API under test sees no
    other test's agreements (a closed one whose worker has gone would make each of its reads wait for a worker)."""
    name = f"api-hardening-{uuid.uuid4().hex[:8]}"
    service = env.client.workflow_service
    await service.register_namespace(RegisterNamespaceRequest(
        namespace=name, workflow_execution_retention_period=Duration(seconds=86_400)))

    async def ready() -> bool:
        try:
            await service.describe_namespace(DescribeNamespaceRequest(namespace=name))
        except RPCError:
            return False
        return True

    await assert_eventually(ready, timeout=30, interval=0.2)
    await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
        namespace=name, search_attributes={key.name: key.indexed_value_type.value for key in search_attributes.ALL}))
    return name


@pytest.fixture
async def api(env: WorkflowEnvironment, provider: IdentityProvider, postgres_dsn: str,
              request: pytest.FixtureRequest) -> AsyncIterator[ApiProcess]:
    """The API as a process on a free port; on a full server (tests marked ``dev_server``), in a namespace of its
    own (the time-skipping server has only its default namespace, and no other test's agreements)."""
    port = free_port()
    namespace = await namespace_of_its_own(env) if request.node.get_closest_marker("dev_server") else "default"
    process = WorkerProcess({
        **os.environ, "TEMPORAL_ADDRESS": env.client.service_client.config.target_host, "DATABASE_URL": postgres_dsn,
        "TEMPORAL_NAMESPACE": namespace,
        "CONCORDAT_API_ISSUER": provider.issuer, "CONCORDAT_API_AUDIENCE": AUDIENCE,
        "CONCORDAT_API_JWKS_URL": provider.jwks_url, "CONCORDAT_API_SIGNING_KEY": signing_key_pem(
            Ed25519PrivateKey.generate()), "CONCORDAT_API_SIGNING_KEY_ID": "api-1",
        "CONCORDAT_API_PORT": str(port)}, command=("-m", "api"), started="Uvicorn running")
    await process.start()
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            async def serving() -> bool:
                try:
                    return (await http.get("/attestor-keys")).status_code == 200
                except httpx.TransportError:
                    return False

            await assert_eventually(serving, timeout=60, interval=0.2)
            yield ApiProcess(process, http, url)
    finally:
        await process.stop()


async def chunks(total: int, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``total`` bytes of a JSON-looking body, in chunks, with no length declared."""
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


async def refused_early(api: ApiProcess, **request: Any) -> httpx.Response | None:
    """The response to a POST the API may answer before reading it all (None when it closed the connection
    while the body was still being sent, which is how a server refuses to read one)."""
    try:
        return await api.http.post("/agreements", **request)
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        return None


async def test_bodies_are_refused_before_they_are_read_and_memory_does_not_grow(
        api: ApiProcess, provider: IdentityProvider):
    bearer = {"Authorization": f"Bearer {provider.token(PRIYA)}"}
    for _ in range(3):  # warm up: the first requests import and cache what every later request uses
        await api.http.get("/agreements?lead=E07000194", headers=bearer)
        await refused_early(api, content=b"{}", headers={"Content-Type": "application/json"})
    before = api.rss()

    declared = await refused_early(api, content=b"{" + b" " * (10 * MB) + b"}",
                                   headers={"Content-Type": "application/json"})
    if declared is not None:
        assert declared.status_code == 413 and set(declared.json()) == SHAPE, declared.text
    anonymous = await refused_early(api, content=chunks(10 * MB), headers={"Content-Type": "application/json"})
    if anonymous is not None:
        assert anonymous.status_code == 401 and set(anonymous.json()) == SHAPE, anonymous.text
    signed_in = await refused_early(api, content=chunks(10 * MB), headers={"Content-Type": "application/json",
                                                                           **bearer})
    if signed_in is not None:
        assert signed_in.status_code == 413 and signed_in.json()["type"] == "PayloadTooLarge", signed_in.text
    assert (declared, anonymous, signed_in) != (None, None, None), "the API answered none of the large bodies"
    grown = api.rss() - before
    print(f"API RSS {before / MB:.1f} MB before three 10 MB bodies, grew {grown / MB:.2f} MB")
    assert grown < 5 * MB, f"the API's memory grew by {grown / MB:.1f} MB over three 10 MB bodies"
    assert api.process.process is not None and api.process.process.returncode is None

    response = await api.http.post("/agreements", content=b"{" + b" " * (MAX_BODY_BYTES + 1) + b"}",
                                   headers={"Content-Type": "application/json", **bearer})
    assert response.status_code == 413 and set(response.json()) == SHAPE


@pytest.mark.dev_server
async def test_list_filters_are_values_never_query_text(api: ApiProcess, provider: IdentityProvider):
    bearer = {"Authorization": f"Bearer {provider.token(PRIYA)}"}
    for query in ("lead=E99999999' OR WorkflowType = 'AgreementWorkflow", "lead='", "stage=sign_off'",
                  "rag=red' OR 'a'='a", "lead=E0 7", "stage=nonsense"):
        response = await api.http.get(f"/agreements?{query}", headers=bearer)
        assert response.status_code == 422, (query, response.text)
        body = response.json()
        assert set(body) == SHAPE and body["type"] == "InvalidPayload" and body["problems"][0]["field"], query
    response = await api.http.get("/agreements?stage=sign_off&rag=red&lead=E07000194", headers=bearer)
    assert response.status_code == 200 and response.json() == []


async def test_every_error_has_the_documented_shape(api: ApiProcess, provider: IdentityProvider):
    bearer = {"Authorization": f"Bearer {provider.token(PRIYA)}"}
    json_type = {"Content-Type": "application/json"}
    cases = {
        "no token": (401, "GET", "/agreements", {}, None),
        "a token that is not one": (401, "GET", "/agreements", {"Authorization": "Bearer x.y.z"}, None),
        "no such route": (404, "GET", "/nowhere", bearer, None),
        "no such agreement": (404, "GET", "/agreements/no-such-agreement", bearer, None),
        "a method the route lacks": (405, "DELETE", "/agreements", bearer, None),
        "a body that is not JSON": (415, "POST", "/agreements", {**bearer, "Content-Type": "text/plain"}, b"x"),
        "JSON that does not parse": (422, "POST", "/agreements", {**bearer, **json_type}, b"{"),
        "JSON of the wrong shape": (422, "POST", "/agreements", {**bearer, **json_type}, b"[1]"),
        "an action with an attestation": (422, "POST", "/agreements/a/actions/submit_proposal",
                                          {**bearer, **json_type},
                                          b'{"actor": {"body": "E07000194", "signatory": "Priya Shah"}, '
                                          b'"attestation": "a.b.c"}'),
        "an unknown action": (404, "POST", "/agreements/a/actions/no_such_action", {**bearer, **json_type}, b"{}"),
    }
    for case, (status, method, path, headers, content) in cases.items():
        response = await api.http.request(method, path, headers=headers, content=content)
        assert response.status_code == status, (case, response.text)
        body = response.json()
        assert set(body) == SHAPE and body["message"] and body["problems"], (case, body)
        assert all(set(problem) == {"field", "code", "message"} for problem in body["problems"]), case


@pytest.mark.dev_server
async def test_a_schemathesis_run_of_the_committed_document_finds_no_server_error_and_nothing_undocumented(
        api: ApiProcess, provider: IdentityProvider, tmp_path: Path):
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", str(CONTRACT_DIR / "openapi.json"), "--url", api.url,
        "--header", f"Authorization: Bearer {provider.token(PRIYA, lifetime=3600)}",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                    "response_schema_conformance",
        "--phases", "examples,fuzzing", "--max-examples", "4", "--workers", "1",
        "--generation-deterministic", "--no-color", "--suppress-health-check", "filter_too_much",
    ]
    # in a directory of its own: schemathesis keeps a cache in its working directory
    process = await asyncio.create_subprocess_exec(*command, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()[-6000:]
