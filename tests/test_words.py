"""Every word an agreement carries reaches people safely: one corpus of hostile strings (tests/helpers/hostile.py)
through the contract, then through every channel: email over a real SMTP server, Teams, Slack and signed webhooks
to a real HTTP receiver, the CLI's tab-separated output, the Web UI's details, and the board report in Chromium."""

from __future__ import annotations

import io
import json
import logging
import re
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from markdown_it import MarkdownIt
from pydantic import TypeAdapter, ValidationError
from rich.console import Console

from cli.output import print_table
from demo.mailbox import SmtpSink
from dispatcher.channels import DeliveryError, email_message, post_webhook, send_email
from dispatcher.messages import SLACK_HEADER_CHARACTERS, SLACK_SECTION_CHARACTERS, TEAMS_BYTES, render
from dispatcher.settings import DispatcherSettings
from domain.delivery import Channel, Subscription
from domain.drift import Alert, AlertKind, Waiting
from domain.model import AS_RECORDED, AgreementRequest, Name, Reason, Stage, name_key
from domain.status import status_of
from report import render as report_render
from report.data import BoardReport
from runtime.logging import configure_logging
from store.outbox import Claimed
from store.read_model import AgreementLine
from tests.helpers import factories, free_port
from tests.helpers.agreements import in_sign_off
from tests.helpers.builders import reject
from tests.helpers.harness import Harness, version
from tests.helpers.hostile import CORPUS, LONG_TEXT, LONG_WORD, accepted_titles
from tests.helpers.receivers import WebhookReceiver
from tests.test_search_attributes import Portfolio
from tests.test_web_ui import CHROMIUM_ARGS
from workflows.agreement import AgreementWorkflow, workflow_id
from workflows.contract import start_options
from workflows.web_ui import details_markdown

SECRET = "a-test-secret-of-enough-length-0123456789"
DEADLINE = datetime(2027, 5, 1, 9, 30, tzinfo=UTC)
REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u200b\u00ad]")
"""What no stored one-line text may hold once accepted: control characters, separators, bidi controls and the
default-ignorables of the corpus."""


# The text policy, at the contract --------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text"), CORPUS, ids=[name for name, _ in CORPUS])
def test_every_hostile_title_is_refused_with_a_reason_or_stored_clean(name, text):
    payload = factories.request_data()
    payload["proposal"]["title"] = text
    try:
        request = TypeAdapter(AgreementRequest).validate_json(json.dumps(payload))
    except ValidationError as error:
        [problem] = error.errors()
        assert problem["loc"][-1] == "title" and "must not contain" in problem["msg"], problem
        return
    title = request.proposal.title
    assert not REFUSED.search(title) and title == unicodedata.normalize("NFC", title) and title.strip() == title


def test_names_lose_invisible_characters_and_refuse_controls_and_multi_line_text_keeps_its_lines():
    names = TypeAdapter(Name)
    assert names.validate_python("Priya\u200b Shah\u2060") == "Priya Shah"
    for refused in ("Priya\u202eShah", "Priya\u2028Shah", "Priya\nShah", "Priya\tShah", "\u200b"):
        with pytest.raises(ValidationError):
            names.validate_python(refused)
    reasons = TypeAdapter(Reason)
    assert reasons.validate_python("first line\r\nsecond line") == "first line\nsecond line"
    with pytest.raises(ValidationError, match="bidirectional"):
        reasons.validate_python("too \u202ehigh")
    with pytest.raises(ValidationError, match="at most 4000"):
        reasons.validate_python(LONG_TEXT)


def test_text_recorded_before_the_policy_still_reads_as_it_was():
    recorded = {"title": "Waste\u2028service\u200b", "reason": "too\thigh"}
    assert TypeAdapter(Name).validate_python(recorded["title"], context={AS_RECORDED: True}) == recorded["title"]
    assert TypeAdapter(Reason).validate_python(recorded["reason"], context={AS_RECORDED: True}) == "too\thigh"


def test_names_that_look_alike_are_one_person():
    same = ["Priya Shah", "PRIYA SHAH", "Priya\u200b Shah", "\u0420riya Shah", "Priya Sh\u0430h"]
    assert len({name_key(n) for n in same}) == 1
    assert name_key("Priya Shah") != name_key("Priya Shaw")


# Rendering every channel -----------------------------------------------------------------------------------------

