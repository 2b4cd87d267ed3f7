"""What an agreement is made of: partners, the proposal, objectives, the plan and its settings.

These are value objects: frozen, validated on construction, and serialised to JSON
for Temporal payloads and the decision ledger.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from domain import limits
from domain import text as text_policy
from domain.calendar import FINANCIAL_YEAR_PERIODS, CalendarPeriod, ReviewAlignment


def _no_control_characters(text: str) -> str:
    """Refuse control characters (bar newline and tab) and lone surrogates, which no database can store."""
    if any(unicodedata.category(char) in ("Cc", "Cs") and char not in "\n\t" for char in text):
        raise ValueError("must not contain control characters")
    return text


def _to_pence(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"))


def _nfc(text: str) -> str:
    """Unicode NFC, so that a name typed on any keyboard is stored one way."""
    return unicodedata.normalize("NFC", text)


def repeats(values: Iterable[str]) -> list[str]:
    """The values that appear more than once in ``values``, sorted: what a rule of "each appears once" refuses."""
    return sorted(value for value, times in Counter(values).items() if times > 1)


name_key = text_policy.name_key


AS_RECORDED = "as_recorded"
"""Validation context key for input the engine accepted in the past (an agreement's history being replayed):
it is read as it was then, without the stricter formats of today (decimal strings, ISO 8601 durations and
dates, JSON integers) and platform limits, so that an old history replays as it ran."""


def _as_recorded(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(AS_RECORDED))


@dataclass(frozen=True)
class DecimalString:
    """A number sent as a JSON string of plain digits (``"650000.00"``, ``"-5.5"``): no exponent, no
    spaces, at most ``places`` decimal places and ``integer_digits`` digits before the point.

    Put in a ``Decimal`` field's ``Annotated`` metadata, it makes the engine and the published JSON
    Schema check the same pattern: a JSON number (``0.30000000000000004`` from ``0.1 + 0.2``) or a
    string such as ``"1e3"`` is refused by both. Python callers may still pass a ``Decimal``.
    """

    places: int
    integer_digits: int
    signed: bool = False
    share: bool = False
    """A share strictly between 0 and 1: ``"0."`` and at least one non-zero digit (``integer_digits`` unused)."""
    at_most: int | None = None
    """An upper bound in whole hundreds (100, 200), stated in the pattern so that the JSON Schema refuses what
    the field's ``le`` refuses (``"200"`` for a percentage of at most 100)."""
    positive: bool = False
    """At least one non-zero digit: the pattern refuses ``"0"`` and ``"0.00"`` as the field's ``gt=0`` does."""

    @property
    def pattern(self) -> str:
        if self.share:
            return rf"^0\.(?=[0-9]*[1-9])[0-9]{{1,{self.places}}}$"
        sign = "-?" if self.signed else ""
        nonzero = "(?=[0-9.]*[1-9])" if self.positive else ""
        fraction = rf"(\.[0-9]{{1,{self.places}}})?"
        if self.at_most is not None:
            hundreds = self.at_most // 100
            below = rf"[0-{hundreds - 1}]?[0-9]{{1,2}}{fraction}"
            return rf"^{sign}{nonzero}({below}|{self.at_most}(\.0{{1,{self.places}}})?)$"
        return rf"^{sign}{nonzero}[0-9]{{1,{self.integer_digits}}}{fraction}$"

    def _check(self, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, Decimal) or (isinstance(value, str) and re.fullmatch(self.pattern, value)):
            return value
        if _as_recorded(info):
            return value
        if self.share:
            raise PydanticCustomError(
                "decimal_string",
                "must be a share of more than 0 and less than 1 written as a string, such as \"0.8\", with at "
                "most {places} decimal places",
                {"places": self.places},
            )
        if self.at_most is not None:
            raise PydanticCustomError(
                "decimal_string",
                "must be a decimal number written as a string from 0 to {at_most}, such as \"3.5\", with at most "
                "{places} decimal places",
                {"at_most": self.at_most, "places": self.places},
            )
        raise PydanticCustomError(
            "decimal_string",
            "must be a {kind}decimal number written as a string, such as \"{example}\", with at most "
            "{places} decimal places and {digits} digits before the point",
            {
                "kind": "" if self.signed else "non-negative ",
                "example": "-1250.5" if self.signed else "1250.50",
                "places": self.places,
                "digits": self.integer_digits,
            },
        )

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.with_info_before_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        kind = "share (more than 0, less than 1)" if self.share else "decimal number" if self.signed else (
            "non-negative decimal number")
        return {
            "type": "string",
            "pattern": self.pattern,
            "description": f"A {kind} as a string, at most {self.places} decimal places.",
        }


_BIDI_AND_SEPARATORS = r"\u2028\u2029\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069"
_SINGLE_LINE_REFUSED = r"\u0000-\u001F\u007F-\u009F" + _BIDI_AND_SEPARATORS
"""What a one-line text may not contain (``domain.text.single_line``), for the JSON Schema."""
_MULTI_LINE_REFUSED = r"\u0000-\u0009\u000B\u000C\u000E-\u001F\u007F-\u009F" + _BIDI_AND_SEPARATORS


def _text_pattern(min_length: int, refused: str) -> str:
    """The JSON Schema pattern of a text the engine strips: none of the characters ``refused``, and at
    least ``min_length`` characters once leading and trailing white space is removed."""
    body = {0: r"[\s\S]*", 1: r"\s*\S[\s\S]*"}.get(min_length, rf"\s*\S[\s\S]{{{min_length - 2},}}\S\s*")
    return rf"^(?![\s\S]*[{refused}]){body}$"


def _policy(policy: Callable[[str], str], min_length: int, *, nfc_as_recorded: bool) -> Callable[..., str]:
    """An after-validator applying ``policy`` (``domain.text``), then stripping and checking ``min_length``
    again (a text of default-ignorables alone is empty). Text as recorded is read under the rules of its time:
    NFC for names, no control characters other than tab and line feed."""

    def validate(value: str, info: ValidationInfo) -> str:
        if _as_recorded(info):
            return _no_control_characters(_nfc(value) if nfc_as_recorded else value)
        result = policy(value).strip()
        if len(result) < min_length:
            raise ValueError(f"must have at least {min_length} visible character{'s' * (min_length != 1)}")
        return result

    return validate


Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$"),
]
"""An identifier such as a body's GSS code (E07000199) or a milestone id (m1): ASCII letters, digits, ``.``,
``_`` and ``-``, at most 64 characters."""

Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_policy(text_policy.single_line, 1, nfc_as_recorded=True)),
    Field(json_schema_extra={"pattern": _text_pattern(1, _SINGLE_LINE_REFUSED)}),
]
"""One line of at most 200 characters (a title, a person's or body's name, a label): no control characters,
line or paragraph separators or bidirectional controls; stored in Unicode NFC without default-ignorable
characters (``domain.text.single_line``). Compare names with ``name_key``."""
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=4000),
    AfterValidator(_policy(text_policy.multi_line, 0, nfc_as_recorded=False)),
    Field(json_schema_extra={"pattern": _text_pattern(0, _MULTI_LINE_REFUSED)}),
]
"""Text of several lines, at most 4,000 characters, possibly empty (a note, a mitigation): as ``Name`` but
line breaks are allowed, and stored as line feeds (``domain.text.multi_line``)."""
Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=4000),
    AfterValidator(_policy(text_policy.multi_line, 3, nfc_as_recorded=False)),
    Field(json_schema_extra={"pattern": _text_pattern(3, _MULTI_LINE_REFUSED)}),
]
"""A reason or a lesson: ``Text`` of at least 3 visible characters."""


