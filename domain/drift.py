"""Drift: management by exception.

A condition (a stage running late, a milestone past due, a KPI reading off target)
reaches levels over time: amber, red, then escalation 1, 2, ... Each level of each
condition is alerted exactly once; ``due_alerts`` lists the ones not yet raised and
``next_check`` says when the next level will be reached, so the workflow knows how
long it may sleep.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import takewhile

from dateutil.relativedelta import relativedelta

from domain.agreement import Agreement
from domain.model import Milestone, Rag, Stage, ValueObject


class AlertKind(StrEnum):
    STAGE_DRIFT = "stage_drift"
    MILESTONE_OVERDUE = "milestone_overdue"
    KPI_RED = "kpi_red"
    PAYBACK_FORECAST = "payback_forecast"
    """The payback date forecast from the benefits realised falls later than the business case's by more than
    a tolerance (amber, red), or no payback is in sight (red): raised when the figures show it, before the
    planned payback date is missed."""


class Waiting(ValueObject):
    """Someone the agreement is waiting on, and for what."""

    body: str
    body_name: str
    for_what: str


class Alert(ValueObject):
    agreement_id: str
    title: str
    kind: AlertKind
    condition: str
    level: str
    stage: Stage
    subject: str
    off_by: str
    waiting_on: list[Waiting]
    reached_at: datetime
    message: str
    lead_body: str | None = None
    """The lead body's code; None on alerts raised before it was recorded."""
    partner_bodies: list[str] = []
    """Every partner's code, the lead's included."""
    deadline: datetime | None = None
    """When the late thing was (or is) due: the stage's deadline, or the milestone's end of day (UTC)."""

    @property
    def key(self) -> str:
        return f"{self.condition}|{self.level}"


