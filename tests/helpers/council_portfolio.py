"""A portfolio of agreements between real English councils, from ``../shared/data/uk_la_current.csv``,
written into a ledger by the domain's own rules, for the board's report at the scale of a real programme.

The councils (names and GSS codes) are read at test time from the shared data beside the clone (or from
``CONCORDAT_SHARED_DATA``), never copied in; the people and figures are invented, deterministically. Each
agreement is driven through ``lifecycle.evolve`` with its decisions chained and written by
``LedgerActivities.record_decisions`` and its drift alerts raised by ``LedgerActivities.raise_alerts``, as the
workflow does, without a Temporal server: a hundred agreements over three years take seconds, and the
workflow's own orchestration is tested elsewhere.
"""

from __future__ import annotations

import csv
import itertools
import os
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from activities.ledger import LedgerActivities
from domain import drift
from domain.actions import (
    Action,
    DecideReview,
    RecordBenefits,
    RecordKpiReadings,
    RecordLessons,
    ReportMilestone,
    ReviewRisks,
    SetObjectives,
    SignOff,
    SubmitForSignOff,
    SubmitProposal,
)
from domain.agreement import Agreement
from domain.ledger import ChainHead, Decision, chain
from domain.lifecycle import evolve, open_agreement
from domain.model import AgreementRequest, Stage
from tests.helpers import factories

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2029, 4, 1, 9, 0, tzinfo=UTC)
"""The moment the portfolio has reached: no action is taken after it."""
LESSONS = [
    ("A single contract manager for all partners", "Each council kept its own performance reports", "governance"),
    ("Staff transferred on day one under TUPE", "Pension admission agreements took nine months", "workforce"),
    ("One ICT platform procured jointly", "Data migration was underestimated", "ict"),
    ("Members' joint committee met monthly", "Scrutiny arrangements differed by council", "governance"),
    ("Shared depot cut mileage", "Vehicle replacement cycles were out of step", "fleet"),
]


COUNCIL_CODES = ("E06", "E07", "E08", "E09", "E10")


def shared_data() -> Path:
    """The shared reference data: ``CONCORDAT_SHARED_DATA``, else ``../shared/data`` beside the clone."""
    folder = Path(os.environ.get("CONCORDAT_SHARED_DATA", REPO.parent / "shared" / "data"))
    councils = folder / "uk_la_current.csv"
    if not councils.is_file():
        raise FileNotFoundError(
            f"the councils' reference data is not at {councils}: the tests read ../shared/data beside the clone "
            "(as CI has it); set CONCORDAT_SHARED_DATA to the folder holding uk_la_current.csv")
    return folder


@dataclass(frozen=True)
class Council:
    code: str
    name: str
    region: str


def councils() -> list[Council]:
    """Current English councils (no end date): counties, unitaries, districts, metropolitan and London boroughs
    (GSS codes E06 to E10), by region and code."""
    with (shared_data() / "uk_la_current.csv").open(newline="", encoding="utf-8") as file:
        rows = [row for row in csv.DictReader(file)
                if row["nation"] == "England" and not row["end-date"] and row["gss-code"][:3] in COUNCIL_CODES]
    found = [Council(row["gss-code"], row["official-name"], row["region"]) for row in rows]
    return sorted(found, key=lambda c: (c.region, c.code))


def partnerships(count: int) -> list[list[Council]]:
    """``count`` partnerships of two or three neighbouring councils (same region). The first round puts each
    council in one; later rounds (a council shares several services) group each region's councils again, its
    list turned by one more council each round."""
    by_region: dict[str, list[Council]] = defaultdict(list)
    for council in councils():
        by_region[council.region].append(council)
    groups: list[list[Council]] = []
    for turn in itertools.count():
        before = len(groups)
        for listed in by_region.values():
            shift = turn % len(listed)
            members, size = listed[shift:] + listed[:shift], 3
            while len(members) >= 2:
                groups.append(members[:size])
                members = members[size:]
                size = 5 - size
        if len(groups) >= count or len(groups) == before:
            break
    if len(groups) < count:
        raise ValueError(f"the reference data makes no partnership of neighbouring councils, not {count}")
    return groups[:count]


OPENING_SPREAD = 770
"""Agreements open a week apart, over this many days from ``START`` and then again from it."""


SERVICES = [
    ("Shared revenues and benefits", "back_office"), ("Joint waste collection", "front_line"),
    ("Shared ICT service", "back_office"), ("Joint building control", "front_line"),
    ("Shared legal service", "back_office"), ("Joint environmental health", "combined"),
]
PEOPLE = ["Alex Morgan", "Sam Patel", "Jo Evans", "Chris Wong", "Pat Okoro", "Lee Hughes"]