Money = Annotated[
    Decimal,
    Field(ge=0, max_digits=15, decimal_places=2, allow_inf_nan=False),
    AfterValidator(_to_pence),
    DecimalString(places=2, integer_digits=13),
]
"""Pounds, exact to the penny, never negative: sent as a decimal string (``"650000.00"``) of at most 13 digits
before the point and 2 after, checked alike by the engine and the JSON Schema (see ``DecimalString``)."""
SignedMoney = Annotated[
    Decimal,
    Field(max_digits=15, decimal_places=2, allow_inf_nan=False),
    AfterValidator(_to_pence),
    DecimalString(places=2, integer_digits=13, signed=True),
]
"""Pounds, exact to the penny, positive or negative: a net annual cost, or what a leaving partner is owed."""
Measure = Annotated[
    Decimal,
    Field(max_digits=18, decimal_places=4, allow_inf_nan=False),
    DecimalString(places=4, integer_digits=14, signed=True),
]
"""A KPI value in the KPI's own unit: a decimal string of at most 4 decimal places, may be negative."""
Tolerance = Annotated[
    Decimal,
    Field(ge=0, max_digits=18, decimal_places=4, allow_inf_nan=False),
    DecimalString(places=4, integer_digits=14),
]
"""A KPI tolerance in the KPI's own unit: as ``Measure``, never negative."""
ISO_8601_DURATION = (
    r"^P(?=[0-9T])(?:[0-9]{1,9}Y)?(?:[0-9]{1,9}W)?(?:[0-9]{1,9}D)?"
    r"(?:T(?=[0-9])(?:[0-9]{1,9}H)?(?:[0-9]{1,9}M)?(?:[0-9]{1,9}(?:\.[0-9]{1,6})?S)?)?$"
)
"""A duration in years (of 365 days), weeks, days, hours, minutes and seconds (``P30D``, ``PT12H``,
``P4Y360D``), as the JSON Schema states it; months, whose length varies, are not accepted."""


