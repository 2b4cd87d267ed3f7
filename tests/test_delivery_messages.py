"""What an officer reads: an alert or digest as email, Concordat JSON, a Teams card and a Slack message."""

import uuid
from datetime import UTC, datetime, timedelta

from dispatcher.channels import email_message
from dispatcher.messages import DIGEST_LIMIT_IN_CHAT, render
from domain.delivery import Channel, Subscription
from domain.drift import Alert, AlertKind, Waiting
from domain.model import Stage
from store.outbox import Claimed

DEADLINE = datetime(2027, 5, 1, 9, 30, tzinfo=UTC)
SUBSCRIPTION = Subscription(id=4, label="Greenwich shared services", channel="slack",
                            address="https://hooks.slack.com/services/x", secret="s" * 32, cadence="daily")


def alert(level: str = "red", agreement_id: str = "demo-south-london-nrpf") -> Alert:
    return Alert(
        agreement_id=agreement_id, title="South London No Recourse to Public Funds team", kind=AlertKind.STAGE_DRIFT,
        condition="stage:sign_off:1", level=level, stage=Stage.SIGN_OFF, subject="the sign off stage",
        off_by="is overdue by 3 days", reached_at=DEADLINE + timedelta(days=3), message="...",
        waiting_on=[Waiting(body="E09000011", body_name="Royal Borough of Greenwich", for_what="sign-off")],
        lead_body="E09000028", partner_bodies=["E09000028", "E09000011"], deadline=DEADLINE,
    )


def claimed(**fields) -> Claimed:
    return Claimed.model_validate({"id": uuid.UUID(int=7), "attempt": 1, "subscription": SUBSCRIPTION,
                                   "alert": None, "digest": None, "digest_key": None, **fields})


LINK = "https://ui.example.gov.uk/namespaces/concordat/workflows/agreement-demo-south-london-nrpf"


def test_an_alert_email_says_what_is_late_by_how_much_who_is_awaited_and_links_to_it():
    message = render(claimed(alert=alert()), "https://ui.example.gov.uk/", "concordat")
    assert message.subject == ("[Concordat] RED: South London No Recourse to Public Funds team "
                               "(demo-south-london-nrpf): the sign off stage is overdue by 3 days")
    text = message.text()
    for line in ("Stage:      sign off", "Waiting on: Royal Borough of Greenwich (sign-off)",
                 "Deadline:   2027-05-01 09:30 UTC", f"Open:       {LINK}"):
        assert line in text
    email = email_message(message, "Concordat <alerts@council.gov.uk>", "officer@royalgreenwich.gov.uk")
    assert email["Message-ID"] == f"<{uuid.UUID(int=7)}@council.gov.uk>"
    assert email.get_body(preferencelist=("plain",)).get_content() == text
    assert f'<a href="{LINK}">' in email.get_body(preferencelist=("html",)).get_content()


