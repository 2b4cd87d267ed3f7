"""The business case, the risk register and the benefits realised: is sharing paying off?

Pure rules, exact to the penny. Amounts are pounds (``Decimal``), rates and uplifts are percentages,
years are 365 days. Sources are HM Treasury's *The Green Book* (2022) and its *Supplementary Green Book
Guidance: Optimism Bias* (2003).

**Discounting** (Green Book 2022, chapter 5, "Discounting and social time preference", and annex A6,
"Discounting"): costs and benefits are discounted to present value at the social time preference rate, 3.5% a
year for years 0 to 30 and 3.0% for years 31 to 75 (the declining long-term rate; ``discount_rate`` and
``long_term_discount_rate``, configurable per business case). A year ``t`` after 30 is discounted by
1 / ((1 + r)^30 (1 + r')^(t - 30)). The convention here: one-off costs fall in year 0 and are not discounted;
annual costs and benefits fall at the end of each year ``t`` = 1 .. ``years``. The factors are exact (not the four-place
table); each figure is rounded to the penny once, half up, at the end.

**Real prices** (Green Book 2022, chapter 5, "Adjustments for inflation": appraisal is in real base-year prices,
general inflation removed with the GDP deflator): when the case gives ``deflators`` (an index for years
0 .. ``years``) its amounts are cash (nominal) and an amount in year ``t`` counts index(0) / index(t) of itself.

**Optimism bias** (Green Book 2022, chapter 5, "Uncertainty, risk, optimism bias", and annex A5; the
supplementary guidance, table 1: upper bounds up to 200% for equipment and development capital expenditure): each
option's own uncertain costs are uplifted by category, one-off (capital) costs by ``capital_optimism_bias`` and
annual (operating) costs by ``operating_optimism_bias`` (each ``optimism_bias`` when absent), before discounting.
The known running costs of carrying on alone (the annual cost of a ``carry_on_alone`` option) are not uplifted.

**Net present social value** (Green Book 2022, chapter 5, "Social cost benefit and cost effectiveness
analysis", and annex A1, "Non-market valuation and unmonetisable values"): each option's present value of
benefits (non-cashable benefits valued in pounds) less its present value of costs, against business as usual
(the first ``carry_on_alone`` option, each partner carrying on alone), whose NPSV is 0 by definition. Cashable
savings are the costs an option saves against business as usual, so they are in its NPSV already; benefits described but
not valued are listed beside it. The preferred option, if another has a higher NPSV, needs a recorded
justification (Green Book 2022, chapter 5, "Preferred option selection").

**Switching values and sensitivity** (Green Book 2022, chapter 5, "Sensitivity analysis", which sets out switching
values): for each option but business as usual, the annual saving (against carrying on alone's annual cost)
below which, and the one-off cost above which, its NPSV falls to zero; and for the preferred option a table of
its NPSV with the annual saving at 50%, 75% and 90% and the one-off cost at 110%, 125% and 150% of the case's.

**Each partner's share** of the preferred option's NPSV is in proportion to its baseline (its current annual cost
of the service), to the penny, the pennies left by rounding down going to the largest remainders.

An option's ``net_present_value`` stays minus its present cost, as recorded before NPSV was (the read model and
older ledgers read it).

**Benefits realised**: at each review the lead body records the shared service's actual annual cost and
each partner's contribution. The annual saving realised is the proposal's baseline (the partners'
annual cost before sharing) less the actual annual cost; over a review period it is pro rata to the
period's length (days / 365, to the penny); an agreement run in compressed time (a demonstration, whose
review period of seconds stands for a quarter: ``GovernanceSettings.time_scale``) counts each second as that
many, so its money is at real scale. Cumulative savings are the sum of the periods'; the business
case's cumulative saving is the expected annual saving pro rata over the same periods. The payback date is
forecast from the figures realised so far: the one-off cost still to repay, at the latest annual saving
realised, from the end of the latest period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from pydantic import Field, model_validator

from domain.model import BusinessCase, Code, Option, OptionKind, Rag, Text, ValueObject

YEAR = timedelta(days=365)
"""A year in savings pro rata and payback forecasts."""
PENNY = Decimal("0.01")
SHARE_PLACES = Decimal("0.000001")
LONG_TERM_FROM = 31
"""The first year discounted at the long-term rate (Green Book 2022, annex A6: 3.0% for years 31 to 75)."""
SAVING_SENSITIVITY = (Decimal(50), Decimal(75), Decimal(90))
"""The annual saving, as percentages of the case's, in the sensitivity table."""
ONE_OFF_SENSITIVITY = (Decimal(110), Decimal(125), Decimal(150))
"""The one-off cost, as percentages of the case's, in the sensitivity table."""


