"""Signing in to the pages through a real OpenID provider (``idp/server.mjs``, npm ``oidc-provider``), one issuer
per council, in a real browser: authorization code with PKCE, the ID token checked by Authlib, the person kept
in a signed, HttpOnly, SameSite=Lax session cookie that expires; signing out with the form's CSRF token."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import schema_settings
from demo.idp import ProviderProcess
from demo.pages import DemoPages
from store import directory
from tests.helpers import free_port
from tests.helpers.factories import LICHFIELD, STAFFORDSHIRE, TAMWORTH
from tests.helpers.harness import Harness
from tests.helpers.identity import IdentityProvider
from tests.helpers.oidc import OpenIdProvider, pages_serving, sign_in
from tests.test_web_ui import CHROMIUM, CHROMIUM_ARGS
from web.session import COOKIE

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium); .ci/run installs it")


@asynccontextmanager
async def browser_page() -> AsyncIterator[Any]:
    """A page in a fresh Chromium context (its own cookies)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            yield await context.new_page()
        finally:
            await browser.close()


@asynccontextmanager
async def councils_pages(harness: Harness, idp: OpenIdProvider, by_oid: tuple[str, ...] = (),
                         **pages: Any) -> AsyncIterator[None]:
    """The API with the pages, the directory listing Lichfield's and Tamworth's issuers (not Staffordshire's);
    those of ``by_oid`` name people by ``oid``."""
    own = IdentityProvider()
    try:
        async with pages_serving(harness, idp, idp.pages_settings(**pages), [LICHFIELD, TAMWORTH], own,
                                 by_oid=by_oid):
            yield
    finally:
        own.close()


async def session_cookie(page: Any) -> dict[str, Any] | None:
    return next((c for c in await page.context.cookies() if c["name"] == COOKIE), None)


def test_the_session_cookie_is_secure_by_default_and_the_issuer_is_asked_for_a_code_with_pkce(
        openid_provider: OpenIdProvider):
    pages = openid_provider.pages_settings(CONCORDAT_PAGES_COOKIE_SECURE=True)
    with TestClient(create_app(schema_settings(), pages=pages), base_url=openid_provider.pages_url) as client:
        response = client.get(f"/pages/sign-in/{LICHFIELD}", follow_redirects=False)
    assert response.status_code == 302, response.text
    authorize = urlsplit(response.headers["location"])
    query = {key: values[0] for key, values in parse_qs(authorize.query).items()}
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{openid_provider.issuers[LICHFIELD]}/auth"
    assert query["response_type"] == "code" and query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43 and query["nonce"] and query["state"]
    assert query["redirect_uri"] == f"{openid_provider.pages_url}/pages/signed-in/{LICHFIELD}"
    cookie = response.headers["set-cookie"].lower()
    for flag in ("httponly", "samesite=lax", "secure", f"max-age={pages.session_seconds}", "path=/pages"):
        assert flag in cookie, cookie


@needs_chromium
async def test_a_chief_executive_signs_in_through_their_councils_provider_and_signs_out(
        harness: Harness, openid_provider: OpenIdProvider):
    from playwright.async_api import expect

    idp = openid_provider
    priya = idp.person("Priya Shah")
    account = f"{idp.pages_url}/pages/account"
    async with councils_pages(harness, idp), browser_page() as page:
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        await sign_in(page, idp, LICHFIELD, "Priya Shah", "/pages/account")
        assert page.url == account
        await expect(page.get_by_role("heading", name="Your sign-in")).to_be_visible()
        await expect(page.get_by_text(idp.issuers[LICHFIELD], exact=True)).to_be_visible()
        await expect(page.get_by_text(priya.sub, exact=True)).to_be_visible()
        await expect(page.get_by_text("Lichfield District Council", exact=True)).to_be_visible()
        authorization = next(url for url in asked if url.startswith(f"{idp.issuers[LICHFIELD]}/auth?"))
        assert "code_challenge_method=S256" in authorization

        cookie = await session_cookie(page)
        assert cookie is not None
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/pages"
        assert not cookie["secure"]  # configured off: the test serves http on the loopback
        lifetime = idp.pages_settings().session_seconds
        assert time.time() + lifetime - 120 < cookie["expires"] <= time.time() + lifetime + 5

        forged = await page.request.post(f"{idp.pages_url}/pages/sign-out", form={"csrf_token": "guessed"})
        assert forged.status == 403
        bare = await page.request.post(f"{idp.pages_url}/pages/sign-out", form={})
        assert bare.status == 403
        await page.goto(account)
        await expect(page.get_by_text(priya.sub, exact=True)).to_be_visible()  # still signed in

        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("heading", name="You have signed out")).to_be_visible()
        assert await session_cookie(page) is None
        await page.goto(account)
        assert page.url == f"{idp.pages_url}/pages/sign-in?next=/pages/account"