def _iso_8601_duration(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, timedelta) or (isinstance(value, str) and re.fullmatch(ISO_8601_DURATION, value)):
        return value
    if _as_recorded(info):
        return value
    raise PydanticCustomError(
        "iso_duration",
        'must be an ISO 8601 duration in years, weeks, days, hours, minutes and seconds, such as "P30D" or "PT12H"',
    )


Duration = Annotated[
    timedelta,
    Field(gt=timedelta(0), le=timedelta(days=3660), json_schema_extra={"pattern": ISO_8601_DURATION}),
    BeforeValidator(_iso_8601_duration),
]
"""A duration of more than zero and at most 3,660 days (ten years), sent as ISO 8601."""

ISO_8601_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _iso_8601_date(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, date) or (isinstance(value, str) and re.fullmatch(ISO_8601_DATE, value)):
        return value
    if _as_recorded(info):
        return value
    raise PydanticCustomError("iso_date", 'must be a date written as YYYY-MM-DD, such as "2027-04-01"')


Date = Annotated[date, BeforeValidator(_iso_8601_date), Field(json_schema_extra={"pattern": ISO_8601_DATE})]
"""A calendar date, sent as ``YYYY-MM-DD`` (not a timestamp)."""


def _json_number(value: Any, info: ValidationInfo) -> Any:
    strict = info.mode == "json" and not _as_recorded(info)
    if strict and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise PydanticCustomError("int_type", "must be a whole number, such as 3 (not a string or true/false)")
    return value


WholeNumber = Annotated[int, BeforeValidator(_json_number)]
"""An integer. In JSON (what every client sends) a number, as the schema's ``integer`` says: not a string,
not true or false; Python callers such as the command line may pass the digits of one."""


class ValueObject(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Extended(ValueObject):
    """A value object with fields added after agreements were recorded: each field named in ``LATER_FIELDS`` is
    left out of its JSON while it holds its default, so that what older agreements recorded (ledger payloads,
    content hashes, fingerprints of remembered actions) reads and hashes exactly as it did."""

    LATER_FIELDS: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _leave_out_later_fields_at_default(self, handler: SerializerFunctionWrapHandler):
        data = handler(self)
        for name, default in _later_defaults(type(self)).items():
            if name in data and getattr(self, name) == default:
                del data[name]
        return data


_LATER_DEFAULTS: dict[type[Extended], dict[str, Any]] = {}
"""Each ``Extended`` class's later fields and their defaults, found once: pydantic's ``get_default`` inspects a
default factory's signature on every call, which made it the largest part of serialising an agreement."""


def _later_defaults(cls: type[Extended]) -> dict[str, Any]:
    """``cls``'s ``LATER_FIELDS`` with their default values (a factory's called once: the values are only compared,
    never handed out or changed)."""
    defaults = _LATER_DEFAULTS.get(cls)
    if defaults is None:
        defaults = {name: cls.model_fields[name].get_default(call_default_factory=True) for name in cls.LATER_FIELDS}
        _LATER_DEFAULTS[cls] = defaults
    return defaults


IDENTITY_PATTERN = r"^[^\s]{1,320}$"

Identity = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320,
                                            pattern=IDENTITY_PATTERN)]
"""The recorded form of an identity from before identities were bound (``BoundIdentity``): a display claim of the
person's token (their email or ``preferred_username``, as the API's ``CONCORDAT_API_IDENTITY_CLAIM`` says),
compared without regard to case; also the shape of a subject."""


class Stage(StrEnum):
    PROPOSAL = "proposal"
    OBJECTIVE_SETTING = "objective_setting"
    SIGN_OFF = "sign_off"
    IMPLEMENTATION = "implementation"
    REVIEW = "review"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class ServiceCategory(StrEnum):
    BACK_OFFICE = "back_office"
    FRONT_LINE = "front_line"
    COMBINED = "combined"


ISSUER_PATTERN = r"^https://[^\s]{1,490}$|^http://(127\.0\.0\.1|localhost)(:[0-9]+)?/[^\s]{0,480}$"
"""An OpenID issuer as its tokens' ``iss`` claim names it: an https URL (plain http on this machine only, for tests
and a developer's own provider)."""


