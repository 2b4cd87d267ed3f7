"""The business case (Green Book NPV, optimism bias), the risk register, the benefits realised against the
baseline, the payback forecast and its alert, and lessons: worked by hand, to the penny."""

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from pydantic import ValidationError

from domain.actions import RecordLessons, ReviewRisks
from domain.agreement import Agreement
from domain.business_case import (
    OptionAppraisal,
    appraisal,
    appraise,
    discount_factor,
    present_cost,
    pro_rata,
    repaid_at,
    saving_rag,
)
from domain.drift import AlertKind, due_alerts, overall_rag
from domain.errors import ActionRejected
from domain.lifecycle import evolve
from domain.model import BusinessCase, Proposal, Rag, Stage
from domain.status import status_of
from tests.helpers import factories
from tests.helpers.agreements import apply, live, opened, review_due
from tests.helpers.builders import LEAD, STAFFORDSHIRE, TAMWORTH, benefits, decide, readings, submit
from workflows.web_ui import details_markdown

D = Decimal


# The Green Book's discounting, worked by hand


def test_discount_factors_are_the_green_books_at_three_and_a_half_percent():
    # Green Book (2022) annex A6 discount factors: 0.9662, 0.9335, 0.9019 ... 0.7089 in year 10.
    assert [round(discount_factor(D("3.5"), t), 4) for t in (0, 1, 2, 3, 10)] == [
        D("1.0000"), D("0.9662"), D("0.9335"), D("0.9019"), D("0.7089")]


def test_present_cost_discounts_annual_costs_from_year_one_and_leaves_year_zero_alone():
    # £100,000 now + £50,000 at the end of years 1, 2, 3:
    # 100,000 + 50,000 x (0.966183575 + 0.933510700 + 0.901942706) = 100,000 + 140,081.85 = 240,081.85
    assert present_cost(D(100000), D(50000), 3, D("3.5")) == D("240081.85")
    # With a 10% optimism bias every cost is 1.1 times: 110,000 + 55,000 x 2.801636981 = 264,090.03
    assert present_cost(D(100000), D(50000), 3, D("3.5"), D(10)) == D("264090.03")
    # At 0% nothing is discounted.
    assert present_cost(D(100000), D(50000), 3, D(0)) == D("250000.00")


def test_each_option_has_a_net_present_value_and_the_cheapest_over_the_term_is_highest():
    case = factories.request().proposal.business_case
    assert case is not None
    # Five-year annuity factor at 3.5%: 4.515052375. Alone (its known running costs carry no optimism bias):
    # 4,200,000 x 4.515052375 = 18,963,219.98. Shared (10% on its own costs):
    # 650,000 x 1.1 + 3,700,000 x 1.1 x 4.515052375 = 715,000 + 18,376,263.17 = 19,091,263.17.
    appraised = {a.id: a for a in appraise(case)}
    assert appraised["alone"].net_present_value == D("-18963219.98")
    assert appraised["shared"].net_present_value == D("-19091263.17")
    assert appraised["shared"].preferred and not appraised["alone"].preferred


def test_the_discount_rate_is_configurable_per_business_case():
    data = factories.proposal_data()["business_case"] | {"discount_rate": "0", "optimism_bias": "0"}
    shared = {a.id: a for a in appraise(BusinessCase.model_validate(data))}["shared"]
    assert shared.present_cost == D("650000.00") + 5 * D("3700000.00")


# The Green Book appraisal: net present social value against business as usual, worked in plain decimal


def penny(amount: Decimal) -> Decimal:
    return amount.quantize(D("0.01"), ROUND_HALF_UP)


def annuity(years: int, rate: str = "3.5", long_term: str = "3.0") -> Decimal:
    """Green Book (2022) annex A6: 3.5% for years 1-30, 3.0% for 31-75 (the factor compounds)."""
    r, long_r = 1 + D(rate) / 100, 1 + D(long_term) / 100
    return sum((1 / (r ** min(t, 30) * long_r ** max(t - 30, 0)) for t in range(1, years + 1)), D(0))


