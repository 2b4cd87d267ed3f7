"""Alerts reach the people who must act, each delivery once, against a real SMTP server (aiosmtpd)
and a real HTTP receiver: matching, signatures, retries, a SIGKILLed dispatcher, an SMTP outage."""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from rich.console import Console

import starter
from activities import digests
from activities.ledger import LedgerActivities
from cli.parser import build_parser
from demo.mailbox import SmtpSink
from dispatcher.cli import digest_schedule
from dispatcher.service import Dispatcher
from dispatcher.settings import DispatcherSettings
from dispatcher.signature import InvalidSignature, signed_headers, verify_signature
from domain import escape
from domain.delivery import Cadence, Subscription
from domain.drift import Alert, AlertKind, Waiting
from domain.model import Stage
from store import outbox
from tests.helpers import assert_eventually, factories, free_port
from tests.helpers.builders import approve
from tests.helpers.harness import Harness, version, walk_to_sign_off
from tests.helpers.processes import ROOT, WorkerProcess
from tests.helpers.receivers import WebhookReceiver
from workflows.agreement import AgreementWorkflow
from workflows.digest import schedule_id

SECRET = "a-test-secret-of-enough-length-0123456789"
GREENWICH = "E09000011"


def settings_env(dsn: str, smtp_port: int, **overrides: str) -> dict[str, str]:
    """The dispatcher's environment for a test: retries within a second, a lease of six."""
    return {
        "DATABASE_URL": dsn, "CONCORDAT_SMTP_HOST": "127.0.0.1", "CONCORDAT_SMTP_PORT": str(smtp_port),
        "CONCORDAT_SMTP_SENDER": "Concordat <alerts@concordat.test>", "CONCORDAT_WEB_UI_URL": "https://ui.test",
        "CONCORDAT_DELIVERY_POLL_SECONDS": "1", "CONCORDAT_DELIVERY_FIRST_RETRY_SECONDS": "0.1",
        "CONCORDAT_DELIVERY_MAX_RETRY_SECONDS": "0.5", "CONCORDAT_DELIVERY_SEND_TIMEOUT_SECONDS": "5",
        "CONCORDAT_DELIVERY_LEASE_SECONDS": "6", **overrides,
    }


def settings_for(dsn: str, smtp_port: int, **overrides: str) -> DispatcherSettings:
    return DispatcherSettings.from_environment(settings_env(dsn, smtp_port, **overrides))


@pytest.fixture
def smtp() -> Any:
    sink = SmtpSink(free_port()).start()
    yield sink
    sink.stop()


@pytest.fixture
def receiver() -> Any:
    webhook = WebhookReceiver().start()
    yield webhook
    webhook.stop()


@pytest.fixture
async def subscribe(pool: asyncpg.Pool) -> AsyncIterator[Any]:
    """Add subscriptions for one test; they are removed (pending deliveries cancelled) when it ends."""
    added: list[Subscription] = []

    async def add(label: str, **fields: Any) -> Subscription:
        if "channel" not in fields:
            fields = {"channel": "email", "address": f"{label}@council.gov.uk", **fields}
        stored = await outbox.add_subscription(pool, Subscription(label=label, **fields))
        added.append(stored)
        return stored

    yield add
    for subscription in added:
        await outbox.remove_subscription(pool, subscription.id)


@asynccontextmanager
async def dispatching(pool: asyncpg.Pool, settings: DispatcherSettings) -> AsyncIterator[Dispatcher]:
    """A dispatcher running in this process until the block ends."""
    dispatcher = Dispatcher(pool, settings)
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    try:
        yield dispatcher
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=30)


