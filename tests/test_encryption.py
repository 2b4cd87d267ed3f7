"""Payload encryption: the codec, its configuration, the history the server keeps, and the codec server."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.errors import ACTION_REJECTED
from domain.model import Stage
from runtime.encryption import ENCODING, KEY_ID, DecryptionError, EncryptionCodec, encrypting
from runtime.settings import ConfigurationError, Settings
from runtime.temporal import connect_temporal
from tests.helpers import assert_eventually as eventually
from tests.helpers import factories, free_port
from tests.helpers.harness import approve_by_all, walk_to_sign_off
from worker import build_worker
from workflows import search_attributes as sa
from workflows.agreement import AgreementWorkflow, workflow_id
from workflows.client import AgreementClient
from workflows.converter import data_converter

ROOT = Path(__file__).resolve().parent.parent
OFFICIALS = ["Priya Shah", "Owen Hughes", "Grace Adeyemi", "Tom Barker"]
NAMES = [*OFFICIALS, "Lichfield District Council", "Tamworth Borough Council", "Staffordshire County Council"]


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


OLD_KEY, NEW_KEY = new_key(), new_key()


def plain_payload(value: Any = factories.LEAD) -> Payload:
    return data_converter.payload_converter.to_payloads([value])[0]


# --- the codec --------------------------------------------------------------------------------


async def test_a_payload_round_trips_and_its_stored_form_holds_no_plaintext():
    codec = EncryptionCodec.from_setting(f"2027-01:{OLD_KEY}")
    original = plain_payload()
    [sealed] = await codec.encode([original])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"2027-01"
    assert b"Priya Shah" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [original]
    [again] = await codec.encode([original])
    assert again.data != sealed.data, "each payload gets a fresh nonce"


async def test_after_rotation_old_payloads_still_decrypt_and_new_ones_use_the_new_key():
    before = EncryptionCodec.from_setting(f"old:{OLD_KEY}")
    old_payloads = await before.encode([plain_payload(), plain_payload("x")])
    after = EncryptionCodec.from_setting(f"new:{NEW_KEY},old:{OLD_KEY}")
    assert await after.decode(old_payloads) == [plain_payload(), plain_payload("x")]
    [fresh] = await after.encode([plain_payload()])
    assert fresh.metadata[KEY_ID] == b"new"
    assert await after.decode([fresh]) == [plain_payload()]


async def test_a_payload_under_an_unknown_key_id_fails_with_a_clear_error():
    [sealed] = await EncryptionCodec.from_setting(f"retired:{OLD_KEY}").encode([plain_payload()])
    with pytest.raises(DecryptionError, match="key 'retired', which is not in CONCORDAT_ENCRYPTION_KEYS"):
        await EncryptionCodec.from_setting(f"new:{NEW_KEY}").decode([sealed])


async def test_altered_ciphertext_or_a_swapped_key_id_fails_authentication():
    codec = EncryptionCodec.from_setting(f"a:{OLD_KEY},b:{OLD_KEY}")
    [sealed] = await codec.encode([plain_payload()])
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(DecryptionError, match="failed authentication"):
        await codec.decode([tampered])
    relabelled = Payload(metadata={**sealed.metadata, KEY_ID: b"b"}, data=sealed.data)
    with pytest.raises(DecryptionError, match="failed authentication"):
        await codec.decode([relabelled])


async def test_payloads_from_before_encryption_pass_through_decoding():
    codec = EncryptionCodec.from_setting(f"k:{OLD_KEY}")
    unencrypted = [plain_payload(), Payload(metadata={"encoding": b"binary/null"})]
    assert await codec.decode(unencrypted) == unencrypted


async def test_the_encrypting_converter_round_trips_values_and_hides_failure_messages():
    converter = encrypting(data_converter, EncryptionCodec.from_setting(f"k:{OLD_KEY}"))
    request = factories.request("encrypted-round-trip")
    payloads = await converter.encode([request])
    assert not any(name.encode() in payloads[0].SerializeToString() for name in NAMES)
    assert await converter.decode(payloads, [type(request)]) == [request]

    failure = Failure()
    await converter.encode_failure(ApplicationError("Owen Hughes has already signed", type=ACTION_REJECTED), failure)
    assert b"Owen Hughes" not in failure.SerializeToString()
    decoded = await converter.decode_failure(failure)
    assert isinstance(decoded, ApplicationError) and decoded.message == "Owen Hughes has already signed"


# --- configuration ----------------------------------------------------------------------------


def test_keys_are_read_from_the_environment_and_the_first_one_encrypts():
    settings = Settings.from_environment({"CONCORDAT_ENCRYPTION_KEYS": f" new : {NEW_KEY} , old:{OLD_KEY}"})
    codec = settings.payload_codec()
    assert codec is not None and codec.key_id == "new"
    assert NEW_KEY not in repr(settings)
    assert Settings.from_environment({}).payload_codec() is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "entry 1 is not 'keyid:base64key'"),
        (NEW_KEY, "entry 1 is not 'keyid:base64key'"),
        (f"k:{NEW_KEY},", "entry 2 is not"),
        (f"bad id:{NEW_KEY}", "entry 1 is not"),
        ("k:not base64!", "key 'k' is not valid base64"),
        (f"k:{base64.b64encode(os.urandom(16)).decode()}", "key 'k' is 16 bytes; AES-256 needs 32"),
        (f"k:{NEW_KEY},k:{OLD_KEY}", "key id 'k' is listed twice"),
    ],
)
def test_a_bad_key_setting_is_refused_naming_the_variable_but_not_the_key(value: str, reason: str):
    with pytest.raises(ConfigurationError, match="CONCORDAT_ENCRYPTION_KEYS") as caught:
        Settings.from_environment({"CONCORDAT_ENCRYPTION_KEYS": value})
    assert reason in str(caught.value)
    assert NEW_KEY not in str(caught.value) and OLD_KEY not in str(caught.value)


@pytest.mark.dev_server
async def test_connect_temporal_encrypts_only_when_keys_are_configured(
    env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("TEMPORAL_ADDRESS", env.client.service_client.config.target_host)
    settings = Settings.from_environment({"CONCORDAT_ENCRYPTION_KEYS": f"k:{NEW_KEY}"})
    encrypted = await connect_temporal(settings=settings)
    assert isinstance(encrypted.data_converter.payload_codec, EncryptionCodec)
    assert (await connect_temporal()).data_converter.payload_codec is None
    assert (await connect_temporal(settings=Settings())).data_converter.payload_codec is None


# --- the history the server keeps -------------------------------------------------------------


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every payload anywhere in a protobuf message, with the field path that leads to it."""
    if isinstance(message, Payload):
        yield path, message
        return
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].type != field.TYPE_MESSAGE:
                continue
            children = [(f"{path}.{field.name}[{key}]", child) for key, child in value.items()]
        elif field.is_repeated:
            children = [(f"{path}.{field.name}[]", child) for child in value]
        else:
            children = [(f"{path}.{field.name}", value)]
        for child_path, child in children:
            yield from payloads_in(child, child_path)


