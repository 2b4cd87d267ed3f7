"""An officer in a real browser: the Temporal Web UI, filtered by Concordat's search attributes."""

import re
import shutil
from urllib.parse import quote

import pytest
from temporalio.client import WorkflowUpdateFailedError

from demo.webui import AGREEMENTS_QUERY, agreements_url
from tests.helpers import assert_eventually as eventually
from tests.helpers import factories
from tests.helpers.harness import Harness
from tests.test_search_attributes import SIGN_OFF_SOON, Portfolio
from workflows import agreement as agreement_workflow
from workflows.agreement import AgreementWorkflow, workflow_id

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); .ci/run installs it"
)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.mark.dev_server
async def test_an_officer_filters_overdue_sign_offs_and_reads_what_one_waits_for(
    harness: Harness, dev_server_ui_port: int
):
    from playwright.async_api import async_playwright, expect

    portfolio = Portfolio(harness)
    late = await portfolio.start("late", partner=True, settings=SIGN_OFF_SOON)
    drafting = await portfolio.start("drafting", partner=True)
    await portfolio.to_sign_off(late)
    query = f"LeadBody = '{portfolio.lead}' AND AgreementStage = 'sign_off' AND AgreementRag = 'red'"

    async def visible_to_visibility():
        return await portfolio.found("AgreementStage = 'sign_off' AND AgreementRag = 'red'") == {late}
    await eventually(visible_to_visibility, timeout=30)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            await page.goto(f"http://127.0.0.1:{dev_server_ui_port}/namespaces/default/workflows?query={quote(query)}")
            await expect(page.get_by_role("link", name=f"agreement-{late}")).to_be_visible(timeout=30_000)
            await expect(page.get_by_text("1 Workflow")).to_be_visible()
            await expect(page.get_by_role("link", name=f"agreement-{drafting}")).to_have_count(0)

            await page.get_by_role("link", name=f"agreement-{late}").click()
            await page.get_by_role("tab", name="User Metadata").click()
            # The UI renders each markdown block in its own frame: summary, details, current details.
            summary, _, current_details = (page.frame_locator("iframe").nth(i) for i in range(3))
            await expect(current_details.get_by_text("Waiting for sign-off from Lichfield District Council")) \
                .to_be_visible(timeout=30_000)
            await expect(current_details.get_by_text("RAG: RED")).to_be_visible()
            await expect(current_details.get_by_text("red: the sign off stage is overdue")).to_be_visible()
            await expect(summary.get_by_text("Joint waste and recycling service: Domestic waste")).to_be_visible()
        finally:
            await browser.close()


AGREEMENT_COLUMNS = ["AgreementTitle", "AgreementStage", "AgreementRag", "LeadBody", "NextDeadline"]
"""The columns the officers' guide has an officer add to the Workflows list (Configure Columns)."""
ONE_ROW_PER_AGREEMENT = "ExecutionStatus != 'ContinuedAsNew'"
"""The officers' guide's clause that leaves out superseded runs (the demo's link, ``AGREEMENTS_QUERY``, has it too)."""


async def _through_one_review_cycle(portfolio: Portfolio, agreement_id: str) -> None:
    """To review 2: sign-off by all, both milestones complete, review 1 read and continued (a continue-as-new),
    then review 2's readings, one of them amber."""
    await portfolio.to_sign_off(agreement_id)
    partner = {"body": portfolio.partner, "signatory": factories.TAMWORTH_SIGNATORY.signatory}
    signed = (await portfolio.harness.agreements.status(agreement_id)).version
    for actor in (portfolio.actor, partner, factories.STAFFORDSHIRE_SIGNATORY.model_dump()):
        await portfolio.update(agreement_id, AgreementWorkflow.record_sign_off,
                               {"actor": actor, "decision": "approve", "version": signed})
    for actor, milestone in ((portfolio.actor, "fleet"), (partner, "rounds")):
        await portfolio.update(agreement_id, AgreementWorkflow.report_milestone, {
            "actor": actor, "milestone_id": milestone, "status": "complete", "percent_complete": 100})

    async def read(cost: str) -> bool:
        try:
            await portfolio.update(agreement_id, AgreementWorkflow.record_kpi_readings, {
                "actor": portfolio.actor, "readings": [{"kpi_id": "cost-per-household", "value": cost},
                                                       {"kpi_id": "missed-bins", "value": "99.1"}]})
        except WorkflowUpdateFailedError:  # refused until the review period has ended
            return False
        return True

    await eventually(lambda: read("61"), interval=0.5)
    await portfolio.update(agreement_id, AgreementWorkflow.decide_review, {
        "actor": portfolio.actor, "outcome": "continue", "reason": "benefits on track"})
    await eventually(lambda: read("63.50"), interval=0.5)


