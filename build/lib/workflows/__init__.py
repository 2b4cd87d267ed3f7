"""Temporal workflow code: deterministic orchestration of the domain rules."""
