"""The published JSON Schemas refuse what the engine refuses.

The same examples go to a JSON Schema validator (the committed contract/*.json) and to the engine's
models (decoded from JSON, as the worker's converter does), for the start input and every update.
"""

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from domain.agreement import AgreementInput
from tests.helpers import factories
from tests.test_hostile_input import VALID_ACTIONS, mutate, paths
from workflows import contract

SETTINGS = {"stage_durations": {"sign_off": "P30D"}, "amber_share": "0.8", "escalation_interval": "PT12H",
            "max_sign_off_rounds": 3, "review_period": "P13W", "term": "P4Y360D"}

DOCUMENTS: dict[str, tuple[str, type[BaseModel], dict[str, Any]]] = {
    "start": ("start.AgreementRequest.json", AgreementInput, factories.request_data("schema-check", SETTINGS)),
    **{name: (f"update.{name}.json", model, VALID_ACTIONS[name]) for name, model in contract.UPDATES.items()},
}

ENGINE_ONLY_CODES = {"value_error", "search_attribute_too_large", "message_too_large"}
"""Refusals for rules the schema cannot state (listed in contract.json's checked_by_the_engine_only)."""
DURATION_BOUNDS = {"greater_than", "less_than_equal"}
"""A duration's bounds (more than zero, at most 3,660 days), also checked by the engine only."""
DURATIONS = {"sign_off", "escalation_interval", "review_period", "term", "notice_period"}

CANDIDATES: list[Any] = [
    "", " ", "  ab  ", "x" * 65, "x" * 129, "x" * 201, "x" * 4001, "a\u0000b", "bad code!", "-5.00", "-0.01",
    "0.30000000000000004", "1e3", "12.345", "12.34", "1.23456", "99999999999999.99", "Infinity",
    0.30000000000000004, 12.5, -5, 3.0, "3", None, True, [], {},
]
"""Values put in place of each field of a valid example: empty, long, odd, and numbers in every form."""


def schema_accepts(document: str, example: Any) -> bool:
    schema = json.loads((contract.CONTRACT_DIR / DOCUMENTS[document][0]).read_text())
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid(example)


def engine_refusal(document: str, example: Any) -> set[str] | None:
    """The codes with which the engine refuses ``example``, or None when it accepts it."""
    try:
        DOCUMENTS[document][1].model_validate_json(json.dumps(example))
    except ValidationError as error:
        return {item["type"] for item in error.errors()}
    return None


def with_value(document: str, path: tuple, value: Any) -> Any:
    return mutate(DOCUMENTS[document][2], path, "replace", value)


def partners(count: int, code_length: int) -> list[dict[str, Any]]:
    return [{"code": f"P{i:02d}".ljust(code_length, "X"), "name": f"Body {i}",
             "signatories": [{"name": f"Officer {i}", "role": "Chief Executive"}]} for i in range(count)]


def many_partners(count: int, code_length: int) -> dict[str, Any]:
    listed = partners(count, code_length)
    return factories.request_data("schema-check", partners=listed, lead_body=listed[0]["code"])


