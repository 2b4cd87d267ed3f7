"""Errors the domain raises, worded for the council officer who caused them, and the error types
every refusal carries to any Temporal client.

A refusal reaches the caller as an ``ApplicationError`` whose ``type`` is one of ``ERROR_TYPES`` and
whose first detail is a list of problems, each ``{"field": ..., "code": ..., "message": ...}``: the
field as a dotted path into the message sent ("proposal.partners.0.code"; empty when the problem is
not one field's), a stable code for programs, and the sentence shown to people.
"""

from __future__ import annotations

from typing import TypedDict

from pydantic import ValidationError

INVALID_PAYLOAD = "InvalidPayload"
ACTION_REJECTED = "ActionRejected"
UNKNOWN_ACTION = "UnknownAction"
LEDGER_CONFLICT = "LedgerConflict"
AGREEMENT_EXISTS = "AgreementExists"
AGREEMENT_ID_MISMATCH = "AgreementIdMismatch"

ERROR_TYPES: dict[str, str] = {
    INVALID_PAYLOAD: (
        "The message does not fit its JSON Schema or the rules of its model: a missing or unknown field, a wrong "
        "type, a value out of range, a rule across fields, or a platform limit. Codes are pydantic's error "
        "types (https://docs.pydantic.dev/latest/errors/validation_errors/) or Concordat's own: decimal_string, "
        "iso_duration, iso_date, search_attribute_too_large, message_too_large, carried_state_refused. The "
        "workflow is not touched: an update is rejected, a start fails its workflow at once and writes nothing "
        "to the ledger."
    ),
    ACTION_REJECTED: (
        "A well-formed action that the agreement does not allow now. Codes: closed, wrong_stage, not_a_partner, "
        "not_a_signatory, lead_only, already_signed, signed_twice, lead_body_changed, plan_does_not_fit, "
        "no_plan, unknown_milestone, not_milestone_owner, milestone_complete, unknown_kpi, review_period_open, "
        "readings_missing, business_case_missing, baseline_incomplete, risks_missing, risk_not_allowed, "
        "justification_missing, "
        "no_business_case, contributions_mismatch, action_id_reused, search_attribute_too_large, state_too_large, "
        "version_required, stale_version, attestation_required, attestation_invalid, identity_not_registered, "
        "not_that_signatory, not_allowed; of delegations: not_delegable, not_delegated, delegation_ended, "
        "delegation_not_started, delegation_withdrawn, not_that_delegate, starts_in_the_past, delegate_is_signatory, "
        "delegate_of_another_body, already_delegated, no_delegation."
    ),
    UNKNOWN_ACTION: "An update name the agreement workflow does not have. Code: unknown_action.",
    LEDGER_CONFLICT: (
        "The decision ledger already holds a different decision at this agreement's next sequence number; "
        "nothing was written. Code: ledger_conflict."
    ),
    AGREEMENT_EXISTS: (
        "A fresh start (not a continue-as-new) for an agreement id whose ledger already holds decisions. The run "
        "fails at its first ledger write, which writes nothing; the existing agreement is untouched. "
        "Code: agreement_exists."
    ),
    AGREEMENT_ID_MISMATCH: (
        "A start whose workflow id is not agreement-{agreement_id}. The run fails at once and writes nothing. "
        "Code: agreement_id_mismatch."
    ),
}
"""Every error type a caller of the agreement workflow can receive, with what it means."""


class Problem(TypedDict):
    """One reason for a refusal: where (a dotted field path, or empty), a stable code, and the message."""

    field: str
    code: str
    message: str


class ActionRejected(Exception):
    """An action that the agreement's current state does not allow; nothing was changed.

    ``code`` is one of the stable codes listed in ``ERROR_TYPES[ACTION_REJECTED]``; ``field`` the dotted
    path of the action's field at fault, or empty when the action as a whole is refused.
    """

    def __init__(self, message: str, *, code: str = "not_allowed", field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.field = field

    def problems(self) -> list[Problem]:
        return [Problem(field=self.field, code=self.code, message=str(self))]


def problems(error: ValidationError) -> list[Problem]:
    """One problem per pydantic error: where it is, pydantic's (or our custom) error type, and what is wrong."""
    return [
        Problem(
            field=".".join(str(part) for part in item["loc"]),
            code=item["type"],
            message=item["msg"].removeprefix("Value error, "),
        )
        for item in error.errors(include_url=False)
    ]


def explain(error: ValidationError) -> str:
    """Turn a pydantic error into one line per problem: where it is, and what is wrong."""
    parts = [f"{problem['field'] or 'input'}: {problem['message']}" for problem in problems(error)]
    return f"Invalid {error.title}: " + "; ".join(parts)
