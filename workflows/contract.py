"""The contract other services rely on: names, ids and the JSON Schema of every message.

Run ``python -m workflows.contract`` to rewrite ``contract/`` from the models; a test
fails whenever the committed schemas and the models disagree.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from domain import escape, limits
from domain.actions import (
    Action,
    BindIdentity,
    ChangeAttestorKeys,
    DecideReview,
    DelegateSignature,
    NameSignatory,
    ProposeVariation,
    RecordBenefits,
    RecordKpiReadings,
    RecordLessons,
    ReportMilestone,
    RetireSignatory,
    ReviewRisks,
    ReviseProposal,
    SetObjectives,
    SignOff,
    SignVariation,
    SubmitForSignOff,
    SubmitProposal,
    Withdraw,
    WithdrawDelegation,
    WithdrawVariation,
)
from domain.agreement import RECENT_ACTIONS_KEPT
from domain.errors import AGREEMENT_EXISTS, AGREEMENT_ID_MISMATCH, ERROR_TYPES
from domain.model import AgreementRequest
from domain.status import AgreementStatus, Receipt
from workflows.agreement import TASK_QUEUE, workflow_id

WORKFLOW_TYPE = "AgreementWorkflow"

UPDATES: dict[str, type[Action]] = {
    "revise_proposal": ReviseProposal,
    "submit_proposal": SubmitProposal,
    "set_objectives": SetObjectives,
    "submit_for_sign_off": SubmitForSignOff,
    "record_sign_off": SignOff,
    "report_milestone": ReportMilestone,
    "record_kpi_readings": RecordKpiReadings,
    "record_benefits": RecordBenefits,
    "review_risks": ReviewRisks,
    "record_lessons": RecordLessons,
    "decide_review": DecideReview,
    "withdraw": Withdraw,
    "propose_variation": ProposeVariation,
    "sign_variation": SignVariation,
    "withdraw_variation": WithdrawVariation,
    "name_signatory": NameSignatory,
    "retire_signatory": RetireSignatory,
    "bind_identity": BindIdentity,
    "change_attestor_keys": ChangeAttestorKeys,
    "delegate_signature": DelegateSignature,
    "withdraw_delegation": WithdrawDelegation,
}
"""Each update takes one argument of this model and returns the agreement's ``AgreementStatus``, or a ``Receipt``
where the action's ``reply`` asks for one."""

QUERIES: dict[str, type[BaseModel]] = {"status": AgreementStatus}
"""Each query takes no argument and returns this model."""

ENGINE_ONLY_RULES = [
    "Rules across fields: each partner, objective, KPI, milestone and contribution appears once; the lead body "
    "is a partner; the expected saving does not exceed the baseline cost; a signatory is named once per body; "
    "the red tolerance is not below the amber; a rejection gives a reason; a milestone is complete exactly at "
    "100%; each KPI is read once per submission; a business case's options, baselines and risks appear once, "
    "its preferred option is one of them, it considers each partner carrying on alone and the proposed sharing, "
    "and its payback red tolerance is not below the amber; a lesson says what worked or what did not; each "
    "partner's contribution to the actual annual cost is given once.",
    "Durations (ISO 8601) are more than zero and at most 3,660 days (a term at most 36,600).",
    "Texts are counted after leading and trailing white space is removed: the schema's maxLength counts it.",
    "Platform limits: the partners' codes fit one search attribute value (2,048 bytes as a JSON list), and the "
    "start input and the agreement's state after any action take at most 1 MB of JSON.",
    "Everything that depends on the agreement's state: stage, partners, signatories, milestones, KPIs, dates.",
    "An actor's delegate is accepted on record_sign_off and sign_variation only, while the signatory's delegation "
    "to that delegate (delegate_signature) covers the day (UTC) and stands; a delegation starts no earlier than "
    "today and a signatory has at most one that has not yet ended.",
]
"""What the JSON Schemas cannot say and the engine checks (refusing with InvalidPayload or ActionRejected)."""

CONTRACT_DIR = Path(__file__).resolve().parent.parent / "contract"