AGREED: list[tuple[str, tuple, Any, bool]] = [
    ("start", ("proposal", "one_off_cost"), "-5.00", False),
    ("start", ("proposal", "one_off_cost"), "0.30000000000000004", False),
    ("start", ("proposal", "one_off_cost"), 0.30000000000000004, False),
    ("start", ("proposal", "one_off_cost"), "1e3", False),
    ("start", ("proposal", "one_off_cost"), "12.345", False),
    ("start", ("proposal", "one_off_cost"), 12, False),
    ("start", ("proposal", "one_off_cost"), "12.34", True),
    ("start", ("proposal", "one_off_cost"), "1000000", True),
    ("start", ("proposal", "baseline_annual_cost"), "9999999999999.99", True),
    ("start", ("proposal", "baseline_annual_cost"), "99999999999999.99", False),
    ("start", ("proposal", "title"), "   ", False),
    ("start", ("proposal", "title"), "x" * 201, False),
    ("start", ("proposal", "partners", 0, "code"), "x" * 65, False),
    ("start", ("proposal", "partners", 0, "signatories"), [], False),
    ("start", ("agreement_id",), "waste 2027", False),
    ("start", ("settings", "amber_share"), "0.995", True),
    ("start", ("settings", "amber_share"), "1.5", False),
    ("start", ("settings", "amber_share"), "0.0", False),
    ("start", ("settings", "amber_share"), 0.8, False),
    ("start", ("settings", "review_period"), "P91D", True),
    ("start", ("settings", "review_period"), "P1DT12H", True),
    ("start", ("settings", "review_period"), "P3M", True),
    ("start", ("settings", "review_period"), "3 months", False),
    ("start", ("settings", "term"), "P5Y", True),
    ("start", ("proposal", "expected_annual_saving"), "-120000.00", True),
    ("start", ("proposal", "expected_annual_saving"), "-0.001", False),
    ("start", ("settings", "review_period"), 86400, False),
    ("start", ("settings", "time_scale"), 393120, True),
    ("start", ("settings", "time_scale"), 0, False),
    ("start", ("settings", "time_scale"), 10_000_001, False),
    ("start", ("settings", "time_scale"), "393120", False),
    ("start", ("settings", "time_scale"), 1.5, False),
    ("start", ("proposal", "business_case", "optimism_bias"), "200", False),
    ("start", ("proposal", "business_case", "optimism_bias"), "100", True),
    ("start", ("proposal", "business_case", "optimism_bias"), "100.01", False),
    ("start", ("proposal", "business_case", "discount_rate"), "150", False),
    ("start", ("proposal", "business_case", "capital_optimism_bias"), "200", True),
    ("start", ("proposal", "business_case", "capital_optimism_bias"), "200.01", False),
    ("start", ("proposal", "business_case", "operating_optimism_bias"), "250", False),
    ("start", ("proposal", "business_case", "appraisal_years"), 75, True),
    ("start", ("proposal", "business_case", "appraisal_years"), 76, False),
    ("start", ("proposal", "business_case", "appraisal_years"), 0, False),
    ("start", ("proposal", "business_case", "long_term_discount_rate"), "3.0", True),
    ("start", ("proposal", "business_case", "long_term_discount_rate"), "100.01", False),
    ("start", ("proposal", "business_case", "long_term_discount_rate"), 3, False),
    ("start", ("proposal", "business_case", "preferred_justification"), "abc", True),
    ("start", ("proposal", "business_case", "preferred_justification"), " ab ", False),
    ("start", ("proposal", "business_case", "preferred_justification"), "x" * 4001, False),
    ("start", ("proposal", "business_case", "preferred_justification"), None, True),
    ("start", ("proposal", "business_case", "options", 1, "non_cashable_benefit"), "25000.00", True),
    ("start", ("proposal", "business_case", "options", 1, "non_cashable_benefit"), "-0.01", False),
    ("start", ("proposal", "business_case", "options", 1, "described_benefits"), ["Fewer missed bins"], True),
    ("start", ("proposal", "business_case", "options", 1, "described_benefits"), ["x" * 4001], False),
    ("start", ("proposal", "business_case", "options", 1, "described_benefits"), ["ok"] * 21, False),
    ("start", ("proposal", "business_case", "deflators"), ["100", "102", "104.5", "106", "108", "110.1234"], True),
    ("start", ("proposal", "business_case", "deflators"), ["100", "0", "104.5", "106", "108", "110"], False),
    ("start", ("proposal", "business_case", "deflators"), ["100", "102", "104.5", "106", "108", "1.12345"], False),
    ("start", ("proposal", "business_case", "deflators"), ["100"], False),
    ("start", ("proposal", "business_case", "payback_amber_tolerance"), "P30D", True),
    ("start", ("proposal", "business_case", "saving_amber_tolerance"), "-1.00", False),
    ("record_kpi_readings", ("readings", 0, "value"), "-5.5", True),
    ("record_kpi_readings", ("readings", 0, "value"), "61.1234", True),
    ("record_kpi_readings", ("readings", 0, "value"), "61.12345", False),
    ("record_kpi_readings", ("readings", 0, "value"), 61.5, False),
    ("record_kpi_readings", ("readings",), [], False),
    ("set_objectives", ("plan", "objectives", 0, "kpis", 0, "amber_tolerance"), "-1", False),
    ("set_objectives", ("plan", "objectives", 0, "kpis", 0, "amber_tolerance"), "0.5", True),
    ("set_objectives", ("plan", "contributions", 0, "annual_amount"), "-0.01", False),
    ("set_objectives", ("plan", "milestones", 0, "due"), "2027-02-30", False),
    ("record_sign_off", ("decision",), "maybe", False),
    ("record_sign_off", ("reason",), "a\u0000b", False),
    ("record_sign_off", ("actor", "body"), "", False),
    ("withdraw", ("reason",), "  ab  ", False),
    ("withdraw", ("reason",), "abc", True),
    ("report_milestone", ("percent_complete",), 101, False),
    ("submit_proposal", ("action_id",), "retry-2027-01-05", True),
    ("submit_proposal", ("action_id",), "x" * 129, False),
    ("submit_proposal", ("action_id",), "has space", False),
]