def case_of(**changes: object) -> BusinessCase:
    return BusinessCase.model_validate(factories.proposal_data()["business_case"] | changes)


def by_id(case: BusinessCase) -> dict[str, OptionAppraisal]:
    return {a.id: a for a in appraise(case)}


def test_net_present_social_value_is_against_carrying_on_alone_with_optimism_bias_only_on_sharings_costs():
    # Green Book (2022) chapter 5: NPSV of each option against business as usual (whose NPSV is 0).
    # Alone: 4,200,000 a year, known, not uplifted. Shared: 650,000 and 3,700,000 a year, each uplifted 10%.
    a5 = annuity(5)
    expected = penny(4200000 * a5 - (650000 * D("1.1") + 3700000 * D("1.1") * a5))
    appraised = by_id(case_of())
    assert expected == D("-128043.19")
    assert appraised["shared"].net_present_social_value == expected
    assert appraised["alone"].net_present_social_value == D("0.00")
    # With no optimism bias sharing pays: 500,000 a year saved x 4.515052375 - 650,000 = 1,607,526.19.
    assert by_id(case_of(optimism_bias="0"))["shared"].net_present_social_value == penny(500000 * a5 - 650000)
    assert penny(500000 * a5 - 650000) == D("1607526.19")


def test_optimism_bias_by_category_reaches_the_supplementary_guidances_two_hundred_percent():
    # Supplementary Green Book Guidance: Optimism Bias, table 1: up to 200% on equipment/development capex.
    a5 = annuity(5)
    case = case_of(capital_optimism_bias="200", operating_optimism_bias="0")
    assert by_id(case)["shared"].net_present_social_value == penny(500000 * a5 - 650000 * 3) == D("307526.19")
    # Operating bias uplifts sharing's running costs, never the known running costs of carrying on alone.
    case = case_of(capital_optimism_bias="0", operating_optimism_bias="5")
    assert by_id(case)["alone"].present_cost == penny(4200000 * a5)
    assert by_id(case)["shared"].present_cost == penny(650000 + 3700000 * D("1.05") * a5)
    with pytest.raises(ValidationError, match="from 0 to 200"):
        case_of(capital_optimism_bias="200.01")
    with pytest.raises(ValidationError, match="from 0 to 100"):
        case_of(optimism_bias="200")  # the one uplift for every category stays within 0-100


def test_the_discount_rate_declines_to_three_percent_after_year_thirty():
    # Green Book (2022) annex A6. Year 31: 1 / (1.035^30 x 1.03).
    assert discount_factor(D("3.5"), 31, D("3.0")) == 1 / (D("1.035") ** 30 * D("1.03"))
    assert discount_factor(D("3.5"), 30, D("3.0")) == discount_factor(D("3.5"), 30)
    case = case_of(appraisal_years=40, optimism_bias="0",
                   options=[{"id": "alone", "name": "Alone", "kind": "carry_on_alone", "one_off_cost": "0.00",
                             "annual_cost": "1000000.00"},
                            {"id": "shared", "name": "Shared", "kind": "shared", "one_off_cost": "0.00",
                             "annual_cost": "0.00"}])
    # £1m a year for 40 years: 21,431,172.52 at the declining rate, against 21,355,072.34 at a flat 3.5%.
    assert by_id(case)["alone"].present_cost == penny(1000000 * annuity(40)) == D("21431172.52")
    assert penny(1000000 * annuity(40, long_term="3.5")) == D("21355072.34")
    with pytest.raises(ValidationError, match="less than or equal to 75"):
        case_of(appraisal_years=76)


