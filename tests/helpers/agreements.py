"""Agreements walked to a given stage by the pure domain rules, for the domain tests.

Every pre-live step happens at ``builders.T0``; the standard plan's milestones fall due 30 and 90 days later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.actions import Action
from domain.agreement import Agreement
from domain.lifecycle import evolve, open_agreement
from tests.helpers import factories
from tests.helpers.builders import (
    CUMBRIA,
    LANCASHIRE,
    QUARTERLY_FOR_A_YEAR,
    SIGNATORIES,
    T0,
    TAMWORTH,
    approve,
    decide,
    readings,
    report,
    send_for_sign_off,
    set_north_west_objectives,
    set_objectives,
    submit,
)


def apply(agreement: Agreement, *actions: Action, now: datetime = T0) -> Agreement:
    """``agreement`` after each of ``actions`` at ``now``, as ``lifecycle.evolve`` leaves it; checks that each
    action leaves the state it was given as it was (the rules' copy shares its frozen value objects)."""
    for action in actions:
        before = agreement.model_dump()
        given, agreement = agreement, evolve(agreement, action, now).agreement
        assert given.model_dump() == before, f"{type(action).__name__} changed the state it was given"
    return agreement


def opened(settings: dict[str, Any] | None = None, *, old_rules: bool = False, **proposal: Any) -> Agreement:
    """Opened at T0 under today's rules (calendar periods, no review skipped, a business case required to
    submit, a preferred option of less than the highest value justified), as the workflow opens it;
    ``old_rules`` for an agreement opened before the patches that brought them."""
    agreement = open_agreement(factories.request(settings=settings, **proposal), T0).agreement
    if old_rules:
        return agreement
    return agreement.model_copy(update={"calendar_periods": True, "reviews_never_skipped": True,
                                          "business_case_required": True, "preferred_option_justified": True})


def in_objective_setting(**kwargs: Any) -> Agreement:
    return apply(opened(**kwargs), submit())


def in_sign_off(**kwargs: Any) -> Agreement:
    return apply(in_objective_setting(**kwargs), set_objectives(), send_for_sign_off())


def in_implementation(**kwargs: Any) -> Agreement:
    return apply(in_sign_off(**kwargs), *(approve(actor) for actor in SIGNATORIES))


def live(**kwargs: Any) -> Agreement:
    """Gone live at T0 and waiting for review 1; by default four quarterly reviews."""
    kwargs.setdefault("settings", QUARTERLY_FOR_A_YEAR)
    return apply(in_implementation(**kwargs), report("fleet"), report("rounds", TAMWORTH))


def review_due(agreement: Agreement) -> datetime:
    """When the review now open can be concluded: the end of its review period."""
    return agreement.review_period_end(agreement.review_number)


def conclude_review(agreement: Agreement, outcome: str = "continue") -> Agreement:
    """Record on-target readings when the review period ends, and decide."""
    return apply(agreement, readings(), decide(outcome), now=review_due(agreement))


# The north-west partnership (Lancashire, Cumbria, Blackpool), for variations and the signatory register


def north_west(settings: dict[str, Any] | None = None) -> Agreement:
    return open_agreement(factories.north_west_request(settings=settings), T0).agreement


def north_west_in_sign_off() -> Agreement:
    return apply(north_west(), submit(LANCASHIRE), set_north_west_objectives(), send_for_sign_off(LANCASHIRE))


def north_west_live() -> Agreement:
    """Gone live at T0, in review 1 of four quarterly reviews."""
    agreement = apply(north_west_in_sign_off(), *(approve(a) for a in factories.NORTH_WEST_SIGNATORIES))
    return apply(agreement, report("system", LANCASHIRE), report("staff", CUMBRIA))
