"""A demo portfolio of real shared-service arrangements, and the officers who act on them.

The bodies and their GSS codes are real (../shared/data); people and figures are
invented. Time is compressed: stages last seconds, not months, and each review period of seconds stands for a
quarter in the money recorded (``time_scale``), so savings are at real scale. Each officer's next
step is derived from the agreement's status alone, so a restarted demo simply
carries on where the agreements are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.actions import Actor, MilestoneStatus
from domain.model import Stage
from domain.status import AgreementStatus


def _partner(code: str, name: str, signatory: str, role: str) -> dict[str, Any]:
    return {"code": code, "name": name, "signatories": [{"name": signatory, "role": role}]}


def _kpi(kpi_id: str, name: str, unit: str, baseline: str, target: str, direction: str,
         amber: str, red: str) -> dict[str, Any]:
    return {"id": kpi_id, "name": name, "unit": unit, "baseline": baseline, "target": target,
            "direction": direction, "amber_tolerance": amber, "red_tolerance": red}


def _risk(risk_id: str, risk: str, owner: str, likelihood: int, impact: int, mitigation: str) -> dict[str, Any]:
    return {"id": risk_id, "risk": risk, "owner_body": owner, "likelihood": likelihood, "impact": impact,
            "mitigation": mitigation}


def _lesson(worked: str, did_not: str, *tags: str) -> dict[str, Any]:
    return {"what_worked": worked, "what_did_not": did_not, "tags": list(tags)}


QUARTER = timedelta(days=91)
"""What the demo's review period stands for: a quarter, as the engine's default review period (P91D)."""
REVIEW_SECONDS = 20
"""The demo's review period at speed 1, in seconds."""


def time_scale(speed: float) -> int:
    """How many real seconds each of the demo's seconds stands for at ``speed``: its review period (20 s at
    speed 1) is a quarter, so a quarter's saving is recorded at real scale (pounds, not pence)."""
    return round(QUARTER.total_seconds() * speed / REVIEW_SECONDS)


def compressed_settings(speed: float) -> dict[str, Any]:
    """Governance settings in seconds rather than months; ``speed`` 2 runs twice as fast. The time scale makes
    each review period stand for a quarter in the money recorded (``time_scale``)."""
    def seconds(value: float) -> str:
        return f"PT{value / speed:.1f}S"

    return {
        "stage_durations": {
            "proposal": seconds(60), "objective_setting": seconds(60), "sign_off": seconds(24),
            "implementation": seconds(90), "review": seconds(30),
        },
        "amber_share": "0.6",
        "escalation_interval": seconds(8),
        "review_period": seconds(REVIEW_SECONDS),
        "term": seconds(60),
        "time_scale": time_scale(speed),
    }


