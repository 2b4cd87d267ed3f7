"""One agreement's story: its ledger's decisions in order, told as an officer would tell them.

Pure: it reads ledger entries (``domain.ledger.LedgerEntry``) and returns lines of who did what, when and
why; ``starter.py story`` prints them. Body codes are named from the proposal in the ledger itself (the
opening decision and any revision), so the story needs nothing but the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    """What a decision of ``kind`` did and why, from its ledger payload."""
    reason = str(payload.get("reason") or "")
    match kind:
        case "agreement_opened":
            return f"opened the agreement \u201c{payload['proposal']['title']}\u201d", ""
        case "proposal_revised":
            return "revised the proposal", reason
        case "proposal_submitted":
            return "submitted the proposal", reason
        case "objectives_set":
            plan = payload.get("plan", {})
            kpis = sum(len(o.get("kpis", [])) for o in plan.get("objectives", []))
            return f"set the objectives: {kpis} KPIs, {len(plan.get('milestones', []))} milestones", reason
        case "submitted_for_sign_off":
            return "submitted it for sign-off", reason
        case "signed_off" if payload.get("decision") == "reject":
            return "REJECTED it at sign-off", reason
        case "signed_off":
            return "approved it at sign-off", reason
        case "milestone_reported":
            what = (f"reported milestone {payload['milestone_id']}: {_label(payload['status'])}, "
                    f"{payload['percent_complete']}% complete")
            return what, str(payload.get("note") or "")
        case "kpi_readings_recorded":
            readings = ", ".join(f"{r['kpi_id']} {r['value']}" for r in payload.get("readings", []))
            return f"recorded KPI readings: {readings}", reason
        case "review_decided":
            return f"decided the review: {payload['outcome']}", reason
        case "withdrawn":
            return "withdrew the agreement", reason
        case "stage_changed":
            return f"moved from {_label(payload['from'])} to {_label(payload['to'])}", reason
    return _label(kind), reason


def story(entries: Iterable[LedgerEntry]) -> list[StoryLine]:
    """The decisions of one agreement in ledger order, each as a ``StoryLine``."""
    names: dict[str, str] = {}
    lines = []
    for entry in entries:
        proposal = entry.payload.get("proposal")
        if isinstance(proposal, dict):
            names |= {p["code"]: p["name"] for p in proposal.get("partners", [])}
        body = names.get(entry.actor_body or "", entry.actor_body or "")
        if entry.kind == "stage_changed":
            who = ""
        elif entry.actor_signatory:
            who = f"{entry.actor_signatory} ({body})"
        else:
            who = body
        what, why = _what(entry.kind, entry.payload)
        lines.append(StoryLine(seq=entry.seq, at=entry.decided_at, stage=entry.stage, who=who, what=what, why=why))
    return lines