def humanise(start: datetime, end: datetime) -> str:
    """The time from ``start`` to ``end`` as an officer would say it: its largest unit and the next one down,
    if any: '20 seconds', '3 days 4 hours', '30 days', '2 years 3 months'. Spans of 60 days or more count
    calendar years, months and days (python-dateutil's ``relativedelta``), shorter ones days, hours, minutes
    and seconds. Under a second (or a negative span) reads 'less than a second'."""
    span = end - start
    if span >= timedelta(days=60):
        calendar = relativedelta(end, start)
        amounts = [("year", calendar.years), ("month", calendar.months), ("day", calendar.days)]
    else:
        seconds = int(span.total_seconds()) % 86400
        amounts = [("day", span.days), ("hour", seconds // 3600), ("minute", seconds % 3600 // 60),
                   ("second", seconds % 60)]
    for index, (unit, amount) in enumerate(amounts):
        if amount > 0:
            parts = [(u, n) for u, n in [(unit, amount), *amounts[index + 1:index + 2]] if n > 0]
            return " ".join(f"{n} {u}{'s' * (n != 1)}" for u, n in parts)
    return "less than a second"


def _overdue(due: datetime, now: datetime) -> str:
    return "is overdue" + (f" by {humanise(due, now)}" if now - due >= timedelta(seconds=1) else "")


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def waiting_on(agreement: Agreement, now: datetime) -> list[Waiting]:
    """Who the agreement waits on: for its stage, then for the pending variation's signatures."""
    waits = _waiting_for_stage(agreement, now)
    if agreement.variation is not None:
        number = agreement.variation.number
        waits += [Waiting(body=code, body_name=name, for_what=f"variation {number} to be signed")
                  for code, name in agreement.variation_awaits]
    return waits


def _waiting_for_stage(agreement: Agreement, now: datetime) -> list[Waiting]:
    needs = _STAGE_NEEDS.get(agreement.stage)
    if needs is None:
        return []
    proposal = agreement.proposal
    return [Waiting(body=body, body_name=proposal.body_name(body), for_what=for_what)
            for body, for_what in needs(agreement, now)]


def _proposal_needs(agreement: Agreement, now: datetime) -> list[tuple[str, str]]:
    return [(agreement.proposal.lead_body, "the proposal to be submitted")]


def _objective_setting_needs(agreement: Agreement, now: datetime) -> list[tuple[str, str]]:
    need = "the plan to be submitted for sign-off" if agreement.plan else "objectives and a plan"
    return [(agreement.proposal.lead_body, need)]


def _sign_off_needs(agreement: Agreement, now: datetime) -> list[tuple[str, str]]:
    return [(p.code, "sign-off") for p in agreement.proposal.partners if p.code not in agreement.sign_offs]


def _implementation_needs(agreement: Agreement, now: datetime) -> list[tuple[str, str]]:
    """Each owner of open milestones, once, with the ids it owes in plan order."""
    assert agreement.plan is not None
    owners: dict[str, list[str]] = {}
    for milestone in agreement.plan.milestones:
        if milestone.id in agreement.open_milestones:
            owners.setdefault(milestone.owner_body, []).append(milestone.id)
    return [(body, f"milestones {', '.join(ids)}") for body, ids in owners.items()]


def _review_needs(agreement: Agreement, now: datetime) -> list[tuple[str, str]]:
    """Nobody before the review period's clock starts; then the lead, for missing readings or the decision."""
    assert agreement.plan is not None
    if now < agreement.clock_started_at:
        return []
    missing = [k.id for k in agreement.plan.kpis if k.id not in agreement.readings]
    need = f"readings for {', '.join(missing)}" if missing else "the review decision"
    return [(agreement.proposal.lead_body, f"review {agreement.review_number}: {need}")]


_STAGE_NEEDS: dict[Stage, Callable[[Agreement, datetime], list[tuple[str, str]]]] = {
    Stage.PROPOSAL: _proposal_needs,
    Stage.OBJECTIVE_SETTING: _objective_setting_needs,
    Stage.SIGN_OFF: _sign_off_needs,
    Stage.IMPLEMENTATION: _implementation_needs,
    Stage.REVIEW: _review_needs,
}
"""What each stage waits for, as (body code, for what) pairs; a stage not listed waits on nobody."""


def _stage_levels(agreement: Agreement, now: datetime) -> list[tuple[str, datetime]]:
    """Every level of the current stage's drift, with the moment it is (or will be) reached."""
    deadline = agreement.deadline
    if deadline is None:
        return []
    start = agreement.clock_started_at
    amber_at = start + (deadline - start) * float(agreement.settings.amber_share)
    levels = [("amber", amber_at), ("red", deadline)]
    interval: timedelta = agreement.settings.escalation_interval
    reached_escalations = max(0, (now - deadline) // interval) if now >= deadline else 0
    for number in range(1, reached_escalations + 2):
        levels.append((f"escalation {number}", deadline + number * interval))
    return levels


def milestone_overdue_at(due: date) -> datetime:
    """A milestone is due by the end of its due date (UTC)."""
    return datetime.combine(due, time(0), UTC) + timedelta(days=1)


def _stage_condition(agreement: Agreement) -> str:
    return f"stage:{agreement.stage.value}:{agreement.stage_visit}"


def _milestone_condition(milestone: Milestone) -> str:
    return f"milestone:{milestone.id}:{milestone.due.isoformat()}"


PAYBACK_CONDITION = "payback_forecast"
"""One condition for the agreement's whole life: each level of the payback forecast alerts once."""


def _kpi_condition(kpi_id: str, review_number: int) -> str:
    return f"kpi:{kpi_id}:review{review_number}"


def conditions(agreement: Agreement, now: datetime) -> list[Alert]:
    """Every alert whose level has been reached now, lowest level first: the stage's drift, overdue
    milestones, red KPI readings, then the payback forecast."""
    waiting = _waiting_for_stage(agreement, now)
    return [*_stage_alerts(agreement, now, waiting), *_milestone_alerts(agreement, now, waiting),
            *_kpi_alerts(agreement, waiting), *_payback_alerts(agreement, waiting)]


def _alert(agreement: Agreement, kind: AlertKind, *, condition: str, level: str, subject: str, off_by: str,
           at: datetime, waiting: list[Waiting], detail: str, due: datetime | None) -> Alert:
    title = agreement.proposal.title
    stage = agreement.stage
    message = f"{title} ({agreement.agreement_id}) is {level} in {stage.label}: {subject} {off_by}. {detail}"
    return Alert(agreement_id=agreement.agreement_id, title=title, kind=kind, condition=condition, level=level,
                 stage=stage, subject=subject, off_by=off_by, waiting_on=waiting, reached_at=at, message=message,
                 lead_body=agreement.proposal.lead_body,
                 partner_bodies=[p.code for p in agreement.proposal.partners], deadline=due)


def _who(waiting: list[Waiting]) -> str:
    return "; ".join(f"{w.body_name} ({w.for_what})" for w in waiting) or "nobody"


def _stage_alerts(agreement: Agreement, now: datetime, waiting: list[Waiting]) -> list[Alert]:
    deadline = agreement.deadline
    if deadline is None:
        return []
    subject = f"the {agreement.stage.label} stage"
    if agreement.stage is Stage.REVIEW:
        subject += f" ({agreement.review_label(agreement.review_number)})"
    reached = takewhile(lambda level_at: level_at[1] <= now, _stage_levels(agreement, now))
    return [_alert(agreement, AlertKind.STAGE_DRIFT, condition=_stage_condition(agreement), level=level,
                   subject=subject, off_by=_stage_off_by(agreement, level, deadline, now), at=at, waiting=waiting,
                   detail=f"Deadline {_when(deadline)}. Waiting on: {_who(waiting)}.", due=deadline)
            for level, at in reached]


def _stage_off_by(agreement: Agreement, level: str, deadline: datetime, now: datetime) -> str:
    if level != "amber":
        return _overdue(deadline, now)
    return (f"has used {int(agreement.settings.amber_share * 100)}% of its planned "
            f"{humanise(agreement.clock_started_at, deadline)} without completing")


def _milestone_alerts(agreement: Agreement, now: datetime, waiting: list[Waiting]) -> list[Alert]:
    if agreement.stage is not Stage.IMPLEMENTATION:
        return []
    assert agreement.plan is not None
    return [_milestone_alert(agreement, milestone, now, waiting) for milestone in agreement.plan.milestones
            if milestone.id in agreement.open_milestones and milestone_overdue_at(milestone.due) <= now]


def _milestone_alert(agreement: Agreement, milestone: Milestone, now: datetime, waiting: list[Waiting]) -> Alert:
    overdue_at = milestone_overdue_at(milestone.due)
    progress = agreement.milestone_progress(milestone.id)
    return _alert(
        agreement, AlertKind.MILESTONE_OVERDUE, condition=_milestone_condition(milestone), level="red",
        subject=f"milestone {milestone.id} '{milestone.title}'",
        off_by=f"{_overdue(overdue_at, now)} (due {milestone.due}, {progress.percent_complete}% complete)",
        at=overdue_at, waiting=[w for w in waiting if w.body == milestone.owner_body],
        detail=f"Owner: {agreement.proposal.body_name(milestone.owner_body)}.", due=overdue_at,
    )


def _kpi_alerts(agreement: Agreement, waiting: list[Waiting]) -> list[Alert]:
    if agreement.stage is not Stage.REVIEW:
        return []
    plan = agreement.plan
    assert plan is not None
    alerts: list[Alert] = []
    for reading in agreement.readings.values():
        kpi = plan.kpi(reading.kpi_id)
        if kpi is None or reading.rag is not Rag.RED:
            continue
        alerts.append(_alert(
            agreement, AlertKind.KPI_RED, condition=_kpi_condition(kpi.id, agreement.review_number), level="red",
            subject=f"KPI {kpi.id} '{kpi.name}'",
            off_by=f"reads {reading.value} {kpi.unit}, {kpi.shortfall(reading.value)} {kpi.off_target_side} its "
                   f"target {kpi.target} (red tolerance {kpi.red_tolerance})",
            at=reading.recorded_at, waiting=waiting,
            detail=f"Review {agreement.review_number}; waiting on: {_who(waiting)}.", due=agreement.deadline,
        ))
    return alerts


def _payback_alerts(agreement: Agreement, waiting: list[Waiting]) -> list[Alert]:
    benefits = agreement.benefits
    if benefits is None or benefits.forecast_rag is Rag.GREEN:
        return []
    planned = benefits.planned_payback_at
    assert planned is not None
    if benefits.forecast_payback_at is None:
        off_by = (f"shows no payback: the annual saving realised is £{benefits.annual_saving_realised} "
                  f"(the business case expects £{benefits.annual_saving_expected})")
    else:
        assert benefits.payback_slip is not None
        off_by = (f"is {_when(benefits.forecast_payback_at)}, {humanise(planned, benefits.forecast_payback_at)} "
                  f"later than the business case's {_when(planned)}")
    return [_alert(
        agreement, AlertKind.PAYBACK_FORECAST, condition=PAYBACK_CONDITION, level=benefits.forecast_rag.value,
        subject="the payback forecast", off_by=off_by, at=benefits.recorded_at, waiting=waiting,
        detail=f"Cumulative saving £{benefits.cumulative_saving} against £{benefits.cumulative_planned} planned, "
               f"after {agreement.review_label(benefits.review_number)}.", due=planned,
    )]


def due_alerts(agreement: Agreement, now: datetime, reached: list[Alert] | None = None) -> list[Alert]:
    """Alerts reached but not yet raised; ``reached`` is ``conditions(agreement, now)`` where already computed."""
    raised = set(agreement.raised_alerts)
    return [a for a in (conditions(agreement, now) if reached is None else reached) if a.key not in raised]


def alerts_still_relevant(agreement: Agreement) -> list[str]:
    """The raised-alert keys that could still matter; keys of past stages and reviews can be forgotten."""
    current = {_stage_condition(agreement), PAYBACK_CONDITION}
    if agreement.plan is not None:
        current |= {_milestone_condition(m) for m in agreement.plan.milestones}
        current |= {_kpi_condition(k.id, agreement.review_number) for k in agreement.plan.kpis}
    return [key for key in agreement.raised_alerts if key.partition("|")[0] in current]


def open_alerts(agreement: Agreement, now: datetime, reached: list[Alert] | None = None) -> list[Alert]:
    """The highest level reached by each condition that still holds; ``reached`` is ``conditions(agreement,
    now)`` where already computed."""
    highest: dict[str, Alert] = {}
    for alert in conditions(agreement, now) if reached is None else reached:
        highest[alert.condition] = alert
    return list(highest.values())


def next_check(agreement: Agreement, now: datetime) -> datetime | None:
    """The next moment a drift level will be reached, or (since never-skip-reviews) a review period ends."""
    moments = [at for _, at in _stage_levels(agreement, now) if at > now]
    if agreement.reviews_never_skipped and (period_end := agreement.next_period_end(now)) is not None:
        moments.append(period_end)
    if agreement.stage is Stage.IMPLEMENTATION:
        assert agreement.plan is not None
        moments += [
            at
            for m in agreement.plan.milestones
            if m.id in agreement.open_milestones and (at := milestone_overdue_at(m.due)) > now
        ]
    return min(moments, default=None)


def stage_rag(agreement: Agreement, now: datetime) -> Rag:
    levels = [level for level, at in _stage_levels(agreement, now) if at <= now]
    if not levels:
        return Rag.GREEN
    return Rag.AMBER if levels == ["amber"] else Rag.RED


def overall_rag(agreement: Agreement, now: datetime, reached: list[Alert] | None = None) -> Rag:
    """The worst of the stage's drift, overdue milestones and the current KPI readings; ``reached`` is
    ``conditions(agreement, now)`` where already computed."""
    rags = [stage_rag(agreement, now)]
    alerts = conditions(agreement, now) if reached is None else reached
    rags += [Rag.RED for a in alerts if a.kind is AlertKind.MILESTONE_OVERDUE]
    if agreement.stage is Stage.REVIEW:
        rags += [reading.rag for reading in agreement.readings.values()]
    if agreement.benefits is not None and agreement.stage is not Stage.CLOSED:
        rags += [agreement.benefits.rag, agreement.benefits.forecast_rag]
    return Rag.worst(*rags)
