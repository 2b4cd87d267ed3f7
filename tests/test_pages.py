"""The pages for people, in a real browser with JavaScript off, signed in through a real OpenID provider (one
issuer per council, authorization code with PKCE): a partner's chief executive accepts the identity the lead named
them with, sees the sign-off waiting, reads the version and approves it; the ledger holds the decision attested
with their issuer and subject. A person of a council that is no partner sees nothing and cannot act; a stale tab
cannot sign and shows what changed; a form without its CSRF token, or with bad input, changes nothing. axe-core
finds no WCAG 2.2 AA violation on any page."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from demo.waiting import WAITING_ID, open_for_people
from domain import attestation
from domain.actions import ReviseProposal, SetObjectives, SignOff, SubmitForSignOff, SubmitProposal
from domain.inbox import Person, tasks
from domain.model import Stage
from tests.helpers import factories, free_port
from tests.helpers.factories import LICHFIELD, STAFFORDSHIRE, TAMWORTH
from tests.helpers.harness import Harness
from tests.helpers.identity import IdentityProvider
from tests.helpers.oidc import Council, OpenIdProvider, pages_serving, seed_councils, sign_in
from tests.helpers.oidc import Person as Account
from tests.test_web_ui import CHROMIUM, CHROMIUM_ARGS
from workflows.client import workflow_id

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); "
                                "scripts/test.sh installs it as root")

ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
CANNOCK = "E07000192"
SCREENSHOTS = os.environ.get("CONCORDAT_PAGES_SCREENSHOTS")
"""A folder to save the officers' guide's pictures of the pages into (docs/images), when set."""


@pytest.fixture(scope="module")
def openid_provider() -> Any:
    """The seed's councils and Cannock Chase, a council that is no partner, each with an issuer of its own."""
    if not AXE.is_file():
        pytest.skip("axe-core is not installed: run npm ci (scripts/test.sh does)")
    cannock = Council(CANNOCK, "Cannock Chase District Council",
                      (Account(CANNOCK, "Ian Morris", "ian.morris@cannockchase.gov.uk"),))
    idp = OpenIdProvider([*seed_councils(), cannock], free_port()).start()
    yield idp
    idp.stop()


@asynccontextmanager
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


async def person_page(chromium: Any, idp: OpenIdProvider, body: str, name: str) -> Any:
    """A page with JavaScript off, signed in as ``name`` through ``body``'s issuer."""
    context = await chromium.new_context(java_script_enabled=False)
    page = await context.new_page()
    await sign_in(page, idp, body, name)
    await page.wait_for_url(f"{idp.pages_url}/pages/")  # sign_in may return while still on the sign-in route
    return page


