"""What the Temporal platform accepts, so that valid input is never terminated or stalled by the server.

Each limit mirrors a Temporal server default (the dynamic-config key is named); a cluster whose
operators set a key lower needs the constant here lowered to match. Sizes are in bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

SEARCH_ATTRIBUTE_VALUE_BYTES = 2 * 1024
"""``limit.searchAttributes.sizeOfValue`` (2 KB): one search attribute's value, measured as the JSON the
SDK sends (``["E07000194","E07000199"]`` for ``PartnerBodies``). A value over it makes the server fail
the workflow (``BadSearchAttributes``), so the longest value, ``PartnerBodies``, is held under it.

The total of all attributes (``limit.searchAttributes.totalSize``, 40 KB) cannot be reached: the other
six attributes take under 200 bytes together."""

PAYLOAD_BYTES = 2 * 1024 * 1024
"""``limit.blobSize.error`` (2 MB): any one payload (workflow input, including the state carried across
continue-as-new; update argument and result; activity argument). Over it, the server refuses the call
or fails the workflow task, and an agreement whose carried state is over it cannot continue as new."""

STATE_BYTES = PAYLOAD_BYTES // 2
"""The agreement's whole state as JSON, and any start input: at most 1 MB, half of ``PAYLOAD_BYTES``.
The state is carried across continue-as-new as one payload; the status an update returns repeats much
of it, and the ledger write of a revised proposal or plan carries that document: half leaves room
for both, and for an encrypting codec's envelope."""

SUMMARY_BYTES = 400
"""``limit.userMetadataSummarySize`` (400 bytes): the static summary given at start, and the summary of
each timer and activity, as an encoded payload."""

DETAILS_BYTES = 20_000
"""``limit.userMetadataDetailsSize`` (20,000 bytes): the static details given at start and the current
details the workflow keeps, as an encoded payload."""

ENVELOPE_BYTES = 200
"""What a payload adds to its text: the ``json/plain`` encoding's metadata, and an encrypting codec's
key id, nonce and tag. Summaries and details are cut to their limit less this."""


def keyword_list_bytes(values: Iterable[str]) -> int:
    """The size of a KeywordList search attribute's value, as the server measures it."""
    return len(json.dumps(list(values), separators=(",", ":")).encode())


def json_bytes(text: str) -> int:
    """The size of ``text`` as a JSON payload's data (quoted, escaped, UTF-8)."""
    return len(json.dumps(text, ensure_ascii=False).encode())


def clip(text: str, limit: int) -> str:
    """``text`` cut (with an ellipsis) so that, as a payload, it fits ``limit`` (a user-metadata limit above)."""
    budget = limit - ENVELOPE_BYTES
    if json_bytes(text) <= budget:
        return text
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if json_bytes(text[:middle] + "…") <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low] + "…"
