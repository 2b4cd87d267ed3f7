"""Calendar periods: review periods and terms counted as people count them.

A ``CalendarPeriod`` is an ISO 8601 duration in years, months, weeks and days (``P3M``,
``P1Y``, ``P5Y``, ``P1Y6M``, ``P91D``, ``P13W``), plus hours, minutes and seconds for the
compressed-time demonstrations and tests. Months and years are calendar months and years
(python-dateutil's ``relativedelta``): 31 January plus one month is the last day of February.
Period ends are always counted from one anchor (the n-th end is anchor + n x period, never the
previous end + period), so five years of quarters never drift.

Agreements opened before calendar periods existed stored their settings as plain durations
(pydantic wrote 1,820 days as ``P4Y360D``, reading ``P1Y`` as 365 days and ``P1M`` as 30 days);
``legacy_timedelta`` keeps that meaning for them, so their timers do not move.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from dateutil.relativedelta import relativedelta
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

ACCEPTED = (
    "a period such as P3M, P1Y or P91D (ISO 8601: years, months, weeks or days; "
    "hours, minutes and seconds only to compress time in trials)"
)
"""What a period may be, for refusals."""

_ISO = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d{1,6})?)S)?)?"
)
_PATTERN = r"^P(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d{1,6})?S)?)?$"
_MAX_NUMBER = 100_000


@dataclass(frozen=True)
class CalendarPeriod:
    """A period of whole years, months and days, plus a time of day part below one day.

    Serialised in canonical ISO 8601 order (``P1Y6M``, ``P91D``, ``PT20S``); weeks become days
    (``P13W`` is ``P91D``). Raises ValueError, naming what is accepted, for anything else:
    free text (``3 months``), zero, or a negative period.
    """

    years: int = 0
    months: int = 0
    days: int = 0
    time: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        if min(self.years, self.months, self.days) < 0 or not timedelta(0) <= self.time < timedelta(days=1):
            raise ValueError(f"must be {ACCEPTED}, and not negative")
        if not (self.years or self.months or self.days or self.time):
            raise ValueError(f"must be {ACCEPTED}, longer than zero")

    @classmethod
    def parse(cls, value: object) -> CalendarPeriod:
        """A period from its ISO 8601 text, a ``timedelta`` (whole days plus time) or a period; raises ValueError,
        naming what is accepted, for anything else."""
        if isinstance(value, CalendarPeriod):
            return value
        if isinstance(value, timedelta):
            return cls._from_timedelta(value)
        if isinstance(value, str):
            return cls._from_iso(value)
        raise ValueError(f"must be {ACCEPTED}; {value!r} is not")

    @classmethod
    def _from_timedelta(cls, value: timedelta) -> CalendarPeriod:
        if value <= timedelta(0):
            raise ValueError(f"must be {ACCEPTED}, longer than zero")
        return cls(days=value.days, time=value - timedelta(days=value.days))

    @classmethod
    def _from_iso(cls, value: str) -> CalendarPeriod:
        """Weeks count as seven days; hours, minutes and seconds of a day or more carry into the days."""
        text = value.strip()
        match = _ISO.fullmatch(text)
        if match is None or text in ("P", "PT") or text.endswith("T"):
            raise ValueError(f"must be {ACCEPTED}; {value!r} is not")
        parts = {name: Decimal(number) for name, number in match.groupdict().items() if number is not None}
        if any(number > _MAX_NUMBER for number in parts.values()):
            raise ValueError(f"must be {ACCEPTED}; {value!r} is too long")
        whole = {name: int(number) for name, number in parts.items() if name != "seconds"}
        time = timedelta(hours=whole.get("hours", 0), minutes=whole.get("minutes", 0),
                         seconds=float(parts.get("seconds", 0)))
        days = 7 * whole.get("weeks", 0) + whole.get("days", 0) + time.days
        return cls(whole.get("years", 0), whole.get("months", 0), days, time - timedelta(days=time.days))

    def __str__(self) -> str:
        text = "P" + "".join(f"{number}{unit}" for number, unit in
                             ((self.years, "Y"), (self.months, "M"), (self.days, "D")) if number)
        if self.time:
            hours, rest = divmod(self.time, timedelta(hours=1))
            minutes, rest = divmod(rest, timedelta(minutes=1))
            seconds = Decimal(rest.seconds) + Decimal(rest.microseconds) / 1_000_000
            text += "T" + "".join(f"{_plain(Decimal(number))}{unit}" for number, unit in
                                  ((hours, "H"), (minutes, "M"), (seconds, "S")) if number)
        return text

    @property
    def total_months(self) -> int:
        return 12 * self.years + self.months

    def times(self, count: int) -> relativedelta:
        """``count`` periods as one calendar offset, for anchored arithmetic."""
        return relativedelta(years=count * self.years, months=count * self.months, days=count * self.days,
                             microseconds=count * (self.time // timedelta(microseconds=1)))

    def legacy_timedelta(self) -> timedelta:
        """The period as plain durations read it before calendar periods: a year of 365 days, a month of 30."""
        return timedelta(days=365 * self.years + 30 * self.months + self.days) + self.time

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.parse, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": _PATTERN, "examples": ["P3M", "P1Y", "P91D"],
                "description": f"{ACCEPTED[0].upper()}{ACCEPTED[1:]}; calendar months and years."}


def _plain(number: Decimal) -> str:
    """'20' for 20.0, '10.5' for 10.50: seconds as pydantic wrote them."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class ReviewAlignment(StrEnum):
    """Where review periods end."""

    GO_LIVE = "go_live"
    """Periods counted from the moment the service went live."""
    FINANCIAL_YEAR = "financial_year"
    """Period ends on the local-government financial year's grid, which starts on 1 April."""


FINANCIAL_YEAR_PERIODS = (CalendarPeriod(months=1), CalendarPeriod(months=3), CalendarPeriod(months=6),
                          CalendarPeriod(years=1))
"""The review periods that divide the financial year: monthly, quarterly, half-yearly, yearly."""


def financial_year_start(moment: datetime) -> datetime:
    """The start (1 April, 00:00 UTC) of the financial year ``moment`` falls in."""
    moment = moment.astimezone(UTC)
    year = moment.year if (moment.month, moment.day) >= (4, 1) else moment.year - 1
    return datetime(year, 4, 1, tzinfo=UTC)


def describe_end(end: datetime) -> str:
    """A period end as officers say it: 'the period ending 2027-06-30' for the end of a day (midnight UTC)."""
    end = end.astimezone(UTC)
    if end.time() == datetime.min.time():
        return f"{(end - timedelta(days=1)).date().isoformat()}"
    return f"{end:%Y-%m-%d %H:%M} UTC"
