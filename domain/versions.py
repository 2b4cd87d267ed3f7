"""The versions of an agreement partners read and sign, rebuilt from its ledger, and what changed between them.

Pure: the ledger records the proposal whole when the agreement is opened (``agreement_opened``: the request) and
each time the lead revises it (``proposal_revised``), and the plan whole each time objectives are set
(``objectives_set``). A version is the proposal and plan as they stood when the lead submitted them for sign-off
(``submitted_for_sign_off``: a new round), and the one standing now; its digest is ``Agreement.version``'s (the
SHA-256 of the canonical JSON of both), so a page can check that what it shows is what the engine will accept.
A variation that took effect changes the proposal without recording it whole: a version after one is rebuilt
without it, and its digest then differs from the agreement's (the page says so rather than show it).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.ledger import LedgerEntry, digest
from domain.model import AS_RECORDED, Plan, Proposal, ValueObject


class Version(ValueObject):
    """The proposal and plan as they stood, their ``version`` digest, and the ledger number ``seq`` of the
    decision that made them so (the submission for sign-off, or the latest change)."""

    proposal: Proposal
    plan: Plan | None
    version: str
    seq: int


class Change(ValueObject):
    """One difference between two versions: where (``path``, dotted, list items named by their id or code),
    and the value before and after as text (empty when absent)."""

    path: str
    before: str
    after: str


def versions(entries: Iterable[LedgerEntry]) -> list[Version]:
    """Each version sent for sign-off, in ledger order, then the version standing after the last entry when it
    differs from the last one sent (a revision not yet sent); empty for a ledger with no opening decision."""
    proposal: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    found: list[Version] = []
    last_seq = 0
    for entry in entries:
        last_seq = entry.seq
        if entry.kind in ("agreement_opened", "proposal_revised") and isinstance(entry.payload.get("proposal"), dict):
            proposal = entry.payload["proposal"]
        elif entry.kind == "objectives_set" and isinstance(entry.payload.get("plan"), dict):
            plan = entry.payload["plan"]
        elif entry.kind == "submitted_for_sign_off" and proposal is not None:
            found.append(_version(proposal, plan, entry.seq))
    if proposal is not None:
        standing = _version(proposal, plan, last_seq)
        if not found or found[-1].version != standing.version:
            found.append(standing)
    return found


def _version(proposal: dict[str, Any], plan: dict[str, Any] | None, seq: int) -> Version:
    read = Proposal.model_validate(proposal, context={AS_RECORDED: True})
    read_plan = Plan.model_validate(plan, context={AS_RECORDED: True}) if plan is not None else None
    version = digest({"proposal": read.model_dump(mode="json"),
                      "plan": read_plan.model_dump(mode="json") if read_plan else None})
    return Version(proposal=read, plan=read_plan, version=version, seq=seq)


def changes(before: Version, after: Version) -> list[Change]:
    """What differs between two versions' proposal and plan, field by field, in document order."""
    found: list[Change] = []
    _compare("proposal", before.proposal.model_dump(mode="json"), after.proposal.model_dump(mode="json"), found)
    _compare("plan", before.plan.model_dump(mode="json") if before.plan else None,
             after.plan.model_dump(mode="json") if after.plan else None, found)
    return found


def _compare(path: str, before: Any, after: Any, found: list[Change]) -> None:
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for key in [*before, *(k for k in after if k not in before)]:
            _compare(f"{path}.{key}", before.get(key), after.get(key), found)
        return
    if isinstance(before, list) and isinstance(after, list):
        olds, news = _keyed(before), _keyed(after)
        if olds is not None and news is not None:
            for key in [*olds, *(k for k in news if k not in olds)]:
                _compare(f"{path}.{key}", olds.get(key), news.get(key), found)
            return
    found.append(Change(path=path, before=_text(before), after=_text(after)))


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    """List items by their id, code, body or name, when each has a distinct one; else None."""
    for key in ("id", "code", "body", "name"):
        if all(isinstance(item, dict) and isinstance(item.get(key), str) for item in items):
            named = {item[key]: item for item in items}
            if len(named) == len(items):
                return named
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_text(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return str(value)