async def no_violations(chromium: Any, signed_in: Any, url: str, shot: str | None = None,
                        shown: str | None = None) -> None:
    """axe-core's WCAG 2.2 AA rules find nothing on ``url``, as ``signed_in``'s person sees it (in a context with
    JavaScript on, for axe, sharing their cookies); with ``shown``, on that HTML (a page answered to a form sent,
    such as its errors) in place of ``url``'s."""
    context = await chromium.new_context(storage_state=await signed_in.context.storage_state(),
                                         viewport={"width": 1000, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(url)
        if shown is not None:
            await page.set_content(shown)
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
                                     WCAG_22_AA)
        assert result["violations"] == [], (url, [(v["id"], v["help"], [n["html"] for n in v["nodes"]][:3])
                                                  for v in result["violations"]])
        if SCREENSHOTS and shot:
            await page.screenshot(path=str(Path(SCREENSHOTS) / shot), full_page=False)
    finally:
        await context.close()


async def open_in_sign_off(harness: Harness, idp: OpenIdProvider, **proposal: Any) -> str:
    """The seed agreement opened by its lead (Priya Shah, bound to her account at Lichfield's issuer; the other
    partners' signatories named by name and role only) and sent for sign-off; returns its id."""
    partners = factories.proposal_data()["partners"]
    partners[0]["signatories"][0]["identity"] = {"issuer": idp.issuers[LICHFIELD],
                                                 "subject": idp.person("Priya Shah").sub}
    handle = await harness.start(factories.request(harness.new_id("pages"), partners=partners, **proposal))
    agreement_id = handle.agreement_id
    status = await harness.agreements.act(agreement_id, "submit_proposal", SubmitProposal(actor=factories.LEAD))
    plan = factories.plan_data(status.stage_started_at.date())
    await harness.agreements.act(agreement_id, "set_objectives",
                                 SetObjectives.model_validate({"actor": factories.LEAD, "plan": plan}))
    await harness.agreements.act(agreement_id, "submit_for_sign_off", SubmitForSignOff(actor=factories.LEAD))
    return agreement_id


async def revised_and_sent_again(harness: Harness, agreement_id: str) -> None:
    """The lead rejects round 1, revises the one-off cost and sends round 2."""
    status = await harness.agreements.status(agreement_id)
    await harness.agreements.act(agreement_id, "record_sign_off", SignOff.model_validate(
        {"actor": factories.LEAD, "decision": "reject", "reason": "the one-off cost is too high",
         "version": status.version}))
    partners = [{"code": code, "name": status.body_names[code],
                 "signatories": [s.model_dump(mode="json", exclude_none=True) for s in status.signatories[code]]}
                for code in status.partner_bodies]
    revision = ReviseProposal.model_validate({"actor": factories.LEAD, "proposal": factories.proposal_data(
        partners=partners, one_off_cost="550000.00")})
    await harness.agreements.act(agreement_id, "revise_proposal", revision)
    status = await harness.agreements.act(agreement_id, "submit_proposal", SubmitProposal(actor=factories.LEAD))
    plan = factories.plan_data(status.stage_started_at.date())
    await harness.agreements.act(agreement_id, "set_objectives",
                                 SetObjectives.model_validate({"actor": factories.LEAD, "plan": plan}))
    await harness.agreements.act(agreement_id, "submit_for_sign_off", SubmitForSignOff(actor=factories.LEAD))


async def delegated(owen: Any, base: str, agreement_id: str, subject: str, bad_day: bool = False) -> None:
    """Owen delegates his signature to Sam Officer from today for three days through the form; with ``bad_day``
    a first day that does not exist, which the form refuses beside the field."""
    from playwright.async_api import expect

    await owen.goto(f"{base}/agreements/{agreement_id}")
    await owen.get_by_role("link", name="Delegate your signature while you are away").click()
    today = datetime.now(UTC).date()
    ends = today + timedelta(days=3)
    await owen.get_by_label("Your colleague's name").fill("Sam Officer")
    await owen.get_by_label("Your colleague's account identifier").fill(subject)
    for name, day in (("starts", today), ("ends", ends)):
        group = owen.get_by_role("group", name="First day" if name == "starts" else "Last day")
        await group.get_by_label("Day").fill("31" if bad_day and name == "starts" else str(day.day))
        await group.get_by_label("Month").fill("2" if bad_day and name == "starts" else str(day.month))
        await group.get_by_label("Year").fill(str(day.year))
    await owen.get_by_role("button", name="Send").click()
    if bad_day:
        await expect(owen.locator("#starts-error")).to_contain_text("Enter a real date, for example 27 3 2027")
        await expect(owen.get_by_label("Your colleague's name")).to_have_value("Sam Officer")
        return
    await expect(owen.get_by_role("heading", name="Decision recorded")).to_be_visible()


async def test_people_sign_in_read_what_they_sign_and_act_only_where_they_may(
        harness: Harness, openid_provider: OpenIdProvider):
    from playwright.async_api import expect

    idp = openid_provider
    own = IdentityProvider()
    base = f"{idp.pages_url}/pages"
    try:
        agreement_id = await open_in_sign_off(harness, idp)
        async with pages_serving(harness, idp, idp.pages_settings(), [LICHFIELD, TAMWORTH, STAFFORDSHIRE, CANNOCK],
                                 own) as api, browser() as chromium:
            keys = {api.settings.signing_key_id: api.settings.public_key_pem()}
            owen = await person_page(chromium, idp, TAMWORTH, "Owen Hughes")
            await no_violations(chromium, owen, f"{base}/sign-in")

            # Named by the lead by name and role, Owen accepts his identity through Tamworth's own issuer.
            await expect(owen.get_by_role("heading", name="What waits on you")).to_be_visible()
            await no_violations(chromium, owen, f"{base}/", "pages-inbox.png")
            await expect(owen.get_by_text("Accept your identity first: then you can do this.")).to_be_visible()
            # The agreement's page tells him the same, rather than asking for a decision he cannot send yet.
            await no_violations(chromium, owen, f"{base}/agreements/{agreement_id}")
            await owen.goto(f"{base}/agreements/{agreement_id}")
            await expect(owen.get_by_text("first: then this page asks for your decision")).to_be_visible()
            await expect(owen.get_by_role("button", name="Send your decision")).to_have_count(0)
            await owen.get_by_role("link", name="Accept your identity", exact=True).click()
            await no_violations(chromium, owen, owen.url)
            await owen.get_by_role("button", name="Accept").click()
            await expect(owen.get_by_role("heading", name="Decision recorded")).to_be_visible()
            await no_violations(chromium, owen, owen.url)

            # The sign-off now waits on him: he opens it, reads the version, and approves it.
            await owen.get_by_role("link", name="Go to what waits on you").click()
            await owen.get_by_role("link", name="Sign off round 1").click()
            status = await harness.agreements.status(agreement_id)
            await expect(owen.locator("#version")).to_have_text(status.version)
            for heading in ("The proposal", "The business case", "The plan", "Your decision"):
                await expect(owen.get_by_role("heading", name=heading)).to_be_visible()
            await expect(owen.get_by_text("Net present social value").first).to_be_visible()
            await expect(owen.get_by_role("table", name="The risk register")).to_be_visible()
            await no_violations(chromium, owen, owen.url, "pages-agreement.png")

            # Bad input: a rejection with no reason is shown beside the field, and nothing is recorded.
            recorded = len(await harness.ledger(agreement_id))
            await owen.get_by_label("Reject").check()
            await owen.get_by_role("button", name="Send your decision").click()
            await expect(owen.locator("#reason-error")).to_contain_text("A rejection must give a reason")
            await expect(owen.get_by_role("link", name=re.compile("A rejection must give a reason"))).to_be_visible()
            await no_violations(chromium, owen, owen.url, shown=await owen.content())
            assert len(await harness.ledger(agreement_id)) == recorded

            # A form sent without the session's CSRF token is refused.
            forged = await owen.request.post(f"{base}/agreements/{agreement_id}/act/record_sign_off",
                                             form={"body": TAMWORTH, "decision": "approve",
                                                   "version": status.version})
            assert forged.status == 403
            assert len(await harness.ledger(agreement_id)) == recorded

            await owen.get_by_label("Approve").check()
            await owen.get_by_role("button", name="Send your decision").click()
            await expect(owen.get_by_role("heading", name="Decision recorded")).to_be_visible()
            number = int(await owen.locator("#decision-number").inner_text())
            entry = next(e for e in await harness.ledger(agreement_id) if e.seq == number)
            assert (entry.kind, entry.actor_body, entry.actor_signatory) == ("signed_off", TAMWORTH, "Owen Hughes")
            claims = attestation.read(entry.payload["attestation"], keys)
            assert (claims["idp"], claims["sub"]) == (idp.issuers[TAMWORTH], idp.person("Owen Hughes").sub)
            await expect(owen.get_by_role("link", name="Read the agreement's story")).to_be_visible()
            await owen.goto(f"{base}/")
            await expect(owen.get_by_text("Nothing waits on you or your council now.")).to_be_visible()

            # A person of a council that is no partner sees nothing of it and cannot act on it.
            ian = await person_page(chromium, idp, CANNOCK, "Ian Morris")
            await expect(ian.get_by_text(agreement_id)).to_have_count(0)
            response = await ian.goto(f"{base}/agreements/{agreement_id}")
            assert response is not None and response.status == 404
            await no_violations(chromium, ian, f"{base}/agreements/{agreement_id}")
            await ian.goto(f"{base}/")
            token = await ian.locator("input[name=csrf_token]").first.get_attribute("value")
            refused = await ian.request.post(f"{base}/agreements/{agreement_id}/act/record_sign_off",
                                             form={"csrf_token": token, "body": TAMWORTH, "decision": "approve",
                                                   "version": status.version})
            assert refused.status == 404
            assert len(await harness.ledger(agreement_id)) == number

            # A stale tab: Grace reads round 1; the lead rejects it and sends a revision; her approval of what
            # she read is refused and the page shows what changed.
            grace = await person_page(chromium, idp, STAFFORDSHIRE, "Grace Adeyemi")
            await grace.get_by_role("link", name=re.compile("Accept your identity as Grace Adeyemi")).click()
            await grace.get_by_role("button", name="Accept").click()
            await grace.goto(f"{base}/agreements/{agreement_id}")
            await revised_and_sent_again(harness, agreement_id)
            recorded = len(await harness.ledger(agreement_id))
            await grace.get_by_label("Approve").check()
            await grace.get_by_role("button", name="Send your decision").click()
            await expect(grace.get_by_text("changed after you opened it")).to_be_visible()
            changed = grace.get_by_role("table", name="Since the version you had open")
            await expect(changed.get_by_role("row", name=re.compile(r"proposal\.one_off_cost 650000\.00 550000\.00")
                                              )).to_be_visible()
            assert len(await harness.ledger(agreement_id)) == recorded
            await no_violations(chromium, grace, grace.url, shown=await grace.content())
            round_2 = await harness.agreements.status(agreement_id)
            await expect(grace.locator("#version")).to_have_text(round_2.version)
            await grace.get_by_label("Approve").check()
            await grace.get_by_role("button", name="Send your decision").click()
            await expect(grace.get_by_role("heading", name="Decision recorded")).to_be_visible()
            signed = (await harness.agreements.status(agreement_id)).sign_offs
            assert [(s.body, s.signatory) for s in signed] == [(STAFFORDSHIRE, "Grace Adeyemi")]

            # Away on leave, Owen delegates his signature to a colleague at Tamworth, who signs for him while the
            # delegation stands and cannot once it is withdrawn; the ledger names both.
            sam = next(p for p in idp.councils[TAMWORTH].people if p.name == "Sam Officer")
            await delegated(owen, base, agreement_id, sam.sub, bad_day=True)
            await no_violations(chromium, owen, f"{base}/agreements/{agreement_id}/act/delegate_signature",
                                "pages-delegate.png")
            await delegated(owen, base, agreement_id, sam.sub)
            colleague = await person_page(chromium, idp, TAMWORTH, "Sam Officer")
            await expect(colleague.get_by_role("link", name=re.compile("Sign off round 2 for Owen Hughes"))
                         ).to_be_visible()
            await colleague.goto(f"{base}/agreements/{agreement_id}")
            await owen.goto(f"{base}/agreements/{agreement_id}")
            await owen.get_by_role("link", name="Withdraw your delegation to Sam Officer").click()
            await owen.get_by_role("button", name="Send").click()
            await expect(owen.get_by_role("heading", name="Decision recorded")).to_be_visible()
            recorded = len(await harness.ledger(agreement_id))
            await colleague.get_by_label("Approve").check()  # the tab opened while the delegation stood
            await colleague.get_by_role("button", name="Send your decision").click()
            await expect(colleague.get_by_role("heading", name="You cannot do this")).to_be_visible()
            assert len(await harness.ledger(agreement_id)) == recorded

            await delegated(owen, base, agreement_id, sam.sub)
            await colleague.goto(f"{base}/")
            await colleague.get_by_role("link", name=re.compile("Sign off round 2 for Owen Hughes")).click()
            await expect(colleague.get_by_text("You sign as Sam Officer for Owen Hughes")).to_be_visible()
            await colleague.get_by_label("Approve").check()
            await colleague.get_by_role("button", name="Send your decision").click()
            await expect(colleague.get_by_role("heading", name="Decision recorded")).to_be_visible()
            number = int(await colleague.locator("#decision-number").inner_text())
            entry = next(e for e in await harness.ledger(agreement_id) if e.seq == number)
            assert (entry.kind, entry.actor_signatory, entry.payload["actor"]["delegate"]) == (
                "signed_off", "Owen Hughes", "Sam Officer")
            claims = attestation.read(entry.payload["attestation"], keys)
            assert (claims["idp"], claims["sub"]) == (idp.issuers[TAMWORTH], sam.sub)

            # The lead's chief executive approves last; the service goes live, and she reports on a milestone her
            # council owns through its form: a percentage over 100 is shown beside its field, then a good one kept.
            priya = await person_page(chromium, idp, LICHFIELD, "Priya Shah")
            await priya.get_by_role("link", name="Sign off round 2").click()
            await priya.get_by_label("Approve").check()
            await priya.get_by_role("button", name="Send your decision").click()
            await expect(priya.get_by_role("heading", name="Decision recorded")).to_be_visible()
            await priya.goto(f"{base}/")
            await priya.get_by_role("link", name=re.compile("Report on milestone fleet")).click()
            await no_violations(chromium, priya, priya.url)
            recorded = len(await harness.ledger(agreement_id))
            await priya.get_by_label("In progress").check()
            await priya.get_by_label("Percentage complete").fill("150")
            await priya.get_by_role("button", name="Send").click()
            await expect(priya.locator("#percent_complete-error")).to_contain_text("Enter a number no more than 100")
            await no_violations(chromium, priya, priya.url, shown=await priya.content())
            assert len(await harness.ledger(agreement_id)) == recorded
            await priya.get_by_label("Percentage complete").fill("40")
            await priya.get_by_role("button", name="Send").click()
            await expect(priya.get_by_role("heading", name="Decision recorded")).to_be_visible()
            milestone = next(m for m in (await harness.agreements.status(agreement_id)).milestones if m.id == "fleet")
            assert milestone.percent_complete == 40
    finally:
        own.close()


async def test_the_demo_leaves_one_agreement_waiting_on_its_partners_signatories_for_the_pages(harness: Harness):
    status = await open_for_people(harness.agreements)
    harness.started.append(harness.client.get_workflow_handle(workflow_id(WAITING_ID)))
    assert status.stage is Stage.SIGN_OFF and status.agreement_id == WAITING_ID
    assert (await open_for_people(harness.agreements)).decisions_recorded == status.decisions_recorded  # resumed
    for body, signatories in status.signatories.items():
        person = Person(bodies=frozenset({body}), issuer=f"https://id.{body}.example", subject="s",
                        name=signatories[0].name)
        assert [t.update for t in tasks(status, person, datetime.now(UTC))] == ["bind_identity", "record_sign_off"]
