"""The HTTP API: start, act on, read and list agreements, as a person their council's OpenID provider vouches for.

Every route but ``/attestor-keys`` and the OpenAPI document needs a bearer token (``api.tokens``) from an issuer
the deployment trusts (its own, or the directory's: ``store.directory``). An action is sent as
``POST /agreements/{agreement_id}/actions/{action}``, one route per update of the contract
(``workflows.contract.UPDATES``), with that update's JSON. Before anything reaches Temporal the API checks
(``api.authority``) that the token's issuer speaks for the actor's body and that its issuer and subject are the
identity the signatory register holds for the signatory the action names (else 403, logged); it then gives the
action an action id if it has none, signs an attestation of it (``domain.attestation``) and forwards it through
``AgreementClient``. A person reads only the agreements a body of theirs is or was a partner of, or that the
directory grants them; every read of a status or ledger is logged (``agreement_read``: who, what, on what basis).
Refusals carry the contract's error types and problems::

    {"type": "ActionRejected", "message": "...", "problems": [{"field": "version", "code": "stale_version",
     "message": "..."}]}

400 UnknownAction, or a body that cannot be read; 401 no or bad token; 403 not that signatory, not of that body,
or not a reader; 404 no such agreement; 405 no such method; 409 ActionRejected, AgreementExists, LedgerConflict or a
closed agreement (code ``closed``); 413 a body over 1 MB; 415 a body that is not JSON; 422 InvalidPayload (the
request does not fit its schema); 500 an unexpected error (logged); 503 the identity provider's keys, the directory
or the ledger cannot be reached. The token and the body's size are checked before the body is read
(``api.limits``); every error has the shape above (``api.errors``).
"""

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from api import errors
from api.acting import NOT_FOUND, UNAVAILABLE, Acting, ApiError, api_error, forbid, read
from api.authority import NOT_A_READER, Authority, Refused, bodies_of
from api.limits import ChecksFirst
from api.settings import ApiSettings
from api.tokens import Caller, KeysUnavailable, TokenVerifier, Unauthenticated
from domain.actions import Action, Reply
from domain.errors import INVALID_PAYLOAD, Problem
from domain.ledger import ChainVerification, LedgerEntry
from domain.model import AgreementRequest, Rag, Stage
from domain.proof import AttestationReport, recorded_keys, verify_attestations
from domain.status import AgreementStatus, Receipt
from store import directory as directory_store
from store.database import OUTAGE_ERRORS, Pool
from store.ledger import read_ledger, verify_ledger
from web import pages as web_pages
from web import session, signin
from web.settings import PagesSettings
from workflows.client import (
    CODE_PATTERN,
    AgreementClient,
    AgreementError,
    AgreementRecordGone,
    AgreementRow,
)
from workflows.contract import UPDATES


def log() -> structlog.stdlib.BoundLogger:
    """The API's logger, looked up at each use (so tests can capture what it logs)."""
    return structlog.get_logger("concordat.api")

FORBIDDEN = "NotThatSignatory"
UNAUTHENTICATED = "Unauthenticated"


class ProblemModel(BaseModel):
    field: str = Field(description="A dotted path into the message sent; empty when no one field is at fault.")
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every refusal: the contract's error type (or the API's own), the message for people, and the problems."""

    type: str
    message: str
    problems: list[ProblemModel]


class LedgerView(BaseModel):
    """An agreement's decisions, the verification of their hash chain, and of the attestations they keep."""

    entries: list[LedgerEntry]
    verification: ChainVerification
    attestations: AttestationReport


REFUSALS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in {
        400: "UnknownAction, or a body that cannot be read",
        401: "No token, or a token that does not prove who sent it",
        403: "NotThatSignatory, NotOfThatBody (the token's issuer does not speak for the body), NotAReader",
        404: "No such agreement (NotFound: no such route)", 405: "MethodNotAllowed",
        409: "ActionRejected, AgreementExists, LedgerConflict, or the agreement is closed",
        413: "PayloadTooLarge: the body is over 1 MB, the engine's input limit",
        415: "UnsupportedMediaType: a body that is not JSON",
        422: "InvalidPayload: the request does not fit its schema", 500: "InternalError (logged)",
        503: "Keys or ledger unreachable",
        504: "OutcomeUnknown: Temporal could not say whether the action was accepted; check status, send it "
             "again with the same action_id (a repeat is answered as such)",
    }.items()
}

_bearer = HTTPBearer(auto_error=False, description="An OpenID access token from the council's identity provider.")