class BoundIdentity(ValueObject):
    """A person as their body's identity provider knows them: the issuer of their tokens and their subject there
    (Microsoft Entra ID: the tenant's issuer and the person's object id, ``oid``, or ``sub``). Neither changes
    when the person's name, username or email does, and no other provider can issue a token with both."""

    issuer: str = Field(pattern=ISSUER_PATTERN, description="The issuer (``iss``) of the person's tokens, such as "
                        "https://login.microsoftonline.com/{tenant}/v2.0.")
    subject: str = Field(min_length=1, max_length=320, pattern=IDENTITY_PATTERN,
                         description="The person's subject (``sub``) at that issuer; compared exactly.")

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class Signatory(Extended):
    """A named officer authorised to sign for their body, and who they are to the API (``identity``).

    ``identity`` is bound by the signatory's own body: by the person signing in through one of their body's
    identity providers and accepting the role (``bind_identity``), or by a current signatory of the same body.
    Agreements recorded before identities were bound hold a plain string instead (the display claim their
    deployment named people by); it still loads, replays and, through the API, matches only a token from an
    issuer of the signatory's body (see ``is_identified_by``) until the signatory binds their identity.
    """

    LATER_FIELDS = frozenset({"identity"})

    name: Name
    role: Name
    identity: BoundIdentity | Identity | None = Field(
        default=None,
        description="Who may act as this signatory: the issuer and subject of their identity provider's tokens, "
        "bound by their own body (``bind_identity``). A plain string is the recorded form of agreements from "
        "before identities were bound: a display claim (an email or a username), compared without case. "
        "Required for actions on an agreement that requires attestation.",
    )

    @property
    def bound(self) -> BoundIdentity | None:
        """The signatory's bound identity (issuer and subject), or None for none or a recorded display claim."""
        return self.identity if isinstance(self.identity, BoundIdentity) else None

    def is_identified_by(self, issuer: str, subject: str, claim: str | None = None) -> bool:
        """Whether the person whose token ``issuer`` issued for ``subject`` is this signatory: the bound identity,
        compared exactly; for a recorded display-claim identity, ``claim`` (the token's value of that claim,
        given only when the caller vouches for it) compared without case."""
        if isinstance(self.identity, BoundIdentity):
            return self.identity.issuer == issuer and self.identity.subject == subject
        return (self.identity is not None and claim is not None
                and self.identity.casefold() == claim.strip().casefold())


class PartnerBody(ValueObject):
    code: Code = Field(description="The body's identifier, such as its GSS code.")
    name: Name
    signatories: list[Signatory] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _signatories_are_distinct(self, info: ValidationInfo) -> PartnerBody:
        key = text_policy.recorded_name_key if _as_recorded(info) else text_policy.name_key
        names = [key(s.name) for s in self.signatories]
        if len(names) != len(set(names)):
            raise ValueError(f"{self.name} names the same signatory twice")
        return self

    def signatory(self, name: str) -> Signatory | None:
        """The named signatory ``name`` (compared with ``name_key``), or None."""
        return find_signatory(self.signatories, name)


def find_signatory(
    signatories: list[Signatory], name: str, key: Callable[[str], str] = text_policy.name_key
) -> Signatory | None:
    """The signatory called ``name`` among ``signatories``, names compared by ``key`` (as people read them:
    ``domain.text.name_key``; an agreement under older rules passes its own, ``Agreement.name_key``), or None."""
    wanted = key(name)
    return next((s for s in signatories if key(s.name) == wanted), None)


GREEN_BOOK_DISCOUNT_RATE = Decimal("3.5")
"""HM Treasury Green Book social time preference rate, percent a year (years 0 to 30)."""
GREEN_BOOK_LONG_TERM_DISCOUNT_RATE = Decimal("3.0")
"""The Green Book's (2022, annex A6) declining long-term rate, percent a year (years 31 to 75)."""
MAX_APPRAISAL_YEARS = 75
"""The longest appraisal: the end of the Green Book's 3.0% band (a case beyond it would need the 2.5% band)."""
Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False),
    DecimalString(places=2, integer_digits=3, at_most=100),
]
"""A percentage from 0 to 100 as a decimal string (``"3.5"``), at most 2 decimal places."""
OptimismBias = Annotated[
    Decimal,
    Field(ge=0, le=200, max_digits=5, decimal_places=2, allow_inf_nan=False),
    DecimalString(places=2, integer_digits=3, at_most=200),
]
"""An optimism bias uplift from 0 to 200 percent: the upper bound of the *Supplementary Green Book Guidance:
Optimism Bias* (2003, table 1; equipment and development capital expenditure, 200%)."""
DeflatorIndex = Annotated[
    Decimal,
    Field(gt=0, max_digits=9, decimal_places=4, allow_inf_nan=False),
    DecimalString(places=4, integer_digits=5, positive=True),
]
"""A GDP deflator index value (base year any, ``"100"`` or ``"102.3456"``), more than 0."""
PaybackTolerance = Duration
"""How much later than planned a payback forecast may fall before it is amber or red."""


class OptionKind(StrEnum):
    CARRY_ON_ALONE = "carry_on_alone"
    """Each partner carries on providing the service alone (the status quo)."""
    SHARED = "shared"
    """The partners share the service, as proposed."""
    OTHER = "other"
    """Any other option considered (outsourcing, a different partnership ...)."""