@pytest.mark.dev_server
async def test_with_encryption_on_the_servers_history_holds_no_official_or_body_name(
    env: WorkflowEnvironment, pool: asyncpg.Pool
):
    codec = EncryptionCodec.from_setting(f"k2:{NEW_KEY},k1:{OLD_KEY}")
    plain_client = env.client
    client = Client(
        plain_client.service_client, namespace=plain_client.namespace, data_converter=encrypting(data_converter, codec)
    )
    task_queue = f"test-encrypted-{uuid.uuid4()}"
    request = factories.request(f"encrypted-{uuid.uuid4().hex[:12]}")
    async with build_worker(client, pool, task_queue=task_queue):
        handle = await AgreementClient(client, task_queue).start_without_waiting(request)
        try:
            await eventually(lambda: _opened(handle))
            await walk_to_sign_off(handle)
            status = await approve_by_all(handle)
            assert status.stage is Stage.IMPLEMENTATION
            # Through the encrypting client everything reads as before.
            status = await handle.query(AgreementWorkflow.status)
            assert {s.signatory for s in status.sign_offs} == {"Priya Shah", "Owen Hughes", "Grace Adeyemi"}
            description = await handle.describe()
            assert "Lichfield District Council" in (await description.static_details() or "")
            assert (await description.memo())["title"] == request.proposal.title
        finally:
            await handle.terminate("test finished")

    # Without the codec, as anyone reading the shared cluster would see it.
    history = await plain_client.get_workflow_handle(workflow_id(request.agreement_id)).fetch_history()
    stored = b"".join(event.SerializeToString() for event in history.events) + history.to_json().encode()
    for name in NAMES:
        assert name.encode() not in stored, f"{name} is stored in clear text"

    found = [(path, payload) for event in history.events for path, payload in payloads_in(event)]
    # A marker's own details are written by the SDK core below the codec: a patch's id, a local activity's type,
    # id and times; a local activity's result (a ledger write's receipt) goes through the codec like any payload.
    markers = [
        event.marker_recorded_event_attributes for event in history.events
        if event.HasField("marker_recorded_event_attributes")
    ]
    assert {marker.marker_name for marker in markers} <= {"core_patch", "core_local_activity"}
    core_details = (".marker_recorded_event_attributes.details[patch-data]",
                    ".marker_recorded_event_attributes.details[data]")
    in_clear = [
        (path, p) for path, p in found
        if p.metadata.get("encoding") != ENCODING and not path.startswith(core_details)
    ]
    indexed = {f".{event}.search_attributes.indexed_fields" for event in (
        "workflow_execution_started_event_attributes", "upsert_workflow_search_attributes_event_attributes")}
    assert {path.split("[")[0] for path, _ in in_clear} <= indexed, "only search attributes may be in clear"
    attributes = {path.rsplit("[", 1)[1].rstrip("]"): p for path, p in in_clear}
    assert data_converter.payload_converter.from_payload(attributes[sa.LEAD_BODY.name], str) == factories.LICHFIELD
    first = history.events[0]
    assert first.workflow_execution_started_event_attributes.memo.fields["title"].metadata["encoding"] == ENCODING
    assert first.user_metadata.summary.metadata["encoding"] == ENCODING  # the static summary
    assert first.user_metadata.details.metadata["encoding"] == ENCODING  # the static details, with body names
    assert {p.metadata[KEY_ID] for _, p in found if p.metadata.get("encoding") == ENCODING} == {b"k2"}

    # The same history, decrypted with the keys, holds every name: the check above was not vacuous.
    decrypted = b"".join(p.SerializeToString() for p in codec.decrypt([p for _, p in found]))
    for name in NAMES:
        assert name.encode() in decrypted