def an_alert(body: str, level: str = "red", agreement_id: str | None = None) -> Alert:
    """A sign-off alert of a fresh agreement led by ``body`` and waiting on it."""
    agreement_id = agreement_id or f"delivery-{uuid.uuid4().hex[:10]}"
    deadline = datetime(2027, 5, 1, 9, 30, tzinfo=UTC)
    return Alert(
        agreement_id=agreement_id, title="Joint waste and recycling service", kind=AlertKind.STAGE_DRIFT,
        condition="stage:sign_off:1", level=level, stage=Stage.SIGN_OFF, subject="the sign off stage",
        off_by="is overdue by 2 days", reached_at=deadline + timedelta(days=2),
        waiting_on=[Waiting(body=body, body_name="Test Borough Council", for_what="sign-off")],
        message=f"Joint waste and recycling service ({agreement_id}) is {level} in sign off.",
        lead_body=body, partner_bodies=[body], deadline=deadline,
    )


async def statuses(pool: asyncpg.Pool, subscription_ids: list[int]) -> Counter[str]:
    rows = await pool.fetch("SELECT status FROM alert_deliveries WHERE subscription_id = ANY($1)", subscription_ids)
    return Counter(row["status"] for row in rows)


def a_body() -> str:
    """A body code no other test subscribes to."""
    return f"T{uuid.uuid4().hex[:8].upper()}"


async def test_every_alert_of_a_drifting_agreement_reaches_exactly_its_subscribers_once(
    harness: Harness, pool, postgres_dsn, smtp, receiver, subscribe
):
    awaited = await subscribe("tamworth-waste", bodies=[factories.TAMWORTH], relation="awaited")
    lead = await subscribe("lichfield-pmo", bodies=[factories.LICHFIELD], relation="lead")
    chief_executives = await subscribe("chief-executives", levels=["escalation"], escalation_from=2)
    await subscribe("greenwich", bodies=[GREENWICH])
    await subscribe("lichfield-awaited", channel="slack", address=receiver.url + "/slack", secret=SECRET,
                    bodies=[factories.LICHFIELD], relation="awaited")
    teams = await subscribe("staffordshire-teams", channel="teams", address=receiver.url + "/teams", secret=SECRET,
                            bodies=[factories.STAFFORDSHIRE], relation="awaited", kinds=["stage_drift"])
    await subscribe("kpi-only", channel="webhook", address=receiver.url + "/kpi", secret=SECRET, kinds=["kpi_red"])
    await subscribe("daily-digest", cadence="daily")

    handle = await harness.start(settings={"stage_durations": {"sign_off": "P10D"}, "escalation_interval": "P2D"})
    agreement_id = handle.agreement_id
    await walk_to_sign_off(handle)
    await handle.execute_update(AgreementWorkflow.record_sign_off, approve(factories.LEAD, await version(handle)))
    await harness.skip(timedelta(days=14, minutes=1))
    await assert_eventually(
        lambda: pool.fetchval("SELECT count(*) = 4 FROM alerts WHERE agreement_id = $1", agreement_id))
    levels = ["amber", "red", "escalation 1", "escalation 2"]

    async with dispatching(pool, settings_for(postgres_dsn, smtp.port, CONCORDAT_PAGES_URL="https://concordat.test")):
        await assert_eventually(lambda: pool.fetchval(
            """SELECT count(*) = 13 FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
               WHERE a.agreement_id = $1 AND d.status = 'sent'""", agreement_id))

    ours = [r for r in smtp.received if agreement_id in str(r.message["Subject"])]
    by_recipient = Counter(address for r in ours for address in r.recipients)
    assert by_recipient == {awaited.address: 4, lead.address: 4, chief_executives.address: 1}
    assert len({r.delivery_id for r in ours}) == 9, "each email once"
    [to_ceo] = smtp.to(chief_executives.address)
    assert "ESCALATION 2" in str(to_ceo.message["Subject"])
    assert to_ceo.message["Message-ID"] == f"<{to_ceo.delivery_id}@concordat.test>"
    text = to_ceo.text()
    for expected in (f"Joint waste and recycling service ({agreement_id})", "Stage:", "sign off",
                     "the sign off stage is overdue by 4 days", "Tamworth Borough Council (sign-off)",
                     "Staffordshire County Council (sign-off)", "Deadline:",
                     f"https://ui.test/namespaces/default/workflows/agreement-{agreement_id}",
                     f"Page:       https://concordat.test/pages/agreements/{agreement_id}"):
        assert expected in text, expected
    html = to_ceo.message.get_body(preferencelist=("html",)).get_content()
    assert f'href="https://ui.test/namespaces/default/workflows/agreement-{agreement_id}"' in html
    assert f'href="https://concordat.test/pages/agreements/{agreement_id}"' in html

    cards = [r for r in receiver.accepted() if agreement_id in r.body.decode()]
    assert Counter(r.path for r in cards) == {"/teams": 4}
    assert len({r.delivery_id for r in cards}) == 4
    card = cards[0].json()
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    facts = {f["title"]: f["value"] for f in card["attachments"][0]["content"]["body"][1]["facts"]}
    assert facts["Agreement"] == escape.markdown(f"Joint waste and recycling service ({agreement_id})"), (
        "Markdown-escaped: shown as written")
    assert verify_signature(teams.secret, cards[0].headers, cards[0].body) == cards[0].delivery_id
    assert card["attachments"][0]["content"]["actions"][0]["url"] == (
        f"https://concordat.test/pages/agreements/{agreement_id}")
    sent = [json.loads(r.body)["attachments"][0]["content"]["body"][0]["text"] for r in cards]
    assert sorted(level for level in levels if any(level.upper() + ":" in s for s in sent)) == sorted(levels)


