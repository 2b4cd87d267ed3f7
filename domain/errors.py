"""Errors the domain raises, worded for the council officer who caused them, and the failure
types the engine reports to any client (the contract names them; see README "The contract")."""

from pydantic import ValidationError

ACTION_REJECTED = "ActionRejected"
"""An update refused by the agreement's rules (wrong stage, wrong signatory, ...): nothing was written."""
LEDGER_CONFLICT = "LedgerConflict"
"""The ledger already holds a different decision at that sequence number: nothing was written."""
AGREEMENT_EXISTS = "AgreementExists"
"""A fresh start (not a continue-as-new) for an agreement id whose ledger already holds decisions.
The run fails at its first ledger write, which writes nothing; the existing agreement is untouched."""
AGREEMENT_ID_MISMATCH = "AgreementIdMismatch"
"""A start whose workflow id is not ``agreement-{agreement_id}``. The run fails at once and writes nothing."""


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
