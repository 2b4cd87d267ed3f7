"""``Agreements``: what every way of acting on agreements offers, typed so a checker follows an action to its update.

Two classes implement it: ``workflows.client.AgreementClient`` (directly on Temporal) and ``api.client.ApiClient``
(through the HTTP API, as a token's holder). A caller names an action by the workflow's update method and passes
that update's model, so mypy refuses ``act(id, AgreementWorkflow.record_sign_off, SubmitProposal(...))``:

    status = await agreements.act("waste-2027", AgreementWorkflow.record_sign_off, SignOff(...))
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol, TypeVar

from pydantic import BaseModel
from temporalio.workflow import UpdateMethodMultiParam

from domain.ledger import ChainHead
from domain.model import AgreementRequest
from domain.status import AgreementStatus, Receipt
from workflows.agreement import AgreementWorkflow
from workflows.contract import UPDATES

ActionT = TypeVar("ActionT", bound=BaseModel)

Update = UpdateMethodMultiParam[[AgreementWorkflow, ActionT], AgreementStatus | Receipt]
"""An update method of the agreement workflow taking an ``ActionT``: ``AgreementWorkflow.record_sign_off``."""

OPENING_TIMEOUT = timedelta(seconds=60)
"""How long ``start`` waits for the opening decision to be recorded (a worker must be running)."""


class Agreements(Protocol):
    """Start an agreement, act on it, read its status and where its ledger's hash chain ends.

    Refusals and failures are ``workflows.client``'s exceptions (``StartRefused``, ``ActionRefused``,
    ``AgreementNotFound``, ``AgreementClosed``, ...), whichever class implements it.
    """

    async def start(self, request: AgreementRequest, *, timeout: timedelta = OPENING_TIMEOUT) -> AgreementStatus:
        """Start the agreement and return its first status once it has opened, waiting at most ``timeout``."""
        ...

    async def act(self, agreement_id: str, update: Update[ActionT], action: ActionT) -> AgreementStatus:
        """Send ``action`` to the agreement as ``update``; its new status once its decisions are in the ledger."""
        ...

    async def act_for_receipt(self, agreement_id: str, update: Update[ActionT], action: ActionT) -> Receipt:
        """As ``act``, answered with a short receipt (the decisions' numbers, the stage and the version)."""
        ...

    async def status(self, agreement_id: str) -> AgreementStatus:
        """The agreement's current status (``agreement_id`` or the Web UI's workflow id)."""
        ...

    async def ledger_head(self, agreement_id: str) -> ChainHead:
        """Where the agreement's workflow says its hash chain ends (sequence number and hash)."""
        ...


def update_name(update: object) -> str:
    """The name of the update ``update`` is (a method of ``AgreementWorkflow``, or a name in
    ``workflows.contract.UPDATES``), as the workflow and the HTTP API know it.

    Raises ``TypeError`` for anything else.
    """
    if isinstance(update, str):
        if update not in UPDATES:
            raise TypeError(f"{update!r} is not an action of the agreement workflow; actions: {', '.join(UPDATES)}")
        return update
    for name in UPDATES:
        if getattr(AgreementWorkflow, name) is update:
            return name
    raise TypeError(f"{update!r} is not an update of AgreementWorkflow")