class Option(Extended):
    """One option considered, with its costs over the appraisal: one-off (year 0, capital) and annual
    (years 1 .., operating); its non-cashable benefits valued in pounds a year, and those described but not
    valued (Green Book 2022, chapter 5 and annex A1: monetise where possible, describe where not)."""

    LATER_FIELDS = frozenset({"non_cashable_benefit", "described_benefits"})

    id: Code
    name: Name
    kind: OptionKind
    one_off_cost: Money
    annual_cost: Money
    non_cashable_benefit: Money = Field(
        default=Decimal(0), description="Non-cashable benefits valued in pounds a year (years 1 ..), such as "
        "officers' time released; 0 when none is valued.")
    described_benefits: list[Text] = Field(
        default_factory=list, max_length=20, description="Benefits described but not valued in pounds.")


class Baseline(ValueObject):
    """A partner's current annual cost of the service, before sharing (pounds a year)."""

    body: Code
    annual_cost: Money


class BusinessCase(Extended):
    """The options considered, the partners' baseline, the appraisal's terms and the tolerances of the benefits.

    At least one option is each partner carrying on alone and one is the proposed sharing; the preferred
    option is one of them. Tolerances are as for KPIs: a realised annual saving short of the expected one by
    more than ``saving_amber_tolerance`` (pounds a year) is amber, by more than ``saving_red_tolerance`` red;
    a payback forecast later than the business case's payback date by more than ``payback_amber_tolerance``
    is amber, by more than ``payback_red_tolerance`` red (ISO 8601 durations, ``"P90D"``).
    """

    LATER_FIELDS = frozenset({"long_term_discount_rate", "capital_optimism_bias", "operating_optimism_bias",
                              "deflators", "preferred_justification"})

    options: list[Option] = Field(min_length=2, max_length=20)
    preferred_option: Code
    appraisal_years: WholeNumber = Field(
        ge=1, le=MAX_APPRAISAL_YEARS,
        description="The term appraised, in whole years: at most 75, the last year of the Green Book's 3.0% band.")
    discount_rate: Percent = Field(default=GREEN_BOOK_DISCOUNT_RATE,
                                   description="Percent a year for years 0 to 30; the Green Book's 3.5 by default.")
    long_term_discount_rate: Percent = Field(
        default=GREEN_BOOK_LONG_TERM_DISCOUNT_RATE,
        description="Percent a year for years 31 to 75; the Green Book's 3.0 by default.")
    optimism_bias: Percent = Field(
        default=Decimal(0), description="Percent uplift on each option's uncertain costs, for a category with no "
        "uplift of its own (capital_optimism_bias, operating_optimism_bias).")
    capital_optimism_bias: OptimismBias | None = Field(
        default=None, description="Percent uplift on one-off (capital) costs, 0 to 200; optimism_bias if absent.")
    operating_optimism_bias: OptimismBias | None = Field(
        default=None, description="Percent uplift on the annual (operating) costs of every option but carrying "
        "on alone, 0 to 200; optimism_bias if absent.")
    deflators: list[DeflatorIndex] | None = Field(
        default=None, min_length=2, max_length=MAX_APPRAISAL_YEARS + 1,
        description="A GDP deflator index for years 0 .. appraisal_years: the costs and benefits are then in cash "
        "(nominal) terms and appraised in year 0's real prices; absent, they are in real prices already.")
    preferred_justification: Reason | None = Field(
        default=None, description="Why the preferred option is preferred though another has a higher net present "
        "social value (at least 3 visible characters, as a reason); required to submit such a case.")
    baselines: list[Baseline] = Field(min_length=1, max_length=50,
                                      description="Each partner's current annual cost of the service.")
    saving_amber_tolerance: Money
    saving_red_tolerance: Money
    payback_amber_tolerance: PaybackTolerance = timedelta(days=90)
    payback_red_tolerance: PaybackTolerance = timedelta(days=180)

    @model_validator(mode="after")
    def _consistent(self) -> BusinessCase:
        """The first rule the case breaks, if any, raised: options and baselines each once, the preferred option
        and the two options every case must weigh among them, red tolerances no tighter than amber ones."""
        ids = [o.id for o in self.options]
        repeated_ids = sorted({i for i in ids if ids.count(i) > 1})
        kinds = {o.kind for o in self.options}
        bodies = [b.body for b in self.baselines]
        repeated_bodies = sorted({b for b in bodies if bodies.count(b) > 1})
        rules = [
            (not repeated_ids, f"each option must appear once; repeated: {', '.join(repeated_ids)}"),
            (self.preferred_option in ids,
             f"the preferred option {self.preferred_option} must be one of the options ({', '.join(ids)})"),
            (OptionKind.CARRY_ON_ALONE in kinds,
             "the options considered must include each partner carrying on alone (carry_on_alone)"),
            (OptionKind.SHARED in kinds, "the options considered must include the proposed sharing (shared)"),
            (not repeated_bodies, f"each partner's baseline must appear once; repeated: {', '.join(repeated_bodies)}"),
            (self.saving_red_tolerance >= self.saving_amber_tolerance,
             f"the saving's red tolerance (£{self.saving_red_tolerance}) must not be smaller than its amber "
             f"tolerance (£{self.saving_amber_tolerance})"),
            (self.payback_red_tolerance >= self.payback_amber_tolerance,
             "the payback's red tolerance must not be shorter than its amber tolerance"),
            (self.deflators is None or len(self.deflators) == self.appraisal_years + 1,
             f"the deflators must give one index for each year 0 .. {self.appraisal_years} "
             f"({self.appraisal_years + 1} values), not {len(self.deflators or [])}"),
        ]
        for holds, message in rules:
            if not holds:
                raise ValueError(message)
        return self

    @property
    def baseline_total(self) -> Decimal:
        return sum((b.annual_cost for b in self.baselines), Decimal(0))


