"""Who may open, act on and read agreements through the API: the checks made before anything reaches Temporal.

A person acts for a body only with a token from an issuer that speaks for that body (the directory's issuers of
the body; the API's own issuer for the bodies ``CONCORDAT_API_ISSUER_BODIES`` names, ``*`` being every body with
no issuer in the directory), and only as the signatory whose identity is theirs (``Signatory.is_identified_by``).
Only such a signatory of the lead body opens an agreement in its name, and the proposal they send gives no other
body's signatory an identity. A signatory binds their own identity (``bind_identity``) through their own body's
issuer, as the person the register names. A colleague signs for a signatory as the identity the signatory's
delegation to them records (``delegate_signature``, whose delegate's issuer speaks for the same body), while it
covers today. A person reads the agreements a body their issuer speaks for is or was
a partner of, and those the directory grants them (a programme office, an auditor).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from api.settings import ApiSettings
from api.tokens import Caller
from domain import authority
from domain.actions import Action, BindIdentity, DelegateSignature, NameSignatory, ReviseProposal
from domain.model import AgreementRequest, BoundIdentity, Signatory, name_key
from domain.rules.signatories import IDENTITY_BOUND_BY_OWN_BODY
from domain.status import AgreementStatus
from store.directory import EVERY_BODY, Directory

NOT_THAT_SIGNATORY = "NotThatSignatory"
NOT_OF_THAT_BODY = "NotOfThatBody"
NOT_A_READER = "NotAReader"


class Refused(Exception):
    """A request the caller may not make; ``status`` the HTTP status, ``type`` the error type, ``field`` and
    ``code`` the problem."""

    def __init__(self, status: int, type: str, message: str, field: str, code: str) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.field, self.code = status, type, message, field, code


@dataclass(frozen=True)
class Authority:
    """The checks, with the API's ``settings`` and the ``directory`` as it stands."""

    settings: ApiSettings
    directory: Directory

    def speaks_for(self, caller: Caller, body: str) -> bool:
        """Whether ``caller``'s issuer speaks for ``body``."""
        issuers = self.directory.issuers_of_body(body)
        if issuers:
            return caller.issuer in issuers
        own = self.settings.own_issuer_bodies()
        return caller.issuer == self.settings.issuer and (own is None or body in own)

    def named_bodies(self, caller: Caller) -> frozenset[str]:
        """The bodies ``caller``'s issuer is named for: in the directory, or in ``CONCORDAT_API_ISSUER_BODIES``
        (``*`` names none: those bodies are every body without an issuer of its own)."""
        bodies = set(self.directory.bodies_of_issuer(caller.issuer))
        if caller.issuer == self.settings.issuer:
            bodies |= self.settings.own_issuer_bodies() or set()
        return frozenset(bodies)

    def check_open(self, caller: Caller, request: AgreementRequest) -> None:
        """Refuse to open ``request`` unless ``caller`` is, through an issuer of the lead body, the bound identity
        of one of its signatories in the proposal, and the proposal binds no other body's signatory."""
        proposal = request.proposal
        lead = proposal.lead_body
        self._of_body(caller, lead, "proposal.lead_body")
        for partner in proposal.partners:
            for signatory in partner.signatories:
                if signatory.identity is None:
                    continue
                if partner.code != lead:
                    raise Refused(409, "ActionRejected", f"only {partner.name} binds the identities of its "
                                  f"signatories: name {signatory.name} by name and role only, and they bind their "
                                  "identity by signing in through their own body's identity provider "
                                  "(bind_identity)", "proposal.partners", IDENTITY_BOUND_BY_OWN_BODY)
                self._bound_for(signatory.identity, lead, "proposal.partners")
        signatories = (p.signatories for p in proposal.partners if p.code == lead)
        if not any(s.is_identified_by(caller.issuer, caller.subject) for found in signatories for s in found):
            raise Refused(403, NOT_THAT_SIGNATORY, f"{caller.name} ({caller.identity}) is not the identity of a "
                          f"signatory of the lead body {lead} in the proposal: give your signatory entry "
                          f'"identity": {{"issuer": "{caller.issuer}", "subject": "{caller.subject}"}}',
                          "proposal.lead_body", "not_that_signatory")

    def check_act(self, caller: Caller, status: AgreementStatus, action: Action) -> Action:
        """``action`` as the API forwards it from ``caller`` (a signatory binding themselves gets their own
        identity); refuses an actor body ``caller``'s issuer does not speak for, a signatory who is not them (or,
        for an actor naming a ``delegate``, a caller who is not the delegate the signatory's delegation records,
        or no delegation covering today), and an identity of an issuer that does not speak for the body it is
        bound in or delegated to."""
        body, name = action.actor.body, action.actor.signatory
        self._of_body(caller, body, "actor.body")
        if action.actor.delegate is not None:
            return self._delegate(caller, status, action, action.actor.delegate)
        if isinstance(action, DelegateSignature):
            self._bound_for(action.delegate_identity, body, "delegate_identity")
        pending = status.variation.variation if status.variation else None
        signatory = authority.acting_signatory(body, name, status.signatories, pending)
        if isinstance(action, BindIdentity) and name_key(action.name) == name_key(name):
            return self._accepting(caller, action, signatory)
        if isinstance(action, BindIdentity) and action.identity is not None:
            self._bound_for(action.identity, body, "identity")
        if isinstance(action, NameSignatory) and action.identity is not None:
            self._bound_for(action.identity, action.of_body, "identity")
        if isinstance(action, ReviseProposal):
            self._own_identities_bound(action, status)
        if signatory is not None and not signatory.is_identified_by(caller.issuer, caller.subject, caller.claim):
            unbound = "" if signatory.identity else ": no identity is bound for them yet (they bind it: bind_identity)"
            raise Refused(403, NOT_THAT_SIGNATORY, f"{caller.name} ({caller.identity}) may not act as {name} of "
                          f"{status.body_names.get(body, body)}{unbound}", "actor.signatory", "not_that_signatory")
        return action

    def _delegate(self, caller: Caller, status: AgreementStatus, action: Action, delegate: str) -> Action:
        """A colleague signing for a signatory: the caller is the identity the signatory's delegation to ``delegate``
        records, and the delegation covers today (UTC; the engine checks the dates again by the workflow's time)."""
        body, name = action.actor.body, action.actor.signatory
        today = datetime.now(UTC).date()
        delegation = authority.acting_delegation(status.delegations, body, name, delegate, today)
        if delegation is None:
            raise Refused(403, NOT_THAT_SIGNATORY, f"{caller.name} ({caller.identity}) may not sign for {name} of "
                          f"{status.body_names.get(body, body)}: no delegation of theirs to {delegate} covers today "
                          f"({today})", "actor.delegate", "not_delegated")
        if not (delegation.delegate_identity.issuer == caller.issuer
                and delegation.delegate_identity.subject == caller.subject):
            raise Refused(403, NOT_THAT_SIGNATORY, f"{caller.name} ({caller.identity}) is not {delegation.delegate} "
                          f"as {name}'s delegation records them: only they sign for {name}", "actor.delegate",
                          "not_that_delegate")
        return action

    def _accepting(self, caller: Caller, action: BindIdentity, signatory: Signatory | None) -> Action:
        """A signatory binding themselves: the identity is the caller's own, and the caller is the person the
        register names (their recorded display claim, or else their name as their body's issuer gives it)."""
        own = BoundIdentity(issuer=caller.issuer, subject=caller.subject)
        if action.identity is not None and action.identity != own:
            raise Refused(403, NOT_THAT_SIGNATORY, f"a signatory binds only their own identity ({own}), not "
                          f"{action.identity}", "identity", "not_that_signatory")
        if signatory is not None:
            bound = signatory.bound
            if bound is not None and bound != own:
                raise Refused(403, NOT_THAT_SIGNATORY, f"{signatory.name} is bound to another identity: a current "
                              "signatory of their body binds a new one", "actor.signatory", "not_that_signatory")
            if bound is None and signatory.identity is not None and not signatory.is_identified_by(
                    caller.issuer, caller.subject, caller.claim):
                raise Refused(403, NOT_THAT_SIGNATORY, f"{caller.name} ({caller.identity}) is not the person "
                              f"recorded for {signatory.name}: a current signatory of their body binds their "
                              "identity instead", "actor.signatory", "not_that_signatory")
            if signatory.identity is None and name_key(caller.name) != name_key(signatory.name):
                raise Refused(403, NOT_THAT_SIGNATORY, f"{caller.name} ({caller.identity}) is not {signatory.name} "
                              "by the name their identity provider gives: a current signatory of their body binds "
                              "their identity instead", "actor.signatory", "not_that_signatory")
        return action.model_copy(update={"identity": own})

    def _own_identities_bound(self, action: ReviseProposal, status: AgreementStatus) -> None:
        """A revision sets its own body's signatories' identities only as bound identities of the body's issuers
        (restating a current one is no change; other bodies' identities are the engine's to refuse)."""
        body = action.actor.body
        current = {name_key(s.name): s.identity for s in status.signatories.get(body, [])}
        for partner in action.proposal.partners:
            if partner.code != body:
                continue
            for signatory in partner.signatories:
                if signatory.identity is not None and current.get(name_key(signatory.name)) != signatory.identity:
                    self._bound_for(signatory.identity, body, "proposal.partners")

    def reading_basis(self, caller: Caller, bodies: Iterable[str]) -> str | None:
        """Why ``caller`` may read an agreement whose partners (present and former) are ``bodies``: the body
        their issuer speaks for, or their grant; None when they may not."""
        codes = set(bodies)
        for body in sorted(codes):
            if self.speaks_for(caller, body):
                return f"partner {body}"
        for grant in self.directory.read_grants(caller.issuer, caller.subject):
            if grant.body == EVERY_BODY or grant.body in codes:
                return f"{grant.role} of {grant.body}"
        return None

    def reads_every_agreement(self, caller: Caller) -> bool:
        """Whether a grant lets ``caller`` read every body's agreements."""
        return any(g.body == EVERY_BODY for g in self.directory.read_grants(caller.issuer, caller.subject))

    def granted_bodies(self, caller: Caller) -> frozenset[str]:
        """The bodies whose agreements ``caller``'s grants let them read (``*`` aside)."""
        return frozenset(g.body for g in self.directory.read_grants(caller.issuer, caller.subject)
                         if g.body != EVERY_BODY)

    def _of_body(self, caller: Caller, body: str, field: str) -> None:
        if not self.speaks_for(caller, body):
            raise Refused(403, NOT_OF_THAT_BODY, f"{caller.name} signed in through {caller.issuer}, which does not "
                          f"speak for {body}: act for a body through its own identity provider", field,
                          "not_of_that_body")

    def _bound_for(self, identity: BoundIdentity | str, body: str, field: str) -> None:
        """Refuse a recorded-form (display claim) identity, or one whose issuer does not speak for ``body``."""
        if not isinstance(identity, BoundIdentity):
            raise Refused(422, "InvalidPayload", "an identity is the issuer and subject of the person's tokens "
                          '({"issuer": ..., "subject": ...}), not a name, email or username', field,
                          "identity_not_issuer_and_subject")
        probe = Caller(issuer=identity.issuer, subject=identity.subject, name=identity.subject)
        if not self.speaks_for(probe, body):
            raise Refused(409, "ActionRejected", f"{identity.issuer} does not speak for {body}: a signatory of "
                          f"{body} is bound to an identity of one of its own identity providers", field,
                          "issuer_not_of_that_body")


def bodies_of(status: AgreementStatus) -> set[str]:
    """The bodies that are or were partners of the agreement ``status`` describes, or are joining it: whose people
    may read it (``Authority.reading_basis``)."""
    joining = {p.code for p in status.variation.variation.incoming} if status.variation else set()
    return {*status.body_names, *status.former_partners, *joining}
