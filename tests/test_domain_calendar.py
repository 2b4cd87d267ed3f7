"""Calendar periods, the review schedule, net-cost cases and names compared as people read them."""

import io
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError
from rich.console import Console

import starter
from domain.actions import Actor
from domain.agreement import Agreement
from domain.calendar import describe_end
from domain.drift import due_alerts
from domain.errors import ActionRejected, explain
from domain.lifecycle import evolve
from domain.model import GovernanceSettings, Signatory, name_key
from domain.status import AgreementStatus, money_summary, schedule_summary, status_of
from tests.helpers import factories
from tests.helpers.agreements import apply, in_sign_off, live, opened
from tests.helpers.builders import T0, after, approve, decide, readings
from workflows.web_ui import details_markdown


def settings_problem(**settings: str) -> str:
    with pytest.raises(ValidationError) as error:
        GovernanceSettings.model_validate(settings)
    return explain(error.value)


def live_on(went_live: datetime, **settings: str) -> Agreement:
    """A service under today's rules that went live at ``went_live``."""
    return live(settings=settings).model_copy(update={"went_live_at": went_live})


@pytest.mark.parametrize(
    ("written", "canonical"),
    [("P3M", "P3M"), ("P1Y", "P1Y"), ("P5Y", "P5Y"), ("P1Y6M", "P1Y6M"), ("P91D", "P91D"), ("P13W", "P91D"),
     ("P1820D", "P1820D"), ("P4Y360D", "P4Y360D"), ("PT20.0S", "PT20S"), ("P1DT2H", "P1DT2H")],
)
def test_periods_serialise_to_their_canonical_iso_text(written, canonical):
    settings = GovernanceSettings.model_validate({"review_period": written, "term": "P5Y"})
    assert settings.model_dump(mode="json")["review_period"] == canonical
    assert GovernanceSettings.model_validate(settings.model_dump(mode="json")) == settings


def test_day_periods_round_trip_unchanged_and_defaults_are_as_before():
    dumped = GovernanceSettings().model_dump(mode="json")
    assert (dumped["review_period"], dumped["term"], dumped["review_alignment"]) == ("P91D", "P4Y360D", "go_live")
    quarterly = GovernanceSettings.model_validate({"review_period": "P91D"})
    assert quarterly.model_dump(mode="json")["review_period"] == "P91D"


@pytest.mark.parametrize("bad", ["3 months", "P0D", "PT0S", "-P3M", "P1.5M", "P", "P1DT", "3M"])
def test_periods_the_engine_cannot_honour_are_refused_saying_what_is_accepted(bad):
    assert "review_period: must be a period such as P3M, P1Y or P91D (ISO 8601: years, months, weeks or days" in (
        settings_problem(review_period=bad))


def test_a_review_period_of_more_than_ten_years_is_refused():
    assert "the review period (P11Y) must be at most ten years" in settings_problem(review_period="P11Y")


def test_quarterly_reviews_from_1_april_2027_end_on_the_same_day_of_the_month():
    agreement = live(settings={"review_period": "P3M", "term": "P5Y"})
    assert agreement.went_live_at == T0 == datetime(2027, 4, 1, 9, 30, tzinfo=UTC)
    assert agreement.review_period_end(4) == datetime(2028, 4, 1, 9, 30, tzinfo=UTC)
    ends = [agreement.review_period_end(n) for n in range(1, 21)]
    assert {(end.day, end.hour, end.minute) for end in ends} == {(1, 9, 30)}
    assert ends[-1] == datetime(2032, 4, 1, 9, 30, tzinfo=UTC), "twenty quarters are exactly five years"
    assert agreement.review_count == 20


def test_a_month_from_31_january_is_the_last_day_of_february_and_the_next_ends_on_31_march():
    agreement = live_on(datetime(2027, 1, 31, 12, tzinfo=UTC), review_period="P1M", term="P1Y")
    assert [agreement.review_period_end(n).date().isoformat() for n in (1, 2, 3, 12)] == [
        "2027-02-28", "2027-03-31", "2027-04-30", "2028-01-31"]
    assert agreement.review_count == 12


def test_before_calendar_periods_a_year_was_365_days():
    agreement = live(settings={"review_period": "P1Y", "term": "P4Y360D"}, old_rules=True)
    assert agreement.review_period_end(2) == T0 + timedelta(days=730)
    assert agreement.review_count == 4


