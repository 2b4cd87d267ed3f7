"""Reading the read model: the ``rm_*`` views over the ledger (migrations 0003_read_model and
0005_read_model_whole_story) that the board's report and the CLI's ``lessons`` show.

Every function takes ``lead_body``: the agreements that body leads, or all agreements when None. Amounts are
pounds (``Decimal``), durations days, times UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypedDict, cast

from store.database import Pool

_IN_SCOPE = "SELECT agreement_id FROM rm_agreements WHERE $1::text IS NULL OR lead_body = $1"
"""The agreements led by ``$1``, or all when ``$1`` is NULL."""


@dataclass(frozen=True)
class AgreementLine:
    """One agreement with its latest benefit review's figures and its preferred option's net present value."""

    agreement_id: str
    title: str
    lead_body_name: str
    stage: str
    expected_annual_saving: Decimal
    cumulative_planned: Decimal | None
    cumulative_saving: Decimal | None
    benefit_rag: str | None
    forecast_rag: str | None
    forecast_payback_at: datetime | None
    planned_payback_at: datetime | None
    preferred_npv: Decimal | None
    lead_body: str | None = None
    went_live_at: datetime | None = None
    closed_at: datetime | None = None
    period_end: datetime | None = None
    """The end of the latest review period reported (None before any)."""
    annual_saving_realised: Decimal | None = None
    paid_back: bool | None = None
    preferred_npsv: Decimal | None = None
    """The preferred option's net present social value against carrying on alone (None if not appraised so)."""
    rag_last_quarter: str | None = None
    """The worse of the benefit and payback RAGs at the latest review recorded 91 days before ``as_of``."""
    time_scale: int = 1
    """Real seconds to each of the agreement's (more than 1 in compressed time: a demonstration)."""


class RiskLine(TypedDict):
    """One risk of an open agreement's register, with its owner's name (None if the owner is no partner)."""

    agreement_id: str
    title: str
    risk_id: str
    risk: str
    owner_body: str
    owner_name: str | None
    likelihood: int
    impact: int
    score: int
    mitigation: str | None


class LessonLine(TypedDict):
    """One lesson learned at a review, with its agreement's title and lead body."""

    recorded_at: datetime
    agreement_id: str
    title: str
    lead_body: str
    lead_body_name: str | None
    review_number: int
    body: str | None
    signatory: str | None
    what_worked: str | None
    what_did_not: str | None
    tags: list[str]


LAST_QUARTER = "91 days"
"""How far back "last quarter" looks, as a PostgreSQL interval."""


async def agreement_lines(pool: Pool, lead_body: str | None, as_of: datetime | None = None) -> list[AgreementLine]:
    """Each agreement in scope, by agreement id, with its latest review's figures and (when ``as_of`` is given)
    the worse of its benefit and payback RAGs a quarter before ``as_of``; one query."""
    rows = await pool.fetch(f"""
        WITH before AS (
            SELECT DISTINCT ON (agreement_id) agreement_id,
                   CASE WHEN 'red' IN (rag, forecast_rag) THEN 'red'
                        WHEN 'amber' IN (rag, forecast_rag) THEN 'amber' ELSE 'green' END AS rag
            FROM rm_savings WHERE recorded_at <= $2::timestamptz - interval '{LAST_QUARTER}'
            ORDER BY agreement_id, review_number DESC)
        SELECT a.agreement_id, a.title, a.lead_body_name, a.stage, a.expected_annual_saving,
               s.cumulative_planned, s.cumulative_saving, s.rag, s.forecast_rag, s.forecast_payback_at,
               s.planned_payback_at, o.net_present_value, a.lead_body, a.went_live_at, a.closed_at, s.period_end,
               s.annual_saving_realised, s.paid_back, o.net_present_social_value, b.rag, a.time_scale
        FROM rm_agreements a
        LEFT JOIN rm_latest_savings s USING (agreement_id)
        LEFT JOIN rm_business_case_options o ON o.agreement_id = a.agreement_id AND o.preferred
        LEFT JOIN before b ON b.agreement_id = a.agreement_id
        WHERE a.agreement_id IN ({_IN_SCOPE})
        ORDER BY a.agreement_id""", lead_body, as_of)
    return [AgreementLine(*row) for row in rows]


async def agreements_by_stage(pool: Pool, lead_body: str | None) -> dict[str, int]:
    """stage -> how many agreements in scope are at it (stages with none left out)."""
    return {r["stage"]: r["n"] for r in await pool.fetch(f"""
        SELECT stage, count(*) AS n FROM rm_agreements WHERE agreement_id IN ({_IN_SCOPE})
        GROUP BY stage ORDER BY stage""", lead_body)}