def test_real_prices_deflate_cash_amounts_to_year_zero():
    # Green Book (2022) chapter 5, "Adjustments for inflation": appraise in real base-year prices, inflation
    # removed with the GDP deflator. Index 100, 102, 104.04 (2% a year): year t counts 100 / index(t).
    case = case_of(appraisal_years=2, optimism_bias="0", deflators=["100", "102", "104.04"])
    weights = [1 / D("1.035") * 100 / D(102), 1 / D("1.035") ** 2 * 100 / D("104.04")]
    expected = penny(500000 * sum(weights, D(0)) - 650000)
    assert by_id(case)["shared"].net_present_social_value == expected == D("272250.07")
    with pytest.raises(ValidationError, match="one index for each year 0 .. 2"):
        case_of(appraisal_years=2, deflators=["100", "102"])


def test_switching_values_are_where_sharing_stops_paying_and_the_sensitivity_table_follows_the_same_sums():
    # Green Book (2022) chapter 5, "Sensitivity analysis" (switching values):
    # NPSV = 4,200,000 A - 1.1 x one-off - 1.1 x annual x A.
    a5 = annuity(5)
    shared = by_id(case_of())["shared"]
    at_zero_one_off = (4200000 * a5 - D("1.1") * 3700000 * a5) / D("1.1")
    at_zero_annual = (4200000 * a5 - D("1.1") * 650000) / (D("1.1") * a5)
    assert shared.switching_one_off_cost == penny(at_zero_one_off) == D("533597.10")
    assert shared.switching_annual_saving == penny(4200000 - at_zero_annual) == D("525781.07")
    # At the switching one-off cost the NPSV is nothing, to within the penny's rounding.
    again = by_id(case_of(options=[
        {"id": "alone", "name": "Alone", "kind": "carry_on_alone", "one_off_cost": "0.00",
         "annual_cost": "4200000.00"},
        {"id": "shared", "name": "Shared", "kind": "shared", "one_off_cost": "533597.10",
         "annual_cost": "3700000.00"}]))["shared"]
    assert abs(again.net_present_social_value) <= D("0.01")
    table = {(row.variable, row.percent): row.net_present_social_value for row in appraisal(case_of()).sensitivity}
    for percent in (50, 75, 90):
        annual = 4200000 - 500000 * D(percent) / 100
        assert table["annual_saving", D(percent)] == penny(4200000 * a5 - D("1.1") * (650000 + annual * a5))
    for percent in (110, 125, 150):
        one_off = 650000 * D(percent) / 100
        assert table["one_off_cost", D(percent)] == penny(4200000 * a5 - D("1.1") * (one_off + 3700000 * a5))


def test_benefits_valued_and_described_and_each_partners_share_of_the_value():
    # Green Book (2022) annex A1: value benefits in pounds where possible, describe the rest.
    a5 = annuity(5)
    options = factories.proposal_data()["business_case"]["options"]
    options = [options[0], options[1] | {"non_cashable_benefit": "100000.00",
                                         "described_benefits": ["Resilience in a flood"]}]
    result = appraisal(case_of(options=options, optimism_bias="0"))
    shared = next(a for a in result.options if a.id == "shared")
    value = penny(600000 * a5 - 650000)
    assert shared.present_benefit == penny(100000 * a5)
    assert shared.net_present_social_value == value == D("2059031.43")
    assert shared.described_benefits == ["Resilience in a flood"]
    # Shares by baseline (1.9m, 1.5m, 0.8m of 4.2m), to the penny, adding up to the whole.
    shares = [s.net_present_social_value for s in result.partner_shares]
    assert sum(shares) == value
    for share, baseline in zip(shares, (1900000, 1500000, 800000), strict=True):
        assert abs(share - value * baseline / 4200000) < D("0.01")
    assert not result.justification_required


def test_a_preferred_option_that_is_not_the_highest_value_is_flagged_for_justification():
    result = appraisal(case_of())
    assert (result.highest_value_option, result.justification_required) == ("alone", True)


def test_a_case_recorded_before_the_green_book_fields_dumps_and_hashes_as_it_did():
    data = factories.proposal_data()["business_case"]
    dumped = BusinessCase.model_validate(data).model_dump(mode="json")
    assert set(dumped) == set(data) | {"discount_rate", "payback_amber_tolerance", "payback_red_tolerance"}
    assert all(set(option) == {"id", "name", "kind", "one_off_cost", "annual_cost"} for option in dumped["options"])


