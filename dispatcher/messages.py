"""What an officer reads: an alert or a digest as email text and HTML, and as webhook JSON
(Concordat's own format, a Microsoft Teams Adaptive Card, a Slack message).

Every message names the agreement and its title, the stage, what is late or off target and by
how much, who is awaited and for what, the deadline, and links to the agreement in the Web UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any

from domain.delivery import Channel, web_ui_link
from domain.drift import Alert
from store.outbox import Claimed

DIGEST_LIMIT_IN_CHAT = 20
"""A Teams or Slack digest lists this many alerts in full, then says how many more there are."""


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "none set"


def _awaited(alert: Alert) -> str:
    return "; ".join(f"{w.body_name} ({w.for_what})" for w in alert.waiting_on) or "nobody"


def _headline(alert: Alert) -> str:
    return f"{alert.level.upper()}: {alert.title} ({alert.agreement_id}): {alert.subject} {alert.off_by}"


def facts(alert: Alert, link: str) -> list[tuple[str, str]]:
    """The lines of one alert, as (label, value)."""
    return [
        ("Agreement", f"{alert.title} ({alert.agreement_id})"),
        ("Level", f"{alert.level} ({alert.kind.value.replace('_', ' ')})"),
        ("Stage", alert.stage.label),
        ("What", f"{alert.subject} {alert.off_by}"),
        ("Waiting on", _awaited(alert)),
        ("Deadline", _when(alert.deadline)),
        ("Reached", _when(alert.reached_at)),
        ("Open", link),
    ]


@dataclass(frozen=True)
class Message:
    """One delivery, rendered once for whichever channel sends it."""

    delivery_id: str
    kind: str
    subject: str
    alerts: list[tuple[Alert, str]]
    footer: str

    def text(self) -> str:
        blocks = []
        for alert, link in self.alerts:
            width = max(len(label) for label, _ in facts(alert, link))
            blocks.append("\n".join(f"{label + ':':<{width + 1}} {value}" for label, value in facts(alert, link)))
        return f"{self.subject}\n\n" + "\n\n".join(blocks) + f"\n\n-- \n{self.footer}\n"

    def html(self) -> str:
        tables = []
        for alert, link in self.alerts:
            cells = [
                (label, f'<a href="{escape(value)}">Open the agreement in Temporal</a>' if label == "Open"
                 else escape(value))
                for label, value in facts(alert, link)
            ]
            rows = "".join(f'<tr><th align="left">{escape(label)}</th><td>{cell}</td></tr>' for label, cell in cells)
            tables.append(f"<h3>{escape(_headline(alert))}</h3><table>{rows}</table>")
        return (f"<html><body><h2>{escape(self.subject)}</h2>{''.join(tables)}"
                f"<p><small>{escape(self.footer)}</small></p></body></html>")

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
            "alerts": [{**alert.model_dump(mode="json"), "link": link} for alert, link in self.alerts],
        }

    def _teams(self) -> dict[str, Any]:
        body: list[dict[str, Any]] = [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": self.subject, "wrap": True}
        ]
        actions = []
        for alert, link in self.alerts[:DIGEST_LIMIT_IN_CHAT]:
            if len(self.alerts) > 1:
                body.append({"type": "TextBlock", "weight": "Bolder", "text": _headline(alert), "wrap": True})
            body.append({"type": "FactSet", "facts": [
                {"title": label, "value": value} for label, value in facts(alert, link) if label != "Open"
            ]})
            if len(self.alerts) == 1:
                actions.append({"type": "Action.OpenUrl", "title": "Open the agreement", "url": link})
        body += self._more()
        return {"type": "message", "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                        "version": "1.4", "body": body, "actions": actions},
        }]}

    def _slack(self) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": self.subject[:150]}}]
        for alert, link in self.alerts[:DIGEST_LIMIT_IN_CHAT]:
            lines = [f"*{label}:* {value}" for label, value in facts(alert, link) if label != "Open"]
            lines.append(f"<{link}|Open the agreement in Temporal>")
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}})
        blocks += [{"type": "context", "elements": [{"type": "plain_text", "text": m["text"]}]} for m in self._more()]
        return {"text": self.subject, "blocks": blocks}

    def _more(self) -> list[dict[str, Any]]:
        extra = len(self.alerts) - DIGEST_LIMIT_IN_CHAT
        return [{"type": "TextBlock", "text": f"... and {extra} more", "wrap": True}] if extra > 0 else []


def render(claimed: Claimed, web_ui_url: str, namespace: str) -> Message:
    """The message for a claimed delivery: one alert, or a digest of the open alerts, worst first."""
    subscription = claimed.subscription
    footer = (f"Sent by Concordat to subscription #{subscription.id} '{subscription.label}'. "
              f"Delivery {claimed.id}: a repeat of this id is the same message.")

    def linked(alert: Alert) -> tuple[Alert, str]:
        return alert, web_ui_link(web_ui_url, namespace, alert.agreement_id)

    if claimed.alert is not None:
        return Message(str(claimed.id), "alert", "[Concordat] " + _headline(claimed.alert),
                       [linked(claimed.alert)], footer)
    alerts = claimed.digest or []
    count = f"{len(alerts)} open alert{'s' * (len(alerts) != 1)}"
    return Message(str(claimed.id), "digest", f"[Concordat] {subscription.cadence.value.title()} digest "
                   f"({claimed.digest_key}): {count}", [linked(a) for a in alerts], footer)