def test_financial_year_quarters_end_on_30_june_30_september_31_december_and_31_march():
    agreement = live(settings={"review_period": "P3M", "review_alignment": "financial_year", "term": "P5Y"})
    ends = [agreement.review_period_end(n) for n in range(1, 6)]
    assert [describe_end(end) for end in ends] == [
        "2027-06-30", "2027-09-30", "2027-12-31", "2028-03-31", "2028-06-30"]
    assert ends[0] == datetime(2027, 7, 1, tzinfo=UTC), "the period ending 30 June ends at the end of that day, UTC"
    assert agreement.review_count == 20


def test_the_first_financial_year_review_covers_go_live_to_the_next_quarter_end():
    agreement = live_on(datetime(2027, 11, 20, 15, tzinfo=UTC), review_period="P6M",
                        review_alignment="financial_year", term="P2Y")
    assert [describe_end(agreement.review_period_end(n)) for n in (1, 2, 3)] == [
        "2028-03-31", "2028-09-30", "2029-03-31"]
    assert agreement.review_count == 4, "the ends by 2029-11-20: March and September of 2028 and 2029"


@pytest.mark.parametrize("period", ["P91D", "P2M", "P1Y6M"])
def test_financial_year_alignment_takes_only_periods_that_divide_the_year(period):
    assert "review periods aligned to the financial year must be P1M, P3M, P6M or P1Y" in settings_problem(
        review_period=period, review_alignment="financial_year")


def test_the_term_holds_at_least_one_review():
    assert live(settings={"review_period": "P1Y", "term": "P3M"}).review_count == 1


def test_a_late_review_shows_every_period_outstanding_and_the_next_review_is_the_next_period():
    agreement = live(settings={"review_period": "P3M", "term": "P5Y"})
    late = after(days=200)
    assert agreement.reviews_outstanding(late) == 2
    agreement = apply(agreement, readings(), decide("continue"), now=late)
    assert agreement.review_number == 2 and agreement.clock_started_at == datetime(2027, 10, 1, 9, 30, tzinfo=UTC)
    assert agreement.reviews_outstanding(late) == 1
    assert agreement.review_label(2) == "review 2, for the period ending 2027-10-01 09:30 UTC"


# The schedule in the status, the details and the CLI


def test_the_status_shows_the_review_schedule_and_how_many_reviews_are_outstanding():
    agreement = live(settings={"review_period": "P3M", "term": "P5Y"})
    status = status_of(agreement, after(days=200))
    assert (status.review_number, status.reviews_in_term, status.reviews_outstanding) == (1, 20, 2)
    assert status.review_period_end == datetime(2027, 7, 1, 9, 30, tzinfo=UTC)
    assert status.review_due == datetime(2027, 7, 31, 9, 30, tzinfo=UTC)
    assert status.next_review_period_end == datetime(2027, 10, 1, 9, 30, tzinfo=UTC)
    assert schedule_summary(status) == (
        "review 1 of 20, for the period ending 2027-07-01 09:30 UTC, due 2027-07-31 09:30 UTC; "
        "next period ends 2027-10-01 09:30 UTC; 2 reviews outstanding")
    assert f"**Reviews:** {schedule_summary(status)}." in details_markdown(status)


def test_before_go_live_there_is_no_schedule_yet():
    status = status_of(opened(), T0)
    assert (status.reviews_in_term, status.review_period_end, status.reviews_outstanding) == (None, None, 0)
    assert schedule_summary(status) is None


def test_a_drift_alert_names_the_overdue_review_and_its_period():
    agreement = apply(live(settings={"review_period": "P3M", "term": "P5Y"}), readings(), decide("continue"),
                      now=after(days=230))
    subjects = {alert.subject for alert in due_alerts(agreement, after(days=230))}
    assert subjects == {"the review stage (review 2, for the period ending 2027-10-01 09:30 UTC)"}


# Net-cost cases


def test_a_negative_expected_saving_is_a_net_annual_cost_with_no_payback():
    proposal = factories.proposal(expected_annual_saving="-120000")
    assert (proposal.expected_annual_saving, proposal.payback_years) == (Decimal("-120000.00"), None)
    status = status_of(opened(expected_annual_saving="-120000"), T0)
    assert money_summary(status) == "net annual cost £120,000.00 (no payback)"
    assert "**Case:** net annual cost £120,000.00 (no payback)." in details_markdown(status)


