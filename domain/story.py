"""One agreement's story: its ledger's decisions in order, told as an officer would tell them.

Pure: it reads ledger entries (``domain.ledger.LedgerEntry``) and returns lines of who did what, when and
why; ``starter.py story`` prints them. Body codes are named from the proposal in the ledger itself (the
opening decision and any revision), so the story needs nothing but the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from domain.ledger import LedgerEntry
from domain.model import Stage, ValueObject


class StoryLine(ValueObject):
    """One decision: ``who`` acted (signatory and body name; empty for the engine's own stage changes),
    ``what`` they did, ``why`` (the reason given, if any), at ``at`` (UTC)."""

    seq: int
    at: datetime
    stage: Stage
    who: str
    what: str
    why: str


def _label(value: str) -> str:
    return value.replace("_", " ")


def _what(kind: str, payload: dict[str, Any]) -> tuple[str, str]:
    """What a decision of ``kind`` did and why, from its ledger payload; a kind not known here is named by its
    label."""
    describe = _DESCRIBED.get(kind)
    what = describe(payload) if describe is not None else _DONE.get(kind, _label(kind))
    return what, _why(kind, payload)


def _why(kind: str, payload: dict[str, Any]) -> str:
    """The reason given; a milestone report's note; nothing for the opening."""
    if kind == "agreement_opened":
        return ""
    return str(payload.get("note" if kind == "milestone_reported" else "reason") or "")


def _opened(payload: dict[str, Any]) -> str:
    return f"opened the agreement \u201c{payload['proposal']['title']}\u201d"


def _objectives_set(payload: dict[str, Any]) -> str:
    plan = payload.get("plan", {})
    kpis = sum(len(o.get("kpis", [])) for o in plan.get("objectives", []))
    milestones = len(plan.get("milestones", []))
    return (f"set the objectives: {kpis} KPI{'' if kpis == 1 else 's'}, "
            f"{milestones} milestone{'' if milestones == 1 else 's'}")


def _signed_off(payload: dict[str, Any]) -> str:
    return "REJECTED it at sign-off" if payload.get("decision") == "reject" else "approved it at sign-off"


def _milestone_reported(payload: dict[str, Any]) -> str:
    return (f"reported milestone {payload['milestone_id']}: {_label(payload['status'])}, "
            f"{payload['percent_complete']}% complete")


def _kpi_readings_recorded(payload: dict[str, Any]) -> str:
    readings = ", ".join(f"{r['kpi_id']} {r['value']}" for r in payload.get("readings", []))
    return f"recorded KPI readings: {readings}"


def _review_decided(payload: dict[str, Any]) -> str:
    return f"decided the review: {payload['outcome']}"


def _stage_changed(payload: dict[str, Any]) -> str:
    return f"moved from {_label(payload['from'])} to {_label(payload['to'])}"


def _reset_recorded(payload: dict[str, Any]) -> str:
    first, last = payload["undone"]
    undone = f"decision #{first}" if first == last else f"decisions #{first} to #{last}"
    return (f"recorded that a Temporal reset undid {undone}: the agreement carried on from "
            f"decision #{payload['resumed_from']}, and those decisions no longer count")


def _signature_delegated(payload: dict[str, Any]) -> str:
    return f"delegated their signature to {payload['delegate']} from {payload['starts']} to {payload['ends']}"


_DESCRIBED: dict[str, Callable[[dict[str, Any]], str]] = {
    "agreement_opened": _opened,
    "objectives_set": _objectives_set,
    "signed_off": _signed_off,
    "milestone_reported": _milestone_reported,
    "kpi_readings_recorded": _kpi_readings_recorded,
    "review_decided": _review_decided,
    "stage_changed": _stage_changed,
    "reset_recorded": _reset_recorded,
    "signature_delegated": _signature_delegated,
}
"""How each kind of decision whose description draws on its payload is told."""

_DONE = {
    "proposal_revised": "revised the proposal",
    "proposal_submitted": "submitted the proposal",
    "submitted_for_sign_off": "submitted it for sign-off",
    "withdrawn": "withdrew the agreement",
    "delegation_withdrawn": "withdrew their delegation of signature",
    "cancelled": "closed the agreement: an operator cancelled its workflow in Temporal",
    "terminated": "closed the agreement: an operator terminated its workflow in Temporal",
}
"""What each kind of decision told the same every time did."""


def _signer(entry: LedgerEntry) -> str:
    """Who acted: the signatory, or 'Sam Okafor for Priya Shah' for a delegate signing for them (the payload's
    ``actor`` names the delegate)."""
    actor = entry.payload.get("actor")
    delegate = actor.get("delegate") if isinstance(actor, dict) else None
    return f"{delegate} for {entry.actor_signatory}" if isinstance(delegate, str) else str(entry.actor_signatory)


def story(entries: Iterable[LedgerEntry]) -> list[StoryLine]:
    """The decisions of one agreement in ledger order, each as a ``StoryLine``."""
    names: dict[str, str] = {}
    lines = []
    for entry in entries:
        proposal = entry.payload.get("proposal")
        if isinstance(proposal, dict):
            names |= {p["code"]: p["name"] for p in proposal.get("partners", [])}
        body = names.get(entry.actor_body or "", entry.actor_body or "")
        if entry.kind in ("stage_changed", "reset_recorded", "cancelled", "terminated"):
            who = ""
        elif entry.actor_signatory:
            who = f"{_signer(entry)} ({body})"
        else:
            who = body
        what, why = _what(entry.kind, entry.payload)
        lines.append(StoryLine(seq=entry.seq, at=entry.decided_at, stage=entry.stage, who=who, what=what, why=why))
    return lines