async def _opened(handle: Any) -> bool:
    return (await handle.query(AgreementWorkflow.status)).decisions_recorded >= 1


# --- the codec server -------------------------------------------------------------------------

TOKEN = "test-token-" + uuid.uuid4().hex
UI_ORIGIN = "http://localhost:8233"


def _start_codec_server() -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    environ = {
        **os.environ,
        "CONCORDAT_ENCRYPTION_KEYS": f"new:{NEW_KEY},old:{OLD_KEY}",
        "CONCORDAT_CODEC_TOKEN": TOKEN,
        "CONCORDAT_CODEC_UI_ORIGIN": UI_ORIGIN,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime.codec_server", "--port", str(port)],
        cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not (lines and "codec server on" in lines[-1]):
        lines.append(process.stdout.readline())
        assert lines[-1], f"the codec server exited: {''.join(lines)}"
    return process, f"http://127.0.0.1:{port}"


def _stop(process: subprocess.Popen[str], signum: signal.Signals) -> str:
    process.send_signal(signum)
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    return output


@pytest.fixture(scope="module")
def codec_server() -> Iterator[str]:
    process, url = _start_codec_server()
    yield url
    _stop(process, signal.SIGTERM)


def _call(
    url: str, method: str = "POST", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, headers_out, content = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers_out, content = error.code, dict(error.headers), error.read()
    return status, headers_out, json.loads(content) if content else None


AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", "Origin": UI_ORIGIN}


def test_the_codec_server_decodes_for_a_holder_of_the_token(codec_server: str):
    codec = EncryptionCodec.from_setting(f"old:{OLD_KEY}")  # written before the rotation
    sealed = json_format.MessageToDict(Payloads(payloads=codec.encrypt([plain_payload(), plain_payload("x")])))
    status, headers, body = _call(f"{codec_server}/default/decode", body=sealed, headers=AUTH)
    assert status == 200, body
    assert headers["Access-Control-Allow-Origin"] == UI_ORIGIN
    decoded = json_format.ParseDict(body, Payloads()).payloads
    assert list(decoded) == [plain_payload(), plain_payload("x")]
    assert json.loads(decoded[0].data) == {"body": factories.LICHFIELD, "signatory": "Priya Shah"}


def test_the_codec_server_encodes_with_the_current_key(codec_server: str):
    request = json_format.MessageToDict(Payloads(payloads=[plain_payload()]))
    status, _, body = _call(f"{codec_server}/encode", body=request, headers=AUTH)
    assert status == 200, body
    [sealed] = json_format.ParseDict(body, Payloads()).payloads
    assert sealed.metadata[KEY_ID] == b"new"
    assert EncryptionCodec.from_setting(f"new:{NEW_KEY}").decrypt([sealed]) == [plain_payload()]


def test_the_codec_server_refuses_without_the_token(codec_server: str):
    sealed = json_format.MessageToDict(
        Payloads(payloads=EncryptionCodec.from_setting(f"new:{NEW_KEY}").encrypt([plain_payload()]))
    )
    for headers in ({"Origin": UI_ORIGIN}, {**AUTH, "Authorization": "Bearer wrong"}, {**AUTH, "Authorization": TOKEN}):
        status, response_headers, body = _call(f"{codec_server}/decode", body=sealed, headers=headers)
        assert status == 401 and "Priya" not in json.dumps(body)
        assert response_headers["Access-Control-Allow-Origin"] == UI_ORIGIN  # so the UI can show the refusal


def test_the_codec_server_answers_bad_requests_plainly(codec_server: str):
    retired = EncryptionCodec.from_setting(f"retired:{NEW_KEY}").encrypt([plain_payload()])
    status, _, body = _call(f"{codec_server}/decode", body=json_format.MessageToDict(Payloads(payloads=retired)),
                            headers=AUTH)
    assert status == 400 and "retired" in body["error"]
    status, _, body = _call(f"{codec_server}/decode", body={"payloads": "nope"}, headers=AUTH)
    assert status == 400
    status, _, _ = _call(f"{codec_server}/elsewhere", body={}, headers=AUTH)
    assert status == 404


def test_the_codec_server_answers_the_ui_preflight_only_for_its_origin(codec_server: str):
    preflight = {
        "Origin": UI_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    status, headers, _ = _call(f"{codec_server}/default/decode", method="OPTIONS", headers=preflight)
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == UI_ORIGIN
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert {"authorization", "content-type", "x-namespace"} <= {
        h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")
    }
    _, headers, _ = _call(f"{codec_server}/decode", method="OPTIONS", headers={**preflight, "Origin": "http://evil"})
    assert "Access-Control-Allow-Origin" not in headers


def test_the_codec_server_stops_cleanly_on_sigint_and_refuses_to_start_without_a_token():
    process, _ = _start_codec_server()
    assert "codec server stopped" in _stop(process, signal.SIGINT)
    environ = {k: v for k, v in os.environ.items() if k != "CONCORDAT_CODEC_TOKEN"}
    refused = subprocess.run(
        [sys.executable, "-m", "runtime.codec_server", "--port", str(free_port())], cwd=ROOT,
        env={**environ, "CONCORDAT_ENCRYPTION_KEYS": f"k:{NEW_KEY}"},
        capture_output=True, text=True, timeout=30, check=False,
    )
    assert refused.returncode == 2 and "CONCORDAT_CODEC_TOKEN is not set" in refused.stderr
