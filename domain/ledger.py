"""Decisions and the hash chain that makes a later edit of the ledger detectable.

Each entry's hash covers its content and the previous entry's hash, so changing,
removing or reordering any row breaks every hash after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.model import Stage

GENESIS = "0" * 64
RESET_RECORDED = "reset_recorded"
"""The kind of the engine's decision that a Temporal reset undid ledger decisions: its payload names them
(``undone``: first and last sequence numbers) and the decision the agreement resumed from (``resumed_from``)."""


class Decision(BaseModel):
    """One thing that was decided: by whom, what, in which stage, and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    stage: Stage
    actor_body: str | None = None
    actor_signatory: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    decided_at: datetime


class LedgerEntry(Decision):
    agreement_id: str
    seq: int = Field(ge=1)
    prev_hash: str
    hash: str


class ChainHead(BaseModel):
    """Where an agreement's chain ends: the next entry links to this."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = 0
    hash: str = GENESIS


def canonical_json(value: Any) -> str:
    """``value`` as JSON with sorted keys, no white space and characters as they are (not ASCII-escaped)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(content: Any) -> str:
    """The SHA-256 (64 hex characters) of ``content``'s canonical JSON: the one hash the engine takes of
    anything (a ledger entry, a version to sign, an action's content for an attestation or a repeat)."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def entry_hash(
    *,
    agreement_id: str,
    seq: int,
    prev_hash: str,
    kind: str,
    stage: str,
    actor_body: str | None,
    actor_signatory: str | None,
    payload: dict[str, Any],
    decided_at: datetime,
) -> str:
    """The hash of one ledger entry: its content and the previous entry's hash (``prev_hash``), with the
    time as UTC to the microsecond, so the same instant written in any time zone hashes alike."""
    return digest(
        {
            "agreement_id": agreement_id,
            "seq": seq,
            "prev_hash": prev_hash,
            "kind": kind,
            "stage": str(stage),
            "actor_body": actor_body,
            "actor_signatory": actor_signatory,
            "payload": payload,
            "decided_at": decided_at.astimezone(UTC).isoformat(timespec="microseconds"),
        }
    )


def chain(agreement_id: str, head: ChainHead, decisions: Iterable[Decision]) -> list[LedgerEntry]:
    """Number and link ``decisions`` after ``head``."""
    entries = []
    for decision in decisions:
        seq = head.seq + 1
        fields = decision.model_dump()
        entry = entry_hash(agreement_id=agreement_id, seq=seq, prev_hash=head.hash, **fields)
        entries.append(LedgerEntry(agreement_id=agreement_id, seq=seq, prev_hash=head.hash, hash=entry, **fields))
        head = ChainHead(seq=seq, hash=entry)
    return entries


class ChainVerification(BaseModel):
    agreement_id: str
    entries: int
    valid: bool
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(
    agreement_id: str, entries: Iterable[LedgerEntry], expected_head: ChainHead | None = None, *,
    terminated: bool = False,
) -> ChainVerification:
    """Recompute the chain from the stored rows and name the first row that does not fit.

    The chain alone cannot show that rows were cut off its end; ``expected_head``, kept
    outside the database (by the agreement's workflow), can. When the workflow was ``terminated`` (Temporal
    says so), the rows the reconciler records past its head afterwards are expected.
    """
    head = ChainHead()
    count = 0
    seen: list[LedgerEntry] = []
    for entry in entries:
        count += 1
        seen.append(entry)
        problem = None
        if entry.seq != head.seq + 1:
            problem = f"expected sequence number {head.seq + 1}, found {entry.seq} (a row is missing)"
        elif entry.prev_hash != head.hash:
            problem = "its link to the previous row does not match (a row was altered or removed)"
        else:
            fields = entry.model_dump(include=set(Decision.model_fields))
            expected = entry_hash(agreement_id=agreement_id, seq=entry.seq, prev_hash=entry.prev_hash, **fields)
            if expected != entry.hash:
                problem = "its content does not match its hash (the row was altered)"
        if problem:
            return ChainVerification(
                agreement_id=agreement_id, entries=count, valid=False, first_bad_seq=entry.seq, problem=problem
            )
        head = ChainHead(seq=entry.seq, hash=entry.hash)
    if expected_head is not None and head != expected_head:
        problem, first_bad = _off_anchor(seen, head, expected_head, terminated)
        if problem is not None:
            return ChainVerification(agreement_id=agreement_id, entries=count, valid=False, first_bad_seq=first_bad,
                                     problem=problem)
    return ChainVerification(agreement_id=agreement_id, entries=count, valid=True)


RECORDED_AFTER_THE_WORKFLOW = ("terminated", "stage_changed")
"""The kinds of decision written after an agreement's workflow stopped for good (a termination, recorded by the
reconciler, ``store.reconcile``): the only rows a ledger may hold past the head its workflow records."""


def _off_anchor(entries: list[LedgerEntry], head: ChainHead, expected: ChainHead,
                terminated: bool) -> tuple[str | None, int]:
    """What is wrong when a sound chain ends at ``head`` but the workflow records ``expected`` (None when the
    difference is the termination of a ``terminated`` workflow, recorded after it stopped), and the first
    sequence number at fault."""
    if head.seq < expected.seq:
        return (f"decisions #{head.seq + 1} to #{expected.seq} are missing: the ledger ends at decision "
                f"#{head.seq}, but the agreement's workflow recorded its chain up to #{expected.seq} (rows were "
                "removed from the end)"), head.seq + 1
    at_anchor = next((e for e in entries if e.seq == expected.seq), None)
    if expected.seq > 0 and (at_anchor is None or at_anchor.hash != expected.hash):
        return (f"the tail was rewritten: decision #{expected.seq} is not the one the agreement's workflow "
                "recorded, and the rows from there on were chained again"), expected.seq
    after = [e for e in entries if e.seq > expected.seq]
    if (terminated and [e.kind for e in after] == list(RECORDED_AFTER_THE_WORKFLOW)
            and after[-1].payload.get("to") == "closed"):
        return None, 0
    return (f"the agreement's workflow is behind its ledger: it recorded the chain up to #{expected.seq}, the "
            f"ledger holds #{expected.seq + 1} to #{head.seq} besides (written outside the workflow, or the "
            "workflow has not yet caught up after a reset)"), expected.seq + 1
