"""What an officer reads: an alert or a digest as email text and HTML, and as webhook JSON
(Concordat's own format, a Microsoft Teams Adaptive Card, a Slack message).

Every message names the agreement and its title, the stage, what is late or off target and by
how much, who is awaited and for what, the deadline, and links to the agreement: to its page in Concordat's pages
for people, where an officer signs in and acts (when the dispatcher knows their address, ``CONCORDAT_PAGES_URL``),
and to the Temporal Web UI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain import escape
from domain.delivery import Channel, page_link, web_ui_link
from domain.drift import Alert
from store.outbox import Claimed

DIGEST_LIMIT_IN_CHAT = 20
"""A Teams or Slack digest lists at most this many alerts in full, then says how many more there are."""
TEAMS_BYTES = 27_000
"""A Teams card's JSON is kept under this many bytes: Teams incoming webhooks refuse messages over about 28 KB
(HTTP 413). Alerts that do not fit are counted in "… and N more" with a link to the whole list."""
SLACK_SECTION_CHARACTERS = 3000
"""Slack's limit on a section block's text."""
SLACK_HEADER_CHARACTERS = 150
"""Slack's limit on a header block's text."""
VALUE_CHARACTERS = 600
"""Each value of an alert (a title, who is awaited) is cut to this many characters, with "…", in every channel."""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "none set"


def _awaited(alert: Alert) -> str:
    return "; ".join(f"{w.body_name} ({w.for_what})" for w in alert.waiting_on) or "nobody"


def _headline(alert: Alert) -> str:
    """One line naming the alert, not yet escaped for any channel."""
    return _clip(escape.one_line(
        f"{alert.level.upper()}: {alert.title} ({alert.agreement_id}): {alert.subject} {alert.off_by}"
    ), VALUE_CHARACTERS)


PAGE = "Page"
"""The label of the link to the agreement's page for people."""
OPEN = "Open"
"""The label of the link to the agreement in the Temporal Web UI."""
LINKS = (PAGE, OPEN)


def facts(alert: Alert, link: str, page: str | None = None) -> list[tuple[str, str]]:
    """The lines of one alert, as (label, value): each value on one line (``escape.one_line``) and at most
    ``VALUE_CHARACTERS`` long, not yet escaped for any channel; the last are the links, to the agreement's
    ``page`` for people (when there is one) and to the Web UI (``link``), which are not cut."""
    lines = [(label, _clip(escape.one_line(value), VALUE_CHARACTERS)) for label, value in _facts(alert)]
    return [*lines, *([(PAGE, page)] if page else []), (OPEN, link)]


def _facts(alert: Alert) -> list[tuple[str, str]]:
    return [
        ("Agreement", f"{alert.title} ({alert.agreement_id})"),
        ("Level", f"{alert.level} ({alert.kind.value.replace('_', ' ')})"),
        ("Stage", alert.stage.label),
        ("What", f"{alert.subject} {alert.off_by}"),
        ("Waiting on", _awaited(alert)),
        ("Deadline", _when(alert.deadline)),
        ("Reached", _when(alert.reached_at)),
    ]