@pytest.mark.dev_server
async def test_the_list_shows_one_row_per_agreement_and_the_details_a_kpi_table(
    harness: Harness, dev_server_ui_port: int, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    from playwright.async_api import async_playwright, expect

    # Runs continue as new well before a review cycle's history ends (as long-lived agreements' do at the bound),
    # so each agreement has several runs for the one-row query to fold.
    monkeypatch.setattr(agreement_workflow, "HISTORY_BOUND", 60)
    portfolio = Portfolio(harness)
    quick_reviews = {"review_period": "PT3S", "term": "PT10M"}
    waste = await portfolio.start("waste", partner=True, settings=quick_reviews)
    fleet = await portfolio.start("fleet", partner=True, settings=quick_reviews, title="Shared fleet maintenance")
    for agreement_id in (waste, fleet):
        await _through_one_review_cycle(portfolio, agreement_id)
    assert len(await harness.runs(workflow_id(waste))) >= 2, "the agreement continued as new"
    query = f"LeadBody = '{portfolio.lead}' AND {ONE_ROW_PER_AGREEMENT}"

    async def current_runs_visible():
        return await portfolio.found(f"{ONE_ROW_PER_AGREEMENT} AND AgreementStage = 'review'") == {waste, fleet}
    await eventually(current_runs_visible, timeout=30)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1600, "height": 1000})
            await page.goto(f"http://127.0.0.1:{dev_server_ui_port}/namespaces/default/workflows?query={quote(query)}")
            await page.get_by_role("button", name="Configure Columns").click()
            for column in ("Run ID", "Type", "Start", "End"):
                await page.get_by_role("button", name=f"Remove {column} column").click()
            for column in AGREEMENT_COLUMNS:
                await page.get_by_role("button", name=f"Add {column} column").click()
            await page.get_by_role("button", name="Close Workflows Table configuration").click()

            rows = page.locator("tbody tr")
            await expect(rows).to_have_count(2, timeout=30_000)
            await expect(page.get_by_text("2 Workflows")).to_be_visible()
            headings = [text.strip() for text in await page.locator("thead th").all_inner_texts()]
            assert [h for h in headings if h in AGREEMENT_COLUMNS] == AGREEMENT_COLUMNS
            for agreement_id, title in ((waste, "Joint waste and recycling service"),
                                        (fleet, "Shared fleet maintenance")):
                row = rows.filter(has=page.get_by_role("link", name=f"agreement-{agreement_id}"))
                await expect(row).to_have_count(1)
                cells = [text.strip() for text in await row.locator("td").all_inner_texts()]
                assert [title, "review", "amber", portfolio.lead] == [
                    cells[headings.index(column)] for column in AGREEMENT_COLUMNS[:4]]
            await page.screenshot(path=tmp_path / "agreements.png")

            await page.get_by_role("link", name=f"agreement-{waste}").click()
            await page.get_by_role("tab", name="User Metadata").click()
            # The run the list opens is the current one; its current details are the last markdown frame.
            details = page.frame_locator("iframe").last
            table = details.locator("table")
            await expect(table).to_be_visible(timeout=30_000)
            assert [h.strip() for h in await table.locator("th").all_inner_texts()] == [
                "KPI", "Target", "Reading", "RAG"]
            cost = table.locator("tr", has_text="Cost per household").locator("td")
            assert [c.strip() for c in await cost.all_inner_texts()] == [
                "Cost per household", "60.00 GBP", "63.50 GBP", "amber"]
            kpi, target = await cost.nth(0).bounding_box(), await cost.nth(1).bounding_box()
            text_width = await cost.nth(0).evaluate(
                "cell => { const r = document.createRange(); r.selectNodeContents(cell); "
                "return r.getBoundingClientRect().width; }")
            assert kpi and target and target["x"] >= kpi["x"] + text_width, "the Target column starts after the KPI"
            # A continued run has no static summary or details; its current details name what they would.
            shown = await details.locator("body").inner_text()
            assert all(words in shown for words in ("Joint waste and recycling service", "Service:", "Lead body:",
                                                    "Partners:")), shown
            await page.screenshot(path=tmp_path / "current-details.png", full_page=True)

            await _the_demos_link_shows_one_row_per_agreement(page, harness, dev_server_ui_port, [waste, fleet])
            await page.screenshot(path=tmp_path / "demo-link.png", full_page=True)
        finally:
            await browser.close()


async def _the_demos_link_shows_one_row_per_agreement(
    page, harness: Harness, ui_port: int, continued: list[str]
) -> None:
    """The Web UI link the demo prints lists each agreement once (those that continued as new included), and as
    many rows as visibility counts agreements."""
    from playwright.async_api import expect

    await page.goto(agreements_url(f"http://127.0.0.1:{ui_port}"))
    # This test's agreements, each continued as new, are listed once. (Other tests on the shared server reset
    # agreements: a reset leaves its terminated run beside the new one, which this query lists too.)
    rows = [run.id async for run in harness.client.list_workflows(AGREEMENTS_QUERY)]
    assert all(rows.count(workflow_id(agreement_id)) == 1 for agreement_id in continued), rows
    await expect(page.get_by_text(re.compile(r"^\d+ Workflows$"))).to_be_visible(timeout=30_000)
    for agreement_id in continued:
        await expect(page.locator("tbody tr").filter(
            has=page.get_by_role("link", name=workflow_id(agreement_id), exact=True))).to_have_count(1)
    links = page.locator("tbody tr a[href*='/workflows/agreement-']")
    listed = [name.strip() for name in await links.all_inner_texts()]
    assert all(listed.count(workflow_id(agreement_id)) <= 1 for agreement_id in continued), listed
