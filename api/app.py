"""The HTTP API: start, act on, read and list agreements, as a person their council's OpenID provider vouches for.

Every route but ``/attestor-keys`` and the OpenAPI document needs a bearer token (``api.tokens``). An action is
sent as ``POST /agreements/{agreement_id}/actions/{action}``, one route per update of the contract
(``workflows.contract.UPDATES``), with that update's JSON. Before anything reaches Temporal the API checks that
the token's identity is the one the signatory register holds for the signatory the action names (else 403,
logged); it then gives the action an action id if it has none, signs an attestation of it (``domain.attestation``)
and forwards it through ``AgreementClient``. Refusals carry the contract's error types and problems::

    {"type": "ActionRejected", "message": "...", "problems": [{"field": "version", "code": "stale_version",
     "message": "..."}]}

400 UnknownAction; 401 no or bad token; 403 not that signatory; 404 no such agreement; 409 ActionRejected,
AgreementExists, LedgerConflict or a closed agreement (code ``closed``); 422 InvalidPayload (the request does not
fit its schema); 503 the identity provider's keys or the ledger cannot be reached.
"""

import inspect
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from api.settings import ApiSettings
from api.tokens import Caller, KeysUnavailable, TokenVerifier, Unauthenticated
from domain import attestation, authority
from domain.actions import Action
from domain.errors import ACTION_REJECTED, AGREEMENT_EXISTS, INVALID_PAYLOAD, UNKNOWN_ACTION, Problem
from domain.ledger import ChainVerification, LedgerEntry
from domain.model import AgreementRequest, Signatory
from domain.proof import AttestationReport, recorded_keys, verify_attestations
from domain.status import AgreementStatus
from store.database import Pool
from store.ledger import read_ledger, verify_ledger
from workflows.client import (
    ActionRefused,
    AgreementClient,
    AgreementClosed,
    AgreementError,
    AgreementNotFound,
    AgreementNotOpened,
    AgreementRecordGone,
    AgreementRow,
    OutcomeUnknown,
    StartRefused,
)
from workflows.contract import UPDATES


def log() -> structlog.stdlib.BoundLogger:
    """The API's logger, looked up at each use (so tests can capture what it logs)."""
    return structlog.get_logger("concordat.api")

FORBIDDEN = "NotThatSignatory"
UNAUTHENTICATED = "Unauthenticated"
NOT_FOUND = "AgreementNotFound"
CLOSED = "AgreementClosed"
UNAVAILABLE = "Unavailable"
OUTCOME_UNKNOWN = "OutcomeUnknown"

_STATUS_OF_TYPE = {INVALID_PAYLOAD: 422, ACTION_REJECTED: 409, UNKNOWN_ACTION: 400, AGREEMENT_EXISTS: 409}


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


class ApiError(Exception):
    def __init__(self, status: int, type: str, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type, message
        self.problems = problems if problems is not None else [Problem(field="", code=type, message=message)]


REFUSALS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in {
        400: "UnknownAction", 401: "No token, or a token that does not prove who sent it",
        403: "The token's identity is not the signatory the action names", 404: "No such agreement",
        409: "ActionRejected, AgreementExists, LedgerConflict, or the agreement is closed",
        422: "InvalidPayload: the request does not fit its schema", 503: "Keys or ledger unreachable",
        504: "OutcomeUnknown: Temporal could not say whether the action was accepted; check status, send it "
             "again with the same action_id (a repeat is answered as such)",
    }.items()
}

_bearer = HTTPBearer(auto_error=False, description="An OpenID access token from the council's identity provider.")