def test_the_schema_bounds_are_the_engines():
    from domain.model import DecimalString
    percent = DecimalString(places=2, integer_digits=3, at_most=100).pattern
    assert re.fullmatch(percent, "100") and not re.fullmatch(percent, "150")
    assert not re.fullmatch(percent, "200") and not re.fullmatch(percent, "100.01")
    bias = DecimalString(places=2, integer_digits=3, at_most=200).pattern
    assert re.fullmatch(bias, "200") and re.fullmatch(bias, "199.99") and not re.fullmatch(bias, "200.5")


@pytest.mark.parametrize(("change", "words"), [
    ({"preferred_option": "outsource"}, "preferred option outsource must be one of the options"),
    ({"options": [{"id": "shared", "name": "Shared", "kind": "shared", "one_off_cost": "1.00",
                   "annual_cost": "1.00"}, {"id": "other", "name": "Other", "kind": "other",
                                           "one_off_cost": "1.00", "annual_cost": "1.00"}]},
     "must include each partner carrying on alone"),
    ({"discount_rate": 3.5}, "decimal number written as a string"),
    ({"saving_red_tolerance": "1.00"}, "red tolerance"),
])
def test_a_business_case_that_does_not_hold_together_is_refused_saying_why(change, words):
    with pytest.raises(ValidationError, match=words):
        BusinessCase.model_validate(factories.proposal_data()["business_case"] | change)


# Submitting needs a business case and a risk


def test_a_proposal_without_a_business_case_or_a_risk_cannot_be_submitted():
    with pytest.raises(ActionRejected, match="needs a business case") as refused:
        apply(opened(business_case=None), submit())
    assert (refused.value.code, refused.value.field) == ("business_case_missing", "proposal.business_case")
    with pytest.raises(ActionRejected, match="at least one risk") as refused:
        apply(opened(risks=[]), submit())
    assert refused.value.code == "risks_missing"


def test_the_baseline_must_cover_every_partner_and_add_up():
    case = factories.business_case_data({factories.LICHFIELD: "4200000.00"}, "650000.00", "3700000.00")
    with pytest.raises(ActionRejected, match="no baseline for Tamworth Borough Council, Staffordshire"):
        apply(opened(business_case=case), submit())
    case = factories.business_case_data(
        {factories.LICHFIELD: "1.00", factories.TAMWORTH: "1.00", factories.STAFFORDSHIRE: "1.00"}, "1.00", "1.00")
    with pytest.raises(ActionRejected, match="add up to £3.00, not the baseline annual cost £4200000.00"):
        apply(opened(business_case=case), submit())


def test_agreements_opened_before_the_rule_still_submit_without_a_business_case():
    agreement = apply(opened(old_rules=True, business_case=None, risks=[]), submit())
    assert agreement.stage is Stage.OBJECTIVE_SETTING


def unjustified_case(**changes: object) -> dict:
    """The factories' case (sharing −£128,043.19 against carrying on alone) without its justification."""
    case = factories.proposal_data()["business_case"]
    del case["preferred_justification"]
    return case | changes


def test_a_preferred_option_of_less_than_the_highest_value_is_refused_without_its_justification():
    # Green Book (2022) chapter 5, "Preferred option selection": the option of highest NPSV, or a reason why not.
    with pytest.raises(ActionRejected, match="preferred option shared has a net present social value of "
                       "−£128,043.19, less than alone's £0.00") as refused:
        apply(opened(business_case=unjustified_case()), submit())
    assert (refused.value.code, refused.value.field) == (
        "justification_missing", "proposal.business_case.preferred_justification")