def test_a_saving_shows_its_payback_and_a_zero_saving_none():
    assert money_summary(status_of(opened(), T0)) == "expected annual saving £500,000.00, payback 1.30 years"
    assert money_summary(status_of(opened(expected_annual_saving="0"), T0)) == (
        "expected annual saving £0.00, no payback")


def test_the_cli_status_shows_a_net_cost_and_the_schedule():
    out = io.StringIO()
    agreement = live(settings={"review_period": "P3M", "term": "P5Y"}, expected_annual_saving="-120000")
    starter.print_status(Console(file=out, width=200), status_of(agreement, after(days=200)))
    assert "Case: net annual cost £120,000.00 (no payback)" in out.getvalue()
    assert "Reviews: review 1 of 20, for the period ending 2027-07-01 09:30 UTC" in out.getvalue()


@pytest.mark.parametrize("field", ["baseline_annual_cost", "one_off_cost"])
def test_costs_stay_non_negative(field):
    with pytest.raises(ValidationError) as error:
        factories.proposal(**{field: "-1"})
    assert f"{field}: must be a non-negative decimal number" in explain(error.value)


# Names compared as people read them

NFC, NFD = unicodedata.normalize("NFC", "Siân Llŷr"), unicodedata.normalize("NFD", "Siân Llŷr")


def with_welsh_signatory(*codes: str) -> list[dict[str, object]]:
    """The standard partners, with Siân Llŷr (precomposed) also named by the bodies ``codes``."""
    bodies = factories.proposal_data()["partners"]
    for body in bodies:
        if body["code"] in codes:
            body["signatories"] = [*body["signatories"], {"name": NFC, "role": "Director of Resources"}]
    return bodies


def test_names_are_stored_in_nfc_and_compared_without_regard_to_case():
    assert NFC != NFD and name_key(NFD) == name_key(NFC.upper()) == name_key(f" {NFC} ")
    assert Signatory(name=NFD, role="Director").name == NFC
    partner = factories.proposal(partners=with_welsh_signatory(factories.TAMWORTH)).partner(factories.TAMWORTH)
    assert partner.signatory(NFD) is not None and partner.signatory(NFD.upper()) is not None


def test_the_same_signatory_in_nfc_and_nfd_is_named_twice():
    bodies = with_welsh_signatory(factories.TAMWORTH)
    bodies[1]["signatories"].append({"name": NFD, "role": "Deputy"})
    with pytest.raises(ValidationError) as error:
        factories.proposal(partners=bodies)
    assert "Tamworth Borough Council names the same signatory twice" in explain(error.value)


def test_a_name_in_nfd_cannot_sign_for_a_second_body_in_the_same_round():
    agreement = in_sign_off(partners=with_welsh_signatory(factories.TAMWORTH, factories.STAFFORDSHIRE))
    agreement = apply(agreement, approve(Actor(body=factories.TAMWORTH, signatory=NFC)))
    with pytest.raises(ActionRejected) as error:
        evolve(agreement, approve(Actor(body=factories.STAFFORDSHIRE, signatory=NFD)), T0)
    assert str(error.value) == f"{NFC} has already signed in round 1 for Tamworth Borough Council; nobody signs twice"


def test_the_schedule_is_counted_without_walking_every_period_however_short():
    agreement = live(settings={"review_period": "PT0.000001S", "term": "P100Y"})
    status = status_of(agreement, after(days=10))
    assert status.reviews_outstanding == 10 * 86_400 * 1_000_000
    assert status.reviews_in_term == (datetime(2127, 4, 1, tzinfo=UTC) - datetime(2027, 4, 1, tzinfo=UTC)) // timedelta(
        microseconds=1)


def test_a_status_from_an_older_worker_still_reads():
    status = status_of(opened(), T0).model_dump(mode="json")
    for field in ("review_period_end", "review_due", "next_review_period_end", "reviews_outstanding",
                  "reviews_in_term", "expected_annual_saving"):
        del status[field]
    older = AgreementStatus.model_validate(status)
    assert money_summary(older) is None and "**Case:**" not in details_markdown(older)


def test_a_refusal_names_a_period_end_as_the_status_does():
    agreement = live(settings={"review_period": "P3M", "review_alignment": "financial_year", "term": "P5Y"})
    with pytest.raises(ActionRejected) as refusal:
        evolve(agreement, readings(), agreement.review_period_end(1) - timedelta(seconds=1))
    assert str(refusal.value).startswith("review 1 covers the period ending 2027-06-30; only after that")
    assert agreement.review_label(1) == "review 1, for the period ending 2027-06-30"