@dataclass(frozen=True)
class Persona:
    """One agreement of the portfolio and how its officers behave."""

    agreement_id: str
    proposal: dict[str, Any]
    objectives: list[dict[str, Any]]
    milestones: list[tuple[str, str, str]]
    contributions: dict[str, str]
    rejecter: str | None = None
    revised_one_off_cost: str | None = None
    late_signer: str | None = None
    red_kpi_in_review: int | None = None
    risks: tuple[dict[str, Any], ...] = ()
    """The proposal's risk register (a proposal is submitted with at least one risk)."""
    saving_realised: Decimal | None = None
    """The share of the expected annual saving realised, recorded at each review; None: not recorded."""
    reviews_risks: bool = True
    """Whether the lead body reviews the risk register at each review."""
    lesson: dict[str, Any] | None = None
    """A lesson the lead body records at each review, if any."""
    short_title: str = ""
    """The title as the demo's live table shows it (it must fit a narrow terminal); empty: the title."""

    @property
    def label(self) -> str:
        """The short title, or else the title."""
        return self.short_title or self.proposal["title"]

    @property
    def lead(self) -> dict[str, str]:
        return self.actor(self.proposal["lead_body"])

    def actor(self, body: str) -> dict[str, str]:
        partner = next(p for p in self.proposal["partners"] if p["code"] == body)
        return Actor(body=body, signatory=partner["signatories"][0]["name"]).model_dump()

    def request(self, speed: float) -> dict[str, Any]:
        return {"agreement_id": self.agreement_id, "proposal": self.full_proposal(self.proposal),
                "settings": compressed_settings(speed)}

    def full_proposal(self, proposal: dict[str, Any]) -> dict[str, Any]:
        """The proposal with its business case (each partner's baseline in proportion to its contribution,
        the lead body taking the odd pence; optimism bias of 15% on the one-off cost and 2% on the shared
        service's running cost, at which every case here pays, so none needs a justification) and its risk
        register."""
        baseline, one_off = Decimal(proposal["baseline_annual_cost"]), proposal["one_off_cost"]
        shares = self.split(baseline)
        expected = Decimal(proposal["expected_annual_saving"])
        shared_annual = baseline - expected
        return {**proposal, "risks": list(self.risks), "business_case": {
            "options": [
                {"id": "alone", "name": "Each partner carries on alone", "kind": "carry_on_alone",
                 "one_off_cost": "0.00", "annual_cost": str(baseline)},
                {"id": "shared", "name": proposal["title"], "kind": "shared", "one_off_cost": one_off,
                 "annual_cost": str(shared_annual)},
            ],
            "preferred_option": "shared", "appraisal_years": 5,
            "capital_optimism_bias": "15", "operating_optimism_bias": "2",
            "baselines": [{"body": body, "annual_cost": str(amount)} for body, amount in shares.items()],
            "saving_amber_tolerance": str((expected / 10).quantize(Decimal("1"))),
            "saving_red_tolerance": str((expected / 4).quantize(Decimal("1"))),
        }}

    def split(self, total: Decimal) -> dict[str, Decimal]:
        """``total`` in proportion to the planned contributions, to the penny; the lead body takes the rest."""
        planned = {body: Decimal(amount) for body, amount in self.contributions.items()}
        whole = sum(planned.values())
        lead = self.proposal["lead_body"]
        shares = {body: (total * amount / whole).quantize(Decimal("0.01")) for body, amount in planned.items()
                  if body != lead}
        return {lead: total - sum(shares.values()), **shares}

    def benefits(self) -> dict[str, Any]:
        """The actual annual cost: the baseline less the share of the expected saving this persona realises."""
        assert self.saving_realised is not None
        saving = Decimal(self.proposal["expected_annual_saving"]) * self.saving_realised
        actual = (Decimal(self.proposal["baseline_annual_cost"]) - saving).quantize(Decimal("0.01"))
        return {"actual_annual_cost": str(actual), "contributions": [
            {"body": body, "annual_amount": str(amount)} for body, amount in self.split(actual).items()]}

    def plan(self, today: date) -> dict[str, Any]:
        return {
            "objectives": self.objectives,
            "milestones": [
                {"id": mid, "title": title, "owner_body": owner,
                 "due": (today + timedelta(days=30 * (i + 1))).isoformat()}
                for i, (mid, title, owner) in enumerate(self.milestones)
            ],
            "contributions": [{"body": body, "annual_amount": amount} for body, amount in self.contributions.items()],
        }

    def revised_proposal(self) -> dict[str, Any]:
        return self.full_proposal({**self.proposal, "one_off_cost": self.revised_one_off_cost})

    def reviewed_risks(self, review_number: int) -> list[dict[str, Any]]:
        """The register at review ``review_number``: each risk's likelihood eased by one a review (down to 1)."""
        return [{**risk, "likelihood": max(1, risk["likelihood"] - review_number)} for risk in self.risks]

    def readings(self, status: AgreementStatus) -> list[dict[str, str]]:
        """On target, except the KPIs that go red in the review this persona is scripted to fail."""
        off_target = status.review_number == self.red_kpi_in_review
        readings = []
        for kpi in status.kpis:
            miss = Decimal(3) * (Decimal(1) if kpi.direction.value == "lower_is_better" else Decimal(-1))
            value = kpi.target + (miss * 10 if off_target else Decimal(0))
            readings.append({"kpi_id": kpi.id, "value": str(value)})
        return readings