def test_a_case_that_pays_or_carries_its_justification_is_submitted_and_the_justification_recorded():
    paying = unjustified_case(optimism_bias="0")
    agreement = opened(business_case=paying)
    decisions = evolve(agreement, submit(), agreement.opened_at).decisions
    summary = decisions[0].payload["appraisal_summary"]
    assert (summary["justification_required"], summary["justification"]) == (False, None)
    agreement = opened(business_case=unjustified_case(preferred_justification="  Resilience of the  service  "))
    summary = evolve(agreement, submit(), agreement.opened_at).decisions[0].payload["appraisal_summary"]
    assert (summary["justification_required"], summary["justification"]) == (True, "Resilience of the  service")


def test_agreements_under_rules_before_version_3_submit_an_unjustified_case():
    agreement = opened(business_case=unjustified_case()).model_copy(update={"preferred_option_justified": False})
    assert apply(agreement, submit()).stage is Stage.OBJECTIVE_SETTING


@pytest.mark.parametrize("justification", ["", "   ", "a\u0000b", "x" * 4001])
def test_a_justification_follows_the_policy_of_other_free_text(justification):
    with pytest.raises(ValidationError):
        BusinessCase.model_validate(unjustified_case(preferred_justification=justification))


def test_the_submission_records_every_figure_of_the_appraisal():
    agreement = opened()
    decisions = evolve(agreement, submit(), agreement.opened_at).decisions
    assert [(a["id"], a["net_present_value"]) for a in decisions[0].payload["appraisal"]] == [
        ("alone", "-18963219.98"), ("shared", "-19091263.17")]
    assert [(a["id"], a["net_present_social_value"], a["switching_one_off_cost"])
            for a in decisions[0].payload["appraisal"]] == [("alone", "0.00", None),
                                                            ("shared", "-128043.19", "533597.10")]
    summary = decisions[0].payload["appraisal_summary"]
    assert (summary["business_as_usual"], summary["highest_value_option"], summary["justification_required"],
            summary["justification"]) == ("alone", "alone", True, factories.JUSTIFICATION)
    assert len(summary["sensitivity"]) == 6 and len(summary["partner_shares"]) == 3
    assert summary["basis"] | {} == {"discount_rate": "3.5", "long_term_discount_rate": "3.0",
                                     "appraisal_years": "5", "capital_optimism_bias": "10",
                                     "operating_optimism_bias": "10", "prices": "real (as given)"}


# Benefits realised, worked by hand


def test_compressed_time_accrues_money_at_real_scale():
    # A demonstration's review period of 20 seconds at a time scale of 393,120 stands for 7,862,400 seconds, 91
    # days: £500,000 a year x 91 / 365 = £124,657.534... -> £124,657.53, as a real quarter accrues.
    start = datetime(2027, 1, 1, tzinfo=UTC)
    assert pro_rata(D(500000), start, start + timedelta(seconds=20), 393120) == D("124657.53")
    assert pro_rata(D(500000), start, start + timedelta(days=91)) == D("124657.53")
    # £650,000 repaid at £500,000 a year: 1.3 years, 40,996,800 seconds / 393,120 = 104.29... -> 105 s later.
    assert repaid_at(start, D(650000), D(500000), 393120) == start + timedelta(seconds=105)


def test_saving_rag_is_rated_like_a_kpi():
    assert saving_rag(D(500000), D(460000), D(50000), D(150000)) is Rag.GREEN   # £40,000 short
    assert saving_rag(D(500000), D(400000), D(50000), D(150000)) is Rag.AMBER   # £100,000 short
    assert saving_rag(D(500000), D(340000), D(50000), D(150000)) is Rag.RED     # £160,000 short
    assert saving_rag(D(500000), D(600000), D(50000), D(150000)) is Rag.GREEN   # better than planned


