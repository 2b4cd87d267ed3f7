"""What an agreement is made of: partners, the proposal, objectives, the plan and its settings.

These are value objects: frozen, validated on construction, and serialised to JSON
for Temporal payloads and the decision ledger.
"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator


def _no_control_characters(text: str) -> str:
    """Refuse control characters (bar newline and tab) and lone surrogates, which no database can store."""
    if any(unicodedata.category(char) in ("Cc", "Cs") and char not in "\n\t" for char in text):
        raise ValueError("must not contain control characters")
    return text


def _to_pence(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))


Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
]
"""An identifier such as a body's GSS code (E07000199) or a milestone id (m1)."""

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control_characters),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000), AfterValidator(_no_control_characters)]
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=4000),
    AfterValidator(_no_control_characters),
]
Money = Annotated[
    Decimal, Field(ge=0, max_digits=15, decimal_places=2, allow_inf_nan=False), AfterValidator(_to_pence)
]
"""Pounds, exact to the penny, never negative."""
SignedMoney = Annotated[
    Decimal, Field(max_digits=15, decimal_places=2, allow_inf_nan=False), AfterValidator(_to_pence)
]
"""Pounds, exact to the penny, positive or negative."""
Measure = Annotated[Decimal, Field(max_digits=18, decimal_places=4, allow_inf_nan=False)]
Tolerance = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False)]
Duration = Annotated[timedelta, Field(gt=timedelta(0), le=timedelta(days=3660))]


class ValueObject(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(StrEnum):
    PROPOSAL = "proposal"
    OBJECTIVE_SETTING = "objective_setting"
    SIGN_OFF = "sign_off"
    IMPLEMENTATION = "implementation"
    REVIEW = "review"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class ServiceCategory(StrEnum):
    BACK_OFFICE = "back_office"
    FRONT_LINE = "front_line"
    COMBINED = "combined"


class Signatory(ValueObject):
    """A named officer authorised to sign for their body."""

    name: Name
    role: Name


class PartnerBody(ValueObject):
    code: Code = Field(description="The body's identifier, such as its GSS code.")
    name: Name
    signatories: list[Signatory] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _signatories_are_distinct(self) -> PartnerBody:
        names = [s.name.casefold() for s in self.signatories]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.name} names the same signatory twice")
        return self

    def signatory(self, name: str) -> Signatory | None:
        return find_signatory(self.signatories, name)


def same_person(name: str, other: str) -> bool:
    """Whether two names are the same person's, compared without regard to case."""
    return name.strip().casefold() == other.strip().casefold()


def find_signatory(signatories: list[Signatory], name: str) -> Signatory | None:
    return next((s for s in signatories if same_person(s.name, name)), None)


class Proposal(ValueObject):
    """The case for sharing: who shares what, at what cost, for what saving."""

    title: Name
    service_name: Name
    service_category: ServiceCategory
    lead_body: Code
    partners: list[PartnerBody] = Field(min_length=2, max_length=50)
    baseline_annual_cost: Money
    one_off_cost: Money
    expected_annual_saving: Money

    @model_validator(mode="after")
    def _partners_make_sense(self) -> Proposal:
        codes = [p.code for p in self.partners]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"each partner body must appear once; repeated: {', '.join(duplicates)}")
        if self.lead_body not in codes:
            raise ValueError(f"the lead body {self.lead_body} must be one of the partners ({', '.join(codes)})")
        if self.expected_annual_saving > self.baseline_annual_cost:
            raise ValueError(
                f"the expected annual saving (£{self.expected_annual_saving}) cannot exceed "
                f"the baseline annual cost (£{self.baseline_annual_cost})"
            )
        return self

    @property
    def payback_years(self) -> Decimal | None:
        """Years for the saving to repay the one-off cost; None when nothing is saved."""
        if self.expected_annual_saving == 0:
            return None
        return (self.one_off_cost / self.expected_annual_saving).quantize(Decimal("0.01"), ROUND_HALF_UP)

    def partner(self, code: str) -> PartnerBody | None:
        return next((p for p in self.partners if p.code == code), None)

    def body_name(self, code: str) -> str:
        partner = self.partner(code)
        return partner.name if partner else code


class ObjectiveCategory(StrEnum):
    COST_REDUCTION = "cost_reduction"
    SERVICE_QUALITY = "service_quality"
    RESILIENCE = "resilience"
    KNOWLEDGE_SHARING = "knowledge_sharing"
    OTHER = "other"


