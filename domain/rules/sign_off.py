"""Rules of leadership sign-off: each partner's signatory approves or rejects the version they read.

All partners must approve; a rejection sends the agreement back for revision (or, for an amendment of a live
service, back to objective-setting) until the last permitted round, which closes it (or drops the amendment).
"""

from __future__ import annotations

from domain.actions import SignOff, SignOffDecision
from domain.agreement import Agreement, ClosedOutcome, SignOffRecord
from domain.errors import ActionRejected
from domain.model import Stage
from domain.rules.delivery import start_delivery
from domain.rules.draft import Draft, Rule
from domain.rules.review import enter_review


def check_version(agreement: Agreement, named: str | None, current: str, what: str) -> None:
    """Refuse a sign-off of another version than ``current``, or of none when versions must be named."""
    if named is None and agreement.versions_signed:
        raise ActionRejected(f"name the version of {what} you approve or reject: the current version is {current}",
                             code="version_required", field="version")
    if named is not None and named != current:
        raise ActionRejected(f"version {named} of {what} is not the current one ({current}): it changed since it "
                             "was read; read the current version and sign that", code="stale_version", field="version")


def sign_off(draft: Draft, action: SignOff) -> None:
    """A partner's signatory approves or rejects the version they read: one signature per body and per person in
    a round. Every approval starts delivery; a rejection goes back for revision (see ``_reject_amendment``)."""
    agreement = draft.agreement
    body = agreement.proposal.body_name(action.actor.body)
    earlier = agreement.sign_offs.get(action.actor.body)
    if earlier is not None:
        raise ActionRejected(
            f"{body} has already signed off in round {agreement.sign_off_round} "
            f"({earlier.signatory}, {earlier.at:%Y-%m-%d %H:%M} UTC)",
            code="already_signed", field="actor.body",
        )
    person = action.actor.delegate or action.actor.signatory
    signer = agreement.name_key(person)
    for other in agreement.sign_offs.values():
        if agreement.name_key(other.signer) == signer:
            raise ActionRejected(
                f"{person} has already signed in round {agreement.sign_off_round} "
                f"for {agreement.proposal.body_name(other.body)}; nobody signs twice",
                code="signed_twice", field="actor.signatory",
            )
    check_version(agreement, action.version, agreement.version, "the agreement")
    agreement.sign_offs[action.actor.body] = SignOffRecord(
        body=action.actor.body,
        signatory=action.actor.signatory,
        decision=action.decision,
        reason=action.reason,
        at=draft.now,
        delegate=action.actor.delegate,
    )
    if action.decision is SignOffDecision.REJECT:
        rounds = agreement.sign_off_round
        if agreement.plan_in_force is not None:
            _reject_amendment(draft, body, action.reason)
        elif rounds >= agreement.settings.max_sign_off_rounds:
            draft.close(ClosedOutcome.REJECTED, f"{body} rejected it in the last permitted round ({rounds})")
        else:
            agreement.sign_off_round += 1
            draft.move_to(Stage.PROPOSAL, f"{body} rejected it: {action.reason}")
        return
    if len(agreement.sign_offs) == len(agreement.proposal.partners):
        start_delivery(draft, "every partner has approved")


def _reject_amendment(draft: Draft, body: str, reason: str) -> None:
    """A live service keeps running: a rejected amendment is revised, or dropped after the last round."""
    agreement = draft.agreement
    assert agreement.plan_in_force is not None
    if agreement.sign_off_round >= agreement.settings.max_sign_off_rounds:
        agreement.plan, agreement.plan_in_force = agreement.plan_in_force, None
        enter_review(draft, f"{body} rejected the amendment in the last permitted round; the service "
                             "continues under its agreed plan")
    else:
        agreement.sign_off_round += 1
        draft.move_to(Stage.OBJECTIVE_SETTING, f"{body} rejected the amendment: {reason}")


RULES: list[Rule] = [
    Rule(action=SignOff, kind="signed_off", verb="sign off", stages=(Stage.SIGN_OFF,), delegable=True,
         apply=sign_off),
]