def _alert(title: str, agreement_id: str = "hostile-words", partners: int = 1, words: str = "") -> Alert:
    waiting = [Waiting(body=f"E0{n:07d}", body_name=f"{words or title} {n}", for_what="sign-off")
               for n in range(partners)]
    return Alert(
        agreement_id=agreement_id, title=title, kind=AlertKind.STAGE_DRIFT, condition="stage:sign_off:1",
        level="red", stage=Stage.SIGN_OFF, subject="the sign off stage", off_by="is overdue by 3 days",
        reached_at=DEADLINE + timedelta(days=3), message="...", waiting_on=waiting, lead_body="E09000028",
        partner_bodies=[w.body for w in waiting], deadline=DEADLINE,
    )


def _claimed(channel: str, **fields: Any) -> Claimed:
    address = "officer@council.gov.uk" if channel == "email" else "https://hooks.example.gov.uk/x"
    subscription = Subscription(id=9, label="Hostile words", channel=channel, address=address,
                                secret=None if channel == "email" else SECRET, cadence="daily")
    return Claimed.model_validate({"id": uuid.uuid4(), "attempt": 1, "subscription": subscription,
                                   "alert": None, "digest": None, "digest_key": None, **fields})


ALL_WORDS = [(name, text) for name, text in CORPUS] + [("long text", LONG_TEXT)]
"""Every corpus entry as an agreement recorded before the policy might hold it."""
UI = "https://ui.example.gov.uk"
OUR_LINKS = re.compile(re.escape(UI) + r"/namespaces/concordat/workflows(/agreement-[\w-]+)?")


def _links_in_markdown(text: str) -> list[str]:
    """The links a CommonMark renderer with bare-address links makes of ``text``."""
    html = MarkdownIt("commonmark", {"linkify": False}).render(text)
    return re.findall(r'<a href="([^"]*)"|<img src="([^"]*)"', html)


@pytest.mark.parametrize(("name", "text"), ALL_WORDS, ids=[name for name, _ in ALL_WORDS])
def test_each_channel_shows_hostile_words_as_words(name, text):
    message = render(_claimed("slack", alert=_alert(text)), UI, "concordat")
    email = email_message(message, "Concordat <alerts@concordat.test>", "officer@council.gov.uk")
    raw = email.as_bytes(policy=policy.SMTP)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n")), "no line longer than SMTP allows"
    parsed = message_from_bytes(raw, policy=policy.default)
    assert sorted(parsed.keys()) == sorted(email.keys()), "no header injected"
    assert "\n" not in str(parsed["Subject"]) and "evil.example" not in "".join(
        v for k, v in parsed.items() if k != "Subject")

    html = message.html()
    assert re.findall(r"<(?!/?(html|body|h2|h3|table|tr|th|td|p|small|a)\b)", html) == []
    assert [href for href in re.findall(r'href="([^"]*)"', html)] == [
        f"{UI}/namespaces/concordat/workflows/agreement-hostile-words"]

    slack = message.webhook_json(Channel.SLACK)
    formatted = slack["text"] + "".join(b["text"]["text"] for b in slack["blocks"] if b["type"] == "section")
    markup = re.findall(r"<([^>]*)>", formatted)  # the header is plain_text, which Slack never formats
    assert all(OUR_LINKS.fullmatch(m.split("|")[0]) for m in markup), markup
    assert not re.search(r"https?://|www\.", OUR_LINKS.sub("", formatted)), "no bare address for Slack to link"

    teams = message.webhook_json(Channel.TEAMS)
    content = teams["attachments"][0]["content"]
    texts = [b["text"] for b in content["body"] if b["type"] == "TextBlock"] + [
        f["value"] for b in content["body"] if b["type"] == "FactSet" for f in b["facts"]]
    assert [link for text_ in texts for link in _links_in_markdown(text_) if any(link)] == []
    assert all(a["url"].startswith(UI) for a in content["actions"])


def test_web_ui_details_and_start_summary_make_no_link_from_agreement_words():
    for _, text in accepted_titles():
        request = AgreementRequest.model_validate(
            {**factories.request_data(), "proposal": {**factories.proposal_data(), "title": text}})
        options = start_options(request)
        for shown in (options["static_summary"], options["static_details"]):
            assert [link for link in _links_in_markdown(shown) if any(link)] == [], shown
        agreement = in_sign_off()
        status = status_of(agreement.model_copy(update={"proposal": agreement.proposal.model_copy(
            update={"title": text})}), DEADLINE)
        assert [link for link in _links_in_markdown(details_markdown(status)) if any(link)] == []