def to_pence(amount: Decimal) -> Decimal:
    return amount.quantize(PENNY, ROUND_HALF_UP)


def pounds(amount: Decimal) -> str:
    """``amount`` as a finance officer writes it, to the penny: £1,234.56, or −£1,234.56 (a minus sign first)."""
    return f"−£{-amount:,.2f}" if amount < 0 else f"£{amount:,.2f}"


class OptionAppraisal(ValueObject):
    """An option's present cost, present benefit and net present value (minus its present cost), its net present
    social value against business as usual, its switching values (None for business as usual) and its described
    benefits, pounds to the penny, and whether it is preferred."""

    id: str
    name: str
    kind: OptionKind
    present_cost: Decimal
    net_present_value: Decimal
    preferred: bool
    present_benefit: Decimal = Decimal(0)
    net_present_social_value: Decimal = Decimal(0)
    switching_annual_saving: Decimal | None = None
    switching_one_off_cost: Decimal | None = None
    described_benefits: list[str] = Field(default_factory=list)


class Sensitivity(ValueObject):
    """The preferred option's NPSV with ``variable`` (``annual_saving`` or ``one_off_cost``) at ``percent`` of
    the case's figure."""

    variable: str
    percent: Decimal
    net_present_social_value: Decimal


class PartnerShare(ValueObject):
    """A partner's share of the preferred option's NPSV, in proportion to its baseline."""

    body: str
    baseline_share: Decimal
    net_present_social_value: Decimal


class Appraisal(ValueObject):
    """The whole appraisal of a business case, as recorded with its submission."""

    options: list[OptionAppraisal]
    business_as_usual: str
    highest_value_option: str
    justification_required: bool
    sensitivity: list[Sensitivity]
    partner_shares: list[PartnerShare]
    basis: dict[str, str]


def discount_factor(rate_percent: Decimal, year: int, long_term_rate_percent: Decimal | None = None) -> Decimal:
    """The Green Book discount factor for year ``year`` (exact): 1 / (1 + r)^t at ``rate_percent``, and from year
    31 at ``long_term_rate_percent`` when given, 1 / ((1 + r)^30 (1 + r')^(t - 30)) (Green Book 2022, annex A6)."""
    if long_term_rate_percent is None or year < LONG_TERM_FROM:
        return 1 / (1 + rate_percent / 100) ** year
    return 1 / ((1 + rate_percent / 100) ** (LONG_TERM_FROM - 1)
                * (1 + long_term_rate_percent / 100) ** (year - LONG_TERM_FROM + 1))


def present_cost(one_off: Decimal, annual: Decimal, years: int, rate_percent: Decimal,
                 optimism_bias_percent: Decimal = Decimal(0)) -> Decimal:
    """The present value of ``one_off`` in year 0 plus ``annual`` at the end of years 1 .. ``years``, every
    cost uplifted by ``optimism_bias_percent``, discounted at ``rate_percent`` (pounds, to the penny)."""
    uplift = 1 + optimism_bias_percent / 100
    total = one_off * uplift + sum((annual * uplift * discount_factor(rate_percent, t)
                                    for t in range(1, years + 1)), Decimal(0))
    return to_pence(total)