async def test_the_signature_verifies_and_a_replayed_or_altered_request_fails(
    pool, postgres_dsn, smtp, receiver, subscribe
):
    body = a_body()
    await subscribe("generic", channel="webhook", address=receiver.url + "/hook", secret=SECRET, bodies=[body])
    alert = an_alert(body)
    await LedgerActivities(pool).raise_alerts([alert])
    async def received() -> list:
        return receiver.accepted("/hook")

    async with dispatching(pool, settings_for(postgres_dsn, smtp.port)):
        [request] = await assert_eventually(received)

    payload = request.json()
    assert payload["type"] == "alert" and payload["delivery_id"] == request.delivery_id
    assert payload["alerts"][0]["agreement_id"] == alert.agreement_id
    assert payload["alerts"][0]["link"].endswith(f"/workflows/agreement-{alert.agreement_id}")
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert verify_signature(SECRET, headers, request.body, tolerance_seconds=300) == request.delivery_id

    sent_at = int(request.headers["Concordat-Timestamp"])
    with pytest.raises(InvalidSignature, match="signed 600 s ago"):
        verify_signature(SECRET, request.headers, request.body, tolerance_seconds=300, now=sent_at + 600)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(SECRET, request.headers, request.body.replace(b"red", b"green"))
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature("another-secret-of-enough-length", request.headers, request.body)
    refreshed = {**request.headers, "Concordat-Timestamp": str(sent_at + 600)}
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature(SECRET, refreshed, request.body, now=sent_at + 600)
    with pytest.raises(InvalidSignature, match="no Concordat-Signature header"):
        verify_signature(SECRET, {"Concordat-Delivery-Id": "x", "Concordat-Timestamp": "1"}, b"{}")
    assert signed_headers(SECRET, "d", b"{}", now=1)["Concordat-Signature"].startswith("sha256=")


async def test_a_receiver_failing_three_times_then_succeeding_gets_each_delivery_once(
    pool, postgres_dsn, smtp, receiver, subscribe
):
    body = a_body()
    receiver.fail_first = 3
    hook = await subscribe("flaky", channel="webhook", address=receiver.url + "/flaky", secret=SECRET, bodies=[body])
    alerts = [an_alert(body, level) for level in ("amber", "red", "escalation 1")]
    await LedgerActivities(pool).raise_alerts(alerts)
    async with dispatching(pool, settings_for(postgres_dsn, smtp.port)):
        await assert_eventually(lambda: _all_sent(pool, hook.id, 3))

    accepted = receiver.accepted("/flaky")
    assert len(accepted) == 3 and len({r.delivery_id for r in accepted}) == 3
    assert Counter(r.delivery_id for r in receiver.requests) == {r.delivery_id: 4 for r in accepted}
    attempts = await pool.fetch(
        """SELECT t.attempt, t.outcome, t.error FROM alert_delivery_attempts t
           JOIN alert_deliveries d ON d.id = t.delivery_id WHERE d.subscription_id = $1
           ORDER BY t.delivery_id, t.attempt""", hook.id)
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "failed"), (2, "failed"), (3, "failed"),
                                                                  (4, "sent")] * 3
    assert "HTTP 500" in attempts[0]["error"]


