"""Errors the domain raises, worded for the council officer who caused them."""

from pydantic import ValidationError


class ActionRejected(Exception):
    """An action that the agreement's current state does not allow; nothing was changed."""


def explain(error: ValidationError) -> str:
    """Turn a pydantic error into one line per problem: where it is, and what is wrong."""
    problems = []
    for item in error.errors(include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "input"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    return f"Invalid {error.title}: " + "; ".join(problems)
