"""What the board's report shows, read from the read model (``store.read_model``).

Every figure comes from the ledger's views; nothing is computed here but sums of them.
Amounts are pounds, durations days, times UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from store import read_model
from store.database import Pool
from store.read_model import AgreementLine, LessonLine, RiskLine


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
    top_risks: list[RiskLine] = field(default_factory=list)
    recent_lessons: list[LessonLine] = field(default_factory=list)

    @property
    def planned_total(self) -> Decimal:
        """The agreements' cumulative planned savings at their latest reviews, summed (pounds)."""
        return sum((a.cumulative_planned or Decimal(0) for a in self.agreements), Decimal(0))

    @property
    def realised_total(self) -> Decimal:
        """The agreements' cumulative realised savings at their latest reviews, summed (pounds)."""
        return sum((a.cumulative_saving or Decimal(0) for a in self.agreements), Decimal(0))


async def read(pool: Pool, generated_at: datetime, lead_body: str | None = None,
               risks: int = 10, lessons: int = 10) -> BoardReport:
    """The report for ``lead_body``'s agreements (all when None): the ``risks`` highest-scored risks and the
    ``lessons`` most recent lessons. Raises LookupError if a lead body is named that leads no agreement."""
    agreements = await read_model.agreement_lines(pool, lead_body)
    if lead_body is not None and not agreements:
        raise LookupError(f"{lead_body} leads no agreement in the ledger")
    return BoardReport(
        lead_body=lead_body,
        lead_body_name=agreements[0].lead_body_name if lead_body is not None else None,
        generated_at=generated_at,
        agreements=agreements,
        by_stage=await read_model.agreements_by_stage(pool, lead_body),
        savings_over_time=await read_model.savings_over_time(pool, lead_body),
        rag_by_stage=await read_model.rag_by_stage(pool, lead_body),
        days_in_stage=await read_model.days_in_stage(pool, lead_body),
        sign_off_cycles=await read_model.sign_off_cycles(pool, lead_body),
        top_risks=await read_model.top_risks(pool, lead_body, risks),
        recent_lessons=await read_model.lessons(pool, lead_body, lessons),
    )