def create_app(settings: ApiSettings, agreements: AgreementClient | None = None,
               verifier: TokenVerifier | None = None, ledger: Pool | None = None) -> FastAPI:
    """The API on ``agreements`` (a Temporal client), checking tokens with ``verifier`` and reading the ledger
    from ``ledger``; without them the app serves only its OpenAPI document (as ``python -m workflows.contract``
    renders it)."""
    app = FastAPI(
        title="Concordat", version="1", description=__doc__,
        responses=REFUSALS,
    )
    private_key = settings.private_key()

    async def caller(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Caller:
        if verifier is None:
            raise ApiError(503, UNAVAILABLE, "the API is not configured to check tokens")
        try:
            return await verifier.caller(f"Bearer {credentials.credentials}" if credentials else None)
        except Unauthenticated as error:
            log().warning("token_refused", reason=str(error))
            raise ApiError(401, UNAUTHENTICATED, str(error)) from None
        except KeysUnavailable as error:
            raise ApiError(503, UNAVAILABLE, str(error)) from None

    def client() -> AgreementClient:
        if agreements is None:
            raise ApiError(503, UNAVAILABLE, "the API is not connected to Temporal")
        return agreements

    Who = Annotated[Caller, Depends(caller)]
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
    async def start(request: AgreementRequest, who: Who) -> AgreementStatus:
        """Open the agreement; the caller must be the identity of a signatory of the lead body in its proposal."""
        lead = request.proposal.partner(request.proposal.lead_body)
        signatories = lead.signatories if lead else []
        if not any(s.is_identified_by(who.identity) for s in signatories):
            _forbid(who, request.agreement_id, "start", request.proposal.lead_body, None,
                    f"{who.identity} is not the identity of a signatory of the lead body in the proposal")
        try:
            return await client().start(request)
        except AgreementError as error:
            raise _api_error(error) from None

    @router.get("/agreements", summary="List agreements")
    async def list_agreements(
        who: Who, stage: str | None = None, rag: str | None = None, lead: str | None = None,
        include_closed: bool = False, limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AgreementRow]:
        return [row async for row in client().list(stage=stage, rag=rag, lead=lead, include_closed=include_closed,
                                                   limit=limit)]

    @router.get("/agreements/{agreement_id}", summary="An agreement's status")
    async def status(agreement_id: AgreementId, who: Who) -> AgreementStatus:
        return await _read(client().status(agreement_id))

    @router.get("/agreements/{agreement_id}/ledger", summary="An agreement's decisions, verified")
    async def show_ledger(agreement_id: AgreementId, who: Who) -> LedgerView:
        """The decisions, their hash chain checked (and anchored to the workflow's own record where Temporal still
        holds it), and their attestations checked with the keys the ledger itself records and this API's key."""
        if ledger is None:
            raise ApiError(503, UNAVAILABLE, "the API is not connected to the ledger database (DATABASE_URL)")
        try:
            head, terminated = await client().ledger_anchor(agreement_id)
        except AgreementRecordGone:
            head, terminated = None, False
        except AgreementError as error:
            raise _api_error(error) from None
        entries = await read_ledger(ledger, agreement_id)
        if not entries:
            raise ApiError(404, NOT_FOUND, f"the ledger holds no decisions for agreement {agreement_id}")
        keys = {**recorded_keys(entries), settings.signing_key_id: settings.public_key_pem()}
        verification = await verify_ledger(ledger, agreement_id, head, terminated=terminated)
        return LedgerView(entries=entries, verification=verification,
                          attestations=verify_attestations(agreement_id, entries, keys))

    for name, model in UPDATES.items():
        router.add_api_route(
            f"/agreements/{{agreement_id}}/actions/{name}", _action_route(name, model, client, caller, settings,
                                                                          private_key),
            methods=["POST"], summary=f"Act: {name.replace('_', ' ')}", description=model.__doc__ or "",
            response_model=AgreementStatus, name=name, operation_id=name,
        )
    app.include_router(router)
    return app


def _action_route(name: str, model: type[Action], client: Any, caller: Any, settings: ApiSettings,
                  private_key: Any) -> Callable[..., Awaitable[AgreementStatus]]:
    async def act(agreement_id: Annotated[str, Path(min_length=1, max_length=200)],
                  action: Action,
                  who: Annotated[Caller, Depends(caller)]) -> AgreementStatus:
        if action.attestation is not None:
            raise ApiError(422, INVALID_PAYLOAD, "attestation: set by the API, never by the caller",
                           [Problem(field="attestation", code="set_by_the_api",
                                    message="set by the API, never by the caller")])
        agreements: AgreementClient = client()
        current = await _read(agreements.status(agreement_id))
        signatory = _signatory(current, action.actor.body, action.actor.signatory)
        if signatory is not None and not signatory.is_identified_by(who.identity):
            _forbid(who, current.agreement_id, name, action.actor.body, action.actor.signatory,
                    f"{who.identity} may not act as {action.actor.signatory} of "
                    f"{current.body_names.get(action.actor.body, action.actor.body)}"
                    + ("" if signatory.identity else ": no identity is registered for them"))
        if action.action_id is None:
            action = action.model_copy(update={"action_id": f"api-{uuid.uuid4()}"})
        claims = attestation.attestation_claims(identity=who.identity, issuer=who.issuer,
                                                agreement_id=current.agreement_id, update=name, action=action,
                                                seq=current.decisions_recorded, at=datetime.now(UTC))
        attested = action.model_copy(update={"attestation": attestation.sign(claims, private_key,
                                                                             settings.signing_key_id)})
        try:
            result = await agreements.act(current.agreement_id, name, attested)
        except AgreementError as error:
            raise _api_error(error) from None
        log().info("action_forwarded", identity=who.identity, issuer=who.issuer, agreement_id=current.agreement_id,
                 action=name, actor_body=action.actor.body, actor_signatory=action.actor.signatory,
                 action_id=attested.action_id)
        return result

    act.__name__ = name
    return _body_read_as(act, model)


def _body_read_as(route: Callable[..., Awaitable[AgreementStatus]],
                  model: type[Action]) -> Callable[..., Awaitable[AgreementStatus]]:
    """``route`` with its ``action`` parameter declared as ``model`` where FastAPI reads it (the signature), so
    the request body is validated and documented as that action; type checkers read the ``Action`` it was
    written with."""
    signature = inspect.signature(route)
    parameters = [p.replace(annotation=model) if p.name == "action" else p for p in signature.parameters.values()]
    declared: Any = route  # a function object declares no __signature__ to a type checker
    declared.__signature__ = signature.replace(parameters=parameters)
    return route


def _signatory(status: AgreementStatus, body: str, name: str) -> Signatory | None:
    """The signatory ``name`` of ``body`` as the engine looks them up (``domain.authority``)."""
    pending = status.variation.variation if status.variation else None
    return authority.acting_signatory(body, name, status.signatories, pending)


def _forbid(who: Caller, agreement_id: str, action: str, body: str | None, signatory: str | None,
            message: str) -> None:
    log().warning("action_refused_not_that_signatory", identity=who.identity, issuer=who.issuer,
                agreement_id=agreement_id, action=action, actor_body=body, actor_signatory=signatory)
    field = "actor.signatory" if signatory else "proposal.lead_body"
    raise ApiError(403, FORBIDDEN, message + "; nothing was sent",
                   [Problem(field=field, code="not_that_signatory", message=message + "; nothing was sent")])


async def _read(pending: Any) -> Any:
    try:
        return await pending
    except AgreementError as error:
        raise _api_error(error) from None


def _api_error(error: AgreementError) -> ApiError:
    if isinstance(error, AgreementNotFound):
        return ApiError(404, NOT_FOUND, str(error))
    if isinstance(error, AgreementClosed):
        return ApiError(409, CLOSED, str(error), [Problem(field="", code="closed", message=str(error))])
    if isinstance(error, ActionRefused):
        problems = error.details[0] if error.details and isinstance(error.details[0], list) else None
        return ApiError(_STATUS_OF_TYPE.get(error.type or "", 409), error.type or ACTION_REJECTED, error.message,
                        problems)
    if isinstance(error, StartRefused):
        return ApiError(_STATUS_OF_TYPE.get(error.type, 409), error.type, error.message)
    if isinstance(error, AgreementRecordGone):
        return ApiError(404, NOT_FOUND, str(error))
    if isinstance(error, AgreementNotOpened):
        return ApiError(503, UNAVAILABLE, str(error))
    if isinstance(error, OutcomeUnknown):
        return ApiError(504, OUTCOME_UNKNOWN, str(error), [Problem(field="action_id", code="outcome_unknown",
                                                                   message=f"send it again with action_id "
                                                                           f"{error.action_id}")])
    return ApiError(409, type(error).__name__, str(error))


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI document, as committed in ``contract/openapi.json``."""
    from api.settings import schema_settings

    return create_app(schema_settings()).openapi()
