"""Checking, offline, the attestations an agreement's ledger keeps: who acted, proved without trusting the
database or the Temporal cluster, only the attestor public keys.

Each action recorded through the API carries, in its decision's payload, the attestation the API signed for it
(``domain.attestation``) and its action id; the action is rebuilt from the decision (its actor, and the payload's
fields of the action's model), hashed again, and the attestation's signature and content hash checked.
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


def verify_attestations(agreement_id: str, entries: Iterable[LedgerEntry], keys: dict[str, str]) -> AttestationReport:
    """Check every attestation in ``entries`` with ``keys`` (key id to Ed25519 public key PEM)."""
    rows = []
    unattested = 0
    for entry in entries:
        if isinstance(entry.payload.get("attestation"), str):
            rows.append(_check_row(agreement_id, entry, keys))
        elif entry.kind in ACTION_KINDS and entry.actor_signatory is not None:
            unattested += 1
    bad = next((row for row in rows if not row.valid), None)
    return AttestationReport(
        agreement_id=agreement_id, attested=len(rows), unattested_actions=unattested, valid=bad is None,
        first_bad_seq=bad.seq if bad else None,
        problem=f"the attestation of decision #{bad.seq} ({bad.kind}) fails: {bad.problem}" if bad else None,
        rows=rows,
    )
