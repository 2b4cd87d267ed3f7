"""Realistic agreements for tests, after the Lichfield and Tamworth joint waste service.

Bodies and GSS codes are real (see ../shared/data); people and figures are invented.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from domain.actions import Actor
from domain.model import AgreementRequest, Plan, Proposal

LICHFIELD = "E07000194"
TAMWORTH = "E07000199"
STAFFORDSHIRE = "E10000028"

LEAD = Actor(body=LICHFIELD, signatory="Priya Shah")
TAMWORTH_SIGNATORY = Actor(body=TAMWORTH, signatory="Owen Hughes")
STAFFORDSHIRE_SIGNATORY = Actor(body=STAFFORDSHIRE, signatory="Grace Adeyemi")


def proposal_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Joint waste and recycling service",
        "service_name": "Domestic waste and recycling collection",
        "service_category": "front_line",
        "lead_body": LICHFIELD,
        "partners": [
            {
                "code": LICHFIELD,
                "name": "Lichfield District Council",
                "signatories": [
                    {"name": "Priya Shah", "role": "Chief Executive"},
                    {"name": "Tom Barker", "role": "Leader of the Council"},
                ],
            },
            {
                "code": TAMWORTH,
                "name": "Tamworth Borough Council",
                "signatories": [{"name": "Owen Hughes", "role": "Chief Executive"}],
            },
            {
                "code": STAFFORDSHIRE,
                "name": "Staffordshire County Council",
                "signatories": [{"name": "Grace Adeyemi", "role": "Director of Economy"}],
            },
        ],
        "baseline_annual_cost": "4200000.00",
        "one_off_cost": "650000.00",
        "expected_annual_saving": "500000.00",
    }
    data.update(overrides)
    return data


def request_data(agreement_id: str = "waste-2027", settings: dict[str, Any] | None = None, **proposal: Any) -> dict[str, Any]:
    return {"agreement_id": agreement_id, "proposal": proposal_data(**proposal), "settings": settings or {}}


def request(agreement_id: str = "waste-2027", settings: dict[str, Any] | None = None, **proposal: Any) -> AgreementRequest:
    return AgreementRequest.model_validate(request_data(agreement_id, settings, **proposal))


def proposal(**overrides: Any) -> Proposal:
    return Proposal.model_validate(proposal_data(**overrides))


def plan_data(start: date, **overrides: Any) -> dict[str, Any]:
    """A plan whose milestones fall due 30 and 90 days after ``start``."""
    data: dict[str, Any] = {
        "objectives": [
            {
                "id": "cost",
                "category": "cost_reduction",
                "description": "Cut the combined cost of collection",
                "kpis": [
                    {
                        "id": "cost-per-household",
                        "name": "Cost per household",
                        "unit": "GBP",
                        "baseline": "68.00",
                        "target": "60.00",
                        "direction": "lower_is_better",
                        "amber_tolerance": "2",
                        "red_tolerance": "5",
                    }
                ],
            },
            {
                "id": "quality",
                "category": "service_quality",
                "description": "Keep collections reliable",
                "kpis": [
                    {
                        "id": "missed-bins",
                        "name": "Collections made on time",
                        "unit": "percent",
                        "baseline": "97.5",
                        "target": "99",
                        "direction": "higher_is_better",
                        "amber_tolerance": "0.5",
                        "red_tolerance": "1.5",
                    }
                ],
            },
        ],
        "milestones": [
            {"id": "fleet", "title": "Joint fleet procured", "owner_body": LICHFIELD,
             "due": (start + timedelta(days=30)).isoformat()},
            {"id": "rounds", "title": "Collection rounds merged", "owner_body": TAMWORTH,
             "due": (start + timedelta(days=90)).isoformat()},
        ],
        "contributions": [
            {"body": LICHFIELD, "annual_amount": "2100000.00"},
            {"body": TAMWORTH, "annual_amount": "1600000.00"},
            {"body": STAFFORDSHIRE, "annual_amount": "0.00"},
        ],
    }
    data.update(overrides)
    return data


def plan(start: date, **overrides: Any) -> Plan:
    return Plan.model_validate(plan_data(start, **overrides))
