"""The pages' forms for actions: the fields each update's form shows, and the action JSON a filled-in form makes.

Each form is read into the JSON of its update (``workflows.contract.UPDATES``) and validated by the same pydantic
model as the contract; a problem comes back to the field that caused it (``field_of``). Amounts and readings are
sent as the decimal strings the contract takes; an empty optional field is left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.actions import MilestoneStatus, ReviewOutcome
from domain.status import AgreementStatus

TITLES = {
    "record_sign_off": "Sign off the agreement",
    "sign_variation": "Sign the variation",
    "report_milestone": "Report on a milestone",
    "record_kpi_readings": "Record KPI readings",
    "record_benefits": "Record the benefits realised",
    "record_lessons": "Record lessons learned",
    "decide_review": "Decide the review",
    "bind_identity": "Accept your identity",
    "delegate_signature": "Delegate your signature",
    "withdraw_delegation": "Withdraw your delegation",
}
"""The updates a person does through a form, with the form's heading."""


@dataclass
class Field:
    """One input: its ``name`` in the form, ``label``, ``kind`` (text, number, textarea, radios, select, hidden,
    date: three inputs ``{name}-day``, ``-month``, ``-year``), hint, choices (value, label), the value shown (for a
    date, its parts) and the error beside it."""

    name: str
    label: str
    kind: str = "text"
    hint: str = ""
    choices: list[tuple[str, str]] = field(default_factory=list)
    value: str = ""
    error: str = ""
    width: str = ""
    parts: dict[str, str] = field(default_factory=dict)


@dataclass
class Filled:
    """A form read into an action's JSON (without its actor), and which form field each JSON path came from."""

    data: dict[str, Any]
    fields: dict[tuple[Any, ...], str]

    def field_of(self, location: tuple[Any, ...] | str) -> str:
        """The form field a problem at ``location`` (a pydantic error's ``loc`` or a dotted path) belongs to, or
        "" when none does."""
        path = tuple(location.split(".")) if isinstance(location, str) else tuple(location)
        path = tuple(int(part) if isinstance(part, str) and part.isdigit() else part for part in path)
        for length in range(len(path), -1, -1):
            if path[:length] in self.fields:
                return self.fields[path[:length]]
        return ""


def fields(update: str, status: AgreementStatus, body: str) -> list[Field]:
    """The inputs of ``update``'s form on the agreement ``status`` describes, acting for ``body``."""
    if update in ("record_sign_off", "sign_variation"):
        return [Field("decision", "Your decision", "radios", choices=[("approve", "Approve"), ("reject", "Reject")]),
                Field("reason", "Your reason", "textarea", hint="Required to reject (at least 3 characters).")]
    if update == "report_milestone":
        owned = [(m.id, f"{m.id}: {m.title} (due {m.due:%-d %B %Y})") for m in status.milestones
                 if m.owner_body == body and m.status is not MilestoneStatus.COMPLETE]
        return [Field("milestone_id", "Milestone", "select", choices=owned),
                Field("status", "Status", "radios", choices=[(s.value, s.value.replace("_", " ").capitalize())
                                                             for s in MilestoneStatus]),
                Field("percent_complete", "Percentage complete", "number", hint="A whole number from 0 to 100.",
                      width="govuk-input--width-3"),
                Field("note", "Note", "textarea", hint="Optional.")]
    if update == "record_kpi_readings":
        return [Field(f"reading-{k.id}", f"{k.name} ({k.unit})", "number", width="govuk-input--width-10",
                      hint=f"Target {k.target}, baseline {k.baseline}. Leave blank to read it later.")
                for k in status.kpis]
    if update == "record_benefits":
        return [Field("actual_annual_cost", "Actual annual cost of the shared service, in pounds", "number",
                      width="govuk-input--width-10"),
                *(Field(f"contribution-{code}", f"{name}'s annual contribution, in pounds", "number",
                        width="govuk-input--width-10") for code, name in status.body_names.items())]
    if update == "record_lessons":
        return [Field("what_worked", "What worked", "textarea"),
                Field("what_did_not", "What did not work", "textarea"),
                Field("tags", "Tags", hint="Optional, separated by commas, such as procurement, staff.")]
    if update == "delegate_signature":
        return [Field("delegate", "Your colleague's name", hint="As they will give it when they sign for you."),
                Field("delegate_subject", "Your colleague's account identifier",
                      hint="Their identifier (subject) at your council's sign-in service, such as their Microsoft "
                           "Entra object ID. Ask your council's Concordat administrator if you do not know it."),
                Field("starts", "First day", "date", hint="For example, 27 3 2027."),
                Field("ends", "Last day", "date", hint="Your colleague signs for you up to and including this day."),
                Field("reason", "Reason", "textarea", hint="Optional, for example annual leave.")]
    if update == "withdraw_delegation":
        return [Field("reason", "Reason", "textarea", hint="Optional.")]
    if update == "decide_review":
        return [Field("outcome", "Outcome", "radios", choices=[(o.value, o.value.capitalize()) for o in ReviewOutcome]),
                Field("reason", "Reason", "textarea")]
    return []


