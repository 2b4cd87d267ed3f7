"""Acting on agreements through the HTTP API, as the holder of a bearer token: what the command line uses with
``--api``. It implements ``workflows.seam.Agreements``, and refusals are raised as ``workflows.client``'s
exceptions, so callers handle both seams alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from domain.actions import Reply
from domain.ledger import ChainHead
from domain.model import AgreementRequest
from domain.status import AgreementStatus, Receipt
from workflows.client import ActionRefused, AgreementError, AgreementNotFound, OutcomeUnknown, StartRefused
from workflows.seam import OPENING_TIMEOUT, ActionT, Update, update_name


class ApiClient:
    """``Agreements`` at the API ``base_url`` with the bearer ``token``; each request waits at most ``timeout``
    seconds."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 90) -> None:
        self.base_url, self.token, self.timeout = base_url.rstrip("/"), token, timeout

    async def _call(self, method: str, path: str, body: Any = None, *, timeout: float | None = None) -> Any:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=timeout or self.timeout) as http:
            try:
                response = await http.request(method, path, json=body,
                                              headers={"Authorization": f"Bearer {self.token}"})
            except httpx.TimeoutException as error:
                if method == "POST" and "/actions/" in path:  # sent: whether it was accepted cannot be known
                    raise OutcomeUnknown(path.split("/")[2], str((body or {}).get("action_id", "")),
                                         f"the API did not answer in time: {error}") from None
                raise AgreementError(f"cannot reach the Concordat API at {self.base_url}: {error}") from None
            except httpx.HTTPError as error:
                raise AgreementError(f"cannot reach the Concordat API at {self.base_url}: {error}") from None
        if response.is_success:
            return response.json()
        try:
            refusal = response.json()
            kind, message, problems = refusal["type"], refusal["message"], refusal["problems"]
        except (ValueError, KeyError, TypeError):
            raise AgreementError(f"the Concordat API answered {response.status_code}: {response.text[:300]}") from None
        if response.status_code == 404:
            raise AgreementNotFound(path.split("/")[2])
        if response.status_code == 504 and kind == "OutcomeUnknown":
            raise OutcomeUnknown(path.split("/")[2], str((body or {}).get("action_id", "")),
                                 "the API could not learn it from Temporal")
        raise ActionRefused(f"{message} (HTTP {response.status_code})", kind, [problems])

    async def start(self, request: AgreementRequest, *, timeout: timedelta = OPENING_TIMEOUT) -> AgreementStatus:
        """Open the agreement (``POST /agreements``); the API waits for its opening decision. The request waits
        at least ``timeout``. Raises ``StartRefused``."""
        try:
            return AgreementStatus.model_validate(await self._call(
                "POST", "/agreements", request.model_dump(mode="json"),
                timeout=max(self.timeout, timeout.total_seconds())))
        except ActionRefused as refused:
            raise StartRefused(request.agreement_id, refused.type or "Refused", refused.message) from None

    async def act(self, agreement_id: str, update: Update[ActionT], action: ActionT) -> AgreementStatus:
        """``POST /agreements/{id}/actions/{update}``; the API attests the action as the token's holder.
        Raises ``TypeError`` for a method that is not an update (nothing sent), ``ActionRefused``,
        ``AgreementNotFound``."""
        body = action.model_dump(mode="json", exclude_none=True)
        return AgreementStatus.model_validate(
            await self._call("POST", f"/agreements/{agreement_id}/actions/{update_name(update)}", body))

    async def act_for_receipt(self, agreement_id: str, update: Update[ActionT], action: ActionT) -> Receipt:
        """As ``act``, asking the API for a short receipt (the action's ``reply``: ``receipt``)."""
        body = action.model_dump(mode="json", exclude_none=True) | {"reply": Reply.RECEIPT.value}
        return Receipt.model_validate(
            await self._call("POST", f"/agreements/{agreement_id}/actions/{update_name(update)}", body))

    async def status(self, agreement_id: str) -> AgreementStatus:
        """``GET /agreements/{id}``. Raises ``AgreementNotFound``."""
        return AgreementStatus.model_validate(await self._call("GET", f"/agreements/{agreement_id}"))

    async def ledger_head(self, agreement_id: str) -> ChainHead:
        """Where the agreement's workflow says its hash chain ends, from its status."""
        return (await self.status(agreement_id)).ledger_head