def test_benefits_of_the_first_quarter_against_the_baseline_and_the_payback_forecast():
    agreement = live()
    due = review_due(agreement)  # 2027-04-01 09:30 go-live, period of 91 days
    agreement = apply(agreement, benefits("3800000.00"), now=due)
    b = agreement.benefits
    assert b is not None
    # Baseline 4,200,000 - actual 3,800,000 = 400,000 a year; 91/365 of it = 99,726.03.
    assert (b.annual_saving_realised, b.saving_in_period, b.cumulative_saving) == (
        D("400000.00"), D("99726.03"), D("99726.03"))
    # The business case: 500,000 x 91/365 = 124,657.53. 100,000 short: amber (amber 50,000, red 150,000).
    assert b.cumulative_planned == D("124657.53") and b.rag is Rag.AMBER
    # Planned payback: 650,000 / 500,000 = 1.3 years = 474.5 days after go-live.
    assert b.planned_payback_at == datetime(2027, 4, 1, 9, 30, tzinfo=UTC) + timedelta(days=474.5)
    # Forecast: (650,000 - 99,726.03) / 400,000 = 1.375684925 years = 502.124997625 days after the period's end,
    # rounded up to the second; 502 days 3 hours later is 118.6 days later than planned: over 90, amber.
    assert b.forecast_payback_at == due + timedelta(days=502, seconds=10800)
    assert b.payback_slip == b.forecast_payback_at - b.planned_payback_at
    assert timedelta(days=118) < b.payback_slip < timedelta(days=119)
    assert b.forecast_rag is Rag.AMBER


def test_figures_recorded_again_in_a_review_replace_the_earlier_ones_and_a_decision_banks_them():
    agreement = live()
    due = review_due(agreement)
    agreement = apply(agreement, benefits("3800000.00"), benefits("3700000.00"), readings(), decide("continue"),
                      now=due)
    assert agreement.benefit_track.reviews == 1
    assert agreement.benefit_track.cumulative_saving == D("124657.53")  # 500,000 x 91/365
    second = review_due(agreement)
    agreement = apply(agreement, benefits("3700000.00"), now=second)
    assert agreement.benefits is not None
    # Review 2's period is another 91 days (P91D): 124,657.53 + 124,657.53.
    assert agreement.benefits.cumulative_saving == D("249315.06")
    assert agreement.benefits.rag is Rag.GREEN


def test_a_case_that_never_pays_back_at_the_savings_realised_is_red():
    agreement = apply(live(), benefits("4200000.00"), now=review_due(live()))
    assert agreement.benefits is not None
    assert agreement.benefits.forecast_payback_at is None and agreement.benefits.forecast_rag is Rag.RED


def test_once_the_one_off_cost_is_repaid_the_forecast_is_green():
    # A saving of 3,000,000 a year repays 650,000 within the first quarter (748,767.12).
    agreement = apply(live(), benefits("1200000.00", tamworth="300000.00", staffordshire="200000.00"),
                      now=review_due(live()))
    assert agreement.benefits is not None
    assert agreement.benefits.paid_back and agreement.benefits.forecast_rag is Rag.GREEN


def test_the_contributions_must_come_from_every_partner_and_add_up_to_the_cost():
    agreement = live()
    with pytest.raises(ActionRejected, match="add up to £3800000.00, not the actual annual cost £3900000.00") as bad:
        apply(agreement, benefits("3900000.00", lichfield="1900000.00"), now=review_due(agreement))
    assert (bad.value.code, bad.value.field) == ("contributions_mismatch", "contributions")
    with pytest.raises(ActionRejected, match="only the lead body"):
        apply(agreement, benefits("3800000.00").model_copy(update={"actor": TAMWORTH}), now=review_due(agreement))
    with pytest.raises(ActionRejected, match="only after that its benefits can be recorded"):
        apply(agreement, benefits("3800000.00"), now=review_due(agreement) - timedelta(seconds=1))


# The forecast alert


def raise_due(agreement: Agreement, now: datetime) -> tuple[Agreement, list[str]]:
    due = due_alerts(agreement, now)
    agreement = agreement.model_copy(update={"raised_alerts": [*agreement.raised_alerts, *(a.key for a in due)]})
    return agreement, [f"{a.kind.value}|{a.level}" for a in due]