@dataclass(frozen=True)
class _Terms:
    """A case's terms for discounting: the weight of year ``t`` (discount factor times real-price factor)."""

    weights: tuple[Decimal, ...]
    capital_uplift: Decimal
    operating_uplift: Decimal

    @property
    def annuity(self) -> Decimal:
        """The sum of years 1 .. n's weights: the present value of a pound a year."""
        return sum(self.weights[1:], Decimal(0))

    @classmethod
    def of(cls, case: BusinessCase) -> _Terms:
        deflators = case.deflators
        weights = tuple(
            discount_factor(case.discount_rate, t, case.long_term_discount_rate)
            * (deflators[0] / deflators[t] if deflators else Decimal(1))
            for t in range(case.appraisal_years + 1))
        capital, operating = optimism_biases(case)
        return cls(weights=weights, capital_uplift=1 + capital / 100, operating_uplift=1 + operating / 100)

    def operating(self, option: Option) -> Decimal:
        """The operating uplift of ``option``: none on the known running costs of carrying on alone."""
        return Decimal(1) if option.kind is OptionKind.CARRY_ON_ALONE else self.operating_uplift

    def cost(self, option: Option, one_off: Decimal | None = None, annual: Decimal | None = None) -> Decimal:
        """``option``'s present cost, exact, with its one-off or annual cost replaced when given."""
        one_off = option.one_off_cost if one_off is None else one_off
        annual = option.annual_cost if annual is None else annual
        return (one_off * self.capital_uplift * self.weights[0]
                + annual * self.operating(option) * self.annuity)

    def benefit(self, option: Option) -> Decimal:
        return option.non_cashable_benefit * self.annuity


def optimism_biases(case: BusinessCase) -> tuple[Decimal, Decimal]:
    """The case's capital and operating optimism bias (percent), each ``optimism_bias`` when not given."""
    capital = case.optimism_bias if case.capital_optimism_bias is None else case.capital_optimism_bias
    operating = case.optimism_bias if case.operating_optimism_bias is None else case.operating_optimism_bias
    return capital, operating


def business_as_usual(case: BusinessCase) -> Option:
    """The counterfactual: the first option of each partner carrying on alone (the case always has one)."""
    return next(o for o in case.options if o.kind is OptionKind.CARRY_ON_ALONE)


def appraisal(case: BusinessCase) -> Appraisal:
    """The Green Book appraisal of ``case`` (see the module's docstring for each rule and its source)."""
    terms = _Terms.of(case)
    bau = business_as_usual(case)
    bau_value = terms.benefit(bau) - terms.cost(bau)
    options = [_appraise_option(case, terms, option, bau, bau_value) for option in case.options]
    best = max(options, key=lambda a: a.net_present_social_value)
    preferred = next(a for a in options if a.preferred)
    preferred_option = next(o for o in case.options if o.id == case.preferred_option)
    return Appraisal(
        options=options, business_as_usual=bau.id, highest_value_option=best.id,
        justification_required=preferred.net_present_social_value < best.net_present_social_value,
        sensitivity=[] if preferred_option is bau else _sensitivity(terms, preferred_option, bau, bau_value),
        partner_shares=_shares(case, preferred.net_present_social_value),
        basis={
            "discount_rate": str(case.discount_rate), "long_term_discount_rate": str(case.long_term_discount_rate),
            "appraisal_years": str(case.appraisal_years),
            "capital_optimism_bias": str(optimism_biases(case)[0]),
            "operating_optimism_bias": str(optimism_biases(case)[1]),
            "prices": "real (deflated to year 0)" if case.deflators else "real (as given)",
        },
    )


def appraise(case: BusinessCase) -> list[OptionAppraisal]:
    """Each option's appraisal over the case's ``appraisal_years`` (see ``appraisal``)."""
    return appraisal(case).options


def _appraise_option(case: BusinessCase, terms: _Terms, option: Option, bau: Option,
                     bau_value: Decimal) -> OptionAppraisal:
    cost = terms.cost(option)
    benefit = terms.benefit(option)
    switching_saving = switching_one_off = None
    if option is not bau:
        # NPSV = rest - one_off x capital uplift - annual x operating uplift x annuity, solved for zero.
        rest = benefit - bau_value
        annual_at_zero = (rest - option.one_off_cost * terms.capital_uplift * terms.weights[0]) / (
            terms.operating(option) * terms.annuity)
        switching_saving = to_pence(bau.annual_cost - annual_at_zero)
        switching_one_off = to_pence((rest - option.annual_cost * terms.operating(option) * terms.annuity)
                                     / (terms.capital_uplift * terms.weights[0]))
    return OptionAppraisal(
        id=option.id, name=option.name, kind=option.kind, present_cost=to_pence(cost),
        net_present_value=-to_pence(cost), preferred=option.id == case.preferred_option,
        present_benefit=to_pence(benefit), net_present_social_value=to_pence(benefit - cost - bau_value),
        switching_annual_saving=switching_saving, switching_one_off_cost=switching_one_off,
        described_benefits=list(option.described_benefits))


