"""Rules of variations: the lead proposes a change of the partnership, every body that will be a partner
after it signs, and it takes effect on its date (``take_effect``, which time alone may call)."""

from __future__ import annotations

from datetime import UTC, timedelta

from domain.actions import ProposeVariation, SignOffDecision, SignVariation, WithdrawVariation
from domain.agreement import Agreement, version_of_variation
from domain.errors import ActionRejected
from domain.model import Stage
from domain.rules.delivery import start_delivery
from domain.rules.draft import UNTIL_CLOSED_AND_IN_SERVICE, Draft, Rule
from domain.rules.sign_off import check_version
from domain.variation import PendingVariation, SignatureRecord, partners_after, vary
from domain.variation import check as check_variation

_LONGEST_WAIT_FOR_A_VARIATION = timedelta(days=3660)
"""A variation takes effect at most ten years after it is proposed."""


def _pending(agreement: Agreement) -> PendingVariation:
    """The pending variation; refuse when there is none."""
    if agreement.variation is None:
        raise ActionRejected(f"agreement {agreement.agreement_id} has no pending variation")
    return agreement.variation


def propose_variation(draft: Draft, action: ProposeVariation) -> None:
    """The lead proposes a variation taking effect between the agreement's opening and ten years from today."""
    agreement = draft.agreement
    if agreement.variation is not None:
        raise ActionRejected(
            f"variation {agreement.variation.number} is pending (proposed {agreement.variation.proposed_at:%Y-%m-%d}); "
            "it must take effect, be rejected or be withdrawn before another is proposed"
        )
    today = draft.now.astimezone(UTC).date()
    effective_on, opened_on = action.variation.effective_on, agreement.opened_at.astimezone(UTC).date()
    if not opened_on <= effective_on <= today + _LONGEST_WAIT_FOR_A_VARIATION:
        raise ActionRejected(
            f"effective_on {effective_on} must fall between the day the agreement opened ({opened_on}) and "
            f"{_LONGEST_WAIT_FOR_A_VARIATION.days} days from today ({today + _LONGEST_WAIT_FOR_A_VARIATION})"
        )
    check_variation(agreement.proposal, action.variation, today)
    vary(agreement.proposal, [agreement.plan, agreement.plan_in_force], action.variation, proposing=True)
    agreement.variations_proposed += 1
    agreement.variation = PendingVariation(
        number=agreement.variations_proposed, variation=action.variation, proposed_at=draft.now
    )
    draft.note(variation_number=agreement.variations_proposed)


def sign_variation(draft: Draft, action: SignVariation) -> None:
    """A body that will be a partner after the variation approves or rejects the version it read; the last
    approval makes it take effect at once if its date has come."""
    agreement = draft.agreement
    pending = _pending(agreement)
    body, signer = action.actor.body, action.actor.delegate or action.actor.signatory
    awaited = dict(agreement.variation_awaits)
    name = agreement.body_name(body)
    earlier = pending.signatures.get(body)
    if earlier is not None:
        raise ActionRejected(f"{name} has already approved variation {pending.number} "
                             f"({earlier.signatory}, {earlier.at:%Y-%m-%d %H:%M} UTC)")
    if body not in awaited:
        signers = [p.name for p in partners_after(agreement.proposal, pending.variation)]
        raise ActionRejected(f"{name} does not sign variation {pending.number}: it is signed by the bodies that will "
                             f"be partners after it ({', '.join(signers)})")
    for other in pending.signatures.values():
        if agreement.name_key(other.signer) == agreement.name_key(signer):
            raise ActionRejected(f"{signer} has already signed variation {pending.number} for "
                                 f"{agreement.body_name(other.body)}; one person signs for one body")
    check_version(agreement, action.version, version_of_variation(pending),
                   f"variation {pending.number}")
    draft.note(variation_number=pending.number)
    if action.decision is SignOffDecision.REJECT:
        agreement.variation = None
        draft.record("variation_rejected", {"variation_number": pending.number, "by": body, "reason": action.reason})
        return
    signature = SignatureRecord(body=body, signatory=action.actor.signatory, at=draft.now,
                                delegate=action.actor.delegate)
    agreement.variation = pending.model_copy(update={"signatures": {**pending.signatures, body: signature}})
    if not agreement.variation_awaits and pending.variation.takes_effect_at <= draft.now:
        take_effect(draft)


def withdraw_variation(draft: Draft, action: WithdrawVariation) -> None:
    """The lead withdraws the pending variation."""
    draft.note(variation_number=_pending(draft.agreement).number)
    draft.agreement.variation = None


def take_effect(draft: Draft) -> None:
    """The agreed variation changes the partnership; the current stage carries on under the new terms."""
    agreement = draft.agreement
    pending = _pending(agreement)
    variation = pending.variation
    changes = variation.describe({p.code: p.name for p in agreement.proposal.partners})
    proposal, (plan, plan_in_force) = vary(
        agreement.proposal, [agreement.plan, agreement.plan_in_force], variation, proposing=False
    )
    for code in variation.outgoing:
        agreement.former_partners[code] = agreement.body_name(code)
        agreement.signatory_register.pop(code, None)
        agreement.sign_offs.pop(code, None)
    agreement.proposal, agreement.plan, agreement.plan_in_force = proposal, plan, plan_in_force
    agreement.variation = None
    draft.record("variation_took_effect", {
        "variation_number": pending.number,
        "effective_on": variation.effective_on.isoformat(),
        "changes": changes,
        "partners": [p.code for p in proposal.partners],
        "lead_body": proposal.lead_body,
    })
    if agreement.stage is Stage.SIGN_OFF and len(agreement.sign_offs) == len(proposal.partners):
        start_delivery(draft, f"variation {pending.number} took effect and every partner has approved")


RULES: list[Rule] = [
    Rule(action=ProposeVariation, kind="variation_proposed", verb="propose a variation",
         stages=UNTIL_CLOSED_AND_IN_SERVICE, lead_only=True, apply=propose_variation),
    Rule(action=SignVariation, kind="variation_signed", verb="sign a variation", stages=UNTIL_CLOSED_AND_IN_SERVICE,
         joining_bodies_act=True, delegable=True, apply=sign_variation),
    Rule(action=WithdrawVariation, kind="variation_withdrawn", verb="withdraw a variation",
         stages=UNTIL_CLOSED_AND_IN_SERVICE, lead_only=True, apply=withdraw_variation),
]