def test_every_message_fits_its_channel_however_many_and_long_the_alerts():
    alerts = [_alert(LONG_WORD, f"partners-{n}", partners=50, words=LONG_WORD[:190]) for n in range(60)]
    message = render(_claimed("teams", digest=alerts, digest_key="2027-05-04"), UI, "concordat")
    teams = message.webhook_json(Channel.TEAMS)
    assert len(json.dumps(teams, ensure_ascii=False).encode()) <= TEAMS_BYTES
    body = teams["attachments"][0]["content"]["body"]
    assert re.fullmatch(r"… and \d+ more", body[-1]["text"])
    slack = message.webhook_json(Channel.SLACK)
    assert len(slack["blocks"]) <= 50
    assert len(slack["blocks"][0]["text"]["text"]) <= SLACK_HEADER_CHARACTERS
    assert all(len(b["text"]["text"]) <= SLACK_SECTION_CHARACTERS for b in slack["blocks"] if b["type"] == "section")
    assert "open every agreement" in slack["blocks"][-1]["elements"][0]["text"]


# Real receivers --------------------------------------------------------------------------------------------------

def _settings(port: int) -> DispatcherSettings:
    return DispatcherSettings.from_environment({
        "CONCORDAT_SMTP_HOST": "127.0.0.1", "CONCORDAT_SMTP_PORT": str(port),
        "CONCORDAT_SMTP_SENDER": "Concordat <alerts@concordat.test>", "CONCORDAT_WEB_UI_URL": UI,
    })


async def test_every_hostile_word_reaches_a_real_smtp_server_and_http_receiver_as_words():
    sink = SmtpSink(free_port()).start()
    receiver = WebhookReceiver().start()
    try:
        settings = _settings(sink.port)
        async with httpx.AsyncClient(timeout=10) as client:
            for n, (_, text) in enumerate(ALL_WORDS):
                claimed = _claimed("email", alert=_alert(text, f"words-{n}"))
                await send_email(settings, render(claimed, UI, "concordat"), "officer@council.gov.uk")
                for channel in ("teams", "slack", "webhook"):
                    hook = Subscription(id=n, label="x", channel=channel, address=f"{receiver.url}/{channel}",
                                        secret=SECRET)
                    message = render(_claimed(channel, alert=_alert(text, f"words-{n}")), UI, "concordat")
                    await post_webhook(client, hook, message)
        assert len(sink.received) == len(ALL_WORDS)
        for received in sink.received:
            assert set(received.message.keys()) == {
                "Subject", "From", "To", "Date", "Message-ID", "Concordat-Delivery-Id", "MIME-Version",
                "Content-Type"}
            assert received.recipients == ["officer@council.gov.uk"]
        assert len(receiver.accepted()) == 3 * len(ALL_WORDS)
        for request in receiver.accepted():
            json.loads(request.body)

        receiver.fail_first, receiver.fail_status = 10, 413
        hook = Subscription(id=1, label="x", channel="teams", address=f"{receiver.url}/big", secret=SECRET)
        async with httpx.AsyncClient(timeout=10) as client:
            with pytest.raises(DeliveryError) as refused:
                await post_webhook(client, hook, render(_claimed("teams", alert=_alert("x", "big")), UI, "c"))
        assert refused.value.permanent and str(refused.value).startswith("teams webhook answered HTTP 413")
    finally:
        sink.stop()
        receiver.stop()


# The command line, logs and the report ---------------------------------------------------------------------------

def test_tab_separated_output_never_starts_a_formula_and_keeps_one_row_a_line():
    out = io.StringIO()
    rows = [[text, "-1250.50", "-"] for _, text in ALL_WORDS]
    print_table(Console(file=out, force_terminal=False), "Words", ["Title", "Saving", "None"], rows)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + len(rows)
    for line in lines[1:]:
        title, saving, none = line.split("\t")
        assert title[:1] not in ("=", "+", "-", "@") and saving == "-1250.50" and none == "-"


def test_each_log_line_stays_one_json_object():
    out = io.StringIO()
    saved, handlers = structlog.get_config(), logging.getLogger().handlers[:]
    configure_logging(stream=out)
    try:
        for _, text in ALL_WORDS:
            structlog.get_logger("concordat.words").info("alert_raised", title=text)
            logging.getLogger("temporalio.words").warning("refused %s", text)
    finally:
        structlog.configure(**saved)
        logging.getLogger().handlers[:] = handlers
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 * len(ALL_WORDS)
    assert all(json.loads(line)["event"] in ("alert_raised", f"refused {text}") for line, (_, text) in zip(
        lines[::2] + lines[1::2], ALL_WORDS * 2, strict=True))