def _sensitivity(terms: _Terms, option: Option, bau: Option, bau_value: Decimal) -> list[Sensitivity]:
    """The preferred option's NPSV as its annual saving falls and its one-off cost rises."""
    saving = bau.annual_cost - option.annual_cost
    rows = [Sensitivity(variable="annual_saving", percent=percent, net_present_social_value=to_pence(
        terms.benefit(option) - terms.cost(option, annual=bau.annual_cost - saving * percent / 100) - bau_value))
        for percent in SAVING_SENSITIVITY]
    rows += [Sensitivity(variable="one_off_cost", percent=percent, net_present_social_value=to_pence(
        terms.benefit(option) - terms.cost(option, one_off=option.one_off_cost * percent / 100) - bau_value))
        for percent in ONE_OFF_SENSITIVITY]
    return rows


def _shares(case: BusinessCase, value: Decimal) -> list[PartnerShare]:
    """``value`` split in proportion to the baselines, to the penny: each rounded towards zero, the pennies
    left going one each to the largest remainders (first listed first on a tie)."""
    total = case.baseline_total
    if total == 0:
        return []
    exact = [value * b.annual_cost / total for b in case.baselines]
    shares = [amount.quantize(PENNY, ROUND_DOWN) for amount in exact]
    left = int((value - sum(shares, Decimal(0))) / PENNY)
    step = PENNY if left >= 0 else -PENNY
    order = sorted(range(len(exact)), key=lambda i: -abs(exact[i] - shares[i]))
    for i in order[:abs(left)]:
        shares[i] += step
    return [PartnerShare(body=b.body, baseline_share=(b.annual_cost / total).quantize(SHARE_PLACES, ROUND_HALF_UP),
                         net_present_social_value=share)
            for b, share in zip(case.baselines, shares, strict=True)]


class Lesson(ValueObject):
    """A lesson learned at a review: what worked, what did not, and tags to find it by (``procurement``)."""

    what_worked: Text = ""
    what_did_not: Text = ""
    tags: list[Code] = Field(default_factory=list, max_length=10)

    @model_validator(mode="after")
    def _says_something(self) -> Lesson:
        if not (self.what_worked or self.what_did_not):
            raise ValueError("a lesson says what worked or what did not")
        return self


class BenefitTrack(ValueObject):
    """What concluded reviews realised, kept small: reviews counted, savings to date, the last period's end."""

    reviews: int = 0
    cumulative_saving: Decimal = Decimal(0)
    cumulative_planned: Decimal = Decimal(0)


class BenefitPosition(ValueObject):
    """The benefits realised up to the end of review ``review_number``'s period, and the payback forecast.

    ``forecast_payback_at`` is None when the one-off cost is repaid already (``paid_back``) or cannot be at
    the saving realised (a saving of nothing or less); ``payback_slip`` is how much later than the business
    case's payback date the forecast falls, in real time (in compressed time, the dates' gap times the time
    scale; None when there is no forecast); ``forecast_rag`` rates it
    against the payback tolerances, red when no payback is in sight though one was planned.
    """

    review_number: int
    period_end: datetime
    recorded_at: datetime
    actual_annual_cost: Decimal
    annual_saving_realised: Decimal
    annual_saving_expected: Decimal
    saving_in_period: Decimal
    cumulative_saving: Decimal
    cumulative_planned: Decimal
    rag: Rag
    planned_payback_at: datetime | None
    forecast_payback_at: datetime | None
    paid_back: bool
    payback_slip: timedelta | None
    forecast_rag: Rag


