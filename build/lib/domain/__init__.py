"""The rules of a shared-services agreement: pure pydantic models and functions.

Nothing here knows about Temporal, PostgreSQL or the clock: callers pass ``now``.
"""