@dataclass(frozen=True)
class Message:
    """One delivery, rendered once for whichever channel sends it."""

    delivery_id: str
    kind: str
    subject: str
    alerts: list[tuple[Alert, str]]
    footer: str
    whole: str
    """Where the whole list can be read (the Web UI's list of agreements), for a message cut to fit."""
    pages_url: str | None = None
    """The public address of Concordat's pages for people (``CONCORDAT_PAGES_URL``): each alert then links to its
    agreement's page there too. None: no page link (the pages are not served, or the dispatcher was not told)."""

    def page(self, alert: Alert) -> str | None:
        """The link to ``alert``'s agreement's page for people, or None without ``pages_url``."""
        return page_link(self.pages_url, alert.agreement_id) if self.pages_url else None

    def facts(self, alert: Alert, link: str) -> list[tuple[str, str]]:
        """``facts`` of one alert of this message, with its page link."""
        return facts(alert, link, self.page(alert))

    def text(self) -> str:
        blocks = []
        for alert, link in self.alerts:
            lines = self.facts(alert, link)
            width = max(len(label) for label, _ in lines)
            blocks.append("\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in lines))
        return f"{self.subject}\n\n" + "\n\n".join(blocks) + f"\n\n-- \n{self.footer}\n"

    def html(self) -> str:
        tables = []
        for alert, link in self.alerts:
            cells = [(label, f'<a href="{escape.html(value)}">{escape.html(_LINK_WORDS[label])}</a>' if label in LINKS
                      else escape.html(value)) for label, value in self.facts(alert, link)]
            rows = "".join(f'<tr><th align="left">{escape.html(label)}</th><td>{cell}</td></tr>'
                           for label, cell in cells)
            tables.append(f"<h3>{escape.html(_headline(alert))}</h3><table>{rows}</table>")
        return (f"<html><body><h2>{escape.html(self.subject)}</h2>{''.join(tables)}"
                f"<p><small>{escape.html(self.footer)}</small></p></body></html>")

    def webhook_json(self, channel: Channel) -> dict[str, Any]:
        match channel:
            case Channel.TEAMS:
                return self._teams()
            case Channel.SLACK:
                return self._slack()
        return {
            "delivery_id": self.delivery_id,
            "type": self.kind,
            "subject": self.subject,
            "text": self.text(),
            "alerts": [{**alert.model_dump(mode="json"), "link": link,
                        **({"page": page} if (page := self.page(alert)) else {})} for alert, link in self.alerts],
        }

    def _teams(self) -> dict[str, Any]:
        """An Adaptive Card with as many alerts as fit in ``TEAMS_BYTES`` (at most ``DIGEST_LIMIT_IN_CHAT``);
        every word from an agreement is Markdown-escaped, so it shows as text."""
        shown = min(len(self.alerts), DIGEST_LIMIT_IN_CHAT)
        card = self._teams_card(shown)
        while shown > 0 and len(json.dumps(card, ensure_ascii=False).encode()) > TEAMS_BYTES:
            shown -= 1
            card = self._teams_card(shown)
        return card

    def _teams_card(self, shown: int) -> dict[str, Any]:
        body: list[dict[str, Any]] = [{"type": "TextBlock", "size": "Medium", "weight": "Bolder",
                                       "text": escape.markdown(self.subject), "wrap": True}]
        actions = []
        for alert, link in self.alerts[:shown]:
            if len(self.alerts) > 1:
                body.append({"type": "TextBlock", "weight": "Bolder", "text": escape.markdown(_headline(alert)),
                             "wrap": True})
            page = self.page(alert)
            body.append({"type": "FactSet", "facts": [
                {"title": label, "value": escape.markdown(value)} for label, value in facts(alert, link)
                if label not in LINKS
            ] + ([{"title": PAGE, "value": f"[{_LINK_WORDS[PAGE]}]({page})"}] if page and len(self.alerts) > 1
                 else [])})
            if len(self.alerts) == 1:
                if page:
                    actions.append({"type": "Action.OpenUrl", "title": "Open the agreement's page", "url": page})
                actions.append({"type": "Action.OpenUrl", "title": "Open the agreement", "url": link})
        if (more := self._more(shown)) is not None:
            body.append({"type": "TextBlock", "text": escape.markdown(more), "wrap": True})
            actions.append({"type": "Action.OpenUrl", "title": "Open every agreement", "url": self.whole})
        return {"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                        "version": "1.4", "body": body, "actions": actions},
        }]}

    def _slack(self) -> dict[str, Any]:
        """A message with a header and one section per alert (at most ``DIGEST_LIMIT_IN_CHAT``), each within
        Slack's block limits; every word from an agreement has ``& < >`` escaped, so none mentions or links."""
        header = _clip(escape.one_line(self.subject), SLACK_HEADER_CHARACTERS)
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": header}}]
        shown = min(len(self.alerts), DIGEST_LIMIT_IN_CHAT)
        for alert, link in self.alerts[:shown]:
            lines = [f"*{label}:* {escape.slack(value)}" for label, value in facts(alert, link) if label not in LINKS]
            links = [f"<{page}|{_LINK_WORDS[PAGE]}>"] if (page := self.page(alert)) else []
            lines.append(" · ".join([*links, f"<{link}|{_LINK_WORDS[OPEN]}>"]))
            text = "\n".join(lines)
            while len(text) > SLACK_SECTION_CHARACTERS and len(lines) > 1:
                lines.pop(-2)  # whole lines go, the link last, so no entity or link is cut in two
                text = "\n".join(lines)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        if (more := self._more(shown)) is not None:
            blocks.append({"type": "context", "elements": [
                {"type": "mrkdwn", "text": f"{escape.slack(more)}: <{self.whole}|open every agreement>"}]})
        return {"text": escape.slack(escape.one_line(self.subject)), "blocks": blocks,
                "unfurl_links": False, "unfurl_media": False}

    def _more(self, shown: int) -> str | None:
        extra = len(self.alerts) - shown
        return f"… and {extra} more" if extra > 0 else None


_LINK_WORDS = {PAGE: "Open the agreement's page", OPEN: "Open the agreement in Temporal"}
"""What each link says where a channel shows words rather than the address."""


def render(claimed: Claimed, web_ui_url: str, namespace: str, pages_url: str | None = None) -> Message:
    """The message for a claimed delivery: one alert, or a digest of the open alerts, worst first; each alert
    links to its agreement in the Web UI, and to its page for people when ``pages_url`` (the pages' public
    address) is given."""
    subscription = claimed.subscription
    footer = (f"Sent by Concordat to subscription #{subscription.id} '{escape.one_line(subscription.label)}'. "
              f"Delivery {claimed.id}: a repeat of this id is the same message.")

    whole = f"{web_ui_url.rstrip('/')}/namespaces/{namespace}/workflows"

    def linked(alert: Alert) -> tuple[Alert, str]:
        return alert, web_ui_link(web_ui_url, namespace, alert.agreement_id)

    if claimed.alert is not None:
        return Message(str(claimed.id), "alert", "[Concordat] " + _headline(claimed.alert),
                       [linked(claimed.alert)], footer, whole, pages_url)
    alerts = claimed.digest or []
    count = f"{len(alerts)} open alert{'s' * (len(alerts) != 1)}"
    return Message(str(claimed.id), "digest", f"[Concordat] {subscription.cadence.value.title()} digest "
                   f"({claimed.digest_key}): {count}", [linked(a) for a in alerts], footer, whole, pages_url)
