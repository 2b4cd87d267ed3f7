"""Who an alert reaches: a subscription's bodies and relation, kinds, levels and cadence."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from domain.delivery import (
    Cadence,
    Channel,
    Subscription,
    digest_for,
    digest_period,
    level_rank,
    masked_address,
    recipients,
    web_ui_link,
    worst_first,
)
from domain.drift import AlertKind, conditions
from tests.helpers import factories
from tests.helpers.agreements import apply, in_implementation, in_sign_off, live, review_due
from tests.helpers.builders import LEAD, after, approve, benefits

SECRET = "s" * 32
GREENWICH = "E09000011"


def sign_off_alerts():
    """Sign-off 45 days in (30 planned, escalation every 7): amber, red, escalation 1 and 2; Lichfield has signed."""
    agreement = apply(in_sign_off(), approve(LEAD))
    return {a.level: a for a in conditions(agreement, after(45))}


def email(label="x", **fields):
    return Subscription(label=label, channel="email", address=f"{label}@council.gov.uk", **fields)


def test_the_alert_knows_its_lead_partners_and_deadline():
    red = sign_off_alerts()["red"]
    assert red.lead_body == factories.LICHFIELD
    assert red.partner_bodies == [factories.LICHFIELD, factories.TAMWORTH, factories.STAFFORDSHIRE]
    assert red.deadline == after(30)
    assert {w.body for w in red.waiting_on} == {factories.TAMWORTH, factories.STAFFORDSHIRE}


def test_relation_decides_which_bodies_are_told():
    red = sign_off_alerts()["red"]
    assert email(bodies=[factories.TAMWORTH], relation="awaited").reaches(red)
    assert not email(bodies=[factories.LICHFIELD], relation="awaited").reaches(red), "Lichfield has signed"
    assert email(bodies=[factories.LICHFIELD], relation="lead").reaches(red)
    assert not email(bodies=[factories.TAMWORTH], relation="lead").reaches(red)
    assert email(bodies=[factories.STAFFORDSHIRE], relation="partner").reaches(red)
    assert not email(bodies=[GREENWICH], relation="partner").reaches(red)
    assert email(relation="partner").reaches(red), "no bodies: every body"
    assert email(relation="awaited").reaches(red)


def test_an_overdue_milestone_is_awaited_of_its_owner_only():
    agreement = in_implementation()
    overdue = next(a for a in conditions(agreement, after(400)) if a.kind is AlertKind.MILESTONE_OVERDUE)
    assert email(bodies=[factories.LICHFIELD], relation="awaited").reaches(overdue)
    assert not email(bodies=[factories.TAMWORTH], relation="awaited").reaches(overdue)


def test_levels_and_escalations_from_n():
    alerts = sign_off_alerts()
    assert list(alerts) == ["amber", "red", "escalation 1", "escalation 2"]
    chief_executives = email(levels=["escalation"], escalation_from=2)
    assert [level for level, a in alerts.items() if chief_executives.reaches(a)] == ["escalation 2"]
    red_only = email(levels=["red"])
    assert [level for level, a in alerts.items() if red_only.reaches(a)] == ["red"]
    assert all(email().reaches(a) for a in alerts.values())


def test_kinds_filter_and_refuse_unknown_kinds():
    red = sign_off_alerts()["red"]
    assert email(kinds=["stage_drift"]).reaches(red)
    assert not email(kinds=["kpi_red", "milestone_overdue"]).reaches(red)
    with pytest.raises(ValidationError, match="unknown alert kind budget_overrun; the kinds are stage_drift"):
        email(kinds=["budget_overrun"])


def test_addresses_and_secrets_fit_the_channel():
    with pytest.raises(ValidationError, match="not one email address"):
        Subscription(label="x", channel="email", address="nobody")
    with pytest.raises(ValidationError, match="needs a secret"):
        Subscription(label="x", channel="teams", address="https://example.webhook.office.com/x")
    with pytest.raises(ValidationError, match="must start with https://"):
        Subscription(label="x", channel="slack", address="http://hooks.example.com/x", secret=SECRET)
    with pytest.raises(ValidationError, match="takes no secret"):
        Subscription(label="x", channel="email", address="a@b.gov.uk", secret=SECRET)
    with pytest.raises(ValidationError, match="escalation_from"):
        email(escalation_from=0)
    assert Subscription(label="x", channel="webhook", address="http://localhost:9/x", secret=SECRET)


@pytest.mark.parametrize(("channel", "address", "refusal"), [
    ("webhook", "http://localhost@evil.example/hook", "user name or password"),
    ("webhook", "http://localhost.evil.example/hook", "plain http only to a loopback host, not localhost.evil"),
    ("webhook", "http://127.0.0.1.evil.example/hook", "plain http only to a loopback host"),
    ("teams", "https://", "must name a host"),
    ("teams", "https://user:pw@example.webhook.office.com/x", "user name or password"),
    ("slack", "https://hooks.slack.com:99999/x", "is not a URL"),
    ("slack", "ftp://hooks.slack.com/x", "must start with https://"),
    ("webhook", "https://hooks.example.gov.uk/a b", "spaces or control characters"),
    ("email", "a@x.gov.uk,b@evil.example", "not one email address"),
    ("email", "a@@x.gov.uk", "not one email address"),
    ("email", "Ann <a@x.gov.uk>", "not one email address"),
    ("email", "a@x", "not one email address"),
])
def test_addresses_are_parsed_by_libraries(channel, address, refusal):
    secret = None if channel == "email" else SECRET
    with pytest.raises(ValidationError, match=refusal):
        Subscription(label="x", channel=channel, address=address, secret=secret)


def test_loopback_webhooks_may_use_http_and_addresses_are_masked_in_listings():
    for address in ("http://localhost:9/x", "http://127.0.0.1:9/x", "http://[::1]:9/x", "https://x.example/h"):
        assert Subscription(label="x", channel="webhook", address=address, secret=SECRET).address == address
    assert Subscription(label="x", channel="email", address="Ann@Tamworth.GOV.UK").address == "Ann@tamworth.gov.uk"
    assert Subscription(label="x", channel="email", address="pmo@demo.concordat.test"), "the demo's local sink"
    teams = "https://example.webhook.office.com/webhookb2/1@2/IncomingWebhook/3/4?sig=s3cr3t"
    assert masked_address(Channel.TEAMS, teams) == "https://example.webhook.office.com/…"
    assert masked_address(Channel.SLACK, "https://hooks.slack.com:8443/services/T/B/k") == (
        "https://hooks.slack.com:8443/…")
    assert masked_address(Channel.WEBHOOK, "https://hooks.example.gov.uk") == "https://hooks.example.gov.uk"
    assert masked_address(Channel.EMAIL, "a@x.gov.uk") == "a@x.gov.uk"


def test_recipients_are_immediate_subscriptions_and_digests_list_worst_first():
    alerts = sign_off_alerts()
    daily = email("daily", cadence=Cadence.DAILY)
    now = email("now")
    assert recipients([daily, now], alerts["red"]) == [now]
    assert [a.level for a in digest_for(daily, alerts.values())] == ["escalation 2", "escalation 1", "red", "amber"]
    assert [level_rank(level) for level in ("amber", "red", "escalation 1", "escalation 12", "odd")] == [1, 2, 3, 14, 0]
    assert worst_first([]) == []


def test_web_ui_link():
    assert web_ui_link("https://temporal.example.gov.uk/", "concordat", "waste-2027") == (
        "https://temporal.example.gov.uk/namespaces/concordat/workflows/agreement-waste-2027"
    )


def test_digest_periods():
    moment = datetime(2027, 3, 1, 23, 30, tzinfo=UTC)
    assert digest_period(Cadence.DAILY, moment) == "2027-03-01"
    assert digest_period(Cadence.WEEKLY, moment) == "2027-W09"
    with pytest.raises(ValueError, match="no digest"):
        digest_period(Cadence.IMMEDIATE, moment)
    with pytest.raises(ValueError, match="not an IANA time zone"):
        digest_period(Cadence.DAILY, moment, "Europe/Nowhere")


def _local_runs(first: datetime, days: int, at: tuple[int, int], zone: str) -> list[datetime]:
    """When a schedule at ``at`` in ``zone`` fires on ``days`` days from ``first``'s date, as UTC moments."""
    return [datetime.combine(first.date() + timedelta(days=n), time(*at), ZoneInfo(zone)).astimezone(UTC)
            for n in range(days)]