def _request(index: int, members: list[Council], rng: random.Random) -> AgreementRequest:
    service, category = SERVICES[index % len(SERVICES)]
    baseline = Decimal(rng.randrange(800, 12000)) * 1000
    saving = (baseline * Decimal(rng.randrange(6, 15)) / 100).quantize(Decimal("1"))
    one_off = (saving * Decimal(rng.randrange(80, 200)) / 100).quantize(Decimal("1"))
    shares = _split(baseline, len(members))
    lead = members[0].code
    return AgreementRequest.model_validate({
        "agreement_id": f"councils-{index:03d}",
        "proposal": {
            "title": f"{service}: {' and '.join(m.name.removesuffix(' Council') for m in members)}"[:200],
            "service_name": service, "service_category": category, "lead_body": lead,
            "partners": [{"code": m.code, "name": m.name,
                          "signatories": [{"name": PEOPLE[(index + n) % len(PEOPLE)], "role": "Chief Executive"}]}
                         for n, m in enumerate(members)],
            "baseline_annual_cost": str(baseline), "one_off_cost": str(one_off), "expected_annual_saving": str(saving),
            "business_case": _paying_case(factories.business_case_data(
                {m.code: str(share) for m, share in zip(members, shares, strict=True)}, str(one_off),
                str(baseline - saving)), saving),
            "risks": [factories.risk_data(lead, "staff", rng.randint(1, 5), rng.randint(1, 5)),
                      factories.risk_data(members[-1].code, "systems", rng.randint(1, 5), rng.randint(1, 5))
                      | {"risk": "The case management systems cannot be merged"}],
        },
        "settings": {"review_period": "P3M", "term": "P3Y"},
    })


def _paying_case(case: dict[str, Any], saving: Decimal) -> dict[str, Any]:
    """``case`` with optimism bias by category (10% on the one-off cost, 2% on the shared service's running
    cost), at which every partnership here pays (sharing has the highest NPSV), so with no justification; and
    tolerances of a tenth and a quarter of the saving."""
    terms = {key: value for key, value in case.items() if key != "preferred_justification"}
    return terms | {"capital_optimism_bias": "10", "operating_optimism_bias": "2",
                    "saving_amber_tolerance": str((saving / 10).quantize(Decimal("1"))),
                    "saving_red_tolerance": str((saving / 4).quantize(Decimal("1")))}


def _split(total: Decimal, parts: int) -> list[Decimal]:
    """``total`` in ``parts`` equal shares to the penny, the first taking the odd pence."""
    share = (total / parts).quantize(Decimal("0.01"))
    return [total - share * (parts - 1), *[share] * (parts - 1)]


class _Writer:
    """Drives one agreement: raises the alerts due before each action, then records the action's decisions."""

    def __init__(self, ledger: LedgerActivities, agreement: Agreement) -> None:
        self.ledger = ledger
        self.agreement = agreement

    async def record(self, decisions: list[Decision]) -> None:
        entries = chain(self.agreement.agreement_id, self.agreement.chain, decisions)
        await self.ledger.record_decisions(entries)
        self.agreement.chain = ChainHead(seq=entries[-1].seq, hash=entries[-1].hash)

    async def alerts_until(self, now: datetime) -> None:
        due = drift.due_alerts(self.agreement, now)
        if due:
            await self.ledger.raise_alerts(due)
            self.agreement.raised_alerts.extend(alert.key for alert in due)

    async def act(self, action: Action, now: datetime) -> bool:
        """Apply ``action`` at ``now``, unless ``now`` is beyond the portfolio's present (then False)."""
        if now > NOW or self.agreement.stage is Stage.CLOSED:
            return False
        await self.alerts_until(now)
        transition = evolve(self.agreement, action, now)
        self.agreement = transition.agreement
        await self.record(transition.decisions)
        return True


async def write(pool: asyncpg.Pool, count: int = 110, *, start: int = 0) -> list[str]:
    """Write agreements ``start`` .. ``count`` - 1 (of the ``count`` partnerships) into the ledger behind
    ``pool``, so a portfolio can grow in steps; returns their ids."""
    ledger = LedgerActivities(pool)
    ids = []
    for index, members in enumerate(partnerships(count)[start:], start):
        rng = random.Random(index)
        request = _request(index, members, rng)
        opened_at = START + timedelta(days=7 * index % OPENING_SPREAD)
        opening = open_agreement(request, opened_at)
        agreement = opening.agreement.model_copy(update={
            "calendar_periods": True, "reviews_never_skipped": True, "business_case_required": True,
            "preferred_option_justified": True})
        writer = _Writer(ledger, agreement)
        await writer.record(opening.decisions)
        await _live_through(writer, index, members, rng, opened_at)
        await writer.alerts_until(min(NOW, writer.agreement.deadline or NOW))
        ids.append(request.agreement_id)
    return ids


