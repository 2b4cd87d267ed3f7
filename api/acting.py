"""The one path into the engine for a person's action: check who may act, give it an action id, attest it, forward.

The API's JSON action routes (``api.app``) and the pages (``web.pages``) both act through ``Acting.act``: the
authority check (``api.authority``: the caller's issuer speaks for the actor's body, and the caller is the
signatory the action names), an action id when the action carries none (``api-<uuid4>``), the attestation the API
signs (``domain.attestation``: the caller's issuer, subject, name and claim over the action's hash, the agreement,
the update and the ledger sequence it was sent at) and the update through ``AgreementClient``. Every refusal is an
``ApiError`` carrying the contract's error type and problems and the HTTP status the API answers with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog

from api.authority import Authority, Refused
from api.tokens import Caller
from domain import attestation
from domain.actions import Action, Reply
from domain.errors import ACTION_REJECTED, AGREEMENT_EXISTS, INVALID_PAYLOAD, UNKNOWN_ACTION, Problem
from domain.status import AgreementStatus, Receipt
from workflows.client import (
    ActionRefused,
    AgreementClient,
    AgreementClosed,
    AgreementError,
    AgreementNotFound,
    AgreementNotOpened,
    AgreementRecordGone,
    OutcomeUnknown,
    StartRefused,
)

NOT_FOUND = "AgreementNotFound"
CLOSED = "AgreementClosed"
UNAVAILABLE = "Unavailable"
OUTCOME_UNKNOWN = "OutcomeUnknown"

Answer = TypeVar("Answer", AgreementStatus, Receipt)
"""What an action is answered with: the whole status, or a short receipt."""

_STATUS_OF_TYPE = {INVALID_PAYLOAD: 422, ACTION_REJECTED: 409, UNKNOWN_ACTION: 400, AGREEMENT_EXISTS: 409}


def log() -> structlog.stdlib.BoundLogger:
    """The API's logger, looked up at each use (so tests can capture what it logs)."""
    return structlog.get_logger("concordat.api")


class ApiError(Exception):
    """A refusal: the HTTP ``status``, the error ``type`` (the contract's, or the API's own), the ``message`` for
    people and the ``problems`` (each a field, a code and a message; one repeating the message when none is given)."""

    def __init__(self, status: int, type: str, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type, message
        self.problems = problems if problems is not None else [Problem(field="", code=type, message=message)]


@dataclass(frozen=True)
class Acting:
    """Acting on agreements through ``agreements`` (called for the Temporal client: it raises ``ApiError`` 503
    when there is none), attesting with ``private_key`` (the deployment's attestor key) under ``key_id``."""

    agreements: Callable[[], AgreementClient]
    private_key: Any
    key_id: str

    async def act(self, who: Caller, authority: Authority, agreement_id: str, name: str,
                  action: Action) -> AgreementStatus:
        """Send ``action`` (already validated as update ``name``'s model, with no attestation) to agreement
        ``agreement_id`` (or its workflow id) as ``who``, checked by ``authority``; returns the agreement's status
        after it, whose ``action`` receipt names the ledger numbers its decisions were recorded under.

        Raises ``ApiError``: 422 for an attestation the caller set, 403 when ``who`` may not act as the actor
        (logged as ``action_refused``), 404 no such agreement, 409 refused by the engine (its problems, e.g.
        ``version``/``stale_version``) or closed, 503 no Temporal, 504 outcome unknown."""
        agreements = self.agreements()
        return await self._forward(agreements.act, agreements, who, authority, agreement_id, name, action)

    async def act_for_receipt(self, who: Caller, authority: Authority, agreement_id: str, name: str,
                              action: Action) -> Receipt:
        """As ``act``, answered with a short ``Receipt`` (the decisions' numbers, the stage and the version) rather
        than the whole status (``Prefer: return=minimal``, or the action's ``reply: "receipt"``). Raises as ``act``."""
        agreements = self.agreements()
        receipt = action.model_copy(update={"reply": Reply.RECEIPT})
        return await self._forward(agreements.act_for_receipt, agreements, who, authority, agreement_id, name,
                                   receipt)

    async def _forward(self, send: Callable[[str, str, Action], Awaitable[Answer]], agreements: AgreementClient,
                       who: Caller, authority: Authority, agreement_id: str, name: str, action: Action) -> Answer:
        """``action`` checked and attested (``_attested``), sent by ``send`` (the client's ``act`` or
        ``act_for_receipt``) and logged as forwarded; the client's refusals raised as ``ApiError``."""
        current, attested = await self._attested(agreements, who, authority, agreement_id, name, action)
        try:
            result = await send(current, name, attested)
        except AgreementError as error:
            raise api_error(error) from None
        self._forwarded(who, current, name, attested)
        return result

    async def _attested(self, agreements: AgreementClient, who: Caller, authority: Authority, agreement_id: str,
                        name: str, action: Action) -> tuple[str, Action]:
        """The agreement's own id and ``action`` checked, given an id, and attested as ``who``'s (raises as
        ``act``)."""
        if action.attestation is not None:
            raise ApiError(422, INVALID_PAYLOAD, "attestation: set by the API, never by the caller",
                           [Problem(field="attestation", code="set_by_the_api",
                                    message="set by the API, never by the caller")])
        current = await read(agreements.status(agreement_id))
        try:
            action = authority.check_act(who, current, action)
        except Refused as refusal:
            forbid(who, current.agreement_id, name, action.actor.body, action.actor.signatory, refusal)
        if action.action_id is None:
            action = action.model_copy(update={"action_id": f"api-{uuid.uuid4()}"})
        claims = attestation.attestation_claims(issuer=who.issuer, subject=who.subject, name=who.name,
                                                claim=who.claim, agreement_id=current.agreement_id, update=name,
                                                action=action, seq=current.decisions_recorded, at=datetime.now(UTC))
        return current.agreement_id, action.model_copy(
            update={"attestation": attestation.sign(claims, self.private_key, self.key_id)})

    @staticmethod
    def _forwarded(who: Caller, agreement_id: str, name: str, action: Action) -> None:
        log().info("action_forwarded", identity=who.identity, name=who.name, agreement_id=agreement_id,
                   action=name, actor_body=action.actor.body, actor_signatory=action.actor.signatory,
                   actor_delegate=action.actor.delegate, action_id=action.action_id)


def forbid(who: Caller, agreement_id: str, action: str, body: str | None, signatory: str | None,
           refusal: Refused) -> None:
    """Log ``who``'s refused ``action`` on ``agreement_id`` and raise it as an ``ApiError`` (its status and type)."""
    log().warning("action_refused", identity=who.identity, name=who.name, agreement_id=agreement_id,
                  action=action, actor_body=body, actor_signatory=signatory, refusal=refusal.code)
    message = refusal.message + "; nothing was sent"
    raise ApiError(refusal.status, refusal.type, message,
                   [Problem(field=refusal.field, code=refusal.code, message=message)])


async def read(pending: Any) -> Any:
    """What ``pending`` (a client call) returns, its ``AgreementError`` raised as an ``ApiError``."""
    try:
        return await pending
    except AgreementError as error:
        raise api_error(error) from None


def api_error(error: AgreementError) -> ApiError:
    """The refusal the API answers for the client's ``error``: 404 no such agreement (or its record is gone),
    409 closed or refused (the engine's type and problems), 503 not opened yet, 504 outcome unknown."""
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
