"""An officer in a real browser: the Temporal Web UI, filtered by Concordat's search attributes."""

import shutil
from urllib.parse import quote

import pytest

from tests.harness import Harness, eventually
from tests.test_search_attributes import SIGN_OFF_SOON, Portfolio

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); .ci/run installs it"
)
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


async def test_an_officer_filters_overdue_sign_offs_and_reads_what_one_waits_for(
    dev_harness: Harness, dev_server_ui_port: int
):
    from playwright.async_api import async_playwright, expect

    portfolio = Portfolio(dev_harness)
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
