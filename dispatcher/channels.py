"""Sending one rendered message: email over SMTP (aiosmtplib), webhooks over HTTPS (httpx).

Each function raises ``DeliveryError`` with a reason an operator can act on when the
receiver did not take the message; the dispatcher then retries with backoff.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import aiosmtplib
import httpx

from dispatcher.messages import Message
from dispatcher.settings import DispatcherSettings
from dispatcher.signature import signed_headers
from domain import escape
from domain.delivery import Channel, Subscription, email_address, webhook_url


class DeliveryError(Exception):
    """The receiver did not take the message; the text says what happened. ``permanent`` when sending it again
    cannot help (a webhook's 4xx answer other than 408, 425 and 429, such as 413 for a message too large or
    404 for a removed endpoint): the delivery is then marked failed at once."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


_TRANSIENT_4XX = frozenset({408, 425, 429})


def email_message(message: Message, sender: str, recipient: str) -> EmailMessage:
    """A plain-text email with an HTML alternative; its Message-ID is the delivery id, so a resend
    after an unclear failure is recognisably the same message."""
    domain = parseaddr(sender)[1].rpartition("@")[2]
    email = EmailMessage()
    email["Subject"] = escape.email_header(message.subject)
    email["From"] = sender
    email["To"] = recipient
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = f"<{message.delivery_id}@{domain}>"
    email["Concordat-Delivery-Id"] = message.delivery_id
    email.set_content(message.text())
    email.add_alternative(message.html(), subtype="html")
    return email


async def send_email(settings: DispatcherSettings, message: Message, recipient: str) -> None:
    email = email_message(message, settings.smtp_sender, recipient)
    try:
        await aiosmtplib.send(
            email,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            start_tls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.send_timeout_seconds,
        )
    except (aiosmtplib.SMTPException, OSError) as error:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {error}") from error


async def post_webhook(client: httpx.AsyncClient, subscription: Subscription, message: Message) -> None:
    assert subscription.secret is not None  # a webhook subscription cannot be made without one
    body = json.dumps(message.webhook_json(subscription.channel), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", **signed_headers(subscription.secret, message.delivery_id, body)}
    try:
        response = await client.post(subscription.address, content=body, headers=headers)
    except httpx.HTTPError as error:
        raise DeliveryError(f"{_receiver(subscription.channel)}: {type(error).__name__}: {error}") from error
    if not response.is_success:
        code = response.status_code
        answer = escape.one_line(response.text[:300])
        raise DeliveryError(f"{_receiver(subscription.channel)} answered HTTP {code}: {answer}",
                            permanent=400 <= code < 500 and code not in _TRANSIENT_4XX)


def _receiver(channel: Channel) -> str:
    """'webhook', 'teams webhook', 'slack webhook': how an error names the receiver."""
    return "webhook" if channel is Channel.WEBHOOK else f"{channel.value} webhook"


async def deliver(
    settings: DispatcherSettings, client: httpx.AsyncClient, subscription: Subscription, message: Message
) -> None:
    """Send ``message`` to ``subscription``'s recipient by its channel. An address stored under older, looser
    rules that today's (``domain.delivery``) refuse fails the delivery at once, naming the rule."""
    try:
        (email_address if subscription.channel is Channel.EMAIL else webhook_url)(subscription.address)
    except ValueError as error:
        raise DeliveryError(f"subscription #{subscription.id}'s address is refused: {error}", permanent=True) from None
    if subscription.channel is Channel.EMAIL:
        await send_email(settings, message, subscription.address)
    else:
        await post_webhook(client, subscription, message)
