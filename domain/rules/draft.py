"""What a rule works on: the next state under construction, and the row that describes a rule.

A rule is a typed function of its action, ``apply(draft, action)``: it reads and changes ``draft.agreement``
(a copy, never the state the workflow holds), records decisions with ``draft.record`` and ``draft.note``,
and refuses with ``ActionRejected``. ``Rule`` says when it may run, who may send it and what it records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from domain.actions import Action, Actor
from domain.agreement import Agreement, ClosedOutcome, Closure
from domain.ledger import Decision
from domain.model import Proposal, Stage

A = TypeVar("A", bound=Action)


@dataclass(frozen=True, kw_only=True)
class Rule(Generic[A]):
    """How the engine treats one kind of action."""

    action: type[A]
    """The action it applies to."""
    kind: str
    """The decision kind it records first in the ledger (``signed_off``)."""
    verb: str
    """What the action does, for messages: 'only the lead body may <verb>'."""
    stages: tuple[Stage, ...]
    """The stages in which it may be sent."""
    lead_only: bool = False
    """Only a signatory of the lead body may send it."""
    joining_bodies_act: bool = False
    """A body the pending variation brings in may send it, through a signatory the variation names."""
    delegable: bool = False
    """A colleague may send it for a signatory, under a delegation covering the day (``Actor.delegate``)."""
    apply: Callable[[Draft, A], None]
    """The rule itself: changes the draft, or raises ``ActionRejected``."""


UNTIL_CLOSED = (Stage.PROPOSAL, Stage.OBJECTIVE_SETTING, Stage.SIGN_OFF, Stage.IMPLEMENTATION)
"""Every stage before a service goes live."""
UNTIL_CLOSED_AND_IN_SERVICE = (*UNTIL_CLOSED, Stage.REVIEW)
"""Every stage but closed."""


class Draft:
    """The next state under construction, and the decisions that explain it.

    ``actor`` is who sent the action, or None when time alone made the change (a variation's date came).
    """

    def __init__(self, agreement: Agreement, now: datetime, actor: Actor | None = None) -> None:
        self.agreement = agreement
        self.now = now
        self.actor = actor
        self.decisions: list[Decision] = []

    def record(self, kind: str, payload: dict[str, Any]) -> None:
        """A decision by the action's actor; by nobody when time alone made it. A decision by a delegate signing
        for a signatory names both: the entry's signatory is the signatory, and its payload holds the ``actor``
        (body, signatory and delegate)."""
        actor = self.actor
        if actor is not None and actor.delegate is not None:
            payload = {**payload, "actor": actor.model_dump(mode="json")}
        self.decisions.append(
            Decision(
                kind=kind,
                stage=self.agreement.stage,
                actor_body=actor.body if actor else None,
                actor_signatory=actor.signatory if actor else None,
                payload=payload,
                decided_at=self.now,
            )
        )

    def note(self, **details: Any) -> None:
        """Add details to the action's own decision, the first recorded."""
        first = self.decisions[0]
        self.decisions[0] = first.model_copy(update={"payload": {**first.payload, **details}})

    def move_to(self, stage: Stage, reason: str, clock_starts: datetime | None = None) -> None:
        """Enter ``stage`` (its clock starting at ``clock_starts``, or now) and record why."""
        previous = self.agreement.stage
        self.agreement.stage = stage
        self.agreement.stage_visit += 1
        self.agreement.clock_started_at = clock_starts or self.now
        self.record("stage_changed", {"from": previous.value, "to": stage.value, "reason": reason})

    def close(self, outcome: ClosedOutcome, reason: str) -> None:
        """Close the agreement; a variation still pending lapses with it."""
        self.agreement.closure = Closure(outcome=outcome, reason=reason, at=self.now)
        self.move_to(Stage.CLOSED, f"{outcome.value}: {reason}")
        if (pending := self.agreement.variation) is not None:
            self.agreement.variation = None
            self.record("variation_lapsed", {"variation_number": pending.number,
                                             "reason": "the agreement closed before it took effect"})


def either(items: Iterable[str]) -> str:
    """'a', 'a or b', 'a, b or c'."""
    words = list(items)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def each_partner_once(proposal: Proposal, given: list[str], *, missing: str, extra: str) -> str | None:
    """What is wrong with ``given`` (body codes) as one entry for each partner of ``proposal``, or None if right:
    '<missing> <partner names>; <extra> <codes>, not a partner' (either part may be absent; both are for an
    entry given twice)."""
    codes = [p.code for p in proposal.partners]
    if sorted(given) == sorted(codes):
        return None
    absent, unknown = sorted(set(codes) - set(given)), sorted(set(given) - set(codes))
    parts = [f"{missing} {', '.join(proposal.body_name(c) for c in absent)}"] if absent else []
    parts += [f"{extra} {', '.join(unknown)}, not a partner"] if unknown else []
    return "; ".join(parts)