START_SUMMARY = "{title}: {service_name}"
"""The static summary the Web UI shows for an agreement: placeholders are the proposal's fields."""
START_DETAILS = (
    "**{title}**\n\nService: {service_name} ({service_category})\n\n"
    "Lead body: {lead_body_name}\n\nPartners: {partner_names}"
)
"""The static details (markdown): ``lead_body_name`` is the lead partner's name, ``partner_names`` every
partner's name, joined by ", ", in the proposal's order."""
START_MEMO = {"title": "{title}"}
"""The memo: the agreement's title."""

ERRORS: dict[str, dict[str, str]] = {
    AGREEMENT_EXISTS: {
        "raised_by": "the workflow run (its failure)",
        "when": "a fresh start whose agreement id already has a ledger: the id was used before, even if that "
                "agreement closed long ago or its workflow history has been deleted",
        "written": "nothing: the run fails at its first ledger write, which is refused whole",
    },
    AGREEMENT_ID_MISMATCH: {
        "raised_by": "the workflow run (its failure)",
        "when": "a start whose workflow id is not agreement-{agreement_id} of its own start input",
        "written": "nothing: the run fails before its first ledger write",
    },
}
"""Failure types of a refused start, when, and what was written (``domain.errors`` holds the names)."""

CLOSED_AGREEMENT = (
    "Once an agreement has closed, its workflow has completed: the server answers any update with gRPC status "
    "NOT_FOUND and the message 'workflow execution already completed', and writes nothing. The status query "
    "still answers (while the namespace retains the history): its closure gives the outcome (completed, "
    "terminated, rejected or withdrawn), the reason and when it closed. An update that reaches an agreement "
    "in its last moments, closed but not yet completed, is refused with ActionRejected."
)
"""What acting on a closed agreement gets, from any client."""


def start_options(request: AgreementRequest, task_queue: str = TASK_QUEUE) -> dict[str, Any]:
    """How every Concordat client starts an agreement: its id scheme, no duplicates ever, and the
    summary, details and memo the Web UI shows (``START_SUMMARY``, ``START_DETAILS``, ``START_MEMO``, cut to fit
    Temporal's user-metadata limits)."""
    proposal = request.proposal
    fields = {
        "title": proposal.title,
        "service_name": proposal.service_name,
        "service_category": proposal.service_category.value,
        "lead_body_name": proposal.body_name(proposal.lead_body),
        "partner_names": ", ".join(p.name for p in proposal.partners),
    }
    # The Web UI renders Markdown: words from the agreement are escaped (the category is Concordat's own).
    shown = {key: value if key == "service_category" else escape.markdown(value) for key, value in fields.items()}
    return {
        "id": workflow_id(request.agreement_id),
        "task_queue": task_queue,
        "id_reuse_policy": WorkflowIDReusePolicy.REJECT_DUPLICATE,
        "id_conflict_policy": WorkflowIDConflictPolicy.FAIL,
        "static_summary": limits.clip(START_SUMMARY.format(**shown), limits.SUMMARY_BYTES),
        "static_details": limits.clip(START_DETAILS.format(**shown), limits.DETAILS_BYTES),
        "memo": {key: value.format(**fields) for key, value in START_MEMO.items()},
    }


def schemas() -> dict[str, dict[str, Any]]:
    """File name to JSON Schema, for every message of the contract."""
    found = {
        "start.AgreementRequest.json": TypeAdapter(AgreementRequest).json_schema(),
        "result.AgreementStatus.json": TypeAdapter(AgreementStatus).json_schema(mode="serialization"),
        "result.Receipt.json": TypeAdapter(Receipt).json_schema(mode="serialization"),
    }
    for name, action in UPDATES.items():
        found[f"update.{name}.json"] = action.model_json_schema()
    for name, result in QUERIES.items():
        found[f"query.{name}.json"] = result.model_json_schema(mode="serialization")
    return found