def test_html_escapes_what_officers_typed():
    hostile = alert().model_copy(update={"title": "<script>alert(1)</script>"})
    html = render(claimed(alert=hostile), "https://ui", "default").html()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_webhook_formats():
    message = render(claimed(alert=alert()), "https://ui.example.gov.uk", "concordat")
    generic = message.webhook_json(Channel.WEBHOOK)
    assert generic["delivery_id"] == str(uuid.UUID(int=7)) and generic["type"] == "alert"
    assert generic["alerts"][0]["link"] == LINK and generic["alerts"][0]["lead_body"] == "E09000028"
    teams = message.webhook_json(Channel.TEAMS)["attachments"][0]
    assert teams["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert teams["content"]["actions"] == [{"type": "Action.OpenUrl", "title": "Open the agreement", "url": LINK}]
    slack = message.webhook_json(Channel.SLACK)
    assert slack["text"] == message.subject
    assert f"<{LINK}|Open the agreement in Temporal>" in slack["blocks"][1]["text"]["text"]


def test_a_long_digest_is_cut_in_chat_but_whole_by_email():
    alerts = [alert("amber", f"agreement-{n}") for n in range(DIGEST_LIMIT_IN_CHAT + 5)]
    message = render(claimed(digest=alerts, digest_key="2027-05-04"), "https://ui", "default")
    assert message.subject == "[Concordat] Daily digest (2027-05-04): 25 open alerts"
    assert all(f"(agreement-{n})" in message.text() for n in range(25))
    slack = message.webhook_json(Channel.SLACK)["blocks"]
    assert len(slack) == 1 + DIGEST_LIMIT_IN_CHAT + 1
    whole = "https://ui/namespaces/default/workflows"
    assert slack[-1]["elements"][0]["text"] == f"… and 5 more: <{whole}|open every agreement>"
    teams = message.webhook_json(Channel.TEAMS)["attachments"][0]["content"]
    assert teams["body"][-1]["text"] == "… and 5 more"
    assert teams["actions"] == [{"type": "Action.OpenUrl", "title": "Open every agreement",
                                 "url": "https://ui/namespaces/default/workflows"}]


PAGES = "https://concordat.example.gov.uk"
PAGE = f"{PAGES}/pages/agreements/demo-south-london-nrpf"


def test_with_the_pages_address_every_channel_links_to_the_agreement_s_page_as_well_as_the_web_ui():
    message = render(claimed(alert=alert()), "https://ui.example.gov.uk/", "concordat", PAGES + "/")
    text = message.text()
    assert f"Page:       {PAGE}\nOpen:       {LINK}" in text
    email = email_message(message, "Concordat <alerts@council.gov.uk>", "officer@royalgreenwich.gov.uk")
    html = email.get_body(preferencelist=("html",)).get_content()
    assert f'<a href="{PAGE}">Open the agreement&#x27;s page</a>' in html and f'<a href="{LINK}">' in html
    assert message.webhook_json(Channel.WEBHOOK)["alerts"][0]["page"] == PAGE
    teams = message.webhook_json(Channel.TEAMS)["attachments"][0]["content"]
    assert [action["url"] for action in teams["actions"]] == [PAGE, LINK]
    slack = message.webhook_json(Channel.SLACK)["blocks"][1]["text"]["text"]
    assert slack.endswith(f"<{PAGE}|Open the agreement's page> · <{LINK}|Open the agreement in Temporal>")

    digest = render(claimed(digest=[alert("amber", "a-1"), alert("red", "a-2")], digest_key="2027-05-04"),
                    "https://ui", "default", PAGES)
    assert f"Page:       {PAGES}/pages/agreements/a-2" in digest.text()
    facts = [fact for block in digest.webhook_json(Channel.TEAMS)["attachments"][0]["content"]["body"]
             if block["type"] == "FactSet" for fact in block["facts"] if fact["title"] == "Page"]
    assert [fact["value"] for fact in facts] == [f"[Open the agreement's page]({PAGES}/pages/agreements/a-{n})"
                                                 for n in (1, 2)]


def test_without_the_pages_address_no_channel_names_a_page():
    message = render(claimed(alert=alert()), "https://ui.example.gov.uk/", "concordat")
    assert "/pages/" not in message.text() and "/pages/" not in message.html()
    for channel in (Channel.WEBHOOK, Channel.TEAMS, Channel.SLACK):
        assert "/pages/" not in str(message.webhook_json(channel))


def test_a_page_link_is_escaped_so_no_channel_s_link_syntax_ends_it_early():
    hostile = "https://pages.example/a b(c)[d]<e>|f\"g'h*!&"
    message = render(claimed(alert=alert()), "https://ui", "default", hostile)
    page = message.page(alert())
    assert page == ("https://pages.example/a%20b%28c%29%5Bd%5D%3Ce%3E%7Cf%22g%27h%2A%21%26"
                    "/pages/agreements/demo-south-london-nrpf")
    assert f'href="{page}"' in message.html()
    assert f"<{page}|" in message.webhook_json(Channel.SLACK)["blocks"][1]["text"]["text"]