class Risk(ValueObject):
    """One entry of the risk register: likelihood and impact 1 .. 5, score their product (1 .. 25)."""

    id: Code
    risk: Reason
    owner_body: Code
    likelihood: WholeNumber = Field(ge=1, le=5, description="From 1 (rare) to 5 (almost certain).")
    impact: WholeNumber = Field(ge=1, le=5, description="From 1 (negligible) to 5 (severe).")
    mitigation: Text = ""

    @property
    def score(self) -> int:
        return self.likelihood * self.impact


class Proposal(Extended):
    """The case for sharing: who shares what, at what cost, for what saving."""

    LATER_FIELDS = frozenset({"business_case", "risks"})

    title: Name
    service_name: Name
    service_category: ServiceCategory
    lead_body: Code
    partners: list[PartnerBody] = Field(min_length=2, max_length=50)
    baseline_annual_cost: Money
    one_off_cost: Money
    expected_annual_saving: SignedMoney = Field(
        description="Pounds a year; negative for a net annual cost (a case made on resilience or quality)."
    )
    business_case: BusinessCase | None = Field(
        default=None, description="The options considered and the partners' baseline; required to submit "
        "(optional only so that agreements opened before it still load).")
    risks: list[Risk] = Field(default_factory=list, max_length=100,
                              description="The risk register; at least one risk is required to submit.")

    @field_validator("partners")
    @classmethod
    def _partner_codes_fit_the_search_attribute(
        cls, partners: list[PartnerBody], info: ValidationInfo
    ) -> list[PartnerBody]:
        if not _as_recorded(info) and (problem := partner_codes_problem([p.code for p in partners])):
            raise PydanticCustomError("search_attribute_too_large", problem)
        return partners

    @model_validator(mode="after")
    def _partners_make_sense(self) -> Proposal:
        codes = [p.code for p in self.partners]
        duplicates = repeats(codes)
        if duplicates:
            raise ValueError(f"each partner body must appear once; repeated: {', '.join(duplicates)}")
        if self.lead_body not in codes:
            raise ValueError(f"the lead body {self.lead_body} must be one of the partners ({', '.join(codes)})")
        if self.expected_annual_saving > self.baseline_annual_cost:
            raise ValueError(
                f"the expected annual saving (£{self.expected_annual_saving}) cannot exceed "
                f"the baseline annual cost (£{self.baseline_annual_cost})"
            )
        return self

    @property
    def payback_years(self) -> Decimal | None:
        """Years for the saving to repay the one-off cost; None when nothing is saved (or it costs more)."""
        if self.expected_annual_saving <= 0:
            return None
        return (self.one_off_cost / self.expected_annual_saving).quantize(Decimal("0.01"), ROUND_HALF_UP)

    def partner(self, code: str) -> PartnerBody | None:
        return next((p for p in self.partners if p.code == code), None)

    def body_name(self, code: str) -> str:
        partner = self.partner(code)
        return partner.name if partner else code


class ObjectiveCategory(StrEnum):
    COST_REDUCTION = "cost_reduction"
    SERVICE_QUALITY = "service_quality"
    RESILIENCE = "resilience"
    KNOWLEDGE_SHARING = "knowledge_sharing"
    OTHER = "other"


