"""The business case, the risk register and the benefits realised: is sharing paying off?

Pure rules, exact to the penny. Amounts are pounds (``Decimal``), rates and uplifts are percentages,
years are 365 days.

**Discounting** follows HM Treasury's *Green Book* (2022, section 6 and annex A6): each option's costs
are discounted to present value at the social time preference rate, 3.5% a year for the first 30 years
(``domain.model.GREEN_BOOK_DISCOUNT_RATE``), configurable per business case. The convention here: one-off costs fall
in year 0 and are not discounted; the annual cost falls at the end of each year ``t`` = 1 .. ``years``
and is discounted by the factor 1 / (1 + r)^t. The factors are exact (not the four-place table); the
present value is rounded to the penny once, half up, at the end.

**Optimism bias** (Green Book, section 4 and the *Supplementary Green Book Guidance: Optimism Bias*):
appraisers' costs are systematically too low, so every cost of every option (one-off and annual) is
uplifted by the business case's ``optimism_bias`` percentage before discounting.

An option's net present value is minus its present cost (these options are costed, their benefits are
the savings between them): the option with the highest net present value costs least over the term.

**Benefits realised**: at each review the lead body records the shared service's actual annual cost and
each partner's contribution. The annual saving realised is the proposal's baseline (the partners'
annual cost before sharing) less the actual annual cost; over a review period it is pro rata to the
period's length (days / 365, to the penny). Cumulative savings are the sum of the periods'; the business
case's cumulative saving is the expected annual saving pro rata over the same periods. The payback date is
forecast from the figures realised so far: the one-off cost still to repay, at the latest annual saving
realised, from the end of the latest period.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from pydantic import Field, model_validator

from domain.model import BusinessCase, Code, OptionKind, Rag, Text, ValueObject

YEAR = timedelta(days=365)
"""A year in savings pro rata and payback forecasts."""
PENNY = Decimal("0.01")

def to_pence(amount: Decimal) -> Decimal:
    return amount.quantize(PENNY, ROUND_HALF_UP)


class OptionAppraisal(ValueObject):
    """An option's present cost and net present value (pounds, to the penny) and whether it is preferred."""

    id: str
    name: str
    kind: OptionKind
    present_cost: Decimal
    net_present_value: Decimal
    preferred: bool


def discount_factor(rate_percent: Decimal, year: int) -> Decimal:
    """The Green Book discount factor 1 / (1 + r)^t for year ``year`` at ``rate_percent`` a year (exact)."""
    return 1 / (1 + rate_percent / 100) ** year


def present_cost(one_off: Decimal, annual: Decimal, years: int, rate_percent: Decimal,
                 optimism_bias_percent: Decimal = Decimal(0)) -> Decimal:
    """The present value of ``one_off`` in year 0 plus ``annual`` at the end of years 1 .. ``years``, every
    cost uplifted by ``optimism_bias_percent``, discounted at ``rate_percent`` (pounds, to the penny)."""
    uplift = 1 + optimism_bias_percent / 100
    total = one_off * uplift + sum((annual * uplift * discount_factor(rate_percent, t)
                                    for t in range(1, years + 1)), Decimal(0))
    return to_pence(total)


def appraise(case: BusinessCase) -> list[OptionAppraisal]:
    """Each option's present cost and net present value over the case's ``appraisal_years`` (see above)."""
    appraised = []
    for option in case.options:
        cost = present_cost(option.one_off_cost, option.annual_cost, case.appraisal_years, case.discount_rate,
                            case.optimism_bias)
        appraised.append(OptionAppraisal(id=option.id, name=option.name, kind=option.kind, present_cost=cost,
                                         net_present_value=-cost, preferred=option.id == case.preferred_option))
    return appraised


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
    case's payback date the forecast falls (None when there is no forecast); ``forecast_rag`` rates it
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


def pro_rata(annual: Decimal, start: datetime, end: datetime) -> Decimal:
    """An annual amount over ``start`` .. ``end``, as the period's share of a 365-day year, to the penny."""
    return to_pence(annual * Decimal(int((end - start).total_seconds())) / Decimal(int(YEAR.total_seconds())))


def repaid_at(start: datetime, remaining: Decimal, annual_saving: Decimal) -> datetime:
    """When ``remaining`` pounds are repaid from ``start`` at ``annual_saving`` a year (whole seconds, rounded up)."""
    seconds = math.ceil(remaining / annual_saving * Decimal(int(YEAR.total_seconds())))
    return start + timedelta(seconds=seconds)


def position(case: BusinessCase, track: BenefitTrack, *, review_number: int, recorded_at: datetime,
             went_live_at: datetime, period_start: datetime, period_end: datetime, baseline: Decimal,
             one_off_cost: Decimal,
             expected_annual_saving: Decimal, actual_annual_cost: Decimal) -> BenefitPosition:
    """The benefits realised once review ``review_number``'s figures (the period ``period_start`` ..
    ``period_end``) are added to the concluded reviews' ``track``, and the payback forecast from them."""
    realised = baseline - actual_annual_cost
    in_period = pro_rata(realised, period_start, period_end)
    cumulative = track.cumulative_saving + in_period
    planned = track.cumulative_planned + pro_rata(expected_annual_saving, period_start, period_end)
    planned_payback = (repaid_at(went_live_at, one_off_cost, expected_annual_saving)
                       if expected_annual_saving > 0 else None)
    paid_back = cumulative >= one_off_cost
    forecast = None if paid_back or realised <= 0 else repaid_at(period_end, one_off_cost - cumulative, realised)
    slip = forecast - planned_payback if forecast is not None and planned_payback is not None else None
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
