"""Rules of delegation: a signatory delegates their signature to a named colleague of the same body for a stated
period, and may withdraw it; the colleague signs for them while it covers the day (see ``domain.delegation``).

A signatory has at most one delegation that has not yet ended: to change it, they withdraw it and delegate
again. A new delegation clears the signatory's earlier one that ended or was withdrawn (the ledger keeps both).
Only signatures (``record_sign_off``, ``sign_variation``) may be made by a delegate; a delegate delegates nothing
and withdraws nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain import authority
from domain.actions import Actor, DelegateSignature, WithdrawDelegation
from domain.agreement import Agreement
from domain.delegation import Delegation
from domain.errors import ActionRejected
from domain.model import find_signatory
from domain.rules.draft import UNTIL_CLOSED_AND_IN_SERVICE, Draft, Rule

NOT_DELEGATED = "not_delegated"
"""The refusal code of a signature by a delegate to whom the signatory made no delegation (or another one)."""
DELEGATION_ENDED = "delegation_ended"
"""The refusal code of a signature by a delegate after the delegation's last day."""
DELEGATION_NOT_STARTED = "delegation_not_started"
"""The refusal code of a signature by a delegate before the delegation's first day."""
DELEGATION_WITHDRAWN = "delegation_withdrawn"
"""The refusal code of a signature by a delegate once the signatory withdrew the delegation."""
NOT_DELEGABLE = "not_delegable"
"""The refusal code of an action other than a signature sent by a delegate."""


def today(now: datetime) -> date:
    """The UTC calendar date of ``now``: the day a delegation's dates are compared with."""
    return now.astimezone(UTC).date()


def delegation_named(agreement: Agreement, actor: Actor) -> Delegation:
    """The delegation under which ``actor.delegate`` signs for ``actor.signatory``, whatever its dates: the one the
    signatory made to that delegate (the attestation check compares the delegate's identity with it). Refuses
    (``not_delegated``) when the signatory's latest delegation is to nobody of that name."""
    delegate = actor.delegate or ""
    delegation = authority.delegation_of(agreement.delegations, actor.body, actor.signatory, agreement.name_key)
    if delegation is None or agreement.name_key(delegation.delegate) != agreement.name_key(delegate):
        raise ActionRejected(
            f"{actor.signatory} of {agreement.body_name(actor.body)} has not delegated their signature to {delegate}: "
            "only a colleague they delegated it to signs for them", code=NOT_DELEGATED, field="actor.delegate")
    return delegation


def acting_delegation(agreement: Agreement, actor: Actor, now: datetime) -> Delegation:
    """The delegation under which ``actor.delegate`` signs for ``actor.signatory`` at ``now``; refuses one made to
    nobody of that name (``not_delegated``), withdrawn (``delegation_withdrawn``), ended
    (``delegation_ended``) or not yet begun (``delegation_not_started``) on ``now``'s UTC date."""
    delegation = delegation_named(agreement, actor)
    day = today(now)
    whose = f"{actor.signatory}'s delegation to {delegation.delegate} (decision #{delegation.decision})"
    if delegation.withdrawn is not None:
        raise ActionRejected(f"{whose} was withdrawn (decision #{delegation.withdrawn}): "
                             f"{delegation.delegate} no longer signs for them", code=DELEGATION_WITHDRAWN,
                             field="actor.delegate")
    if day > delegation.ends:
        raise ActionRejected(f"{whose} ended on {delegation.ends}; today is {day}", code=DELEGATION_ENDED,
                             field="actor.delegate")
    if day < delegation.starts:
        raise ActionRejected(f"{whose} starts on {delegation.starts}; today is {day}", code=DELEGATION_NOT_STARTED,
                             field="actor.delegate")
    return delegation


def delegate_signature(draft: Draft, action: DelegateSignature) -> None:
    """The actor delegates their signature to a colleague of their body, from a day not in the past, while they
    have no other delegation that has not yet ended; the delegate is not the signatory, nor a signatory of another
    body (one person signs for one body)."""
    agreement = draft.agreement
    actor = action.actor
    day = today(draft.now)
    if action.starts < day:
        raise ActionRejected(f"the delegation starts on {action.starts}, in the past: it may start today ({day}) or "
                             "later", code="starts_in_the_past", field="starts")
    key = agreement.name_key
    signatory = find_signatory(agreement.signatories(actor.body), actor.signatory, key)
    if signatory is None:
        raise ActionRejected(f"{actor.signatory} is not a current signatory of {agreement.body_name(actor.body)}",
                             code="not_a_signatory", field="actor.signatory")
    if key(action.delegate) == key(actor.signatory) or signatory.bound == action.delegate_identity:
        raise ActionRejected(f"{actor.signatory} cannot delegate their signature to themselves",
                             code="delegate_is_signatory", field="delegate")
    for code, others in agreement.current_signatories.items():
        for other in others:
            if code != actor.body and (key(other.name) == key(action.delegate)
                                       or other.bound == action.delegate_identity):
                raise ActionRejected(f"{action.delegate} is a signatory of {agreement.body_name(code)}: one person "
                                     f"signs for one body, so they cannot sign for {agreement.body_name(actor.body)}",
                                     code="delegate_of_another_body", field="delegate")
    earlier = authority.delegation_of(agreement.delegations, actor.body, actor.signatory, key)
    if earlier is not None and earlier.standing(day):
        raise ActionRejected(
            f"{actor.signatory} has already delegated their signature to {earlier.delegate} from {earlier.starts} to "
            f"{earlier.ends} (decision #{earlier.decision}): withdraw that delegation first",
            code="already_delegated", field="actor.signatory")
    made = Delegation(body=actor.body, signatory=signatory.name, delegate=action.delegate,
                      delegate_identity=action.delegate_identity, starts=action.starts, ends=action.ends,
                      decision=agreement.chain.seq + 1)
    agreement.delegations = [*(d for d in agreement.delegations if d is not earlier), made]


def withdraw_delegation(draft: Draft, action: WithdrawDelegation) -> None:
    """The actor withdraws their delegation that has not yet ended; the ledger names the delegate and the
    delegation's decision."""
    agreement = draft.agreement
    actor = action.actor
    delegation = authority.delegation_of(agreement.delegations, actor.body, actor.signatory, agreement.name_key)
    if delegation is None or not delegation.standing(today(draft.now)):
        raise ActionRejected(f"{actor.signatory} of {agreement.body_name(actor.body)} has no delegation to withdraw",
                             code="no_delegation", field="actor.signatory")
    withdrawn = delegation.model_copy(update={"withdrawn": agreement.chain.seq + 1})
    agreement.delegations = [withdrawn if d is delegation else d for d in agreement.delegations]
    draft.note(delegate=delegation.delegate, delegation=delegation.decision)


RULES: list[Rule] = [
    Rule(action=DelegateSignature, kind="signature_delegated", verb="delegate a signature",
         stages=UNTIL_CLOSED_AND_IN_SERVICE, apply=delegate_signature),
    Rule(action=WithdrawDelegation, kind="delegation_withdrawn", verb="withdraw a delegation",
         stages=UNTIL_CLOSED_AND_IN_SERVICE, apply=withdraw_delegation),
]
