"""A local SMTP sink (aiosmtpd) that keeps every message it receives: the demo's mail server,
and the tests' real SMTP server. It runs in its own thread, as aiosmtpd's Controller does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    recipients: list[str]
    message: EmailMessage

    @property
    def delivery_id(self) -> str:
        return str(self.message["Concordat-Delivery-Id"])

    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""


class SmtpSink:
    """An SMTP server on 127.0.0.1:``port`` that accepts every message and keeps it in ``received``.

    ``handle_DATA`` is aiosmtpd's hook for a message received."""

    def __init__(self, port: int, on_message: Callable[[Received], None] | None = None) -> None:
        self.port = port
        self.on_message = on_message
        """Called, in the sink's own thread, with each message as it arrives."""
        self.received: list[Received] = []
        self._controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        received = Received(list(envelope.rcpt_tos), message)
        self.received.append(received)
        if self.on_message is not None:
            self.on_message(received)
        return "250 Message accepted for delivery"

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.recipients]