async def _live_through(writer: _Writer, index: int, members: list[Council], rng: random.Random,
                        at: datetime) -> None:
    lead = {"body": members[0].code, "signatory": PEOPLE[index % len(PEOPLE)]}
    actors = [{"body": m.code, "signatory": PEOPLE[(index + n) % len(PEOPLE)]} for n, m in enumerate(members)]
    at += timedelta(days=rng.randint(20, 75))  # some proposals run late
    if index % 10 == 3 or not await writer.act(SubmitProposal.model_validate({"actor": lead}), at):
        return
    agreement = writer.agreement
    contributions = _split(agreement.proposal.baseline_annual_cost - agreement.proposal.expected_annual_saving,
                           len(members))
    plan = {
        "objectives": [{"id": "cost", "category": "cost_reduction", "description": "Lower cost per resident",
                        "kpis": [{"id": "cost-per-resident", "name": "Cost per resident", "unit": "GBP",
                                  "baseline": "30", "target": "27", "direction": "lower_is_better",
                                  "amber_tolerance": "1", "red_tolerance": "3"}]}],
        "milestones": [{"id": "transfer", "title": "Staff transferred", "owner_body": members[-1].code,
                        "due": (at + timedelta(days=120)).date().isoformat()},
                       {"id": "system", "title": "One case management system", "owner_body": members[0].code,
                        "due": (at + timedelta(days=200)).date().isoformat()}],
        "contributions": [{"body": m.code, "annual_amount": str(c)}
                          for m, c in zip(members, contributions, strict=True)],
    }
    at += timedelta(days=rng.randint(20, 50))
    await writer.act(SetObjectives.model_validate({"actor": lead, "plan": plan}), at)
    await writer.act(SubmitForSignOff.model_validate({"actor": lead}), at)
    if index % 10 == 6:
        return  # left waiting in sign-off
    for actor in actors:
        at += timedelta(days=rng.randint(2, 16))
        if not await writer.act(SignOff.model_validate({"actor": actor, "decision": "approve"}), at):
            return
    for milestone, owner in (("transfer", actors[-1]), ("system", actors[0])):
        at += timedelta(days=rng.randint(60, 140))
        if not await writer.act(ReportMilestone.model_validate({
                "actor": owner, "milestone_id": milestone, "status": "complete", "percent_complete": 100}), at):
            return
    realised = Decimal(rng.choice(["1.1", "1.0", "0.9", "0.8", "0.6", "0.3"]))
    while writer.agreement.stage is Stage.REVIEW and await _review(writer, index, lead, realised, rng):
        pass


async def _review(writer: _Writer, index: int, lead: dict[str, str], realised: Decimal, rng: random.Random) -> bool:
    """Conclude the current review, unless it falls beyond the portfolio's present (then False)."""
    agreement = writer.agreement
    at = agreement.clock_started_at + timedelta(days=rng.randint(3, 20))
    proposal = agreement.proposal
    actual = proposal.baseline_annual_cost - (proposal.expected_annual_saving * realised).quantize(Decimal("0.01"))
    shares = _split(actual, len(proposal.partners))
    figures = {"actor": lead, "actual_annual_cost": str(actual),
               "contributions": [{"body": p.code, "annual_amount": str(s)}
                                 for p, s in zip(proposal.partners, shares, strict=True)]}
    if not await writer.act(RecordKpiReadings.model_validate({"actor": lead, "readings": [
            {"kpi_id": "cost-per-resident", "value": str(Decimal(27) + (1 - realised) * 10)}]}), at):
        return False
    await writer.act(RecordBenefits.model_validate(figures), at)
    if agreement.review_number % 2 == 1:
        risks = [r.model_dump(mode="json") | {"likelihood": max(1, r.likelihood - 1)} for r in writer.agreement.risks]
        await writer.act(ReviewRisks.model_validate({"actor": lead, "risks": risks}), at)
    if (index + agreement.review_number) % 3 == 0:
        worked, did_not, tag = LESSONS[(index + agreement.review_number) % len(LESSONS)]
        await writer.act(RecordLessons.model_validate({"actor": lead, "lessons": [
            {"what_worked": worked, "what_did_not": did_not, "tags": [tag]}]}), at)
    return await writer.act(DecideReview.model_validate({"actor": lead, "outcome": "continue",
                                                         "reason": "benefits reviewed by the joint committee"}), at)

