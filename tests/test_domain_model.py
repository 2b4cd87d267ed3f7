"""The value objects: a proposal, KPIs, the plan and the settings reject nonsense with a clear message."""

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from domain.errors import explain
from domain.model import Kpi, Plan, Proposal, Rag
from tests.helpers import factories
from tests.helpers.builders import T0


def problem(model: Any, data: dict[str, Any]) -> str:
    """The officer-facing message for invalid ``data``."""
    with pytest.raises(ValidationError) as error:
        model.model_validate(data)
    return explain(error.value)


def proposal_problem(**overrides: Any) -> str:
    return problem(Proposal, factories.proposal_data(**overrides))


def partners(**changes: Any) -> list[dict[str, Any]]:
    """The standard three partners, with ``changes`` merged into the first (Lichfield)."""
    bodies = factories.proposal_data()["partners"]
    bodies[0] = bodies[0] | changes
    return bodies


# Proposal


def test_proposal_needs_at_least_two_partners():
    message = proposal_problem(partners=partners()[:1])
    assert "partners: List should have at least 2 items" in message


def test_each_partner_body_appears_once():
    bodies = partners()
    bodies[2] = bodies[2] | {"code": factories.TAMWORTH}
    assert f"each partner body must appear once; repeated: {factories.TAMWORTH}" in proposal_problem(partners=bodies)


def test_lead_body_must_be_one_of_the_partners():
    message = proposal_problem(lead_body="E07000192")
    assert "the lead body E07000192 must be one of the partners" in message


@pytest.mark.parametrize(
    ("field", "amount", "complaint"),
    [
        ("one_off_cost", "-0.01", "must be a non-negative decimal number"),
        ("baseline_annual_cost", "NaN", "written as a string"),
        ("one_off_cost", "Infinity", "written as a string"),
        ("one_off_cost", 0.30000000000000004, "written as a string"),
        ("one_off_cost", "1e3", "written as a string"),
        ("expected_annual_saving", "12.345", "at most 2 decimal places"),
    ],
)
def test_money_is_pounds_and_pence_never_negative(field, amount, complaint):
    message = proposal_problem(**{field: amount})
    assert f"{field}: " in message and complaint in message


def test_saving_cannot_exceed_the_baseline_cost():
    message = proposal_problem(baseline_annual_cost="400000.00")
    assert "expected annual saving (£500000.00) cannot exceed the baseline annual cost (£400000.00)" in message


def test_saving_the_whole_baseline_cost_is_allowed():
    assert factories.proposal(expected_annual_saving="4200000.00").expected_annual_saving == Decimal("4200000.00")


def test_a_body_cannot_name_the_same_signatory_twice():
    signatories = [{"name": "Priya Shah", "role": "Chief Executive"}, {"name": " PRIYA SHAH", "role": "Leader"}]
    message = proposal_problem(partners=partners(signatories=signatories))
    assert "partners.0: Lichfield District Council names the same signatory twice" in message


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"title": "Joint waste\x00service"}, "title"),
        ({"partners": partners(signatories=[{"name": "Priya\rShah", "role": "Chief Executive"}])},
         "partners.0.signatories.0.name"),
    ],
)
def test_control_characters_in_names_are_rejected(overrides, where):
    assert f"{where}: must not contain control characters" in proposal_problem(**overrides)


def test_delete_and_c1_control_characters_in_names_are_rejected():
    assert "title: must not contain control characters" in proposal_problem(title="Joint waste\x7fservice")


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"colour": "green"}, "colour"),
        ({"partners": partners(website="https://www.lichfielddc.gov.uk")}, "partners.0.website"),
    ],
)
def test_unknown_fields_are_rejected(overrides, where):
    assert f"{where}: Extra inputs are not permitted" in proposal_problem(**overrides)