def saving_rag(expected: Decimal, realised: Decimal, amber_tolerance: Decimal, red_tolerance: Decimal) -> Rag:
    """As for a KPI: a realised annual saving short of the expected one by more than a tolerance (pounds)."""
    shortfall = max(expected - realised, Decimal(0))
    if shortfall > red_tolerance:
        return Rag.RED
    if shortfall > amber_tolerance:
        return Rag.AMBER
    return Rag.GREEN


def pro_rata(annual: Decimal, start: datetime, end: datetime, time_scale: int = 1) -> Decimal:
    """An annual amount over ``start`` .. ``end``, as the period's share of a 365-day year, to the penny; in
    compressed time (``time_scale`` seconds of real time to each second of the agreement's, see
    ``GovernanceSettings.time_scale``) the period stands for ``time_scale`` times its length."""
    seconds = Decimal(int((end - start).total_seconds()) * time_scale)
    return to_pence(annual * seconds / Decimal(int(YEAR.total_seconds())))


def repaid_at(start: datetime, remaining: Decimal, annual_saving: Decimal, time_scale: int = 1) -> datetime:
    """When ``remaining`` pounds are repaid from ``start`` at ``annual_saving`` a year (whole seconds, rounded up);
    in compressed time, ``time_scale`` times sooner (see ``pro_rata``)."""
    seconds = math.ceil(remaining / annual_saving * Decimal(int(YEAR.total_seconds())) / time_scale)
    return start + timedelta(seconds=seconds)


def position(case: BusinessCase, track: BenefitTrack, *, review_number: int, recorded_at: datetime,
             went_live_at: datetime, period_start: datetime, period_end: datetime, baseline: Decimal,
             one_off_cost: Decimal,
             expected_annual_saving: Decimal, actual_annual_cost: Decimal, time_scale: int = 1) -> BenefitPosition:
    """The benefits realised once review ``review_number``'s figures (the period ``period_start`` ..
    ``period_end``) are added to the concluded reviews' ``track``, and the payback forecast from them; in
    compressed time at ``time_scale`` (see ``pro_rata``)."""
    realised = baseline - actual_annual_cost
    in_period = pro_rata(realised, period_start, period_end, time_scale)
    cumulative = track.cumulative_saving + in_period
    planned = track.cumulative_planned + pro_rata(expected_annual_saving, period_start, period_end, time_scale)
    planned_payback = (repaid_at(went_live_at, one_off_cost, expected_annual_saving, time_scale)
                       if expected_annual_saving > 0 else None)
    paid_back = cumulative >= one_off_cost
    forecast = None if paid_back or realised <= 0 else repaid_at(period_end, one_off_cost - cumulative, realised,
                                                                  time_scale)
    slip = (forecast - planned_payback) * time_scale if forecast is not None and planned_payback is not None else None
    return BenefitPosition(
        review_number=review_number, period_end=period_end, recorded_at=recorded_at,
        actual_annual_cost=actual_annual_cost,
        annual_saving_realised=realised, annual_saving_expected=expected_annual_saving, saving_in_period=in_period,
        cumulative_saving=cumulative, cumulative_planned=planned,
        rag=saving_rag(expected_annual_saving, realised, case.saving_amber_tolerance, case.saving_red_tolerance),
        planned_payback_at=planned_payback, forecast_payback_at=forecast, paid_back=paid_back, payback_slip=slip,
        forecast_rag=Rag.GREEN if planned_payback is None or paid_back else _payback_rag(case, slip),
    )


def _payback_rag(case: BusinessCase, slip: timedelta | None) -> Rag:
    """How far the forecast payback slips past the planned one, against the case's tolerances; no forecast
    (``slip`` None) is red."""
    if slip is None or slip > case.payback_red_tolerance:
        return Rag.RED
    return Rag.AMBER if slip > case.payback_amber_tolerance else Rag.GREEN


def concluded(track: BenefitTrack, latest: BenefitPosition) -> BenefitTrack:
    """The track once the review whose figures gave ``latest`` is concluded."""
    return BenefitTrack(reviews=track.reviews + 1, cumulative_saving=latest.cumulative_saving,
                        cumulative_planned=latest.cumulative_planned)