Step = tuple[str, dict[str, Any]]
"""An update's name and its payload: what an officer does next."""


def next_step(persona: Persona, status: AgreementStatus, now: datetime) -> Step | None:
    """The officers' next action on this agreement, or None while they wait."""
    choose = _STEPS.get(status.stage)
    return choose(persona, status, now) if choose else None


def _proposal_step(persona: Persona, status: AgreementStatus, now: datetime) -> Step:
    """Submit the proposal; after a rejection, revise it first where this persona does."""
    wants_revision = status.sign_off_round > 1 and persona.revised_one_off_cost is not None
    if wants_revision and status.payback_years != _payback(persona.revised_proposal()):
        return "revise_proposal", {"actor": persona.lead, "proposal": persona.revised_proposal()}
    return "submit_proposal", {"actor": persona.lead}


def _objectives_step(persona: Persona, status: AgreementStatus, now: datetime) -> Step:
    if not status.kpis:
        return "set_objectives", {"actor": persona.lead, "plan": persona.plan(now.date())}
    return "submit_for_sign_off", {"actor": persona.lead}


def _sign_off_step(persona: Persona, status: AgreementStatus, now: datetime) -> Step | None:
    """The next partner to sign: the rejecter rejects the first round; the late signer waits for an escalation."""
    signed = {s.body for s in status.sign_offs}
    escalated = any(a.level.startswith("escalation") for a in status.open_alerts)
    for body in (partner["code"] for partner in persona.proposal["partners"]):
        if body in signed or (body == persona.late_signer and not escalated):
            continue
        if body == persona.rejecter and status.sign_off_round == 1:
            return "record_sign_off", {"actor": persona.actor(body), "decision": "reject",
                                       "reason": "the one-off cost is more than our cabinet approved",
                                       "version": status.version}
        return "record_sign_off", {"actor": persona.actor(body), "decision": "approve", "version": status.version}
    return None


def _implementation_step(persona: Persona, status: AgreementStatus, now: datetime) -> Step | None:
    """Each milestone reported half done, then complete."""
    milestone = next((m for m in status.milestones if m.status is not MilestoneStatus.COMPLETE), None)
    if milestone is None:
        return None
    done = 100 if milestone.percent_complete >= 50 else 50
    return "report_milestone", {
        "actor": persona.actor(milestone.owner_body), "milestone_id": milestone.id,
        "status": "complete" if done == 100 else "in_progress", "percent_complete": done,
        "note": "on plan" if done == 100 else "procurement under way",
    }


def _review_step(persona: Persona, status: AgreementStatus, now: datetime) -> Step | None:
    """Readings, benefits, risks and lessons, each once a review as this persona records them, then the decision."""
    if now < status.stage_started_at:
        return None
    if recording := _review_record(persona, status):
        return recording
    off_target = status.review_number == persona.red_kpi_in_review
    return "decide_review", {
        "actor": persona.lead,
        "outcome": "amend" if off_target else "continue",
        "reason": "targets revised after a missed KPI" if off_target else "benefits on track",
    }


def _review_record(persona: Persona, status: AgreementStatus) -> Step | None:
    """What the lead body still has to record in this review before deciding it, if anything."""
    lead = persona.lead
    if any(kpi.reading is None for kpi in status.kpis):
        return "record_kpi_readings", {"actor": lead, "readings": persona.readings(status)}
    recorded = status.benefits is not None and status.benefits.review_number == status.review_number
    if persona.saving_realised is not None and not recorded:
        return "record_benefits", {"actor": lead, **persona.benefits()}
    if persona.reviews_risks and status.risks_reviewed_at != status.review_number:
        return "review_risks", {"actor": lead, "risks": persona.reviewed_risks(status.review_number)}
    if status.lessons_at_review != status.review_number and persona.lesson is not None:
        return "record_lessons", {"actor": lead, "lessons": [persona.lesson]}
    return None


