"""The engine: what an action does to an agreement.

``evolve`` is the one entry point: it checks an action against the current state and returns the next state
together with the decisions to record, or raises ``ActionRejected`` with a reason. It never changes the state
it is given, so the workflow can check an action (in an update validator) without side effects, and only adopt
the next state once its decisions are safely in the ledger. The state is ``domain.agreement``; the rules of
each part of the lifecycle are in ``domain.rules``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from domain import attestation, limits
from domain.actions import Action, Actor, BindIdentity
from domain.agreement import (
    RECENT_ACTIONS_BYTES,
    RECENT_ACTIONS_KEPT,
    Agreement,
    ClosedOutcome,
    RecentAction,
    state_bytes,
)
from domain.errors import ActionRejected
from domain.ledger import Decision, digest
from domain.model import AgreementRequest, BoundIdentity, Signatory, Stage, find_signatory, partner_codes_problem
from domain.rules import RULES, Draft, Rule, delegation, either
from domain.rules.variation import take_effect as _take_effect


class Transition(BaseModel):
    """The next state and the decisions that explain it.

    ``remembered`` is the action as the agreement remembers it (when it named an action id): this one,
    or for a ``repeat`` the earlier one it repeats, in which case the state is unchanged and there are
    no decisions.
    """

    agreement: Agreement
    decisions: list[Decision]
    remembered: RecentAction | None = None
    repeat: bool = False


def open_agreement(request: AgreementRequest, now: datetime) -> Transition:
    """A new agreement in its proposal stage, opened at ``now`` (UTC), and the decision that records it."""
    agreement = Agreement(
        agreement_id=request.agreement_id,
        proposal=request.proposal,
        settings=request.settings,
        opened_at=now,
        clock_started_at=now,
    )
    opened = Decision(
        kind="agreement_opened",
        stage=Stage.PROPOSAL,
        actor_body=request.proposal.lead_body,
        payload=request.model_dump(mode="json", exclude={"carried"}),
        decided_at=now,
    )
    return Transition(agreement=agreement, decisions=[opened])


def evolve(agreement: Agreement, action: Action, now: datetime) -> Transition:
    """Apply ``action`` to a copy of ``agreement`` at ``now`` (UTC); raise ActionRejected if it is not allowed.

    An action whose ``action_id`` the agreement remembers (see ``RecentAction``) is a repeat: with the
    same content it returns the agreement unchanged, ``repeat`` set and no decisions; with other
    content it is refused (``action_id_reused``). An applied action with an id is remembered.
    """
    rule = RULES.get(type(action))
    if rule is None:
        raise ActionRejected(f"unknown action {type(action).__name__}", code="unknown_action")
    if action.actor.delegate is not None and not rule.delegable:
        raise ActionRejected(f"a delegate signs sign-offs and variations for a signatory, and does nothing else: "
                             f"only {action.actor.signatory} may {rule.verb}", code=delegation.NOT_DELEGABLE,
                             field="actor.delegate")
    if agreement.settings.require_attestation:
        _check_attestation(agreement, action)
    if action.action_id is not None and (repeated := _repeat_of(agreement, action, rule)):
        return Transition(agreement=agreement, decisions=[], remembered=repeated, repeat=True)
    _check_open_in(agreement, rule)
    _authorise(agreement, action, rule)
    if action.actor.delegate is not None:
        delegation.acting_delegation(agreement, action.actor, now)
    draft = Draft(_copy(agreement), now, action.actor)
    attested = action.attestation is not None
    draft.record(rule.kind, action.model_dump(mode="json", exclude={"actor", "reply"} if attested
                                              else {"actor", "action_id", "reply"}))
    rule.apply(draft, action)
    remembered = None
    if action.action_id is not None:
        first = agreement.chain.seq + 1
        remembered = RecentAction(
            action_id=action.action_id,
            fingerprint=_fingerprint(action, rule),
            first_seq=first,
            last_seq=first + len(draft.decisions) - 1,
        )
        draft.agreement.recent_actions = [*draft.agreement.recent_actions, remembered][-RECENT_ACTIONS_KEPT:]
    _check_platform_limits(draft.agreement)
    return Transition(agreement=draft.agreement, decisions=draft.decisions, remembered=remembered)


def take_effect(agreement: Agreement, now: datetime) -> Transition:
    """The agreed variation takes effect, its effective date having come: the decisions it records
    are made by nobody. Raises ActionRejected if no agreed variation is due."""
    due = agreement.variation_due_at
    if due is None or due > now:
        raise ActionRejected(f"agreement {agreement.agreement_id} has no agreed variation due to take effect")
    draft = Draft(agreement.model_copy(deep=True), now)
    _take_effect(draft)
    return Transition(agreement=draft.agreement, decisions=draft.decisions)


def stop_by_operator(agreement: Agreement, now: datetime, kind: str, reason: str, **details: str) -> Transition:
    """Close ``agreement`` because a Temporal operator stopped its workflow (``kind`` ``cancelled``: a cancellation
    the workflow saw; ``terminated``: a termination found afterwards), recorded as a withdrawal is, by nobody:
    the ``kind`` decision with ``reason`` and ``details`` (who asked, when), then the move to closed with outcome
    terminated. Raises ``ActionRejected`` if the agreement is already closed."""
    if agreement.closure is not None:
        raise ActionRejected(f"agreement {agreement.agreement_id} is already closed", code="closed")
    draft = Draft(agreement.model_copy(deep=True), now)
    draft.record(kind, {"reason": reason, **details})
    draft.close(ClosedOutcome.TERMINATED, reason)
    return Transition(agreement=draft.agreement, decisions=draft.decisions)


def _check_open_in(agreement: Agreement, rule: Rule) -> None:
    """Refuse any action on a closed agreement, and an action in a stage its rule does not allow."""
    if agreement.closure is not None:
        raise ActionRejected(
            f"agreement {agreement.agreement_id} is closed ({agreement.closure.outcome.value}); "
            "no further action is possible",
            code="closed",
        )
    if agreement.stage not in rule.stages:
        raise ActionRejected(
            f"cannot {rule.verb} while agreement {agreement.agreement_id} is in {agreement.stage.label}; "
            f"that is possible only in {either(s.label for s in rule.stages)}",
            code="wrong_stage",
        )


def _check_attestation(agreement: Agreement, action: Action) -> None:
    """Refuse an action without a valid attestation from one of the agreement's attestor keys, or whose
    attested person is not the signatory it names, or for a delegate, not the delegate the signatory's delegation
    names (see ``domain.attestation``). A signatory binding their own
    identity (``BindIdentity`` naming themselves) is attested as the identity they bind, under a display name
    that reads as theirs."""
    claims = attestation.check(action.attestation, agreement.settings.attestor_keys, agreement.agreement_id, action,
                               agreement.chain.seq)
    issuer, subject, claim = attestation.attested_person(claims)
    actor = action.actor
    if actor.delegate is not None:
        _check_delegate_attested(agreement, actor, issuer, subject, claims)
        return
    signatory = find_signatory(agreement.acting_signatories(actor.body) or [], actor.signatory, agreement.name_key)
    key = agreement.name_key
    if isinstance(action, BindIdentity) and action.identity and key(action.name) == key(actor.signatory):
        _check_self_binding(agreement, action.identity, claims, action.actor, signatory)
        if signatory is None or signatory.bound is None:
            return
    if signatory is not None and signatory.identity is None:
        raise ActionRejected(
            f"no identity is bound for {actor.signatory} of {agreement.body_name(actor.body)}, so nobody can "
            "act as them on this agreement: they bind it by signing in through their own body's identity provider "
            "(bind_identity), or a current signatory of their body does",
            code="identity_not_registered", field="actor.signatory",
        )
    if signatory is not None and not signatory.is_identified_by(issuer, subject, claim):
        raise ActionRejected(
            f"{claims.get('name') or subject} ({subject} at {issuer}) is not the identity bound for "
            f"{actor.signatory} of {agreement.body_name(actor.body)}: only they may act as them",
            code="not_that_signatory", field="actor.signatory",
        )


def _check_delegate_attested(agreement: Agreement, actor: Actor, issuer: str, subject: str,
                             claims: dict[str, Any]) -> None:
    """A delegate signing for a signatory is attested as the colleague the signatory delegated to: the delegation's
    ``delegate_identity``, compared exactly (its dates are checked with the signatory's authority)."""
    named = delegation.delegation_named(agreement, actor)
    if (named.delegate_identity.issuer, named.delegate_identity.subject) != (issuer, subject):
        raise ActionRejected(
            f"{claims.get('name') or subject} ({subject} at {issuer}) is not {named.delegate} as "
            f"{actor.signatory}'s delegation records them ({named.delegate_identity}): only they sign for "
            f"{actor.signatory}", code="not_that_delegate", field="actor.delegate")


def _check_self_binding(agreement: Agreement, identity: BoundIdentity, claims: dict[str, Any], actor: Actor,
                        signatory: Signatory | None) -> None:
    """A signatory binding their own identity is attested as that identity, and, while nothing is bound for them
    yet, as the person the register records: their recorded claim if they have one, else their name."""
    issuer, subject, claim = attestation.attested_person(claims)
    if (identity.issuer, identity.subject) != (issuer, subject):
        raise ActionRejected(f"the attestation is of {subject} at {issuer}, not of {identity}: a "
                             "signatory binds only their own identity", code="not_that_signatory", field="identity")
    if signatory is not None and signatory.bound is not None:
        return
    if signatory is not None and signatory.identity is not None:
        same = signatory.is_identified_by(issuer, subject, claim)
    else:
        same = agreement.name_key(str(claims.get("name", ""))) == agreement.name_key(actor.signatory)
    if not same:
        raise ActionRejected(
            f"the person signed in ({claims.get('name')}) is not {actor.signatory} as the register records "
            f"them: a current signatory of {agreement.body_name(actor.body)} binds their identity instead",
            code="not_that_signatory", field="actor.signatory")


def _authorise(agreement: Agreement, action: Action, rule: Rule) -> None:
    """Only a current signatory of a partner acts; a body joining or succeeding in the pending variation
    acts only where its rule allows (signing that variation), through a signatory the variation names."""
    actor = action.actor
    signatories = agreement.acting_signatories(actor.body)
    joining = agreement.proposal.partner(actor.body) is None
    if signatories is None or (joining and not rule.joining_bodies_act):
        raise ActionRejected(
            f"{actor.body} is not a partner body of agreement {agreement.agreement_id}",
            code="not_a_partner", field="actor.body",
        )
    name = agreement.body_name(actor.body)
    if find_signatory(signatories, actor.signatory, agreement.name_key) is None:
        named = ", ".join(s.name for s in signatories) or "nobody: it has no current signatory"
        raise ActionRejected(
            f"{actor.signatory} is not a named signatory of {name} (named: {named})",
            code="not_a_signatory", field="actor.signatory",
        )
    lead = agreement.proposal.lead_body
    if rule.lead_only and actor.body != lead:
        raise ActionRejected(
            f"only the lead body ({agreement.proposal.body_name(lead)}) may {rule.verb}; {name} is not the lead",
            code="lead_only", field="actor.body",
        )


def _copy(agreement: Agreement) -> Agreement:
    """A copy for the rules to change, copied on write: the agreement's own lists and dicts (and any list within
    them) and its mutable models are copied, its frozen value objects shared with ``agreement``. The rules change
    only the agreement's own fields and containers; a value object (the proposal, a plan, a sign-off) is replaced
    with a new one, never changed in place. A deep copy cost more than the rest of an action's rules, and kept a
    second copy of the proposal (the run's start input holds the first)."""
    copy = agreement.model_copy()
    copy.__dict__.update({name: _owned(value) for name, value in agreement.__dict__.items()
                          if isinstance(value, list | dict | BaseModel)})
    return copy


def _owned(value: Any) -> Any:
    """``value`` as a copy's own: lists and dicts copied (their items too), mutable models deep-copied, frozen
    value objects (and anything else, immutable) shared."""
    if isinstance(value, list):
        return [_owned(item) for item in value]
    if isinstance(value, dict):
        return {key: _owned(item) for key, item in value.items()}
    if isinstance(value, BaseModel) and not value.model_config.get("frozen"):
        return value.model_copy(deep=True)
    return value


def _fingerprint(action: Action, rule: Rule) -> str:
    """What a repeat of ``action`` must match: its decision kind and content, without the action id (the same
    by definition), the attestation (a resend through the API is attested anew) or the reply asked for. Carried in
    the state (``RecentAction.fingerprint``), so its content is fixed: runs of every version compare it."""
    return digest({"kind": rule.kind,
                   "action": action.model_dump(mode="json", exclude={"action_id", "attestation", "reply"})})


def _repeat_of(agreement: Agreement, action: Action, rule: Rule) -> RecentAction | None:
    """The remembered action ``action`` repeats, if any; refuses an id already used for other content."""
    remembered = next((r for r in reversed(agreement.recent_actions) if r.action_id == action.action_id), None)
    if remembered is None:
        return None
    if remembered.fingerprint != _fingerprint(action, rule):
        raise ActionRejected(
            f"action id {action.action_id} was already used for a different action (recorded as decision "
            f"#{remembered.first_seq}); send a new action with a new action id",
            code="action_id_reused",
            field="action_id",
        )
    return remembered


def _check_platform_limits(agreement: Agreement) -> None:
    """Refuse a next state that Temporal would not accept (see ``domain.limits``)."""
    if problem := partner_codes_problem([p.code for p in agreement.proposal.partners]):
        raise ActionRejected(problem, code="search_attribute_too_large")
    size = state_bytes(agreement)
    if size > limits.STATE_BYTES:
        raise ActionRejected(
            f"the agreement would take {size} bytes (with {RECENT_ACTIONS_BYTES} kept for its memory of recent "
            f"actions), over the {limits.STATE_BYTES} bytes its state may take (half of Temporal's 2 MB payload "
            "limit, limit.blobSize.error): shorten notes, names or lists",
            code="state_too_large",
        )
