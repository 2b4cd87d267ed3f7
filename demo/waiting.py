"""The demo's agreement that waits on people: its partners' signatories act on it from the pages.

The portfolio plays itself in compressed time; this agreement does not. Its lead body opens it, submits it, sets
its plan and sends it for sign-off, at the real pace (the engine's default stage durations: weeks, not seconds),
and there it waits: each partner's signatory signs in to the pages with their council's account, accepts the
identity the lead named them with, reads the version and approves or rejects it, and may delegate their signature.
A second run of the demo finds it where people left it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from demo.portfolio import PORTFOLIO, Persona, next_step
from domain.errors import AGREEMENT_EXISTS
from domain.model import AgreementRequest, Stage
from domain.status import AgreementStatus
from workflows.client import AgreementClient, StartRefused
from workflows.contract import UPDATES

WAITING_ID = "demo-signed-on-the-pages"
"""The agreement's id (used once, ever: the demo resumes it on later runs)."""


def waiting_persona() -> Persona:
    """The first persona of the portfolio, retitled: the same councils and case, signed by people."""
    first = PORTFOLIO[0]
    return Persona(agreement_id=WAITING_ID, short_title="Signed on the pages",
                   proposal={**first.proposal, "title": f"{first.proposal['title']}, signed on the pages"},
                   objectives=first.objectives, milestones=first.milestones, contributions=first.contributions,
                   risks=first.risks)


async def open_for_people(agreements: AgreementClient) -> AgreementStatus:
    """Open the agreement (or find it) and take the lead body's steps until it waits on the partners' signatures;
    returns its status. Raises what ``AgreementClient`` raises when Temporal or the engine refuses."""
    persona = waiting_persona()
    request = AgreementRequest.model_validate({"agreement_id": WAITING_ID,
                                               "proposal": persona.full_proposal(persona.proposal), "settings": {}})
    try:
        status = await agreements.start(request)
    except StartRefused as refused:
        if refused.type != AGREEMENT_EXISTS:
            raise
        status = await agreements.status(WAITING_ID)
    while status.stage in (Stage.PROPOSAL, Stage.OBJECTIVE_SETTING):
        step = next_step(persona, status, datetime.now(UTC))
        assert step is not None  # the lead always has a next step before sign-off
        update, payload = step
        status = await agreements.act(WAITING_ID, update, UPDATES[update].model_validate(payload))
    return status