class Rag(StrEnum):
    """Red, amber or green: the programme-office shorthand for on track, at risk, off track."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"

    @classmethod
    def worst(cls, *rags: Rag) -> Rag:
        order = [cls.GREEN, cls.AMBER, cls.RED]
        return max(rags, key=order.index, default=cls.GREEN)


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Kpi(ValueObject):
    """A measure of an objective.

    Tolerances are in the KPI's own unit: a reading that misses its target by more
    than ``amber_tolerance`` is amber, by more than ``red_tolerance`` red.
    """

    id: Code
    name: Name
    unit: Name
    baseline: Measure
    target: Measure
    direction: Direction
    amber_tolerance: Tolerance
    red_tolerance: Tolerance

    @model_validator(mode="after")
    def _tolerances_are_ordered(self) -> Kpi:
        if self.red_tolerance < self.amber_tolerance:
            raise ValueError(
                f"KPI {self.id}: the red tolerance ({self.red_tolerance}) must not be "
                f"smaller than the amber tolerance ({self.amber_tolerance})"
            )
        return self

    def shortfall(self, value: Decimal) -> Decimal:
        """How far ``value`` falls short of the target, in the KPI's unit (0 when on target)."""
        gap = self.target - value if self.direction is Direction.HIGHER_IS_BETTER else value - self.target
        return max(gap, Decimal(0))

    def rag(self, value: Decimal) -> Rag:
        shortfall = self.shortfall(value)
        if shortfall > self.red_tolerance:
            return Rag.RED
        if shortfall > self.amber_tolerance:
            return Rag.AMBER
        return Rag.GREEN


class Objective(ValueObject):
    id: Code
    category: ObjectiveCategory
    description: Name
    kpis: list[Kpi] = Field(min_length=1, max_length=50)


class Milestone(ValueObject):
    id: Code
    title: Name
    owner_body: Code
    due: date


class Contribution(ValueObject):
    body: Code
    annual_amount: Money


class Plan(ValueObject):
    """What the partners commit to: objectives with KPIs, the implementation plan, and who pays."""

    objectives: list[Objective] = Field(min_length=1, max_length=50)
    milestones: list[Milestone] = Field(min_length=1, max_length=200)
    contributions: list[Contribution] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _ids_are_unique(self) -> Plan:
        for kind, ids in (
            ("objective", [o.id for o in self.objectives]),
            ("KPI", [k.id for k in self.kpis]),
            ("milestone", [m.id for m in self.milestones]),
            ("contribution body", [c.body for c in self.contributions]),
        ):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                raise ValueError(f"each {kind} must appear once; repeated: {', '.join(repeated)}")
        return self

    @property
    def kpis(self) -> list[Kpi]:
        return [kpi for objective in self.objectives for kpi in objective.kpis]

    def kpi(self, kpi_id: str) -> Kpi | None:
        return next((k for k in self.kpis if k.id == kpi_id), None)

    def milestone(self, milestone_id: str) -> Milestone | None:
        return next((m for m in self.milestones if m.id == milestone_id), None)


class StageDurations(ValueObject):
    """How long each stage is planned to take; drift is measured against these."""

    proposal: Duration = timedelta(days=60)
    objective_setting: Duration = timedelta(days=45)
    sign_off: Duration = timedelta(days=30)
    implementation: Duration = timedelta(days=365)
    review: Duration = Field(
        default=timedelta(days=30),
        description="Time allowed, after each review period ends, to record readings and decide.",
    )

    def of(self, stage: Stage) -> timedelta:
        return getattr(self, stage.value)


class GovernanceSettings(ValueObject):
    stage_durations: StageDurations = StageDurations()
    amber_share: Decimal = Field(
        default=Decimal("0.8"),
        gt=0,
        lt=1,
        allow_inf_nan=False,
        description="Share of a stage's planned duration after which it turns amber.",
    )
    escalation_interval: Duration = Field(
        default=timedelta(days=7), description="How often an overdue stage escalates again."
    )
    max_sign_off_rounds: int = Field(default=3, ge=1, le=20)
    review_period: Duration = Field(default=timedelta(days=91), description="Time between benefit reviews.")
    term: Annotated[timedelta, Field(gt=timedelta(0), le=timedelta(days=36600))] = Field(
        default=timedelta(days=1820), description="How long the shared service runs after going live."
    )

    @property
    def review_count(self) -> int:
        """Reviews in the term: one at the end of each whole review period, at least one."""
        return max(1, self.term // self.review_period)


class AgreementRequest(ValueObject):
    """What it takes to open an agreement: its id, the lead body's first proposal, and its settings."""

    agreement_id: Code
    proposal: Proposal
    settings: GovernanceSettings = GovernanceSettings()