@pytest.mark.parametrize(
    ("one_off", "saving", "years"),
    [
        ("650000.00", "500000.00", "1.30"),
        ("1.00", "8.00", "0.13"),  # 0.125 rounds half up
    ],
)
def test_payback_years_is_exact_to_the_hundredth(one_off, saving, years):
    payback = factories.proposal(one_off_cost=one_off, expected_annual_saving=saving).payback_years
    assert payback == Decimal(years) and str(payback) == years


def test_payback_years_is_none_when_nothing_is_saved():
    assert factories.proposal(expected_annual_saving="0").payback_years is None


# KPIs


def kpi(direction: str, **overrides: Any) -> Kpi:
    """Target 60 with amber tolerance 2 and red tolerance 5."""
    return Kpi.model_validate({
        "id": "k", "name": "Cost per household", "unit": "GBP", "baseline": "68", "target": "60",
        "direction": direction, "amber_tolerance": "2", "red_tolerance": "5",
    } | overrides)


@pytest.mark.parametrize(
    ("value", "rag"),
    [
        ("62", Rag.GREEN),
        ("62.0001", Rag.AMBER),
        ("65", Rag.AMBER),
        ("65.0001", Rag.RED),
    ],
)
def test_rag_when_lower_is_better(value, rag):
    assert kpi("lower_is_better").rag(Decimal(value)) is rag


@pytest.mark.parametrize(
    ("value", "rag"),
    [
        ("58", Rag.GREEN),
        ("57.9999", Rag.AMBER),
        ("55", Rag.AMBER),
        ("54.9999", Rag.RED),
    ],
)
def test_rag_when_higher_is_better(value, rag):
    assert kpi("higher_is_better").rag(Decimal(value)) is rag


def test_shortfall_is_the_distance_on_the_wrong_side_of_target():
    lower, higher = kpi("lower_is_better"), kpi("higher_is_better")
    assert [lower.shortfall(Decimal(v)) for v in ("63.5", "50")] == [Decimal("3.5"), 0]
    assert [higher.shortfall(Decimal(v)) for v in ("56.25", "70")] == [Decimal("3.75"), 0]


def test_red_tolerance_below_amber_tolerance_is_rejected():
    data = kpi("lower_is_better").model_dump() | {"red_tolerance": "1"}
    message = problem(Kpi, data)
    assert "KPI k: the red tolerance (1) must not be smaller than the amber tolerance (2)" in message


def test_equal_tolerances_go_straight_from_green_to_red():
    strict = kpi("lower_is_better", red_tolerance="2")
    assert [strict.rag(Decimal(v)) for v in ("62", "62.0001")] == [Rag.GREEN, Rag.RED]


# Plan


def _repeat_objective(data):
    data["objectives"][1]["id"] = "cost"


def _repeat_kpi(data):
    data["objectives"][1]["kpis"][0]["id"] = "cost-per-household"


def _repeat_milestone(data):
    data["milestones"][1]["id"] = "fleet"


def _repeat_contribution(data):
    data["contributions"][2]["body"] = factories.TAMWORTH


@pytest.mark.parametrize(
    ("repeat", "complaint"),
    [
        (_repeat_objective, "each objective must appear once; repeated: cost"),
        (_repeat_kpi, "each KPI must appear once; repeated: cost-per-household"),
        (_repeat_milestone, "each milestone must appear once; repeated: fleet"),
        (_repeat_contribution, f"each contribution body must appear once; repeated: {factories.TAMWORTH}"),
    ],
)
def test_plan_ids_must_be_unique(repeat, complaint):
    data = factories.plan_data(T0.date())
    repeat(data)
    assert complaint in problem(Plan, data)


# Money (settings: tests/test_domain_calendar.py)


def test_money_is_kept_to_the_penny():
    assert str(factories.proposal(one_off_cost="1.5", baseline_annual_cost="1000000").one_off_cost) == "1.50"
    assert str(factories.proposal(baseline_annual_cost="1000000").baseline_annual_cost) == "1000000.00"
