"""What the board's report shows, read from the read model (``store.read_model``).

Every figure comes from the ledger's views; nothing is computed here but sums of them.
Amounts are pounds, durations days, times UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from domain.business_case import pro_rata
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
    """The risks of open agreements scored ``risk_threshold`` or more, highest first (at most the report's limit)."""
    recent_lessons: list[LessonLine] = field(default_factory=list)
    risk_threshold: int = 0
    risks_at_threshold: int = 0
    """How many risks of open agreements score ``risk_threshold`` or more (``top_risks`` may show fewer)."""

    @property
    def planned_total(self) -> Decimal:
        """The agreements' cumulative planned savings at their latest reviews, summed (pounds)."""
        return sum((a.cumulative_planned or Decimal(0) for a in self.agreements), Decimal(0))

    @property
    def realised_total(self) -> Decimal:
        """The agreements' cumulative realised savings at their latest reviews, summed (pounds)."""
        return sum((a.cumulative_saving or Decimal(0) for a in self.agreements), Decimal(0))

    @property
    def planned_to_date_total(self) -> Decimal:
        """Every live or once-live agreement's savings planned to the report's date, summed (pounds): see
        ``planned_to_date``. An agreement that has not reported counts its plan all the same."""
        return sum((planned_to_date(a, self.generated_at) for a in self.agreements), Decimal(0))

    @property
    def time_scale(self) -> int:
        """The most compressed agreement's time scale (1 when every agreement runs in real time)."""
        return max((a.time_scale for a in self.agreements), default=1)

    def rag_counts(self, *, last_quarter: bool = False) -> dict[str, int]:
        """{"red": n, "amber": n}: agreements whose worse of benefit and payback RAG is each, now (their latest
        review) or a quarter ago (their latest review 91 days before the report's date)."""
        rags = [a.rag_last_quarter if last_quarter else worst_rag(a) for a in self.agreements]
        return {rag: rags.count(rag) for rag in ("red", "amber")}

    @property
    def exceptions(self) -> list[Exception_]:
        """Every agreement needing the board's attention, red first, then amber, then unreported, by id."""
        found = [e for a in self.agreements if (e := exception(a, self.generated_at)) is not None]
        order = {"red": 0, "amber": 1, "unreported": 2}
        return sorted(found, key=lambda e: (order[e.level], e.agreement_id))


@dataclass(frozen=True)
class Exception_:
    """One line of the executive summary: an agreement, what is wrong and who owns it (its lead body)."""

    agreement_id: str
    title: str
    level: str
    """"red", "amber" or "unreported"."""
    what: str
    owner: str


def worst_rag(line: AgreementLine) -> str | None:
    """The worse of an agreement's benefit and payback RAGs at its latest review (None before any)."""
    rags = {line.benefit_rag, line.forecast_rag}
    return next((rag for rag in ("red", "amber", "green") if rag in rags), None)


def planned_to_date(line: AgreementLine, as_of: datetime) -> Decimal:
    """The savings an agreement's business case planned from going live to ``as_of`` (or its closing, if
    earlier), to the penny: its latest review's cumulative plan plus the expected annual saving pro rata since
    that review's period ended (since going live, if it has not reported), at the agreement's time scale.
    Nothing before it went live."""
    if line.went_live_at is None:
        return Decimal(0)
    end = min(as_of, line.closed_at) if line.closed_at else as_of
    since = line.period_end or line.went_live_at
    extra = pro_rata(line.expected_annual_saving, since, end, line.time_scale) if end > since else Decimal(0)
    return (line.cumulative_planned or Decimal(0)) + extra


UNREPORTED_AFTER_DAYS = 120
"""A live agreement with no benefits reported this many days after going live is an exception."""


def exception(line: AgreementLine, as_of: datetime) -> Exception_ | None:
    """What is wrong with an agreement, in one line, or None if nothing is."""
    owner = line.lead_body_name or line.lead_body or ""
    rag = worst_rag(line)
    if rag in ("red", "amber"):
        problems = []
        if line.benefit_rag in ("red", "amber") and line.annual_saving_realised is not None:
            short = line.expected_annual_saving - line.annual_saving_realised
            problems.append(f"saving {money(short)} a year short of plan ({line.benefit_rag})")
        if line.forecast_rag in ("red", "amber"):
            if line.forecast_payback_at is None:
                problems.append(f"no payback in sight ({line.forecast_rag})")
            elif line.planned_payback_at is not None:
                late = ((line.forecast_payback_at - line.planned_payback_at) * line.time_scale).days
                problems.append(f"payback forecast {late:,} days after plan ({line.forecast_rag})")
        return Exception_(line.agreement_id, line.title, rag, "; ".join(problems), owner)
    if (line.cumulative_saving is None and line.went_live_at is not None and line.closed_at is None
            and (as_of - line.went_live_at).days >= UNREPORTED_AFTER_DAYS):
        return Exception_(line.agreement_id, line.title, "unreported",
                          f"live since {line.went_live_at:%Y-%m-%d}, no benefits reported", owner)
    return None


def money(amount: Decimal | None) -> str:
    """Pounds as a finance officer writes them: £1,234.56, −£1,234.56 (a minus sign before the pound), "-" for
    none."""
    if amount is None:
        return "-"
    return f"−£{-amount:,.2f}" if amount < 0 else f"£{amount:,.2f}"


RISK_THRESHOLD = 15
"""The report lists every open risk scored this or more (likelihood x impact, of 25)."""


async def read(pool: Pool, generated_at: datetime, lead_body: str | None = None,
               risks: int = 50, lessons: int = 10, risk_threshold: int = RISK_THRESHOLD) -> BoardReport:
    """The report for ``lead_body``'s agreements (all when None): the open risks scored ``risk_threshold`` or
    more (at most ``risks`` of them, the rest counted) and the ``lessons`` most recent lessons. Raises
    LookupError if a lead body is named that leads no agreement. One query per section."""
    agreements = await read_model.agreement_lines(pool, lead_body, generated_at)
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
        top_risks=await read_model.top_risks(pool, lead_body, risks, risk_threshold),
        recent_lessons=await read_model.lessons(pool, lead_body, lessons),
        risk_threshold=risk_threshold,
        risks_at_threshold=await read_model.risks_at_least(pool, lead_body, risk_threshold),
    )