_STEPS: dict[Stage, Callable[[Persona, AgreementStatus, datetime], Step | None]] = {
    Stage.PROPOSAL: _proposal_step,
    Stage.OBJECTIVE_SETTING: _objectives_step,
    Stage.SIGN_OFF: _sign_off_step,
    Stage.IMPLEMENTATION: _implementation_step,
    Stage.REVIEW: _review_step,
}


def _payback(proposal: dict[str, Any]) -> Decimal:
    return (Decimal(proposal["one_off_cost"]) / Decimal(proposal["expected_annual_saving"])).quantize(Decimal("0.01"))


PORTFOLIO = [
    Persona(
        agreement_id="demo-lichfield-tamworth-waste",
        short_title="Lichfield & Tamworth waste",
        proposal={
            "title": "Lichfield and Tamworth joint waste service",
            "service_name": "Domestic waste and recycling collection",
            "service_category": "front_line",
            "lead_body": "E07000194",
            "partners": [
                _partner("E07000194", "Lichfield District Council", "Priya Shah", "Chief Executive"),
                _partner("E07000199", "Tamworth Borough Council", "Owen Hughes", "Chief Executive"),
            ],
            "baseline_annual_cost": "4200000.00", "one_off_cost": "650000.00", "expected_annual_saving": "500000.00",
        },
        objectives=[{"id": "cost", "category": "cost_reduction", "description": "Cut the cost of collection",
                     "kpis": [_kpi("cost-per-household", "Cost per household", "GBP", "68", "60",
                                   "lower_is_better", "2", "5")]}],
        milestones=[("fleet", "Joint fleet procured", "E07000194"),
                    ("rounds", "Collection rounds merged", "E07000199")],
        contributions={"E07000194": "2100000.00", "E07000199": "1600000.00"},
        saving_realised=Decimal("0.95"),
        risks=(_risk("fleet", "New vehicles arrive late", "E07000194", 3, 3, "Hire vehicles for the first quarter"),
               _risk("depot", "The shared depot cannot take both fleets", "E07000199", 2, 4,
                     "Stagger collection rounds")),
        lesson=_lesson("Merging rounds before procuring the fleet", "Two payroll systems for one crew",
                       "procurement", "workforce"),
    ),
    Persona(
        agreement_id="demo-tri-council-ict",
        short_title="Tri-Council ICT",
        proposal={
            "title": "Tri-Council shared ICT",
            "service_name": "ICT infrastructure and service desk",
            "service_category": "back_office",
            "lead_body": "E10000028",
            "partners": [
                _partner("E10000028", "Staffordshire County Council", "Grace Adeyemi",
                         "Director of Corporate Services"),
                _partner("E06000051", "Shropshire Council", "Rhys Morgan", "Chief Executive"),
                _partner("E10000034", "Worcestershire County Council", "Helen Clarke", "Chief Executive"),
            ],
            "baseline_annual_cost": "18000000.00", "one_off_cost": "3400000.00", "expected_annual_saving": "1700000.00",
        },
        objectives=[{"id": "resilience", "category": "resilience", "description": "One resilient service desk",
                     "kpis": [_kpi("first-fix", "Calls fixed first time", "percent", "71", "80",
                                   "higher_is_better", "2", "5")]}],
        milestones=[("datacentre", "Shared data centre", "E10000028"),
                    ("desk", "Single service desk", "E10000034")],
        contributions={"E10000028": "7000000.00", "E06000051": "5000000.00", "E10000034": "6000000.00"},
        saving_realised=Decimal("1.05"),
        risks=(_risk("migration", "Data migration overruns", "E10000028", 4, 4, "Migrate in waves by council"),
               _risk("cyber", "A cyber attack on the shared network", "E10000034", 2, 5,
                     "Segmented network and tested backups")),
        lesson=_lesson("One service desk from day one", "Three sets of device standards", "ict", "standards"),
        rejecter="E06000051",
        revised_one_off_cost="2600000.00",
    ),
    Persona(
        agreement_id="demo-south-london-nrpf",
        short_title="South London NRPF",
        proposal={
            "title": "South London No Recourse to Public Funds team",
            "service_name": "NRPF assessment and counter-fraud",
            "service_category": "combined",
            "lead_body": "E09000028",
            "partners": [
                _partner("E09000028", "London Borough of Southwark", "Amara Okafor", "Strategic Director"),
                _partner("E09000023", "London Borough of Lewisham", "Daniel Reid", "Executive Director"),
                _partner("E09000011", "Royal Borough of Greenwich", "Fiona Walsh", "Director of Children's Services"),
                _partner("E09000022", "London Borough of Lambeth", "Samuel Osei", "Chief Executive"),
            ],
            "baseline_annual_cost": "3100000.00", "one_off_cost": "240000.00", "expected_annual_saving": "420000.00",
        },
        objectives=[{"id": "quality", "category": "service_quality", "description": "Faster, fairer assessments",
                     "kpis": [_kpi("days-to-assess", "Days to assess a case", "days", "42", "28",
                                   "lower_is_better", "3", "7")]}],
        milestones=[("team", "Joint team recruited", "E09000028"),
                    ("system", "Shared case system live", "E09000022")],
        contributions={"E09000028": "900000.00", "E09000023": "750000.00", "E09000011": "700000.00",
                       "E09000022": "750000.00"},
        saving_realised=Decimal("0.8"),
        risks=(_risk("demand", "Demand rises faster than the team", "E09000028", 4, 3, "Agreed surge rota"),),
        lesson=_lesson("Joint case reviews across boroughs", "Four different referral forms", "casework"),
        late_signer="E09000011",
    ),
    Persona(
        agreement_id="demo-hampshire-h3",
        short_title="H3 Hampshire",
        proposal={
            "title": "H3 Hampshire business centre",
            "service_name": "Finance, HR, payroll and procurement",
            "service_category": "back_office",
            "lead_body": "E10000014",
            "partners": [
                _partner("E10000014", "Hampshire County Council", "Catherine Ellis", "Chief Executive"),
                _partner("HFRS", "Hampshire and Isle of Wight Fire and Rescue Service", "Neil Fraser",
                         "Chief Fire Officer"),
                _partner("HC", "Hampshire and Isle of Wight Constabulary", "Joanne Pike", "Chief Constable"),
            ],
            "baseline_annual_cost": "26000000.00", "one_off_cost": "5200000.00", "expected_annual_saving": "4000000.00",
        },
        objectives=[{"id": "cost", "category": "cost_reduction", "description": "Lower back-office cost",
                     "kpis": [_kpi("cost-per-payslip", "Cost per payslip", "GBP", "11.20", "8.50",
                                   "lower_is_better", "0.5", "1.5")]},
                    {"id": "learning", "category": "knowledge_sharing", "description": "Shared expertise",
                     "kpis": [_kpi("joint-training", "Joint training days", "days", "0", "40",
                                   "higher_is_better", "5", "15")]}],
        milestones=[("erp", "Single ERP platform", "E10000014"),
                    ("payroll", "Payroll migrated", "HFRS")],
        contributions={"E10000014": "15000000.00", "HFRS": "5000000.00", "HC": "6000000.00"},
        saving_realised=Decimal("0.3"),
        risks=(_risk("erp", "The ERP platform is delivered late", "E10000014", 4, 5, "Fixed-price contract"),
               _risk("payroll", "Payroll errors after migration", "HFRS", 3, 4, "Parallel runs for two months"),
               _risk("staff", "Specialist staff leave", "HC", 3, 3, "Retention payments")),
        lesson=_lesson("", "Savings were booked before the ERP was live", "finance", "benefits"),
        red_kpi_in_review=1,
    ),
]
