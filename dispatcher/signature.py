"""Signing Concordat's webhook requests, and verifying them at the receiver.

Every webhook request carries three headers:

- ``Concordat-Delivery-Id``: the delivery's id (a UUID), the same on every resend: drop duplicates by it;
- ``Concordat-Timestamp``: when this attempt was signed, in whole seconds since the Unix epoch (UTC);
- ``Concordat-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the subscription's secret,
  of ``timestamp + "." + body`` (the raw request body bytes).

A receiver verifies with ``verify_signature`` (this module needs only the standard library, so it can
be copied into a receiving service). An altered body, timestamp or signature fails; so does a request
whose timestamp is older than the tolerance, which refuses a captured request replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

DELIVERY_ID_HEADER = "Concordat-Delivery-Id"
TIMESTAMP_HEADER = "Concordat-Timestamp"
SIGNATURE_HEADER = "Concordat-Signature"


class InvalidSignature(Exception):
    """The request was not signed with the shared secret, was altered, or is too old (a replay)."""


def _mac(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, delivery_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers that sign ``body`` for delivery ``delivery_id`` at ``now`` (seconds since the epoch)."""
    timestamp = str(int(time.time() if now is None else now))
    return {
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: "sha256=" + _mac(secret, timestamp, body),
    }


def verify_signature(
    secret: str, headers: Mapping[str, str], body: bytes, tolerance_seconds: float = 300, now: float | None = None
) -> str:
    """Check a received request; returns its delivery id, or raises ``InvalidSignature`` saying why.

    ``headers`` may use any capitalisation; ``body`` must be the raw bytes received.
    ``tolerance_seconds`` is how far the signing time may be from ``now`` (default: the clock).
    """
    found = {name.lower(): value for name, value in headers.items()}
    for name in (DELIVERY_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        if name.lower() not in found:
            raise InvalidSignature(f"the request has no {name} header")
    delivery_id = found[DELIVERY_ID_HEADER.lower()]
    timestamp = found[TIMESTAMP_HEADER.lower()]
    signature = found[SIGNATURE_HEADER.lower()]
    if not timestamp.isdigit():
        raise InvalidSignature("the timestamp is not a number of seconds")
    age = (time.time() if now is None else now) - int(timestamp)
    if abs(age) > tolerance_seconds:
        raise InvalidSignature(f"the request was signed {age:.0f} s ago, beyond the {tolerance_seconds:.0f} s allowed")
    expected = "sha256=" + _mac(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise InvalidSignature("the signature does not match the body: altered, or signed with another secret")
    return delivery_id