@needs_chromium
async def test_a_person_of_an_issuer_the_directory_does_not_list_for_the_body_is_refused(
        harness: Harness, openid_provider: OpenIdProvider):
    from playwright.async_api import expect

    idp = openid_provider
    clients = {LICHFIELD: idp.client(LICHFIELD, issuer_of=TAMWORTH), STAFFORDSHIRE: idp.client(STAFFORDSHIRE)}
    async with councils_pages(harness, idp, clients=clients), browser_page() as page:
        for body, name in ((LICHFIELD, "Owen Hughes"), (STAFFORDSHIRE, "Grace Adeyemi")):
            async with page.expect_response(re.compile(rf".*/pages/signed-in/{body}\?.*")) as callback:
                await sign_in(page, idp, body, name, "/pages/account")
            assert (await callback.value).status == 403
            await expect(page.get_by_role("heading", name="You cannot sign in for this council")).to_be_visible()
            await page.goto(f"{idp.pages_url}/pages/account")
            assert page.url == f"{idp.pages_url}/pages/sign-in?next=/pages/account"


@needs_chromium
async def test_a_council_whose_issuer_names_people_by_object_id_signs_them_in_by_it(
        harness: Harness, openid_provider: OpenIdProvider):
    from playwright.async_api import expect

    idp = openid_provider
    owen = idp.person("Owen Hughes")
    async with councils_pages(harness, idp, by_oid=(TAMWORTH,)), browser_page() as page:
        await sign_in(page, idp, TAMWORTH, "Owen Hughes", "/pages/account")
        await expect(page.get_by_text(owen.oid, exact=True)).to_be_visible()
        await expect(page.get_by_text(owen.sub, exact=True)).to_have_count(0)


@needs_chromium
async def test_an_expired_session_sends_the_person_to_sign_in_again(
        harness: Harness, openid_provider: OpenIdProvider):
    idp = openid_provider
    account = f"{idp.pages_url}/pages/account"
    async with councils_pages(harness, idp, CONCORDAT_PAGES_SESSION_SECONDS=2), browser_page() as page:
        await sign_in(page, idp, TAMWORTH, "Owen Hughes", "/pages/account")
        assert page.url == account
        kept = await session_cookie(page)
        assert kept is not None
        await asyncio.sleep(2.5)
        await page.goto(account)
        assert page.url == f"{idp.pages_url}/pages/sign-in?next=/pages/account"
        # A cookie kept past its expiry (a browser that ignores it, a copied cookie) is refused by the server too.
        await page.context.add_cookies([{**kept, "expires": time.time() + 3600}])
        await page.goto(account)
        assert page.url == f"{idp.pages_url}/pages/sign-in?next=/pages/account"


@needs_chromium
async def test_the_demo_serves_the_pages_and_its_officers_sign_in_through_their_own_councils_issuer(
        harness: Harness, tmp_path: Path):
    from playwright.async_api import expect

    missing = ProviderProcess.missing()
    if missing is not None:
        pytest.skip(missing)
    pages = await DemoPages(tmp_path, harness.pool, harness.agreements, pages_port=free_port(),
                            idp_port=free_port()).start()
    try:
        assert pages.idp is not None
        southwark = pages.idp.issuers["E09000028"]
        assert ["London Borough of Southwark", "Amara Okafor", "Strategic Director",
                "amara.okafor@e09000028.demo.concordat.test"] in pages.sign_ins()
        async with browser_page() as page:
            await page.goto(f"{pages.url}sign-in?next=/pages/account")
            await page.get_by_role("link", name="London Borough of Southwark").click()
            await page.get_by_role("button", name=re.compile("Amara Okafor")).click()
            await page.wait_for_url(f"{pages.url}account")
            await expect(page.get_by_text(southwark, exact=True)).to_be_visible()
        assert southwark in (await directory.load(harness.pool)).issuers_of_body("E09000028")
    finally:
        await pages.stop()
    assert southwark not in (await directory.load(harness.pool)).issuers_of_body("E09000028")