class Rag(StrEnum):
    """Red, amber or green: the programme-office shorthand for on track, at risk, off track."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"

    @classmethod
    def worst(cls, *rags: Rag) -> Rag:
        order = [cls.GREEN, cls.AMBER, cls.RED]
        return max(rags, key=order.index, default=cls.GREEN)


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"


class Kpi(ValueObject):
    """A measure of an objective.

    Tolerances are in the KPI's own unit: a reading that misses its target by more
    than ``amber_tolerance`` is amber, by more than ``red_tolerance`` red.
    """

    id: Code
    name: Name
    unit: Name
    baseline: Measure
    target: Measure
    direction: Direction
    amber_tolerance: Tolerance
    red_tolerance: Tolerance

    @model_validator(mode="after")
    def _tolerances_are_ordered(self) -> Kpi:
        if self.red_tolerance < self.amber_tolerance:
            raise ValueError(
                f"KPI {self.id}: the red tolerance ({self.red_tolerance}) must not be "
                f"smaller than the amber tolerance ({self.amber_tolerance})"
            )
        return self

    def shortfall(self, value: Decimal) -> Decimal:
        """How far ``value`` falls short of the target, in the KPI's unit (0 when on target)."""
        gap = self.target - value if self.direction is Direction.HIGHER_IS_BETTER else value - self.target
        return max(gap, Decimal(0))

    @property
    def off_target_side(self) -> str:
        """How a reading that misses this KPI's target is worded: 'over' when lower is better, else 'under'."""
        return "over" if self.direction is Direction.LOWER_IS_BETTER else "under"

    def rag(self, value: Decimal) -> Rag:
        shortfall = self.shortfall(value)
        if shortfall > self.red_tolerance:
            return Rag.RED
        if shortfall > self.amber_tolerance:
            return Rag.AMBER
        return Rag.GREEN


class Objective(ValueObject):
    id: Code
    category: ObjectiveCategory
    description: Name
    kpis: list[Kpi] = Field(min_length=1, max_length=50)


class Milestone(ValueObject):
    id: Code
    title: Name
    owner_body: Code
    due: Date


class Contribution(ValueObject):
    body: Code
    annual_amount: Money


class Plan(ValueObject):
    """What the partners commit to: objectives with KPIs, the implementation plan, and who pays."""

    objectives: list[Objective] = Field(min_length=1, max_length=50)
    milestones: list[Milestone] = Field(min_length=1, max_length=200)
    contributions: list[Contribution] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _ids_are_unique(self) -> Plan:
        for kind, ids in (
            ("objective", [o.id for o in self.objectives]),
            ("KPI", [k.id for k in self.kpis]),
            ("milestone", [m.id for m in self.milestones]),
            ("contribution body", [c.body for c in self.contributions]),
        ):
            repeated = repeats(ids)
            if repeated:
                raise ValueError(f"each {kind} must appear once; repeated: {', '.join(repeated)}")
        return self

    @property
    def kpis(self) -> list[Kpi]:
        return [kpi for objective in self.objectives for kpi in objective.kpis]

    def kpi(self, kpi_id: str) -> Kpi | None:
        return next((k for k in self.kpis if k.id == kpi_id), None)

    def milestone(self, milestone_id: str) -> Milestone | None:
        return next((m for m in self.milestones if m.id == milestone_id), None)


class StageDurations(ValueObject):
    """How long each stage is planned to take; drift is measured against these."""

    proposal: Duration = timedelta(days=60)
    objective_setting: Duration = timedelta(days=45)
    sign_off: Duration = timedelta(days=30)
    implementation: Duration = timedelta(days=365)
    review: Duration = Field(
        default=timedelta(days=30),
        description="Time allowed, after each review period ends, to record readings and decide.",
    )

    def of(self, stage: Stage) -> timedelta:
        return getattr(self, stage.value)


def _ed25519_public_key(pem: str) -> str:
    """An Ed25519 public key in PEM (``-----BEGIN PUBLIC KEY-----``), as ``cryptography`` reads it."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("must be a public key in PEM form (-----BEGIN PUBLIC KEY-----)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("must be an Ed25519 public key (the API signs attestations with Ed25519)")
    return pem.strip() + "\n"


ED25519_PUBLIC_KEY_PEM = (
    r"^-----BEGIN PUBLIC KEY-----\r?\nMCowBQYDK2VwAyEA[A-Za-z0-9+/]{43}=\r?\n-----END PUBLIC KEY-----\r?\n?$"
)
"""The PEM of an Ed25519 public key (SubjectPublicKeyInfo: always one 60-character base64 line)."""

PublicKeyPem = Annotated[str, StringConstraints(pattern=ED25519_PUBLIC_KEY_PEM), AfterValidator(_ed25519_public_key)]
"""An attestor's Ed25519 public key, PEM."""


MAX_TIME_SCALE = 10_000_000
"""The most compressed time an agreement may run at: a second standing for about 116 days."""