def test_the_terminal_table_prints_words_as_written_within_its_width():
    out = io.StringIO()
    rows = [[text, "-1250.50"] for _, text in accepted_titles()]
    print_table(Console(file=out, force_terminal=True, width=100, color_system=None), "Words", ["Title", "Saving"],
                rows)
    printed = out.getvalue()
    assert all(len(line) <= 100 for line in printed.splitlines())
    assert "<!channel>" in printed and "=HYPERLINK(" in printed, "a person at a terminal reads the words as written"


def _report(titles: list[str]) -> BoardReport:
    lines = [AgreementLine(
        agreement_id=f"a-{n}", title=title, lead_body_name=LONG_WORD[:120], stage="implementation",
        expected_annual_saving=Decimal("125000.00"), cumulative_planned=Decimal("90000.00"),
        cumulative_saving=Decimal("80000.00"), benefit_rag="amber", forecast_rag="red",
        forecast_payback_at=DEADLINE, planned_payback_at=DEADLINE, preferred_npv=Decimal("-1234567.00"),
    ) for n, title in enumerate(titles)]
    return BoardReport(lead_body=None, lead_body_name=None, generated_at=DEADLINE, agreements=lines,
                       by_stage={"implementation": len(lines)})


_MEASURE = """<script>
document.title = JSON.stringify([...document.querySelectorAll("table")].map(t =>
  [t.getBoundingClientRect().right, document.documentElement.clientWidth]));
</script>"""


@pytest.mark.skipif(not report_render.shutil.which("chromium"), reason="Debian's chromium is not installed")
def test_the_report_keeps_every_column_on_the_page_and_in_the_pdf(tmp_path: Path):
    html = report_render.html(_report([text for _, text in accepted_titles()] + [LONG_WORD]))
    assert "<script" not in html.split("<body", 1)[1].lower().replace("&lt;script", "")
    page = tmp_path / "report.html"
    page.write_text(html.replace("</body>", _MEASURE + "</body>"), encoding="utf-8")
    dumped = report_render.subprocess.run(
        [report_render.chromium(), "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}/p",
         "--window-size=794,1123", "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    title = re.search(r"<title>(.*?)</title>", dumped.stdout, re.S)
    assert title, dumped.stderr[-2000:]
    tables = json.loads(unicodedata.normalize("NFC", title.group(1)).replace("&amp;", "&"))
    assert tables and all(right <= width for right, width in tables), tables
    pdf = tmp_path / "report.pdf"
    report_render.pdf(page, pdf)
    assert pdf.read_bytes().startswith(b"%PDF")



# The Web UI in Chromium ------------------------------------------------------------------------------------------

CHROMIUM = report_render.shutil.which("chromium") or report_render.shutil.which("chromium-browser")


@pytest.mark.dev_server
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")
async def test_the_web_ui_shows_an_agreements_words_as_words(harness: Harness, dev_server_ui_port: int):
    from playwright.async_api import async_playwright, expect

    portfolio = Portfolio(harness)
    title = "[Open in Temporal](https://evil.example/phish) **now** www.evil.example"
    agreement_id = await portfolio.start("words", partner=True, title=title,
                                         service_name="<b>Waste</b> https://evil.example/service")
    await portfolio.to_sign_off(agreement_id)
    handle = harness.client.get_workflow_handle_for(AgreementWorkflow.run, workflow_id(agreement_id))
    await portfolio.update(agreement_id, AgreementWorkflow.record_sign_off, reject(
        portfolio.actor, reason="see [the terms](https://evil.example/terms)", version=await version(handle)))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            await page.goto(f"http://127.0.0.1:{dev_server_ui_port}/namespaces/default/workflows/"
                            f"{workflow_id(agreement_id)}")
            await page.get_by_role("tab", name="User Metadata").click()
            frames = [page.frame_locator("iframe").nth(i) for i in range(3)]
            await expect(frames[2].get_by_text("see [the terms](https://evil.example/terms)")).to_be_visible(
                timeout=30_000)
            await expect(frames[1].get_by_text(title)).to_be_visible()
            for frame in frames:
                await expect(frame.locator("a[href*='evil.example'], b, strong:text-is('now')")).to_have_count(0)
        finally:
            await browser.close()
