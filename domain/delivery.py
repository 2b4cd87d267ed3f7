"""Who an alert reaches: subscriptions and the rules that match alerts to them.

A subscription names one recipient (an email address, or a webhook endpoint in one of
three formats), the bodies it follows (GSS codes, or every body), how those bodies must
relate to the agreement (the body being waited on, the lead body, or any partner), the
alert kinds and the levels it wants. Matching is pure: the same alert and subscriptions
always give the same recipients, so the outbox written beside each alert is exact.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import email_validator
from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from domain import escape
from domain.drift import Alert, AlertKind
from domain.model import AS_RECORDED, Code, Name, ValueObject


class Channel(StrEnum):
    """How a recipient is reached."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    """A JSON POST in Concordat's own format, signed with the subscription's secret."""
    TEAMS = "teams"
    """A Microsoft Teams incoming webhook (an Adaptive Card message)."""
    SLACK = "slack"
    """A Slack incoming webhook (a message with blocks)."""


class Relation(StrEnum):
    """How a followed body must relate to an agreement for its alerts to reach the subscription."""

    AWAITED = "awaited"
    """The body is one the agreement is waiting on (for sign-off, a milestone, readings ...)."""
    LEAD = "lead"
    """The body leads the agreement."""
    PARTNER = "partner"
    """The body is any partner of the agreement (the lead included)."""


class Cadence(StrEnum):
    """When a subscription is told: each alert as it is raised, or a digest of open alerts."""

    IMMEDIATE = "immediate"
    DAILY = "daily"
    WEEKLY = "weekly"


class LevelName(StrEnum):
    AMBER = "amber"
    RED = "red"
    ESCALATION = "escalation"


_ESCALATION = re.compile(r"^escalation (\d+)$")


def level_rank(level: str) -> int:
    """Amber 1, red 2, escalation n is 2 + n: higher is worse. Unknown levels rank 0."""
    if level == LevelName.AMBER:
        return 1
    if level == LevelName.RED:
        return 2
    match = _ESCALATION.match(level)
    return 2 + int(match.group(1)) if match else 0


def email_address(text: str) -> str:
    """One email address, checked by ``email-validator`` (syntax only: no DNS look-up), in its normalised form.
    Addresses at the reserved ``.test`` domain are allowed, for local mail sinks (the demo's); other special-use
    domains (``.local``, ``.invalid``, ``localhost``) are refused.

    Raises ``ValueError`` for anything else: a list (``a@x.gov.uk,b@evil.example``), ``a@@x``, a display name.
    """
    try:
        return email_validator.validate_email(text, check_deliverability=False, test_environment=True).normalized
    except email_validator.EmailNotValidError as error:
        raise ValueError(f"{text!r} is not one email address: {error}") from None


def webhook_url(text: str) -> str:
    """A webhook address, parsed as a URL (``urllib.parse``): https to any host, or plain http to a loopback
    host only (``localhost``, 127.0.0.0/8, ``::1``); a host is required, and no user name or password.

    Raises ``ValueError`` saying which of these the address breaks.
    """
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError("a webhook address must not contain spaces or control characters")
    try:
        parts = urlsplit(text)
        if parts.port == 0:  # reading the port also checks it is a number up to 65535
            raise ValueError("port 0 is no port")
    except ValueError as error:
        raise ValueError(f"{text!r} is not a URL: {error}") from None
    if parts.scheme not in ("https", "http"):
        raise ValueError("a webhook address must start with https:// (plain http only to a loopback host)")
    if not parts.hostname:
        raise ValueError("a webhook address must name a host, such as https://hooks.example.gov.uk/concordat")
    if parts.username is not None or parts.password is not None:
        raise ValueError("a webhook address must not carry a user name or password (before '@')")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError("a webhook address must start with https:// (plain http only to a loopback host, "
                         f"not {parts.hostname})")
    return text


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def masked_address(channel: Channel, address: str) -> str:
    """An address as listings show it: an email address whole; a webhook URL as its scheme, host and port with
    the rest (the path of a Teams or Slack URL is itself a credential, as is a query's ``sig=``) as ``/…``."""
    if channel is Channel.EMAIL:
        return address
    parts = urlsplit(address)
    port = f":{parts.port}" if parts.port else ""
    hidden = "/…" if parts.path.strip("/") or parts.query or parts.fragment else ""
    return f"{parts.scheme}://{parts.hostname}{port}{hidden}"


Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
Secret = Annotated[str, StringConstraints(min_length=16, max_length=500)]


class Subscription(ValueObject):
    """One recipient of alerts, and which alerts it wants.

    ``bodies`` empty means every body; ``kinds`` empty means every kind (kinds added
    later included). Levels: ``amber`` and ``red`` as named, escalations when
    ``escalation`` is listed and the escalation's number is at least ``escalation_from``
    (chief executives from escalation 2: levels ``[escalation]``, escalation_from 2).
    """

    id: int | None = None
    label: Name
    channel: Channel
    address: Address
    secret: Secret | None = Field(default=None, repr=False)
    bodies: list[Code] = Field(default_factory=list, max_length=500)
    relation: Relation = Relation.PARTNER
    kinds: list[str] = Field(default_factory=list, max_length=50)
    levels: list[LevelName] = Field(
        default_factory=lambda: [LevelName.AMBER, LevelName.RED, LevelName.ESCALATION], min_length=1
    )
    escalation_from: int = Field(default=1, ge=1, le=1000)
    cadence: Cadence = Cadence.IMMEDIATE

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        known = [k.value for k in AlertKind]
        unknown = [k for k in kinds if k not in known]
        if unknown:
            raise ValueError(f"unknown alert kind {', '.join(unknown)}; the kinds are {', '.join(known)}")
        return sorted(set(kinds))

    @field_validator("address")
    @classmethod
    def _address_of_channel(cls, address: str, info: ValidationInfo) -> str:
        """One email address (normalised) or a webhook URL, by ``email_address`` and ``webhook_url``; a
        subscription read back from the database (context ``AS_RECORDED``) is taken as it was stored."""
        if info.context and info.context.get(AS_RECORDED):
            return address
        match info.data.get("channel"):
            case Channel.EMAIL:
                return email_address(address)
            case None:
                return address  # the channel itself was refused
        return webhook_url(address)

    @model_validator(mode="after")
    def _address_fits_channel(self) -> Subscription:
        if self.channel is Channel.EMAIL and self.secret is not None:
            raise ValueError("an email subscription takes no secret")
        if self.channel is not Channel.EMAIL and self.secret is None:
            raise ValueError(f"a {self.channel.value} subscription needs a secret to sign its requests")
        return self

    def wants_level(self, level: str) -> bool:
        if level in (LevelName.AMBER, LevelName.RED):
            return LevelName(level) in self.levels
        rank = level_rank(level)
        return LevelName.ESCALATION in self.levels and rank - 2 >= self.escalation_from

    def follows(self, alert: Alert) -> bool:
        """Whether one of this subscription's bodies relates to the alert's agreement as asked."""
        match self.relation:
            case Relation.AWAITED:
                related = {w.body for w in alert.waiting_on}
            case Relation.LEAD:
                related = {alert.lead_body} if alert.lead_body else set()
            case Relation.PARTNER:
                related = set(alert.partner_bodies) | ({alert.lead_body} if alert.lead_body else set())
        if not self.bodies:
            return bool(related) or self.relation is Relation.PARTNER
        return bool(related & set(self.bodies))

    def reaches(self, alert: Alert) -> bool:
        """Whether ``alert`` is for this subscription: its kind, its level and its bodies."""
        if self.kinds and alert.kind.value not in self.kinds:
            return False
        return self.wants_level(alert.level) and self.follows(alert)


def recipients(subscriptions: Iterable[Subscription], alert: Alert) -> list[Subscription]:
    """The subscriptions told of ``alert`` as it is raised (digest subscriptions wait for their digest)."""
    return [s for s in subscriptions if s.cadence is Cadence.IMMEDIATE and s.reaches(alert)]


def digest_for(subscription: Subscription, open_alerts: Iterable[Alert]) -> list[Alert]:
    """The open alerts a subscription's digest lists, worst first, then oldest first."""
    return worst_first(a for a in open_alerts if subscription.reaches(a))


def worst_first(alerts: Iterable[Alert]) -> list[Alert]:
    """Highest level first (escalation 3, 2, 1, red, amber), then the longest-standing."""
    return sorted(alerts, key=lambda a: (-level_rank(a.level), a.reached_at, a.agreement_id, a.condition))


class DigestRun(ValueObject):
    """One run of the digest schedule: the cadence it serves and the period it covers."""

    cadence: Cadence
    period: str = Field(min_length=1, max_length=40)


def digest_period(cadence: Cadence, moment: datetime, time_zone: str = "UTC") -> str:
    """The period a digest sent at ``moment`` covers, as a calendar in ``time_zone`` (an IANA name: the digest
    schedule's own) reads it: the day '2027-03-01' or the ISO week '2027-W09'. Keyed by the schedule's time zone,
    a daily digest at 00:30 Europe/London has one key per day across both clock changes.

    A digest is enqueued once per subscription and period, however often its run is retried. Raises
    ``ValueError`` for an immediate cadence or a time zone that is not known.
    """
    if cadence is Cadence.IMMEDIATE:
        raise ValueError("immediate subscriptions have no digest")
    try:
        local = moment.astimezone(ZoneInfo(time_zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{time_zone!r} is not an IANA time zone, such as Europe/London") from None
    if cadence is Cadence.DAILY:
        return local.date().isoformat()
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def web_ui_link(base_url: str, namespace: str, agreement_id: str) -> str:
    """The agreement's page in the Temporal Web UI."""
    return f"{base_url.rstrip('/')}/namespaces/{namespace}/workflows/agreement-{agreement_id}"


def page_link(pages_url: str, agreement_id: str) -> str:
    """The agreement's page for people in Concordat's own pages (``{pages_url}/pages/agreements/{agreement_id}``),
    where a signed-in officer reads it and acts; as ``escape.link_target`` leaves it, so it may stand in any
    channel's link."""
    return escape.link_target(f"{pages_url.rstrip('/')}/pages/agreements/{agreement_id}")

