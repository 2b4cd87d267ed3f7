"""Realistic agreements for tests, after the Lichfield and Tamworth joint waste service.

Bodies and GSS codes are real (see ../shared/data); people and figures are invented.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.actions import Actor
from domain.model import AgreementRequest, Plan, Proposal

LICHFIELD = "E07000194"
TAMWORTH = "E07000199"
STAFFORDSHIRE = "E10000028"

LEAD = Actor(body=LICHFIELD, signatory="Priya Shah")
TAMWORTH_SIGNATORY = Actor(body=TAMWORTH, signatory="Owen Hughes")
STAFFORDSHIRE_SIGNATORY = Actor(body=STAFFORDSHIRE, signatory="Grace Adeyemi")


JUSTIFICATION = ("One service keeps collections running when either council's fleet or crews fail; the partners "
                 "accept a cost over five years for that resilience")
"""Why the factories' cases prefer sharing: with a 10% optimism bias on every cost, sharing is worth less than
carrying on alone over five years (Lichfield, Tamworth and Staffordshire's NPSV is −£128,043.19)."""


def business_case_data(baselines: dict[str, str], one_off: str, shared_annual: str) -> dict[str, Any]:
    """Two options (each partner alone at its baseline; sharing at ``shared_annual`` after ``one_off``), over
    five years at the Green Book rate with a 10% optimism bias; sharing preferred, with its justification
    (``JUSTIFICATION``: at that bias sharing need not pay)."""
    alone = sum(Decimal(amount) for amount in baselines.values())
    return {
        "options": [
            {"id": "alone", "name": "Each council carries on alone", "kind": "carry_on_alone",
             "one_off_cost": "0.00", "annual_cost": str(alone)},
            {"id": "shared", "name": "One shared service", "kind": "shared",
             "one_off_cost": one_off, "annual_cost": shared_annual},
        ],
        "preferred_option": "shared",
        "preferred_justification": JUSTIFICATION,
        "appraisal_years": 5,
        "optimism_bias": "10",
        "baselines": [{"body": body, "annual_cost": amount} for body, amount in baselines.items()],
        "saving_amber_tolerance": "50000.00",
        "saving_red_tolerance": "150000.00",
    }


def risk_data(owner: str, risk_id: str = "staff", likelihood: int = 3, impact: int = 4) -> dict[str, Any]:
    return {"id": risk_id, "risk": "Staff leave during the transfer to the shared service", "owner_body": owner,
            "likelihood": likelihood, "impact": impact, "mitigation": "Retention payments agreed for key staff"}


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
        "business_case": business_case_data(
            {LICHFIELD: "1900000.00", TAMWORTH: "1500000.00", STAFFORDSHIRE: "800000.00"}, "650000.00", "3700000.00"),
        "risks": [risk_data(LICHFIELD)],
    }
    data.update(overrides)
    return data


def request_data(agreement_id: str = "waste-2027", settings: dict[str, Any] | None = None,
                 **proposal: Any) -> dict[str, Any]:
    return {"agreement_id": agreement_id, "proposal": proposal_data(**proposal), "settings": settings or {}}


def request(agreement_id: str = "waste-2027", settings: dict[str, Any] | None = None,
            **proposal: Any) -> AgreementRequest:
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


# A north-west partnership that lives through the 1 April 2023 reorganisation of Cumbria: Cumbria County
# Council (E10000006) was succeeded by Cumberland (E06000063) and Westmorland and Furness (E06000064).

LANCASHIRE = "E10000017"
CUMBRIA = "E10000006"
BLACKPOOL = "E06000009"
CUMBERLAND = "E06000063"
WESTMORLAND_AND_FURNESS = "E06000064"
BLACKBURN_WITH_DARWEN = "E06000008"

LANCASHIRE_SIGNATORY = Actor(body=LANCASHIRE, signatory="Helen Ashworth")
CUMBRIA_SIGNATORY = Actor(body=CUMBRIA, signatory="Gareth Dobson")
BLACKPOOL_SIGNATORY = Actor(body=BLACKPOOL, signatory="Nadia Rahman")
CUMBERLAND_SIGNATORY = Actor(body=CUMBERLAND, signatory="Iain Wilson")
WESTMORLAND_SIGNATORY = Actor(body=WESTMORLAND_AND_FURNESS, signatory="Ruth Atkinson")
BLACKBURN_SIGNATORY = Actor(body=BLACKBURN_WITH_DARWEN, signatory="Imran Patel")
NORTH_WEST_SIGNATORIES = (LANCASHIRE_SIGNATORY, CUMBRIA_SIGNATORY, BLACKPOOL_SIGNATORY)


def _body(code: str, name: str, *signatories: tuple[str, str]) -> dict[str, Any]:
    return {"code": code, "name": name, "signatories": [{"name": n, "role": r} for n, r in signatories]}


