"""Who may act for a body on an agreement: the one signatory lookup.

The engine's rules, its attestation check and the API's check of who is signed in all ask this module, so a
body's signatories are looked up one way everywhere: a partner's current signatories (its register, or the
proposal's names until it changes them); for a body joining or succeeding in the pending variation, the
signatories that variation names for it; and a colleague signing for a signatory under a delegation
(``acting_delegation``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date

from domain.delegation import Delegation
from domain.model import Signatory, find_signatory, name_key
from domain.variation import Variation


def acting_signatories(
    body: str, current: Mapping[str, list[Signatory]], variation: Variation | None
) -> list[Signatory] | None:
    """The signatories who may act for ``body`` (a GSS or other body code).

    ``current`` maps each partner's code to its current signatories (``Agreement.current_signatories``, or
    ``AgreementStatus.signatories``); ``variation`` is the pending variation's terms, if one is pending. Returns
    the partner's current signatories (perhaps none), the signatories the pending variation names for a body it
    brings in, or None for a body that is neither.
    """
    if body in current:
        return current[body]
    if variation is None:
        return None
    incoming = next((p for p in variation.incoming if p.code == body), None)
    return incoming.signatories if incoming else None


def acting_signatory(
    body: str, name: str, current: Mapping[str, list[Signatory]], variation: Variation | None
) -> Signatory | None:
    """The signatory called ``name`` (compared as ``domain.model.name_key`` does) among those who may act for
    ``body`` (see ``acting_signatories``); None if there is none."""
    return find_signatory(acting_signatories(body, current, variation) or [], name)


def delegation_of(
    delegations: Iterable[Delegation], body: str, signatory: str, key: Callable[[str], str] = name_key
) -> Delegation | None:
    """The latest delegation that ``signatory`` of ``body`` made (names compared by ``key``, as
    ``find_signatory`` does), standing or not; None if they made none (or it was cleared by a later one)."""
    wanted = key(signatory)
    return next((d for d in reversed(list(delegations)) if d.body == body and key(d.signatory) == wanted), None)


def acting_delegation(
    delegations: Iterable[Delegation], body: str, signatory: str, delegate: str, day: date,
    key: Callable[[str], str] = name_key,
) -> Delegation | None:
    """The delegation under which ``delegate`` signs for ``signatory`` of ``body`` on ``day`` (UTC): made by that
    signatory to that delegate (names compared by ``key``) and covering the day; None if there is none."""
    delegation = delegation_of(delegations, body, signatory, key)
    if delegation is None or key(delegation.delegate) != key(delegate) or not delegation.covers(day):
        return None
    return delegation