@pytest.mark.parametrize("first", [datetime(2027, 3, 20), datetime(2027, 10, 24)])
def test_a_daily_digest_at_half_past_midnight_in_london_has_one_period_a_day_across_the_clock_change(first):
    runs = _local_runs(first, 14, (0, 30), "Europe/London")
    daily = [digest_period(Cadence.DAILY, run, "Europe/London") for run in runs]
    assert daily == [(first.date() + timedelta(days=n)).isoformat() for n in range(14)]
    weekly = [digest_period(Cadence.WEEKLY, run, "Europe/London") for run in runs if run.astimezone(
        ZoneInfo("Europe/London")).weekday() == 0]
    assert len(weekly) == len(set(weekly)) == 2
    utc_keys = [digest_period(Cadence.DAILY, run) for run in runs]
    assert utc_keys != daily, "keyed by UTC date, a key repeats in spring and one is skipped in autumn"


def test_a_payback_forecast_alert_reaches_those_who_subscribed_to_its_kind():
    agreement = live()
    due = review_due(agreement)
    forecast = next(a for a in conditions(apply(agreement, benefits("3800000.00"), now=due), due)
                    if a.kind is AlertKind.PAYBACK_FORECAST)
    assert email(kinds=["payback_forecast"], bodies=[factories.LICHFIELD], relation="lead").reaches(forecast)
    assert not email(kinds=["stage_drift"]).reaches(forecast)
    assert email(levels=["amber"]).reaches(forecast)