async def _all_sent(pool: asyncpg.Pool, subscription_id: int, count: int) -> bool:
    return await statuses(pool, [subscription_id]) == Counter({"sent": count})


async def delivered(pool: asyncpg.Pool, subscription_ids: list[int], count: int) -> bool:
    return await statuses(pool, subscription_ids) == Counter({"sent": count})


async def test_a_dispatcher_killed_mid_delivery_loses_nothing(pool, postgres_dsn, smtp, receiver, subscribe):
    body = a_body()
    hook = await subscribe("held", channel="webhook", address=receiver.url + "/held", secret=SECRET, bodies=[body])
    mail = await subscribe("held-mail", bodies=[body])
    receiver.hold = True
    env = {**os.environ, **settings_env(postgres_dsn, smtp.port)}
    first = await WorkerProcess(env, ("-m", "dispatcher"), "dispatcher_started").start()
    await LedgerActivities(pool).raise_alerts([an_alert(body, level) for level in ("amber", "red", "escalation 1")])

    async def caught_mid_delivery() -> bool:
        return receiver.holding >= 1
    await assert_eventually(caught_mid_delivery)
    assert await first.kill() == -9
    receiver.release()

    second = await WorkerProcess(env, ("-m", "dispatcher"), "dispatcher_started").start()
    try:
        await assert_eventually(lambda: delivered(pool, [hook.id, mail.id], 6), timeout=60)
    finally:
        assert await second.stop() == 0
    assert [e["event"] for e in second.events()][-2:] == ["dispatcher_stopping", "dispatcher_stopped"]

    ids = {str(row["id"]) for row in await pool.fetch(
        "SELECT id FROM alert_deliveries WHERE subscription_id = $1", hook.id)}
    assert {r.delivery_id for r in receiver.accepted("/held")} == ids, "every webhook delivery arrived"
    assert {r.delivery_id for r in receiver.requests} == ids, "a resend carries the same delivery id"
    mail_ids = {str(row["id"]) for row in await pool.fetch(
        "SELECT id FROM alert_deliveries WHERE subscription_id = $1", mail.id)}
    assert {r.delivery_id for r in smtp.to(mail.address)} == mail_ids
    interrupted = await pool.fetchval(
        """SELECT count(*) FROM alert_delivery_attempts t JOIN alert_deliveries d ON d.id = t.delivery_id
           WHERE d.subscription_id = $1 AND t.error = $2""", hook.id, outbox.INTERRUPTED)
    assert interrupted >= 1, "the attempt cut short by the kill is on record"


async def test_an_smtp_outage_delays_deliveries_and_loses_none(pool, postgres_dsn, subscribe):
    body = a_body()
    mail = await subscribe("outage", bodies=[body])
    port = free_port()
    await LedgerActivities(pool).raise_alerts([an_alert(body, level) for level in ("amber", "red")])

    async def retried_while_down() -> bool:
        return await pool.fetchval(
            "SELECT bool_and(attempts >= 2 AND status = 'pending') FROM alert_deliveries WHERE subscription_id = $1",
            mail.id)

    async with dispatching(pool, settings_for(postgres_dsn, port)):
        await assert_eventually(retried_while_down)
        sink = SmtpSink(port).start()
        try:
            await assert_eventually(lambda: delivered(pool, [mail.id], 2))
        finally:
            sink.stop()
    assert len({r.delivery_id for r in sink.to(mail.address)}) == 2
    errors = await pool.fetch(
        """SELECT t.error FROM alert_delivery_attempts t JOIN alert_deliveries d ON d.id = t.delivery_id
           WHERE d.subscription_id = $1 AND t.outcome = 'failed'""", mail.id)
    assert errors and all(f"SMTP 127.0.0.1:{port}" in row["error"] for row in errors)


