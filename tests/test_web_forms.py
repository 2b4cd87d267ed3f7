"""The pages' forms read into the contract's JSON, and each model's problem traced back to the field that caused it."""

from datetime import date

import pytest
from pydantic import ValidationError

from domain.actions import (
    DecideReview,
    DelegateSignature,
    RecordBenefits,
    RecordKpiReadings,
    RecordLessons,
    ReportMilestone,
)
from domain.status import status_of
from tests.helpers import factories
from tests.helpers.agreements import in_implementation, live
from tests.helpers.builders import after
from web import forms

ISSUER = "https://id.lichfield.example"


def problems(model, filled, actor=factories.LEAD):
    """Each problem of ``filled`` as the model finds it, by the form field it belongs to."""
    with pytest.raises(ValidationError) as invalid:
        model.model_validate({**filled.data, "actor": actor.model_dump()})
    return {filled.field_of(e["loc"]): e["msg"] for e in invalid.value.errors()}


def test_a_percentage_over_100_is_the_percentage_fields_problem_and_a_mismatch_too():
    status = status_of(in_implementation(), after(1))
    filled = forms.read("report_milestone", {"milestone_id": "fleet", "status": "in_progress",
                                             "percent_complete": "150"}, status, None, None, ISSUER)
    assert set(problems(ReportMilestone, filled)) == {"percent_complete"}
    filled = forms.read("report_milestone", {"milestone_id": "fleet", "status": "complete", "percent_complete": "40"},
                        status, None, None, ISSUER)
    assert "complete exactly when" in problems(ReportMilestone, filled)["percent_complete"]


def test_readings_left_blank_are_left_out_and_a_bad_one_is_its_own_inputs_problem():
    status = status_of(live(), after(1))
    [first, second] = [k.id for k in status.kpis]
    filled = forms.read("record_kpi_readings", {f"reading-{first}": "", f"reading-{second}": "lots"}, status, None,
                        None, ISSUER)
    assert filled.data == {"readings": [{"kpi_id": second, "value": "lots"}]}
    assert set(problems(RecordKpiReadings, filled)) == {f"reading-{second}"}
    empty = forms.read("record_kpi_readings", {}, status, None, None, ISSUER)
    assert set(problems(RecordKpiReadings, empty)) == {f"reading-{first}"}


def test_a_delegation_names_a_colleague_at_the_signatorys_own_issuer_and_its_days_from_three_inputs():
    status = status_of(in_implementation(), after(1))
    sent = {"delegate": "Sam Officer", "delegate_subject": "sam", "starts-day": "1", "starts-month": "4",
            "starts-year": "2027", "ends-day": "31", "ends-month": "2", "ends-year": "2027"}
    filled = forms.read("delegate_signature", sent, status, None, None, ISSUER)
    assert filled.data["delegate_identity"] == {"issuer": ISSUER, "subject": "sam"}
    assert filled.data["starts"] == date(2027, 4, 1).isoformat()
    assert set(problems(DelegateSignature, filled)) == {"ends"}  # 31 February
    typed = forms.read("delegate_signature", {**sent, "ends-day": "soon"}, status, None, None, ISSUER)
    assert typed.data["ends"] == "2027-2-soon" and set(problems(DelegateSignature, typed)) == {"ends"}


def test_benefits_lessons_and_the_review_decision_are_read_as_their_models_take_them():
    status = status_of(live(), after(1))
    benefits = forms.read("record_benefits", {"actual_annual_cost": "3700000", **{
        f"contribution-{code}": "" for code in status.body_names}}, status, None, None, ISSUER)
    assert len(benefits.data["contributions"]) == len(status.body_names)
    assert set(problems(RecordBenefits, benefits)) == {f"contribution-{code}" for code in status.body_names}
    lessons = forms.read("record_lessons", {"what_worked": "", "what_did_not": "", "tags": "procurement, staff"},
                         status, None, None, ISSUER)
    assert lessons.data["lessons"][0]["tags"] == ["procurement", "staff"]
    assert "says what worked" in problems(RecordLessons, lessons)["what_worked"]
    decision = forms.read("decide_review", {"outcome": "carry on", "reason": ""}, status, None, None, ISSUER)
    assert set(problems(DecideReview, decision)) == {"outcome", "reason"}