async def savings_over_time(pool: Pool, lead_body: str | None) -> list[tuple[datetime, Decimal, Decimal]]:
    """(period end, cumulative planned, cumulative realised) summed over the agreements in scope, at each period
    end any of them reviewed, in time order: each agreement counts its latest review up to that end.

    One pass: each review adds what it changed of its agreement's cumulative figures, and a running sum over
    the period ends adds those changes up (no query per period end)."""
    rows = await pool.fetch(f"""
        WITH changes AS (
            SELECT period_end,
                   cumulative_planned - coalesce(lag(cumulative_planned) OVER reviews, 0) AS planned,
                   cumulative_saving - coalesce(lag(cumulative_saving) OVER reviews, 0) AS realised
            FROM rm_savings WHERE agreement_id IN ({_IN_SCOPE})
            WINDOW reviews AS (PARTITION BY agreement_id ORDER BY review_number))
        SELECT period_end, sum(sum(planned)) OVER (ORDER BY period_end) AS planned,
               sum(sum(realised)) OVER (ORDER BY period_end) AS realised
        FROM changes GROUP BY period_end ORDER BY period_end""", lead_body)
    return [(r["period_end"], r["planned"], r["realised"]) for r in rows]


async def rag_by_stage(pool: Pool, lead_body: str | None) -> dict[str, dict[str, int]]:
    """stage -> {"amber": n, "red": n}: how many agreements in scope were amber or red in each stage (at worst:
    an agreement both amber and red in a stage counts once, as red), from alerts and benefit reviews."""
    rag: dict[str, dict[str, int]] = {}
    for r in await pool.fetch(f"""
            SELECT stage, rag, count(*) AS n FROM (
                SELECT agreement_id, stage, CASE WHEN bool_or(rag = 'red') THEN 'red' ELSE 'amber' END AS rag
                FROM rm_rag_events WHERE rag IN ('amber', 'red') AND agreement_id IN ({_IN_SCOPE})
                GROUP BY agreement_id, stage) worst
            GROUP BY stage, rag""", lead_body):
        rag.setdefault(r["stage"], {"amber": 0, "red": 0})[r["rag"]] = r["n"]
    return rag


async def days_in_stage(pool: Pool, lead_body: str | None) -> dict[str, float]:
    """stage -> mean days of the completed visits to it."""
    return {r["stage"]: float(r["days"]) for r in await pool.fetch(f"""
        SELECT stage, avg(extract(epoch FROM time_in_stage) / 86400) AS days FROM rm_stage_visits
        WHERE left_at IS NOT NULL AND agreement_id IN ({_IN_SCOPE}) GROUP BY stage""", lead_body)}


async def sign_off_cycles(pool: Pool, lead_body: str | None) -> list[tuple[str, float, str]]:
    """(agreement id, days, the stage it went to) for each concluded sign-off round, in submission order."""
    return [(r["agreement_id"], float(r["days"]), r["outcome_stage"]) for r in await pool.fetch(f"""
        SELECT agreement_id, extract(epoch FROM cycle_time) / 86400 AS days, outcome_stage
        FROM rm_sign_off_cycles WHERE concluded_at IS NOT NULL AND agreement_id IN ({_IN_SCOPE})
        ORDER BY submitted_at""", lead_body)]


async def top_risks(pool: Pool, lead_body: str | None, limit: int, min_score: int = 0) -> list[RiskLine]:
    """The risks scored ``min_score`` or more of the open agreements in scope, highest first, at most ``limit``."""
    return [cast(RiskLine, dict(r)) for r in await pool.fetch(f"""
        SELECT r.agreement_id, a.title, r.risk_id, r.risk, r.owner_body, p.body_name AS owner_name, r.likelihood,
               r.impact, r.score, r.mitigation
        FROM rm_risks r JOIN rm_agreements a USING (agreement_id)
        LEFT JOIN rm_agreement_partners p ON p.agreement_id = r.agreement_id AND p.body = r.owner_body
        WHERE a.stage <> 'closed' AND r.score >= $3 AND r.agreement_id IN ({_IN_SCOPE})
        ORDER BY r.score DESC, r.agreement_id, r.risk_id LIMIT $2""", lead_body, limit, min_score)]


async def risks_at_least(pool: Pool, lead_body: str | None, min_score: int) -> int:
    """How many risks of the open agreements in scope score ``min_score`` or more."""
    return int(await pool.fetchval(f"""
        SELECT count(*) FROM rm_risks r JOIN rm_agreements a USING (agreement_id)
        WHERE a.stage <> 'closed' AND r.score >= $2 AND r.agreement_id IN ({_IN_SCOPE})""", lead_body, min_score))


async def lessons(pool: Pool, lead_body: str | None, limit: int, *, tag: str | None = None) -> list[LessonLine]:
    """The ``limit`` most recent lessons of the agreements in scope (only those tagged ``tag``, unless None),
    newest first."""
    return [cast(LessonLine, dict(r)) for r in await pool.fetch(f"""
        SELECT l.recorded_at, l.agreement_id, a.title, a.lead_body, a.lead_body_name, l.review_number, l.body,
               l.signatory, l.what_worked, l.what_did_not, l.tags
        FROM rm_lessons l JOIN rm_agreements a USING (agreement_id)
        WHERE ($3::text IS NULL OR $3 = ANY(l.tags)) AND l.agreement_id IN ({_IN_SCOPE})
        ORDER BY l.recorded_at DESC, l.agreement_id, l.seq DESC
        LIMIT $2""", lead_body, limit, tag)]