@pytest.fixture
def cli(postgres_dsn: str, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", postgres_dsn)

    async def run(*argv: str) -> tuple[int, str, str]:
        out = io.StringIO()
        capsys.readouterr()
        code = await starter.run_cli(list(argv), console=Console(file=out, width=300))
        return code, out.getvalue(), " ".join(capsys.readouterr().err.split())

    return run


async def test_a_delivery_failing_past_its_time_is_failed_and_the_cli_shows_and_retries_it(
    pool, postgres_dsn, smtp, receiver, subscribe, cli
):
    body = a_body()
    receiver.fail_first = 1000
    hook = await subscribe("down", channel="webhook", address=receiver.url + "/down", secret=SECRET, bodies=[body])
    await LedgerActivities(pool).raise_alerts([an_alert(body)])
    async with dispatching(pool, settings_for(postgres_dsn, smtp.port, CONCORDAT_DELIVERY_GIVE_UP_SECONDS="1")):
        await assert_eventually(lambda: _has(pool, hook.id, "failed"))
        code, out, _ = await cli("alerts", "deliveries", "--status", "failed", "--json")
        [row] = [r for r in json.loads(out) if r["subscription_id"] == hook.id]
        assert code == 0 and "HTTP 500" in row["last_error"] and row["attempts"] >= 2
        code, out, _ = await cli("alerts", "deliveries", "--status", "failed")
        assert code == 0 and row["id"] in out

        receiver.fail_first = 0
        code, out, _ = await cli("alerts", "retry", row["id"])
        assert code == 0 and "same delivery id" in out
        await assert_eventually(lambda: _has(pool, hook.id, "sent"))
    assert [r.delivery_id for r in receiver.accepted("/down")] == [row["id"]]
    code, out, _ = await cli("alerts", "deliveries", "--json")
    [sent] = [r for r in json.loads(out) if r["id"] == row["id"]]
    assert sent["status"] == "sent" and "HTTP 500" in sent["last_error"], "the attempts' errors stay visible"
    code, _, err = await cli("alerts", "retry", row["id"])
    assert code == 1 and "is sent, not failed" in err
    code, _, err = await cli("alerts", "retry", str(uuid.uuid4()))
    assert code == 1 and "there is no delivery" in err
    code, _, err = await cli("alerts", "retry", "not-a-uuid")
    assert code == 2 and "is not a delivery id" in err


async def test_a_permanent_refusal_fails_at_once_and_a_cancelled_delivery_is_not_retried(
    pool, postgres_dsn, smtp, receiver, subscribe, cli
):
    body = a_body()
    receiver.fail_first, receiver.fail_status = 1000, 413
    hook = await subscribe("too big", channel="teams", address=receiver.url + "/big", secret=SECRET, bodies=[body])
    await LedgerActivities(pool).raise_alerts([an_alert(body)])
    async with dispatching(pool, settings_for(postgres_dsn, smtp.port)):
        await assert_eventually(lambda: _has(pool, hook.id, "failed"))
    code, out, _ = await cli("alerts", "deliveries", "--status", "failed", "--json")
    [row] = [r for r in json.loads(out) if r["subscription_id"] == hook.id]
    assert row["attempts"] == 1 and row["last_error"].startswith("teams webhook answered HTTP 413")

    removed = await subscribe("removed", channel="webhook", address=receiver.url + "/gone", secret=SECRET,
                              bodies=[a_body()])
    await LedgerActivities(pool).raise_alerts([an_alert(removed.bodies[0])])
    assert (await cli("alerts", "unsubscribe", str(hook.id)))[0] == 0
    assert (await cli("alerts", "unsubscribe", str(removed.id)))[0] == 0
    [cancelled] = await pool.fetch("SELECT id, status FROM alert_deliveries WHERE subscription_id = $1", removed.id)
    assert cancelled["status"] == "cancelled"
    for refused in (row["id"], str(cancelled["id"])):  # failed before its subscription was removed; cancelled
        code, _, err = await cli("alerts", "retry", refused)
        assert code == 1 and "was cancelled" in err, err
    assert await statuses(pool, [hook.id, removed.id]) == Counter({"failed": 1, "cancelled": 1})


async def _has(pool: asyncpg.Pool, subscription_id: int, status: str) -> bool:
    return await statuses(pool, [subscription_id]) == Counter({status: 1})


async def test_subscriptions_from_the_command_line(cli, pool, monkeypatch):
    body = a_body()
    code, out, _ = await cli("alerts", "subscribe", "--label", "Chief executives", "--email", "ceo@tamworth.gov.uk",
                             "--body", body, "--level", "escalation", "--escalation-from", "2")
    assert code == 0 and "escalation from 2" in out
    code, out, _ = await cli("alerts", "subscribe", "--label", "PMO channel", "--teams",
                             "https://example.webhook.office.com/webhookb2/x", "--body", body)
    assert code == 0 and "signing secret (shown once" in out
    monkeypatch.setenv("SLACK_SIGNING", "from-the-environment-0123456789")
    code, out, _ = await cli("alerts", "subscribe", "--label", "Slack", "--slack", "https://hooks.slack.com/services/x",
                             "--body", body, "--secret-env", "SLACK_SIGNING", "--kind", "kpi_red")
    assert code == 0
    code, out, _ = await cli("alerts", "subscriptions", "--json")
    ours = [row for row in json.loads(out) if row["bodies"] == [body]]
    assert [(row["label"], row["channel"]) for row in ours] == [
        ("Chief executives", "email"), ("PMO channel", "teams"), ("Slack", "slack")]
    assert "secret" not in ours[0], "secrets are never listed"
    assert [row["address"] for row in ours] == [
        "ceo@tamworth.gov.uk", "https://example.webhook.office.com/…", "https://hooks.slack.com/…"], (
        "a webhook URL is itself a credential: listings show its host only")
    assert await pool.fetchval("SELECT secret FROM alert_subscriptions WHERE id = $1", ours[2]["id"]) == (
        "from-the-environment-0123456789")
    code, out, _ = await cli("alerts", "subscriptions")
    assert code == 0 and "Chief executives" in out and "escalation 2+" in out

    for row in ours:
        assert (await cli("alerts", "unsubscribe", str(row["id"])))[0] == 0
    code, _, err = await cli("alerts", "unsubscribe", str(ours[0]["id"]))
    assert code == 1 and "no active subscription" in err

    code, _, err = await cli("alerts", "subscribe", "--label", "x", "--email", "not-an-address")
    assert code == 2 and "--email: 'not-an-address' is not one email address" in err
    for option, address, refusal in (
        ("--email", "a@x.gov.uk,b@evil.example", "not one email address"),
        ("--email", "a@@x.gov.uk", "not one email address"),
        ("--webhook", "http://localhost@evil.example/hook", "user name or password"),
        ("--webhook", "http://localhost.evil.example/hook", "plain http only to a loopback host"),
        ("--teams", "https://", "must name a host"),
    ):
        code, out, err = await cli("alerts", "subscribe", "--label", "x", option, address)
        assert code == 2 and f"{option}: " in err and refusal in err and "input" not in err, err
        assert "signing secret" not in out, "a refused subscription gives out no secret"
    code, _, err = await cli("alerts", "subscribe", "--label", "a\u202eb", "--email", "a@x.gov.uk")
    assert code == 2 and "--label: must not contain bidirectional controls" in err
    code, _, err = await cli("alerts", "subscribe", "--label", "x", "--webhook", "https://x.test/h",
                             "--secret-env", "NO_SUCH_VARIABLE_SET")
    assert code == 2 and "NO_SUCH_VARIABLE_SET" in err
    code, _, err = await cli("alerts", "subscribe", "--label", "x", "--webhook", "http://example.com/h")
    assert code == 2 and "https://" in err
    monkeypatch.delenv("DATABASE_URL")
    code, _, err = await cli("alerts", "subscriptions")
    assert code == 2 and "DATABASE_URL is not set" in err


async def test_the_dispatcher_process_exits_2_on_bad_configuration_and_3_without_its_database(postgres_dsn):
    for variable, value in (("CONCORDAT_SMTP_PORT", "abc"), ("CONCORDAT_SMTP_USERNAME", "only-a-user"),
                            ("CONCORDAT_DELIVERY_LEASE_SECONDS", "1"), ("CONCORDAT_PAGES_URL", "pages.example")):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "dispatcher", cwd=ROOT,
            env={**os.environ, "DATABASE_URL": postgres_dsn, variable: value},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await process.communicate()
        assert process.returncode == 2 and variable in err.decode(), (variable, err)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dispatcher", cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none",
             "CONCORDAT_CONNECT_TIMEOUT_SECONDS": "1"})
    out, _ = await process.communicate()
    assert process.returncode == 3 and b"dispatcher_gave_up" in out