def summary() -> dict[str, Any]:
    """The contract in one JSON object: names, what to set at start, error types, and the schema files."""
    return {
        "workflow_type": WORKFLOW_TYPE,
        "task_queue": TASK_QUEUE,
        "workflow_id": workflow_id("{agreement_id}"),
        "start_input": "start.AgreementRequest.json",
        "start_options": {
            "id_reuse_policy": "REJECT_DUPLICATE",
            "id_conflict_policy": "FAIL",
            "static_summary": START_SUMMARY,
            "static_details": START_DETAILS,
            "memo": START_MEMO,
            "placeholders": "fields of the start input's proposal; lead_body_name is the lead partner's name, "
                            "partner_names every partner's name joined by ', '; in the static summary and "
                            "details each (the category aside) is Markdown-escaped, so that the Web UI shows it "
                            "as written and links come only from Concordat; the memo holds the title as written",
            "after_continue_as_new": "the memo is carried to every run; the static summary and details stay "
                                     "on the first run; the workflow sets its current details on every run",
            "one_agreement_per_id": "enforced by the engine whatever these options say: see errors.refused_starts",
        },
        "closed_agreement": CLOSED_AGREEMENT,
        "result": "result.AgreementStatus.json",
        "short_result": {"schema": "result.Receipt.json",
                         "when": "an update whose action sets reply to \"receipt\" answers with this instead"},
        "updates": {name: f"update.{name}.json" for name in UPDATES},
        "queries": {name: f"query.{name}.json" for name in QUERIES},
        "errors": {
            "types": ERROR_TYPES,
            "refused_starts": ERRORS,
            "details": (
                "A refusal is an ApplicationError (non-retryable) whose type is one of `types` and whose first "
                "detail is a list of problems, each {field, code, message}: field is a dotted path into the "
                "message sent (empty when no one field is at fault), code a stable code, message the sentence "
                "for people. The error's message joins the problems' messages."
            ),
            "problem": {
                "type": "object",
                "required": ["field", "code", "message"],
                "properties": {"field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}},
                "additionalProperties": False,
            },
        },
        "checked_by_the_engine_only": ENGINE_ONLY_RULES,
        "attestation": (
            "An agreement whose settings.require_attestation is true refuses (ActionRejected: attestation_required, "
            "attestation_invalid, identity_not_registered, not_that_signatory) any action whose attestation is not "
            "an EdDSA JWS by one of settings.attestor_keys over {sub, idp, agreement, action, content, seq, iat}, "
            "content being the SHA-256 of the action's canonical JSON without its attestation (domain/attestation.py), "
            "sub the identity registered for the signatory the action names, seq the decisions recorded when it was "
            "issued (at most 50 before the agreement's own count). The Concordat HTTP API (openapi.json) "
            "signs them; change_attestor_keys adds and retires keys."
        ),
        "sign_what_you_saw": (
            "record_sign_off and sign_variation name the version they approve (the status's version, or "
            "variation.version): a stale one is refused (stale_version), a missing one too (version_required) on "
            "agreements run since the sign-what-you-saw patch."
        ),
        "idempotency": (
            "Every action may carry action_id (else the update id stands for it). The agreement remembers its "
            f"last {RECENT_ACTIONS_KEPT} accepted actions across continue-as-new: the same action id with the same "
            "content is not applied again and returns the status with action.repeat true and the ledger "
            "sequence numbers first recorded; the same action id with other content is refused "
            "(ActionRejected, action_id_reused)."
        ),
    }


def render() -> dict[str, str]:
    """Every file of ``contract/``: the summary, the JSON Schemas, and the HTTP API's OpenAPI document."""
    from api.app import openapi_document  # the API is built on this contract: imported here, not at the top

    files = {"contract.json": summary(), **schemas(), "openapi.json": openapi_document()}
    return {name: json.dumps(content, indent=2, sort_keys=True) + "\n" for name, content in files.items()}


def main() -> int:
    CONTRACT_DIR.mkdir(exist_ok=True)
    for name, text in render().items():
        (CONTRACT_DIR / name).write_text(text)
    print(f"wrote {len(render())} files to {CONTRACT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