def test_a_forecast_slipping_beyond_tolerance_alerts_once_per_level_before_the_payback_date():
    agreement = live()
    due = review_due(agreement)
    agreement, raised = raise_due(apply(agreement, benefits("3800000.00"), now=due), due)
    assert raised == ["payback_forecast|amber"]
    alert = due_alerts(apply(live(), benefits("3800000.00"), now=due), due)[0]
    assert alert.kind is AlertKind.PAYBACK_FORECAST and alert.reached_at == due
    assert alert.deadline is not None and alert.reached_at < alert.deadline   # before payback is missed
    assert alert.off_by == ("is 2028-11-14 12:30 UTC, 3 months 26 days later than the business case's "
                            "2028-07-18 21:30 UTC")
    # Recorded again: amber is not raised twice.
    agreement, raised = raise_due(apply(agreement, benefits("3810000.00"), now=due), due)
    assert raised == []
    # Worse figures: red, once.
    agreement, raised = raise_due(apply(agreement, benefits("4100000.00"), now=due), due)
    assert raised == ["payback_forecast|red"]
    agreement, raised = raise_due(apply(agreement, benefits("4150000.00"), now=due), due)
    assert raised == []
    # Across the next review too, each level stays raised once.
    agreement = apply(agreement, readings(), decide("continue"), now=due)
    second = review_due(agreement)
    agreement, raised = raise_due(apply(agreement, benefits("4100000.00"), now=second), second)
    assert raised == []
    assert overall_rag(agreement, second) is Rag.RED


# The risk register and lessons


def test_the_risk_register_is_reviewed_at_a_benefit_review():
    agreement = live()
    due = review_due(agreement)
    register = [factories.risk_data(factories.TAMWORTH, "depot", 4, 5), factories.risk_data(factories.LICHFIELD)]
    agreement = apply(agreement, ReviewRisks.model_validate({"actor": LEAD, "risks": register}), now=due)
    assert [(r.id, r.score) for r in agreement.risks] == [("depot", 20), ("staff", 12)]
    assert agreement.risks_reviewed_at == 1
    with pytest.raises(ActionRejected, match="owned by E09000001, which is not a partner") as bad:
        apply(agreement, ReviewRisks.model_validate({"actor": LEAD, "risks": [
            factories.risk_data("E09000001")]}), now=due)
    assert bad.value.field == "risks.0.owner_body"
    with pytest.raises(ValidationError, match="less than or equal to 5"):
        ReviewRisks.model_validate({"actor": LEAD, "risks": [factories.risk_data(factories.LICHFIELD, impact=6)]})


def test_lessons_are_recorded_by_any_partner_and_kept_in_the_ledger_not_the_state():
    agreement = live()
    lessons = RecordLessons.model_validate({"actor": STAFFORDSHIRE, "lessons": [
        {"what_worked": "One depot for both fleets", "what_did_not": "Two payroll systems", "tags": ["fleet"]}]})
    transition = evolve(agreement, lessons, review_due(agreement))
    assert transition.decisions[0].kind == "lessons_recorded"
    assert transition.decisions[0].payload["lessons"][0]["tags"] == ["fleet"]
    assert transition.decisions[0].payload["review_number"] == 1
    with pytest.raises(ValidationError, match="what worked or what did not"):
        RecordLessons.model_validate({"actor": LEAD, "lessons": [{"tags": ["fleet"]}]})


def test_the_status_shows_the_benefits_and_the_risks():
    agreement = live()
    due = review_due(agreement)
    status = status_of(apply(agreement, benefits("3800000.00"), now=due), due)
    assert status.benefits is not None and status.benefits.rag is Rag.AMBER
    assert [r.id for r in status.risks] == ["staff"]
    assert ("**Benefits:** £99,726.03 saved to date against £124,657.53 planned (amber) after review 1; payback "
            "forecast 2028-11-14, 3 months 26 days later than planned (amber).") in details_markdown(status)


def test_a_proposal_from_before_the_business_case_still_loads():
    old = {key: value for key, value in factories.proposal_data().items() if key not in ("business_case", "risks")}
    proposal = Proposal.model_validate(old)
    assert proposal.business_case is None and proposal.risks == []