@pytest.mark.parametrize(("document", "path", "value", "valid"), AGREED,
                         ids=[f"{d}:{'.'.join(map(str, p))}={str(v)[:24]!r}" for d, p, v, _ in AGREED])
def test_schema_and_engine_agree_on_each_example(document, path, value, valid):
    example = with_value(document, path, value)
    assert schema_accepts(document, example) is valid
    assert (engine_refusal(document, example) is None) is valid


@pytest.mark.parametrize("document", sorted(DOCUMENTS))
def test_the_valid_example_passes_both(document):
    example = DOCUMENTS[document][2]
    assert schema_accepts(document, example) and engine_refusal(document, example) is None
    assert schema_accepts(document, {**example, "action_id": "retry-1"}) is (document != "start")
    assert schema_accepts(document, {**example, "unexpected": 1}) is False


@pytest.mark.parametrize("document", sorted(DOCUMENTS))
def test_schema_and_engine_agree_on_every_field(document):
    """Every field of the example replaced by every candidate, removed, or (in lists) repeated: the schema
    and the engine agree, but for rules the schema cannot state (the engine alone refuses) and surrounding
    white space on a code (the engine strips it; the schema refuses it)."""
    valid = DOCUMENTS[document][2]
    candidates = [*CANDIDATES, "P0D", "PT0S", "P10000D", "P1M", "P1.5D", 86400]
    examples = [(with_value(document, path, value), value, path) for path in paths(valid) for value in candidates]
    examples += [(mutate(valid, path, "remove", None), None, path) for path in paths(valid)]
    examples += [(mutate(valid, path, "duplicate", None), None, path) for path in paths(valid)
                 if isinstance(path[-1], int)]
    agreed = 0
    for example, value, path in examples:
        schema, refusal = schema_accepts(document, example), engine_refusal(document, example)
        if schema and refusal is not None:
            allowed = ENGINE_ONLY_CODES | (DURATION_BOUNDS if path[-1] in DURATIONS else set())
            assert refusal <= allowed, (example, refusal)
        elif not schema and refusal is None:
            assert isinstance(value, str) and value != value.strip(), example
        else:
            agreed += 1
    assert agreed > len(examples) * 0.9


def test_rules_the_schema_cannot_state_are_listed_in_the_contract():
    """31 partners with 64-character codes fit the schema but not one search attribute value."""
    over = many_partners(31, 64)
    assert schema_accepts("start", over)
    assert engine_refusal("start", over) == {"search_attribute_too_large"}
    lead_elsewhere = with_value("start", ("proposal", "lead_body"), "E09000023")
    assert schema_accepts("start", lead_elsewhere) and engine_refusal("start", lead_elsewhere) == {"value_error"}
    listed = " ".join(contract.summary()["checked_by_the_engine_only"])
    assert "search attribute" in listed and "the lead body is a partner" in listed


def test_error_types_are_documented_in_the_contract():
    errors = contract.summary()["errors"]
    assert set(errors["types"]) == {"InvalidPayload", "ActionRejected", "UnknownAction", "LedgerConflict",
                                    "AgreementExists", "AgreementIdMismatch"}
    assert set(errors["refused_starts"]) == {"AgreementExists", "AgreementIdMismatch"}
    assert Draft202012Validator(errors["problem"]).is_valid({"field": "actor.body", "code": "lead_only",
                                                              "message": "only the lead body may ..."})
