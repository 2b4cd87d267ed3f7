"""Delegations of signature: a signatory away (on leave, say) lets a named colleague of the same body sign for
them for a stated period, as councils' schemes of delegation provide.

A delegation is made by the signatory (``delegate_signature``), recorded as a decision, and ends on its last day
or when the signatory withdraws it (``withdraw_delegation``). While it covers the day (UTC), the colleague signs
sign-offs and variations in their own name "for" the signatory: the actor names both
(``Actor.delegate``), and the ledger records both. The rules are ``domain.rules.delegation``; who a delegate is
(``domain.authority.acting_delegation``) is looked up the same way by the engine and the API.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pydantic import Field

from domain.model import BoundIdentity, Extended


class Delegation(Extended):
    """One signatory's delegation of their signature to a colleague of the same body, from ``starts`` to ``ends``
    (UTC calendar dates, both included)."""

    LATER_FIELDS = frozenset({"withdrawn"})

    body: str = Field(description="The code of the body the signatory signs for.")
    signatory: str = Field(description="Who delegates: the signatory's name.")
    delegate: str = Field(description="The colleague's name, as they give it when signing for the signatory.")
    delegate_identity: BoundIdentity = Field(description="Who the colleague is at an identity provider of the body.")
    starts: date = Field(description="The first day the delegate may sign (UTC).")
    ends: date = Field(description="The last day the delegate may sign (UTC), included.")
    decision: int = Field(description="The number of the ledger decision that recorded the delegation.")
    withdrawn: int | None = Field(default=None, description="The number of the ledger decision that withdrew it; "
                                  "absent while it stands.")

    def covers(self, day: date) -> bool:
        """Whether the delegate may sign on ``day`` (UTC): within the dates, and not withdrawn."""
        return self.withdrawn is None and self.starts <= day <= self.ends

    def standing(self, day: date) -> bool:
        """Whether the delegation still counts on ``day``: not withdrawn and not yet ended (perhaps not yet begun)."""
        return self.withdrawn is None and day <= self.ends


def renumbered(delegations: Iterable[Delegation], seq: int, shift: int) -> list[Delegation]:
    """``delegations`` with the decision number ``seq`` (of a delegation made, or withdrawn, by the action just
    recorded) moved on by ``shift``: the action's decisions were recorded ``shift`` places later than expected (at
    the ledger's head, after a Temporal reset)."""
    def moved(number: int | None) -> int | None:
        return number + shift if number == seq else number

    return [d.model_copy(update={"decision": moved(d.decision), "withdrawn": moved(d.withdrawn)}) for d in delegations]