def create_app(settings: ApiSettings, agreements: AgreementClient | None = None,
               verifier: TokenVerifier | None = None, ledger: Pool | None = None,
               pages: PagesSettings | None = None) -> FastAPI:
    """The API on ``agreements`` (a Temporal client), checking tokens with ``verifier`` and reading the ledger
    from ``ledger``; without them the app serves only its OpenAPI document (as ``python -m workflows.contract``
    renders it). With ``pages``, it also serves the pages for people under ``/pages`` (``web``)."""
    app = FastAPI(
        title="Concordat", version="1", description=__doc__,
        responses=REFUSALS,
    )
    private_key = settings.private_key()
    read_directory = _DirectoryCache(settings, ledger)
    errors.install(app)

    async def authenticated_first(authorization: str | None) -> tuple[int, str, str] | None:
        """The refusal of a request whose token does not prove who sent it, before its body is read."""
        if verifier is None:
            return 503, UNAVAILABLE, "the API is not configured to check tokens"
        try:
            await verifier.caller(authorization, await read_directory())
        except Unauthenticated as error:
            log().warning("token_refused", reason=str(error))
            return 401, UNAUTHENTICATED, str(error)
        except KeysUnavailable as error:
            return 503, UNAVAILABLE, str(error)
        return None

    app.add_middleware(ChecksFirst, authenticate=authenticated_first, pages_prefix=session.PREFIX if pages else None)
    attestor_keys_of_the_deployment = {settings.signing_key_id: settings.public_key_pem()}

    async def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
        if verifier is None:
            raise ApiError(503, UNAVAILABLE, "the API is not configured to check tokens")
        try:
            return await verifier.caller(f"Bearer {credentials.credentials}" if credentials else None,
                                         await read_directory())
        except Unauthenticated as error:
            log().warning("token_refused", reason=str(error))
            raise ApiError(401, UNAUTHENTICATED, str(error)) from None
        except KeysUnavailable as error:
            raise ApiError(503, UNAVAILABLE, str(error)) from None

    def client() -> AgreementClient:
        if agreements is None:
            raise ApiError(503, UNAVAILABLE, "the API is not connected to Temporal")
        return agreements

    async def checks() -> Authority:
        return Authority(settings, await read_directory())

    acting = Acting(client, private_key, settings.signing_key_id)
    if pages is not None:
        session.install(app, pages)
        app.include_router(signin.router(pages, checks), prefix=session.PREFIX)
        web_pages.install(app, acting, checks, ledger)

    Who = Annotated[Caller, Depends(caller)]
    Checks = Annotated[Authority, Depends(checks)]
    AgreementId = Annotated[str, Path(min_length=1, max_length=200, description="The agreement id (or its "
                                                                                "workflow id, agreement-...).")]

    @app.exception_handler(ApiError)
    async def _refused(_: Request, error: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        body = ErrorBody(type=error.type, message=error.message, problems=[ProblemModel(**p) for p in error.problems])
        return JSONResponse(body.model_dump(), status_code=error.status, headers=headers)

    @app.exception_handler(RPCError)
    async def _temporal_unreachable(_: Request, error: RPCError) -> JSONResponse:
        return await _refused(_, ApiError(503, UNAVAILABLE, f"Temporal did not answer: {error.message}"))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [Problem(field=".".join(str(part) for part in item["loc"][1:]), code=item["type"],
                            message=str(item["msg"]).removeprefix("Value error, ")) for item in error.errors()]
        message = "; ".join(f"{p['field'] or 'input'}: {p['message']}" for p in problems)
        return await _refused(_, ApiError(422, INVALID_PAYLOAD, message, problems))

    router = APIRouter(responses=REFUSALS)

    @router.get("/attestor-keys", summary="The API's attestor public key, by key id")
    async def attestor_keys() -> dict[str, str]:
        """What an agreement that requires attestation lists in ``settings.attestor_keys`` to accept this API's
        attestations, and what ``starter.py verify`` needs (``CONCORDAT_ATTESTOR_KEYS``)."""
        return {settings.signing_key_id: settings.public_key_pem()}

    @router.post("/agreements", status_code=201, summary="Open an agreement")
    async def start(request: AgreementRequest, who: Who, checks: Checks) -> AgreementStatus:
        """Open the agreement; the caller, signed in through an issuer of the lead body, must be the bound identity
        of a signatory of the lead body in its proposal, which binds no other body's signatory.

        The attestor keys the agreement trusts are this deployment's (``GET /attestor-keys``), set by the API:
        ``settings.attestor_keys`` may be left out or name those keys only (else 422)."""
        named = request.settings.attestor_keys
        foreign = sorted(kid for kid, pem in named.items() if attestor_keys_of_the_deployment.get(kid) != pem)
        if foreign:
            message = (f"settings.attestor_keys: {', '.join(foreign)} are not this deployment's attestor keys; "
                       "leave attestor_keys out and the API sets its own (GET /attestor-keys)")
            raise ApiError(422, INVALID_PAYLOAD, message, [Problem(field="settings.attestor_keys",
                                                                   code="not_the_deployments_keys",
                                                                   message=message)])
        request = request.model_copy(update={"settings": request.settings.model_copy(
            update={"attestor_keys": attestor_keys_of_the_deployment})})
        try:
            checks.check_open(who, request)
        except Refused as refusal:
            forbid(who, request.agreement_id, "start", request.proposal.lead_body, None, refusal)
        try:
            return await client().start(request)
        except AgreementError as error:
            raise api_error(error) from None

    @router.get("/agreements", summary="List agreements")
    async def list_agreements(
        who: Who, checks: Checks, stage: Stage | None = None, rag: Rag | None = None,
        lead: Annotated[str | None, Query(pattern=CODE_PATTERN, description="A body's code.")] = None,
        include_closed: bool = False, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AgreementRow]:
        """The agreements the caller may read (see ``api.authority``) among the first ``limit`` matching the
        filters, each a validated value (a filter that is not one is 422)."""
        everything = checks.reads_every_agreement(who)
        bodies = checks.named_bodies(who) | checks.granted_bodies(who)
        partnered = set() if everything or ledger is None else await _database(
            directory_store.agreements_of_bodies(ledger, bodies))
        rows = [row async for row in client().list(stage=stage, rag=rag, lead=lead, include_closed=include_closed,
                                                   limit=limit)]
        shown = [row for row in rows if everything or row.agreement_id in partnered
                 or (row.lead_body is not None and checks.reading_basis(who, [row.lead_body]) is not None)]
        log().info("agreements_listed", reader=who.identity, name=who.name, shown=len(shown),
                   agreements=[row.agreement_id for row in shown])
        return shown

    @router.get("/agreements/{agreement_id}", summary="An agreement's status")
    async def status(agreement_id: AgreementId, who: Who, checks: Checks) -> AgreementStatus:
        """The agreement's status, to a person of a body that is or was a partner, or granted to read it."""
        current = await read(client().status(agreement_id))
        _may_read(who, checks, current.agreement_id, "status", bodies_of(current))
        return current

    @router.get("/agreements/{agreement_id}/ledger", summary="An agreement's decisions, verified")
    async def show_ledger(agreement_id: AgreementId, who: Who, checks: Checks) -> LedgerView:
        """The decisions, their hash chain checked (and anchored to the workflow's own record where Temporal still
        holds it), and their attestations checked with the keys the ledger itself records and this API's key."""
        if ledger is None:
            raise ApiError(503, UNAVAILABLE, "the API is not connected to the ledger database (DATABASE_URL)")
        current: AgreementStatus | None = None
        try:
            current = await client().status(agreement_id)
            head, terminated = await client().ledger_anchor(agreement_id)
        except AgreementRecordGone:
            head, terminated = None, False
        except AgreementError as error:
            raise api_error(error) from None
        entries = await read_ledger(ledger, agreement_id)
        if not entries:
            raise ApiError(404, NOT_FOUND, f"the ledger holds no decisions for agreement {agreement_id}")
        _may_read(who, checks, agreement_id, "ledger", bodies_of(current) if current else _bodies_in(entries))
        keys = {**recorded_keys(entries), settings.signing_key_id: settings.public_key_pem()}
        verification = await verify_ledger(ledger, agreement_id, head, terminated=terminated)
        return LedgerView(entries=entries, verification=verification,
                          attestations=verify_attestations(agreement_id, entries, keys))

    for name, model in UPDATES.items():
        router.add_api_route(
            f"/agreements/{{agreement_id}}/actions/{name}", _action_route(name, model, acting, caller, checks),
            methods=["POST"], summary=f"Act: {name.replace('_', ' ')}", description=model.__doc__ or "",
            response_model=AgreementStatus | Receipt, name=name, operation_id=name,
        )
    app.include_router(router)
    app.openapi = _without_what_the_api_sets(app)  # type: ignore[method-assign]  # FastAPI's documented override
    return app


def _without_what_the_api_sets(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app``'s OpenAPI document with ``attestation`` left out of the actions' request bodies: the API signs it
    itself and refuses one a caller sends."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        schemas = document.get("components", {}).get("schemas", {})
        for path, operations in document["paths"].items():
            if "/actions/" not in path:
                continue
            ref = operations["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            schema = schemas[ref.rpartition("/")[2]]
            schema.get("properties", {}).pop("attestation", None)
            if "attestation" in schema.get("required", []):
                schema["required"].remove("attestation")
        return document

    return openapi


def _wants_receipt(action: Action, prefer: str | None) -> bool:
    """Whether the caller asks for a short receipt: ``Prefer: return=minimal`` (RFC 7240) or the action's
    ``reply: "receipt"``."""
    preferences = {part.strip().lower().replace(" ", "") for part in (prefer or "").replace(";", ",").split(",")}
    return "return=minimal" in preferences or action.reply is Reply.RECEIPT


def _action_route(name: str, model: type[Action], acting: Acting, caller: Any,
                  checks: Any) -> Callable[..., Awaitable[AgreementStatus | Receipt]]:
    async def act(agreement_id: Annotated[str, Path(min_length=1, max_length=200)],
                  action: Action,
                  who: Annotated[Caller, Depends(caller)],
                  authority: Annotated[Authority, Depends(checks)],
                  prefer: Annotated[str | None, Header(max_length=200, description=(
                      "return=minimal: answer with a short receipt (the decisions' numbers, the stage and the "
                      "version) rather than the whole status"))] = None) -> AgreementStatus | Receipt:
        if _wants_receipt(action, prefer):
            return await acting.act_for_receipt(who, authority, agreement_id, name, action)
        return await acting.act(who, authority, agreement_id, name, action)

    act.__name__ = name
    return _body_read_as(act, model)


def _body_read_as(route: Callable[..., Awaitable[AgreementStatus | Receipt]],
                  model: type[Action]) -> Callable[..., Awaitable[AgreementStatus | Receipt]]:
    """``route`` with its ``action`` parameter declared as ``model`` where FastAPI reads it (the signature), so
    the request body is validated and documented as that action; type checkers read the ``Action`` it was
    written with."""
    signature = inspect.signature(route)
    parameters = [p.replace(annotation=model) if p.name == "action" else p for p in signature.parameters.values()]
    declared: Any = route  # a function object declares no __signature__ to a type checker
    declared.__signature__ = signature.replace(parameters=parameters)
    return route


def _may_read(who: Caller, checks: Authority, agreement_id: str, what: str, bodies: set[str]) -> None:
    """Log the read of ``what`` (status or ledger) of ``agreement_id`` by ``who``, or refuse it (403, logged)
    when no body of theirs is or was a partner of it and no grant covers it."""
    basis = checks.reading_basis(who, bodies)
    if basis is None:
        log().warning("agreement_read_refused", reader=who.identity, name=who.name, agreement_id=agreement_id,
                      what=what)
        message = (f"{who.name} ({who.identity}) may not read agreement {agreement_id}: no body their identity "
                   "provider speaks for is or was a partner of it, and no read grant covers it")
        raise ApiError(403, NOT_A_READER, message, [Problem(field="", code="not_a_reader", message=message)])
    log().info("agreement_read", reader=who.identity, name=who.name, agreement_id=agreement_id, what=what,
               basis=basis)


def _bodies_in(entries: list[LedgerEntry]) -> set[str]:
    """The bodies the ledger ``entries`` name as partners or actors (for an agreement whose history is gone)."""
    bodies = {entry.actor_body for entry in entries if entry.actor_body}
    for entry in entries:
        proposal = entry.payload.get("proposal")
        if isinstance(proposal, dict):
            bodies |= {p["code"] for p in proposal.get("partners", []) if isinstance(p, dict) and "code" in p}
    return bodies


class _DirectoryCache:
    """The directory read from the ledger database, read again once ``settings.directory_seconds`` have passed;
    empty without a database."""

    def __init__(self, settings: ApiSettings, pool: Pool | None) -> None:
        self.settings, self.pool = settings, pool
        self.read_at = -float("inf")
        self.directory = directory_store.Directory()

    async def __call__(self) -> directory_store.Directory:
        now = time.monotonic()
        if self.pool is not None and now - self.read_at >= self.settings.directory_seconds:
            self.directory = await _database(directory_store.load(self.pool))
            self.read_at = now
        return self.directory


async def _database(pending: Awaitable[Any]) -> Any:
    try:
        return await pending
    except OUTAGE_ERRORS as error:
        raise ApiError(503, UNAVAILABLE, f"the directory could not be read from the database: {error}") from None


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, as committed in ``contract/openapi.json``."""
    from api.settings import schema_settings

    return create_app(schema_settings()).openapi()