def read(update: str, form: Mapping[str, Any], status: AgreementStatus, version: str | None,
         accepting: str | None, issuer: str) -> Filled:
    """``form`` read as ``update``'s JSON: ``version`` is the version the page showed (signatures); ``accepting``
    the signatory name a person accepts their identity as (``bind_identity``); ``issuer`` the signed-in person's
    (a colleague a signatory delegates to is of the same issuer)."""
    text = {key: str(value).strip() for key, value in form.items() if isinstance(value, str)}
    if update in ("record_sign_off", "sign_variation"):
        data: dict[str, Any] = {"decision": text.get("decision", ""), "reason": text.get("reason", "")}
        if version:
            data["version"] = version
        return Filled(data, {("decision",): "decision", ("reason",): "reason", (): "reason"})
    if update == "report_milestone":
        data = {"milestone_id": text.get("milestone_id", ""), "status": text.get("status", ""),
                "percent_complete": text.get("percent_complete", ""), "note": text.get("note", "")}
        return Filled(data, {**{(name,): name for name in data}, (): "percent_complete"})
    if update == "record_kpi_readings":
        readings: list[dict[str, str]] = []
        mapped: dict[tuple[Any, ...], str] = {}  # readings' positions to their inputs
        for kpi in status.kpis:
            value = text.get(f"reading-{kpi.id}", "")
            if value:
                mapped[("readings", len(readings))] = f"reading-{kpi.id}"
                readings.append({"kpi_id": kpi.id, "value": value})
        first = f"reading-{status.kpis[0].id}" if status.kpis else ""
        return Filled({"readings": readings}, {**mapped, ("readings",): first, (): first})
    if update == "record_benefits":
        contributions: list[dict[str, str]] = []
        mapped = {("actual_annual_cost",): "actual_annual_cost"}
        for code in status.body_names:
            value = text.get(f"contribution-{code}", "")
            mapped[("contributions", len(contributions))] = f"contribution-{code}"
            contributions.append({"body": code, "annual_amount": value})
        return Filled({"actual_annual_cost": text.get("actual_annual_cost", ""), "contributions": contributions},
                      {**mapped, ("contributions",): "actual_annual_cost", (): "actual_annual_cost"})
    if update == "record_lessons":
        tags = [tag.strip() for tag in text.get("tags", "").split(",") if tag.strip()]
        lesson = {"what_worked": text.get("what_worked", ""), "what_did_not": text.get("what_did_not", ""),
                  "tags": tags}
        return Filled({"lessons": [lesson]}, {("lessons", 0, "what_worked"): "what_worked",
                                              ("lessons", 0, "what_did_not"): "what_did_not",
                                              ("lessons", 0, "tags"): "tags", ("lessons",): "what_worked",
                                              (): "what_worked"})
    if update == "decide_review":
        return Filled({"outcome": text.get("outcome", ""), "reason": text.get("reason", "")},
                      {("outcome",): "outcome", ("reason",): "reason", (): "reason"})
    if update == "bind_identity":
        return Filled({"name": accepting or ""}, {})
    if update == "delegate_signature":
        data = {"delegate": text.get("delegate", ""), "delegate_identity": {
                    "issuer": issuer, "subject": text.get("delegate_subject", "")},
                "starts": _date(text, "starts"), "ends": _date(text, "ends"), "reason": text.get("reason", "")}
        return Filled(data, {("delegate",): "delegate", ("delegate_identity",): "delegate_subject",
                             ("starts",): "starts", ("ends",): "ends", ("reason",): "reason", (): "starts"})
    if update == "withdraw_delegation":
        return Filled({"reason": text.get("reason", "")}, {("reason",): "reason", (): "reason"})
    raise KeyError(update)


def _date(text: Mapping[str, str], name: str) -> str:
    """The date of the inputs ``{name}-day``, ``-month`` and ``-year`` as ISO 8601 (zero-padded when they are
    numbers, as typed otherwise: the model then says what is wrong); empty when all three are."""
    day, month, year = (text.get(f"{name}-{part}", "") for part in ("day", "month", "year"))
    if not (day or month or year):
        return ""
    if day.isdigit() and month.isdigit() and year.isdigit():
        return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
    return f"{year}-{month}-{day}"