class GovernanceSettings(Extended):
    LATER_FIELDS = frozenset({"require_attestation", "attestor_keys", "time_scale"})

    stage_durations: StageDurations = StageDurations()
    amber_share: Annotated[Decimal, DecimalString(places=4, integer_digits=1, share=True)] = Field(
        default=Decimal("0.8"),
        gt=0,
        lt=1,
        allow_inf_nan=False,
        description="Share of a stage's planned duration after which it turns amber.",
    )
    escalation_interval: Duration = Field(
        default=timedelta(days=7), description="How often an overdue stage escalates again."
    )
    max_sign_off_rounds: WholeNumber = Field(default=3, ge=1, le=20)
    review_period: CalendarPeriod = Field(
        default=CalendarPeriod(days=91),
        description="Time between benefit reviews, in calendar terms: P3M is a quarter, P1Y a year. "
        "The default, P91D, is kept for agreements opened before calendar periods; new agreements should use P3M.",
        json_schema_extra={"default": "P91D"},
    )
    review_alignment: ReviewAlignment = Field(
        default=ReviewAlignment.GO_LIVE,
        description="go_live: review periods are counted from go-live. financial_year: they end on the "
        "financial year's grid from 1 April (P3M ends on 30 June, 30 September, 31 December and 31 March, "
        "each at the end of that day, UTC); P1M, P3M, P6M or P1Y only.",
    )
    term: CalendarPeriod = Field(
        default=CalendarPeriod(years=4, days=360),
        description="How long the shared service runs after going live. The default, P4Y360D, is the 1,820 days "
        "agreements opened before calendar periods ran for; new agreements should use P5Y.",
        json_schema_extra={"default": "P4Y360D"},
    )

    time_scale: WholeNumber = Field(
        default=1, ge=1, le=MAX_TIME_SCALE,
        description="How many seconds of real time each second of the agreement stands for, in the money it "
        "accrues: 1 (the default) for a real agreement; a demonstration or trial that runs in compressed time "
        "(a review period of seconds standing for a quarter) sets it so that its savings and payback dates are "
        "at real scale (domain.business_case.pro_rata).",
    )
    require_attestation: bool = Field(
        default=False,
        description="Every action must carry an attestation signed by one of attestor_keys (the Concordat API "
        "signs one for each action it forwards), so that nobody acts on the agreement except through the API, as "
        "the signatory their token proves them to be.",
    )
    attestor_keys: dict[Code, PublicKeyPem] = Field(
        default_factory=dict,
        max_length=20,
        description="The attestors' public keys (Ed25519, PEM) by key id. Changed by the change_attestor_keys "
        "action, recorded as a decision.",
    )

    @model_validator(mode="after")
    def _periods_fit(self) -> GovernanceSettings:
        if self.require_attestation and not self.attestor_keys:
            raise ValueError("an agreement that requires attestation needs at least one attestor key "
                             "(attestor_keys)")
        if self.review_period.legacy_timedelta() > timedelta(days=3660):
            raise ValueError(f"the review period ({self.review_period}) must be at most ten years")
        if self.term.legacy_timedelta() > timedelta(days=36600):
            raise ValueError(f"the term ({self.term}) must be at most a hundred years")
        if self.review_alignment is ReviewAlignment.FINANCIAL_YEAR and self.review_period not in FINANCIAL_YEAR_PERIODS:
            raise ValueError(
                f"review periods aligned to the financial year must be P1M, P3M, P6M or P1Y (months, quarters, "
                f"half-years or years from 1 April); the review period is {self.review_period}"
            )
        return self


def partner_codes_problem(codes: list[str]) -> str | None:
    """Why these partner codes cannot be the ``PartnerBodies`` search attribute, or None if they can."""
    size = limits.keyword_list_bytes(codes)
    if size <= limits.SEARCH_ATTRIBUTE_VALUE_BYTES:
        return None
    return (
        f"the partners' codes take {size} bytes as the PartnerBodies search attribute, over Temporal's limit of "
        f"{limits.SEARCH_ATTRIBUTE_VALUE_BYTES} bytes for one search attribute value "
        "(limit.searchAttributes.sizeOfValue): use fewer partners or shorter codes"
    )


class AgreementRequest(ValueObject):
    """What it takes to open an agreement: its id, the lead body's first proposal, and its settings.

    Its JSON may take at most ``limits.STATE_BYTES`` (1 MB), so that the agreement's state fits a payload.
    """

    agreement_id: Code
    proposal: Proposal
    settings: GovernanceSettings = GovernanceSettings()

    @model_validator(mode="after")
    def _fits_a_payload(self, info: ValidationInfo) -> AgreementRequest:
        size = len(self.model_dump_json(include={"agreement_id", "proposal", "settings"}).encode())
        if size > limits.STATE_BYTES and not _as_recorded(info):
            raise PydanticCustomError(
                "message_too_large",
                "the request takes {size} bytes, over the {limit} bytes an agreement's state may take "
                "(half of Temporal's 2 MB payload limit, limit.blobSize.error)",
                {"size": size, "limit": limits.STATE_BYTES},
            )
        return self
