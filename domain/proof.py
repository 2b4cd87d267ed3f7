"""Checking, offline, the attestations an agreement's ledger keeps: who acted, proved without trusting the
database or the Temporal cluster, only the attestor public keys.

Each action recorded through the API carries, in its decision's payload, the attestation the API signed for it
(``domain.attestation``) and its action id; the action is rebuilt from the decision (its actor, with the delegate
the payload's ``actor`` names for a delegate's signature, and the payload's fields of the action's model), hashed
again, and the attestation's signature and content hash checked.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

from domain import attestation
from domain.errors import ActionRejected, explain
from domain.ledger import LedgerEntry
from domain.model import AS_RECORDED, ValueObject
from domain.rules import ACTION_KINDS


class AttestedRow(ValueObject):
    """One decision whose action was attested: by whom (the attested identity) and whether it verifies."""

    seq: int
    kind: str
    identity: str | None
    valid: bool
    problem: str | None = None


class AttestationReport(ValueObject):
    """The attestations of one agreement's ledger: ``first_bad_seq`` names the first row that fails."""

    agreement_id: str
    attested: int
    unattested_actions: int
    valid: bool
    required: bool = False
    """Whether the agreement required attestation at any time, as its recorded settings say."""
    checked: bool = True
    """False when nothing was required and no key could check the attestations there are."""
    first_bad_seq: int | None = None
    problem: str | None = None
    rows: list[AttestedRow]


def recorded_keys(entries: Iterable[LedgerEntry]) -> dict[str, str]:
    """Every attestor key the ledger says the agreement ever used, by key id (retired keys included: they
    still verify the rows signed before their retirement). Only as trustworthy as the database."""
    keys: dict[str, str] = {}
    for entry in entries:
        if entry.kind == "agreement_opened":
            keys.update(entry.payload.get("settings", {}).get("attestor_keys", {}))
        elif entry.kind == "attestor_keys_changed":
            keys.update(entry.payload.get("add", {}))
    return keys


def _check_row(agreement_id: str, entry: LedgerEntry, keys: dict[str, str]) -> AttestedRow:
    token = entry.payload["attestation"]
    model = ACTION_KINDS.get(entry.kind)
    identity = None
    try:
        identity = attestation.describe(attestation.read(token, keys))
        if model is None:
            raise ActionRejected(f"a {entry.kind} decision is not an action that can be attested")
        fields = {name: entry.payload[name] for name in model.model_fields if name in entry.payload}
        fields["actor"] = {"body": entry.actor_body, "signatory": entry.actor_signatory}
        recorded = entry.payload.get("actor")
        if isinstance(recorded, dict) and "delegate" in recorded:
            fields["actor"]["delegate"] = recorded["delegate"]
        action = model.model_validate(fields, context={AS_RECORDED: True})
        attestation.check(token, keys, agreement_id, action)
    except attestation.AttestationInvalid as error:
        return AttestedRow(seq=entry.seq, kind=entry.kind, identity=identity, valid=False, problem=str(error))
    except ActionRejected as error:
        return AttestedRow(seq=entry.seq, kind=entry.kind, identity=identity, valid=False, problem=str(error))
    except ValidationError as error:
        return AttestedRow(seq=entry.seq, kind=entry.kind, identity=identity, valid=False,
                           problem=f"the decision no longer reads as the action attested ({explain(error)})")
    return AttestedRow(seq=entry.seq, kind=entry.kind, identity=identity, valid=True)


def _required_since(entry: LedgerEntry, since: int | None) -> int | None:
    """Since which decision the agreement requires attestation once ``entry`` is decided (None: it does not),
    from its recorded settings: the opening's, then each ``attestor_keys_changed`` that turns it on or off."""
    if entry.kind == "agreement_opened":
        return entry.seq if entry.payload.get("settings", {}).get("require_attestation") else None
    if entry.kind == "attestor_keys_changed" and (required := entry.payload.get("require_attestation")) is not None:
        return (since or entry.seq) if required else None
    return since


def verify_attestations(agreement_id: str, entries: Iterable[LedgerEntry], keys: dict[str, str]) -> AttestationReport:
    """Check every attestation in ``entries`` with ``keys`` (key id to Ed25519 public key PEM), and that every
    action decided while the agreement required attestation (its recorded settings say when) carries one: a
    row without is named, whatever the workflow's history still says.

    On an agreement that never required attestation and with no keys to check them by, attestations are not
    checked (``checked`` false): they were not required, and nothing can prove them."""
    rows: list[AttestedRow] = []
    unattested = 0
    since: int | None = None
    required = False
    tokens = 0
    entries = list(entries)
    for entry in entries:
        required = required or since is not None
        if isinstance(entry.payload.get("attestation"), str):
            tokens += 1
            rows.append(_check_row(agreement_id, entry, keys))
        elif entry.kind in ACTION_KINDS and entry.actor_signatory is not None:
            unattested += 1
            if since is not None:
                rows.append(AttestedRow(
                    seq=entry.seq, kind=entry.kind, identity=None, valid=False,
                    problem=f"it carries no attestation, but the agreement has required attestation since decision "
                            f"#{since}"))
        since = _required_since(entry, since)
    required = required or since is not None
    if not keys and not required:
        return AttestationReport(agreement_id=agreement_id, attested=tokens, unattested_actions=unattested,
                                 valid=True, required=False, checked=False, rows=[])
    bad = next((row for row in rows if not row.valid), None)
    return AttestationReport(
        agreement_id=agreement_id, attested=tokens, unattested_actions=unattested, valid=bad is None,
        required=required, first_bad_seq=bad.seq if bad else None,
        problem=f"the attestation of decision #{bad.seq} ({bad.kind}) fails: {bad.problem}" if bad else None,
        rows=rows,
    )