@pytest.mark.dev_server
async def test_a_scheduled_digest_lists_the_open_alerts_of_its_bodies_worst_first(
    harness: Harness, pool, postgres_dsn, smtp, subscribe, cli, monkeypatch
):
    red = await harness.start(settings={"stage_durations": {"proposal": "PT1S"}})
    amber = await harness.start(settings={"stage_durations": {"proposal": "PT1H"}, "amber_share": "0.0003"})
    ids = {handle.id for handle in (red, amber)}
    digest = await subscribe("lichfield-daily", bodies=[factories.LICHFIELD], relation="lead", cadence="daily")

    async def both_alerting_in_visibility() -> bool:
        found = [e.id async for e in harness.client.list_workflows(digests.OPEN_AGREEMENTS_WITH_ALERTS)]
        return ids <= set(found)
    await assert_eventually(both_alerting_in_visibility, timeout=30)

    monkeypatch.setenv("TEMPORAL_ADDRESS", harness.client.service_client.config.target_host)
    monkeypatch.setenv("CONCORDAT_TASK_QUEUE", harness.task_queue)
    code, out, _ = await cli("alerts", "digest-schedule", "--cadence", "daily", "--at", "06:15", "--trigger")
    schedule = harness.client.get_schedule_handle(schedule_id(Cadence.DAILY))
    try:
        assert code == 0 and "created" in out and "06:15 Europe/London every day" in out
        described = await schedule.describe()
        [calendar] = described.schedule.spec.calendars
        assert (calendar.hour[0].start, calendar.minute[0].start) == (6, 15)
        async with dispatching(pool, settings_for(postgres_dsn, smtp.port)):
            await assert_eventually(lambda: _has(pool, digest.id, "sent"), timeout=30)
        code, out, _ = await cli("alerts", "digest-schedule", "--cadence", "daily", "--at", "07:00")
        assert code == 0 and "updated" in out
    finally:
        await schedule.delete()

    [sent] = smtp.to(digest.address)
    assert "Daily digest" in str(sent.message["Subject"])
    text = sent.text()
    red_id, amber_id = (handle.agreement_id for handle in (red, amber))
    assert text.index(f"({red_id})") < text.index(f"({amber_id})"), "worst first"
    assert "red (stage drift)" in text and "amber (stage drift)" in text


def test_a_digest_schedule_passes_its_time_zone_to_each_run_and_refuses_an_unknown_one(capsys):
    schedule = digest_schedule(Cadence.DAILY, (0, 30), "monday", "Europe/London", "q")
    assert schedule.action.args == [Cadence.DAILY, "Europe/London"]
    assert schedule.spec.time_zone_name == "Europe/London"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["alerts", "digest-schedule", "--cadence", "daily",
                                           "--time-zone", "Europe/Nowhere"])
    assert "--time-zone: 'Europe/Nowhere' is not an IANA time zone" in capsys.readouterr().err
