"""Rules of the signatory register, of who each signatory is, and of the agreement's attestor keys.

Each body names and retires its own signatories; a body left with none has one named by the lead body (and a
lead left with none an interim one named by another partner). Past decisions stay in their signers' names.
Under rules version 2 (``Agreement.identities_bound_by_own_body``) only a body sets its own signatories'
identities: another body names them by name and role, and each binds their identity (``bind_identity``) as
their own identity provider knows them, or a current signatory of the same body binds it.
"""

from __future__ import annotations

from datetime import UTC

from domain.actions import BindIdentity, ChangeAttestorKeys, NameSignatory, RetireSignatory
from domain.agreement import Agreement, RetiredSignatory
from domain.errors import ActionRejected
from domain.model import BoundIdentity, Proposal, Signatory, find_signatory
from domain.rules.draft import UNTIL_CLOSED_AND_IN_SERVICE, Draft, Rule


def _named(signatories: list[Signatory]) -> str:
    """'A, B' or 'nobody'."""
    return ", ".join(s.name for s in signatories) or "nobody"


def name_signatory(draft: Draft, action: NameSignatory) -> None:
    """A body names its own signatories; one left with none has one named by the lead body, and a lead
    body left with none an interim one named by any other partner."""
    agreement = draft.agreement
    body, by = action.of_body, action.actor.body
    partner = agreement.proposal.partner(body)
    if partner is None:
        raise ActionRejected(f"{body} is not a partner body of agreement {agreement.agreement_id}")
    current = agreement.signatories(body)
    basis = _naming_basis(agreement, body, by, current)
    if basis != "by_own_body" and len(action.reason) < 3:
        raise ActionRejected(f"naming a signatory for {partner.name}, another body, needs a reason "
                             "(at least 3 characters)")
    if find_signatory(current, action.name, agreement.name_key) is not None:
        raise ActionRejected(f"{action.name} is already a signatory of {partner.name}")
    if agreement.identities_bound_by_own_body and action.identity is not None:
        if by != body:
            raise ActionRejected(
                f"only {partner.name} binds its signatories' identities: name {action.name} by name and role, and "
                "they bind their identity by signing in through their own body's identity provider (bind_identity)",
                code=IDENTITY_BOUND_BY_OWN_BODY, field="identity")
        if not isinstance(action.identity, BoundIdentity):
            raise ActionRejected("an identity is the issuer and subject of the person's tokens, not a name, email "
                                 "or username", code="identity_not_issuer_and_subject", field="identity")
    if len(current) >= 50:
        raise ActionRejected(f"{partner.name} already has 50 signatories; retire one first")
    agreement.signatory_register[body] = [*current, Signatory(name=action.name, role=action.role,
                                                              identity=action.identity)]
    draft.note(basis=basis)


IDENTITY_BOUND_BY_OWN_BODY = "identity_bound_by_own_body"
"""The refusal code of an action by which one body would set or change another body's signatories' identities."""


def refuse_identities_of_other_bodies(agreement: Agreement, proposal: Proposal, by: str) -> None:
    """Under rules version 2, refuse a ``proposal`` sent by body ``by`` that gives a signatory of another body an
    identity other than the one that signatory now has (restating the current one is no change)."""
    if not agreement.identities_bound_by_own_body:
        return
    for partner in proposal.partners:
        if partner.code == by:
            continue
        current = agreement.signatories(partner.code)
        for signatory in partner.signatories:
            now = find_signatory(current, signatory.name, agreement.name_key)
            if signatory.identity is not None and (now is None or now.identity != signatory.identity):
                raise ActionRejected(
                    f"only {partner.name} binds the identities of its signatories: name {signatory.name} by name "
                    "and role only, and they bind their identity through their own body's identity provider "
                    "(bind_identity)", code=IDENTITY_BOUND_BY_OWN_BODY, field="proposal.partners")


def refuse_identities_at_opening(agreement: Agreement) -> None:
    """Under rules version 2, refuse an opening proposal that gives a signatory of a body other than the lead an
    identity: the lead names the partners' signatories by name and role only."""
    if not agreement.identities_bound_by_own_body:
        return
    for partner in agreement.proposal.partners:
        named = [s.name for s in partner.signatories if s.identity is not None]
        if partner.code != agreement.proposal.lead_body and named:
            raise ActionRejected(
                f"only {partner.name} binds the identities of its signatories: name {', '.join(named)} by name and "
                "role only, and they bind their identity through their own body's identity provider "
                "(bind_identity)", code=IDENTITY_BOUND_BY_OWN_BODY, field="proposal.partners")


