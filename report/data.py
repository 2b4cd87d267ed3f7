"""What the board's report shows, read from the read model (``activities/migrations/0003_read_model.sql``).

Every figure comes from the ledger's views; nothing is computed here but sums and averages of them.
Amounts are pounds, durations days, times UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

_IN_SCOPE = "SELECT agreement_id FROM rm_agreements WHERE $1::text IS NULL OR lead_body = $1"


@dataclass(frozen=True)
class AgreementLine:
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


@dataclass(frozen=True)
class BoardReport:
    """The report's content, for the whole portfolio (``lead_body`` None) or one lead body's agreements."""

    lead_body: str | None
    lead_body_name: str | None
    generated_at: datetime
    agreements: list[AgreementLine]
    by_stage: dict[str, int]
    savings_over_time: list[tuple[datetime, Decimal, Decimal]] = field(default_factory=list)
    """(period end, cumulative planned, cumulative realised) summed over the agreements, in time order."""
    rag_by_stage: dict[str, dict[str, int]] = field(default_factory=dict)
    """stage -> {"amber": n, "red": n}: RAG events (alert levels and benefit RAGs) raised in each stage."""
    days_in_stage: dict[str, float] = field(default_factory=dict)
    """stage -> mean days of the completed visits to it."""
    sign_off_cycles: list[tuple[str, float, str]] = field(default_factory=list)
    """(agreement id, days, where it went) for each concluded sign-off round."""
    top_risks: list[dict[str, Any]] = field(default_factory=list)
    recent_lessons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def planned_total(self) -> Decimal:
        return sum((a.cumulative_planned or Decimal(0) for a in self.agreements), Decimal(0))

    @property
    def realised_total(self) -> Decimal:
        return sum((a.cumulative_saving or Decimal(0) for a in self.agreements), Decimal(0))


async def read(pool: asyncpg.Pool, generated_at: datetime, lead_body: str | None = None,
               risks: int = 10, lessons: int = 10) -> BoardReport:
    """The report for ``lead_body``'s agreements (all when None): the ``risks`` highest-scored risks and the
    ``lessons`` most recent lessons. Raises LookupError if a lead body is named that leads no agreement."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"""
            SELECT a.agreement_id, a.title, a.lead_body_name, a.stage, a.expected_annual_saving,
                   s.cumulative_planned, s.cumulative_saving, s.rag, s.forecast_rag, s.forecast_payback_at,
                   s.planned_payback_at, o.net_present_value
            FROM rm_agreements a
            LEFT JOIN (SELECT DISTINCT ON (agreement_id) * FROM rm_savings
                       ORDER BY agreement_id, review_number DESC) s USING (agreement_id)
            LEFT JOIN rm_business_case_options o ON o.agreement_id = a.agreement_id AND o.preferred
            WHERE a.agreement_id IN ({_IN_SCOPE})
            ORDER BY a.agreement_id""", lead_body)
        if lead_body is not None and not rows:
            raise LookupError(f"{lead_body} leads no agreement in the ledger")
        agreements = [AgreementLine(*row) for row in rows]
        by_stage = {r["stage"]: r["n"] for r in await conn.fetch(f"""
            SELECT stage, count(*) AS n FROM rm_agreements WHERE agreement_id IN ({_IN_SCOPE})
            GROUP BY stage ORDER BY stage""", lead_body)}
        over_time = await conn.fetch(f"""
            WITH points AS (SELECT DISTINCT period_end FROM rm_savings WHERE agreement_id IN ({_IN_SCOPE}))
            SELECT p.period_end,
                   coalesce(sum(latest.cumulative_planned), 0) AS planned,
                   coalesce(sum(latest.cumulative_saving), 0) AS realised
            FROM points p
            CROSS JOIN LATERAL (
                SELECT DISTINCT ON (agreement_id) cumulative_planned, cumulative_saving FROM rm_savings s
                WHERE s.period_end <= p.period_end AND s.agreement_id IN ({_IN_SCOPE})
                ORDER BY agreement_id, review_number DESC) latest
            GROUP BY p.period_end ORDER BY p.period_end""", lead_body)
        rag: dict[str, dict[str, int]] = {}
        for r in await conn.fetch(f"""
                SELECT stage, rag, count(*) AS n FROM rm_rag_events
                WHERE rag IN ('amber', 'red') AND agreement_id IN ({_IN_SCOPE}) GROUP BY stage, rag""", lead_body):
            rag.setdefault(r["stage"], {"amber": 0, "red": 0})[r["rag"]] = r["n"]
        days = {r["stage"]: float(r["days"]) for r in await conn.fetch(f"""
            SELECT stage, avg(extract(epoch FROM time_in_stage) / 86400) AS days FROM rm_stage_visits
            WHERE left_at IS NOT NULL AND agreement_id IN ({_IN_SCOPE}) GROUP BY stage""", lead_body)}
        cycles = [(r["agreement_id"], float(r["days"]), r["outcome_stage"]) for r in await conn.fetch(f"""
            SELECT agreement_id, extract(epoch FROM cycle_time) / 86400 AS days, outcome_stage
            FROM rm_sign_off_cycles WHERE concluded_at IS NOT NULL AND agreement_id IN ({_IN_SCOPE})
            ORDER BY submitted_at""", lead_body)]
        top_risks = [dict(r) for r in await conn.fetch(f"""
            SELECT r.agreement_id, a.title, r.risk_id, r.risk, r.owner_body, p.body_name AS owner_name, r.likelihood,
                   r.impact, r.score, r.mitigation
            FROM rm_risks r JOIN rm_agreements a USING (agreement_id)
            LEFT JOIN rm_agreement_partners p ON p.agreement_id = r.agreement_id AND p.body = r.owner_body
            WHERE a.stage <> 'closed' AND r.agreement_id IN ({_IN_SCOPE})
            ORDER BY r.score DESC, r.agreement_id, r.risk_id LIMIT $2""", lead_body, risks)]
        recent = [dict(r) for r in await conn.fetch(f"""
            SELECT l.agreement_id, a.title, l.review_number, l.what_worked, l.what_did_not, l.tags, l.recorded_at
            FROM rm_lessons l JOIN rm_agreements a USING (agreement_id)
            WHERE l.agreement_id IN ({_IN_SCOPE})
            ORDER BY l.recorded_at DESC, l.agreement_id, l.seq DESC LIMIT $2""", lead_body, lessons)]
    name = agreements[0].lead_body_name if lead_body is not None else None
    return BoardReport(
        lead_body=lead_body, lead_body_name=name, generated_at=generated_at, agreements=agreements,
        by_stage=by_stage, savings_over_time=[(r["period_end"], r["planned"], r["realised"]) for r in over_time],
        rag_by_stage=rag, days_in_stage=days, sign_off_cycles=cycles, top_risks=top_risks, recent_lessons=recent,
    )
