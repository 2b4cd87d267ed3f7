"""Who an alert reaches: subscriptions and the rules that match alerts to them.

A subscription names one recipient (an email address, or a webhook endpoint in one of
three formats), the bodies it follows (GSS codes, or every body), how those bodies must
relate to the agreement (the body being waited on, the lead body, or any partner), the
alert kinds and the levels it wants. Matching is pure: the same alert and subscriptions
always give the same recipients, so the outbox written beside each alert is exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from domain.drift import Alert, AlertKind
from domain.model import Code, Name, ValueObject


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


def _email_address(text: str) -> str:
    local, at, domain = text.rpartition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in text):
        raise ValueError(f"{text!r} is not an email address")
    return text


def _https_or_local_url(text: str) -> str:
    if not (text.startswith("https://") or text.startswith("http://localhost") or text.startswith("http://127.")):
        raise ValueError("a webhook address must start with https:// (plain http only to localhost)")
    return text


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

    @model_validator(mode="after")
    def _address_fits_channel(self) -> Subscription:
        if self.channel is Channel.EMAIL:
            _email_address(self.address)
            if self.secret is not None:
                raise ValueError("an email subscription takes no secret")
        else:
            _https_or_local_url(self.address)
            if self.secret is None:
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


def digest_period(cadence: Cadence, moment: datetime) -> str:
    """The period a digest sent at ``moment`` (UTC) covers: the day '2027-03-01' or the ISO week '2027-W09'.

    A digest is enqueued once per subscription and period, however often its run is retried.
    """
    if cadence is Cadence.IMMEDIATE:
        raise ValueError("immediate subscriptions have no digest")
    if cadence is Cadence.DAILY:
        return moment.astimezone(UTC).date().isoformat()
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def web_ui_link(base_url: str, namespace: str, agreement_id: str) -> str:
    """The agreement's page in the Temporal Web UI."""
    return f"{base_url.rstrip('/')}/namespaces/{namespace}/workflows/agreement-{agreement_id}"

