"""How a moment reads to an officer: always in UTC, to the minute (``2027-01-04 09:00 UTC``)."""

from __future__ import annotations

from datetime import UTC, datetime


def _in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already (as Temporal and the ledger give them)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    """``moment`` converted to UTC, as 'YYYY-MM-DD HH:MM UTC'."""
    return _in_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def utc_clock(moment: datetime) -> str:
    """``moment`` converted to UTC, as the time of day to the second, 'HH:MM:SS': for the demo, whose
    compressed stages last seconds."""
    return _in_utc(moment).strftime("%H:%M:%S")
