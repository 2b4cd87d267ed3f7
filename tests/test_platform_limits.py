"""Only input the platform will accept: at the real limit on the dev server, just below is accepted and
published, just above is refused before anything is written."""

from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from domain import limits
from domain.actions import Actor, ReportMilestone
from domain.agreement import MilestoneProgress, state_bytes
from domain.errors import INVALID_PAYLOAD, ActionRejected
from domain.lifecycle import evolve
from domain.model import AgreementRequest, PartnerBody
from tests.helpers import assert_eventually, factories
from tests.helpers.agreements import in_implementation, opened
from tests.helpers.builders import LEAD, T0, submit
from tests.helpers.harness import Harness
from workflows import search_attributes
from workflows.agreement import AgreementWorkflow


def partners_whose_codes_take(size: int, lead: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``lead`` (or a first partner) and others with 64-character codes, the last shorter, whose codes take
    exactly ``size`` bytes as the PartnerBodies KeywordList."""
    listed = [lead or {"code": "P00".ljust(64, "X"), "name": "Body 0",
                       "signatories": [{"name": "Officer 0", "role": "Chief Executive"}]}]
    while size - limits.keyword_list_bytes(p["code"] for p in listed) > 67:
        listed.append({"code": f"P{len(listed):02d}".ljust(64, "X"), "name": f"Body {len(listed)}",
                       "signatories": [{"name": f"Officer {len(listed)}", "role": "Chief Executive"}]})
    last = size - limits.keyword_list_bytes(p["code"] for p in listed) - 3
    listed.append({"code": "LAST".ljust(last, "Y"), "name": "Last Body",
                   "signatories": [{"name": "Last Officer", "role": "Chief Executive"}]})
    assert limits.keyword_list_bytes(p["code"] for p in listed) == size and len(listed) <= 50
    return listed


def request_data(agreement_id: str, size: int) -> dict[str, Any]:
    """The standard agreement between bodies whose codes take ``size`` bytes; the first carries the baseline."""
    listed = partners_whose_codes_take(size)
    codes = [p["code"] for p in listed]
    case = factories.business_case_data({code: "0.00" for code in codes} | {codes[0]: "4200000.00"}, "650000.00",
                                        "3700000.00")
    return factories.request_data(agreement_id, partners=listed, lead_body=codes[0], business_case=case,
                                  risks=[factories.risk_data(codes[0])])


@pytest.mark.dev_server
async def test_partner_codes_just_within_the_search_attribute_limit_are_published(harness: Harness):
    request = AgreementRequest.model_validate(request_data(harness.new_id("limit"), 2048))
    handle = await harness.start(request)

    async def published() -> list[str] | None:
        return (await handle.describe()).typed_search_attributes.get(search_attributes.PARTNER_BODIES)

    assert await assert_eventually(published) == [p.code for p in request.proposal.partners]
    lead = Actor(body=request.proposal.lead_body, signatory="Officer 0")
    status = await handle.execute_update(AgreementWorkflow.submit_proposal, submit(lead))
    assert status.stage == "objective_setting"


@pytest.mark.dev_server
async def test_partner_codes_just_over_the_limit_are_refused_before_anything_is_written(harness: Harness):
    data = request_data(harness.new_id("limit"), 2049)
    handle = await harness.start(data, wait_opened=False)
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == INVALID_PAYLOAD
    assert "limit.searchAttributes.sizeOfValue" in cause.message and "2049 bytes" in cause.message
    assert cause.details[0][0]["code"] == "search_attribute_too_large"
    assert await harness.ledger(data["agreement_id"]) == []


@pytest.mark.dev_server
async def test_a_revision_over_the_limit_is_refused_and_the_agreement_runs_on(harness: Harness):
    handle = await harness.start()
    agreement_id = handle.agreement_id
    lichfield = factories.proposal_data()["partners"][0]
    proposal = factories.proposal_data(partners=partners_whose_codes_take(2049, lichfield))
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(AgreementWorkflow.revise_proposal,
                                    {"actor": factories.LEAD.model_dump(), "proposal": proposal})
    assert failure.value.cause.details[0][0]["code"] == "search_attribute_too_large"
    assert len(await harness.ledger(agreement_id)) == 1
    status = await handle.execute_update(AgreementWorkflow.submit_proposal, submit())
    assert status.stage == "objective_setting"


def test_any_action_leaving_partner_codes_over_the_limit_is_refused():
    """However an action changes the partners (a variation need not go through Proposal's validation)."""
    # An agreement opened before the business case was required: today's submit rule would first refuse
    # the added partners for having no baseline.
    agreement = opened().model_copy(update={"business_case_required": False})
    added = [PartnerBody.model_construct(code=f"P{i:02d}".ljust(64, "X"), name=f"Body {i}", signatories=[])
             for i in range(31)]
    crowded = agreement.proposal.model_copy(update={"partners": [*agreement.proposal.partners, *added]})
    agreement = agreement.model_copy(update={"proposal": crowded})
    with pytest.raises(ActionRejected) as refusal:
        evolve(agreement, submit(), T0)
    assert refusal.value.code == "search_attribute_too_large"


def test_an_action_that_would_grow_the_state_past_a_payload_is_refused():
    agreement = in_implementation()
    note = "🏛️" * 2000  # 4,000 characters, the most a note may have: 14,000 bytes
    for filler, below in ((note, limits.STATE_BYTES - 20_000), ("x" * 1000, limits.STATE_BYTES - 10_000)):
        while state_bytes(agreement) < below:
            key = f"old-{len(agreement.milestones)}"
            agreement = agreement.model_copy(update={"milestones": {**agreement.milestones,
                                                                    key: MilestoneProgress(note=filler)}})
    report = ReportMilestone(actor=LEAD, milestone_id="fleet", status="in_progress", percent_complete=50,
                             note=note)
    with pytest.raises(ActionRejected) as refusal:
        evolve(agreement, report, T0)
    assert refusal.value.code == "state_too_large"
    assert "limit.blobSize.error" in str(refusal.value)
    assert evolve(agreement, report.model_copy(update={"note": "ordered"}), T0).decisions


def test_summaries_and_details_are_cut_to_fit_their_limits():
    assert limits.clip("short", limits.SUMMARY_BYTES) == "short"
    cut = limits.clip("Lichfield " * 100, limits.SUMMARY_BYTES)
    assert cut.endswith("…") and limits.json_bytes(cut) <= limits.SUMMARY_BYTES - limits.ENVELOPE_BYTES
    emoji = limits.clip("🏛️" * 10_000, limits.DETAILS_BYTES)
    assert limits.json_bytes(emoji) <= limits.DETAILS_BYTES - limits.ENVELOPE_BYTES
