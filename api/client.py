"""Acting on agreements through the HTTP API, as the holder of a bearer token: what the command line uses with
``--api``. Refusals are raised as ``workflows.client``'s exceptions, so callers handle both seams alike."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel

from domain.model import AgreementRequest
from domain.status import AgreementStatus
from workflows.client import ActionRefused, AgreementError, AgreementNotFound, StartRefused


class ApiClient:
    """Start, act on and read agreements at the API ``base_url`` with the bearer ``token``."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 90) -> None:
        self.base_url, self.token, self.timeout = base_url.rstrip("/"), token, timeout

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as http:
            try:
                response = await http.request(method, path, json=body,
                                              headers={"Authorization": f"Bearer {self.token}"})
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
        raise ActionRefused(f"{message} (HTTP {response.status_code})", kind, [problems])

    async def start(self, request: AgreementRequest) -> AgreementStatus:
        try:
            return AgreementStatus.model_validate(await self._call("POST", "/agreements",
                                                                   request.model_dump(mode="json")))
        except ActionRefused as refused:
            raise StartRefused(request.agreement_id, refused.type or "Refused", refused.message) from None

    async def act(self, agreement_id: str, update: str, action: BaseModel) -> AgreementStatus:
        body = action.model_dump(mode="json", exclude_none=True)
        return AgreementStatus.model_validate(
            await self._call("POST", f"/agreements/{agreement_id}/actions/{update}", body))

    async def status(self, agreement_id: str) -> AgreementStatus:
        return AgreementStatus.model_validate(await self._call("GET", f"/agreements/{agreement_id}"))