def bind_identity(draft: Draft, action: BindIdentity) -> None:
    """A current signatory of the actor's body (the actor, accepting the role, or another) is bound to the
    issuer and subject of their tokens; no identity is bound to two signatories of one agreement."""
    agreement = draft.agreement
    body = action.actor.body
    if action.identity is None:
        raise ActionRejected("bind_identity needs the identity (issuer and subject) to bind; the API sets it from "
                             "the token of a signatory binding themselves", code="identity_required",
                             field="identity")
    current = agreement.signatories(body)
    signatory = find_signatory(current, action.name, agreement.name_key)
    if signatory is None:
        raise ActionRejected(f"{action.name} is not a current signatory of {agreement.body_name(body)} (named: "
                             f"{_named(current)}); a body binds only its own signatories", field="name")
    if signatory.identity == action.identity:
        raise ActionRejected(f"{signatory.name} of {agreement.body_name(body)} is already bound to {action.identity}",
                             code="identity_already_bound", field="identity")
    for code, others in agreement.current_signatories.items():
        for other in others:
            if other is not signatory and other.identity == action.identity:
                raise ActionRejected(f"{action.identity} is already the identity of {other.name} of "
                                     f"{agreement.body_name(code)}: one person is one signatory",
                                     code="identity_taken", field="identity")
    bound = signatory.model_copy(update={"identity": action.identity})
    agreement.signatory_register[body] = [bound if s is signatory else s for s in current]
    draft.note(basis="accepted_by_themself" if action.name == action.actor.signatory else "by_own_body",
               previously=str(signatory.identity) if signatory.identity is not None else None)


def _naming_basis(agreement: Agreement, body: str, by: str, current: list[Signatory]) -> str:
    """On what basis ``by`` names a signatory of ``body``: its own (``by_own_body``); the lead for a body with
    none (``by_lead_body``); another partner for a lead with none (``interim_by_partner``). Refuses otherwise."""
    if by == body:
        return "by_own_body"
    lead = agreement.proposal.lead_body
    name = agreement.body_name(body)
    if current:
        raise ActionRejected(f"only a current signatory of {name} names its signatories (named: "
                             f"{_named(current)}); another body may name one only when it has none")
    if body != lead and by != lead:
        raise ActionRejected(f"{name} has no current signatory: the lead body "
                             f"({agreement.body_name(lead)}) names one for it")
    return "by_lead_body" if body != lead else "interim_by_partner"


def retire_signatory(draft: Draft, action: RetireSignatory) -> None:
    """A body records that one of its signatories retired (on or before today); someone must be left to act."""
    agreement = draft.agreement
    body = action.of_body
    if action.actor.body != body:
        raise ActionRejected(f"only a current signatory of {agreement.body_name(body)} records the retirement "
                             "of its signatories")
    current = agreement.signatories(body)
    retiring = find_signatory(current, action.name, agreement.name_key)
    if retiring is None:
        raise ActionRejected(f"{action.name} is not a current signatory of {agreement.body_name(body)} "
                             f"(named: {_named(current)})")
    today = draft.now.astimezone(UTC).date()
    if action.retired_on > today:
        raise ActionRejected(f"retired_on {action.retired_on} is in the future: record a retirement on or after "
                             f"the day it happens (today is {today})")
    remaining = [s for s in current if s is not retiring]
    others = [p.code for p in agreement.proposal.partners if p.code != body]
    if not remaining and not any(agreement.signatories(code) for code in others):
        raise ActionRejected(f"{retiring.name} is the last current signatory of any partner; name another "
                             "signatory first, or nobody could act on the agreement")
    agreement.signatory_register[body] = remaining
    agreement.retired_signatories.append(
        RetiredSignatory(body=body, name=retiring.name, role=retiring.role, retired_on=action.retired_on)
    )
    draft.note(signatories_left=len(remaining))


def change_attestor_keys(draft: Draft, action: ChangeAttestorKeys) -> None:
    """The lead adds and retires attestor keys, or turns the attestation requirement on or off; an agreement
    that requires attestation keeps at least one key, and a key id is never reused for another key."""
    settings = draft.agreement.settings
    unknown = sorted(set(action.retire) - set(settings.attestor_keys))
    if unknown:
        raise ActionRejected(f"no attestor key {', '.join(unknown)} to retire (keys: "
                             f"{', '.join(sorted(settings.attestor_keys)) or 'none'})", field="retire")
    clash = sorted(kid for kid, pem in action.add.items() if settings.attestor_keys.get(kid, pem) != pem)
    if clash:
        raise ActionRejected(f"attestor key id {', '.join(clash)} is taken by another key: give a new key a new id",
                             field="add")
    keys = {kid: pem for kid, pem in {**settings.attestor_keys, **action.add}.items() if kid not in action.retire}
    required = settings.require_attestation if action.require_attestation is None else action.require_attestation
    if required and not keys:
        raise ActionRejected("an agreement that requires attestation keeps at least one attestor key",
                             field="retire")
    draft.agreement.settings = settings.model_copy(update={"attestor_keys": keys, "require_attestation": required})


RULES: list[Rule] = [
    Rule(action=NameSignatory, kind="signatory_named", verb="name a signatory", stages=UNTIL_CLOSED_AND_IN_SERVICE,
         apply=name_signatory),
    Rule(action=RetireSignatory, kind="signatory_retired", verb="record a signatory's retirement",
         stages=UNTIL_CLOSED_AND_IN_SERVICE, apply=retire_signatory),
    Rule(action=BindIdentity, kind="identity_bound", verb="bind a signatory's identity",
         stages=UNTIL_CLOSED_AND_IN_SERVICE, apply=bind_identity),
    Rule(action=ChangeAttestorKeys, kind="attestor_keys_changed", verb="change the attestor keys",
         stages=UNTIL_CLOSED_AND_IN_SERVICE, lead_only=True, apply=change_attestor_keys),
]