def north_west_proposal_data(**overrides: Any) -> dict[str, Any]:
    """Lancashire leads a shared revenues and benefits service with Cumbria and Blackpool."""
    data: dict[str, Any] = {
        "title": "North West revenues and benefits partnership",
        "service_name": "Council tax and housing benefit administration",
        "service_category": "back_office",
        "lead_body": LANCASHIRE,
        "partners": [
            _body(LANCASHIRE, "Lancashire County Council", ("Helen Ashworth", "Chief Executive")),
            _body(CUMBRIA, "Cumbria County Council", ("Gareth Dobson", "Chief Executive")),
            _body(BLACKPOOL, "Blackpool Borough Council", ("Nadia Rahman", "Director of Resources")),
        ],
        "baseline_annual_cost": "3000000.00",
        "one_off_cost": "400000.00",
        "expected_annual_saving": "350000.00",
        "business_case": business_case_data(
            {LANCASHIRE: "1500000.00", CUMBRIA: "900000.00", BLACKPOOL: "600000.00"}, "400000.00", "2650000.00"),
        "risks": [risk_data(LANCASHIRE)],
    }
    data.update(overrides)
    return data


def north_west_request(agreement_id: str = "revs-bens-2027", settings: dict[str, Any] | None = None,
                       **proposal: Any) -> AgreementRequest:
    return AgreementRequest.model_validate(
        {"agreement_id": agreement_id, "proposal": north_west_proposal_data(**proposal), "settings": settings or {}}
    )


def north_west_plan_data(start: date) -> dict[str, Any]:
    """The standard objectives; Cumbria owns one milestone; the contributions add up to £2,000,000.01."""
    return plan_data(
        start,
        milestones=[
            {"id": "system", "title": "One revenues system", "owner_body": LANCASHIRE,
             "due": (start + timedelta(days=30)).isoformat()},
            {"id": "staff", "title": "Staff transferred", "owner_body": CUMBRIA,
             "due": (start + timedelta(days=90)).isoformat()},
        ],
        contributions=[
            {"body": LANCASHIRE, "annual_amount": "1000000.00"},
            {"body": CUMBRIA, "annual_amount": "600000.01"},
            {"body": BLACKPOOL, "annual_amount": "400000.00"},
        ],
    )


def cumbria_successors() -> list[dict[str, Any]]:
    return [
        _body(CUMBERLAND, "Cumberland Council", ("Iain Wilson", "Chief Executive")),
        _body(WESTMORLAND_AND_FURNESS, "Westmorland and Furness Council", ("Ruth Atkinson", "Chief Executive")),
    ]


def cumbria_reorganisation(effective_on: date, **overrides: Any) -> dict[str, Any]:
    """The variation for 1 April 2023 (or ``effective_on``): Cumbria succeeded by the two unitaries."""
    return {
        "reason": "Local government reorganisation in Cumbria (Cumbria Structural Changes Order 2022)",
        "effective_on": effective_on.isoformat(),
        "changes": [{"kind": "succeed", "body": CUMBRIA, "successors": cumbria_successors()}],
        **overrides,
    }


def blackpool_leaves(effective_on: date, **overrides: Any) -> dict[str, Any]:
    change = {"kind": "leave", "body": BLACKPOOL, "notice_period": "P180D",
              "exit_terms": "Pays its share of the system contract to 31 March", "exit_amount": "25000.00"}
    return {"reason": "Blackpool brings the service back in house", "effective_on": effective_on.isoformat(),
            "changes": [{**change, **overrides}]}


def blackburn_joins(effective_on: date) -> dict[str, Any]:
    return {
        "reason": "Blackburn with Darwen joins the partnership",
        "effective_on": effective_on.isoformat(),
        "changes": [{"kind": "join", "annual_contribution": "350000.00", "body": _body(
            BLACKBURN_WITH_DARWEN, "Blackburn with Darwen Borough Council", ("Imran Patel", "Chief Executive"))}],
    }


def public_pem(key: Ed25519PrivateKey) -> str:
    """The PEM of ``key``'s public half, as an agreement's ``attestor_keys`` hold it."""
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                                         ).decode()


ATTESTOR_KEY = Ed25519PrivateKey.generate()
"""An attestor's signing key for tests (a fresh one each run)."""


IDENTITIES = {"Priya Shah": "priya.shah@lichfield.gov.uk", "Owen Hughes": "owen.hughes@tamworth.gov.uk",
              "Grace Adeyemi": "grace.adeyemi@staffordshire.gov.uk"}
"""Who the test signatories are to their councils' identity providers (their tokens' preferred_username)."""


def identified_partners() -> list[dict[str, Any]]:
    """The test proposal's partners, each signatory in ``IDENTITIES`` carrying their identity."""
    partners = proposal_data()["partners"]
    for partner in partners:
        for signatory in partner["signatories"]:
            if signatory["name"] in IDENTITIES:
                signatory["identity"] = IDENTITIES[signatory["name"]]
    return partners
