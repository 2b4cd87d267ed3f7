"""A real OpenID provider for the pages' tests: ``idp/server.mjs`` (npm ``oidc-provider``) run by Node, one issuer
per council, and a real browser signing in through it (authorization code with PKCE, as a person does).

``OpenIdProvider.start`` writes the councils and their people to a JSON file, starts the server on a free port
and waits for its ready line (the process is ``demo.idp``'s); the pages' client is registered at every issuer with
the redirect URIs of the API the test serves on ``pages_port``. ``seed_councils`` are the seed's councils
(Lichfield, Tamworth, Staffordshire) with their signatories as people. ``pages_serving`` serves the API with the
pages, the directory listing each given body's issuer (entries removed afterwards), and ``sign_in`` drives the
flow in Playwright.
"""

from __future__ import annotations

import json
import re
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from demo.idp import CLIENT_ID, Council, Person, ProviderProcess, council, provider_config
from store import directory
from tests.helpers import factories
from tests.helpers.harness import Harness
from tests.helpers.identity import IdentityProvider
from web.settings import PagesSettings

ADMIN = "deployment-admin@test"


def seed_councils() -> list[Council]:
    """The seed proposal's councils, each with its signatories (emails as ``factories.IDENTITIES`` gives them,
    else first.last@council) and one officer who signs nothing, Sam Officer."""
    councils = []
    for partner in factories.proposal_data()["partners"]:
        domain = partner["name"].split()[0].lower() + ".gov.uk"
        found = council(partner, domain, factories.IDENTITIES)
        officer = Person(partner["code"], "Sam Officer", f"sam.officer@{domain}", "Officer")
        councils.append(Council(found.code, found.name, (*found.people, officer)))
    return councils


class OpenIdProvider:
    """The demonstration provider (its process a ``demo.idp.ProviderProcess``) with ``councils``, one issuer each,
    the pages' client registered at each with the redirect URIs of the pages served at
    ``http://127.0.0.1:{pages_port}``."""

    def __init__(self, councils: Iterable[Council], pages_port: int) -> None:
        self.councils = {c.code: c for c in councils}
        self.pages_port = pages_port
        self.client_secret = secrets.token_urlsafe(24)
        self._folder = tempfile.TemporaryDirectory(prefix="concordat-idp-")
        config = Path(self._folder.name) / "councils.json"
        config.write_text(json.dumps(provider_config(self.councils.values(), self.client_secret, self.pages_url)))
        self.server = ProviderProcess(config)

    @property
    def pages_url(self) -> str:
        return f"http://127.0.0.1:{self.pages_port}"

    @property
    def issuers(self) -> dict[str, str]:
        """Each council's issuer, by body code."""
        return self.server.issuers

    def start(self) -> OpenIdProvider:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
        self._folder.cleanup()

    def person(self, name: str) -> Person:
        """The person called ``name`` (in any council)."""
        return next(p for c in self.councils.values() for p in c.people if p.name == name)

    def client(self, body: str, issuer_of: str | None = None) -> dict[str, str]:
        """The pages' client for ``body``, at the issuer of council ``issuer_of`` (default: the body's own)."""
        return {"issuer": self.issuers[issuer_of or body], "client_id": CLIENT_ID,
                "client_secret": self.client_secret, "name": self.councils[body].name}

    def pages_settings(self, clients: dict[str, dict[str, str]] | None = None, **variables: Any) -> PagesSettings:
        """The pages' settings for the API the test serves: each council's client at its own issuer unless
        ``clients`` says otherwise, cookies over http (loopback), a random session secret."""
        return PagesSettings.model_validate({
            "CONCORDAT_PAGES_URL": self.pages_url, "CONCORDAT_PAGES_SESSION_SECRET": secrets.token_urlsafe(48),
            "CONCORDAT_PAGES_CLIENTS": clients or {code: self.client(code) for code in self.councils},
            "CONCORDAT_PAGES_COOKIE_SECURE": False, **variables})


@asynccontextmanager
async def pages_serving(harness: Harness, idp: OpenIdProvider, pages: PagesSettings, listed: Iterable[str],
                        own: IdentityProvider, *, by_oid: Iterable[str] = (), **variables: str) -> AsyncIterator[Any]:
    """The API with ``pages`` on ``idp.pages_port``, the directory listing the issuer of each body of ``listed``
    for it (removed afterwards; the issuers of ``by_oid``'s bodies naming people by ``oid``, as Entra ID's),
    its own issuer ``own`` for no body; yields the ``tests.test_api.Api``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.test_api import serving

    entries = [directory.IssuerEntry(body=body, issuer=idp.issuers[body], jwks_url=f"{idp.issuers[body]}/jwks",
                                     audience=CLIENT_ID, subject_claim="oid" if body in set(by_oid) else "sub")
               for body in listed]
    for entry in entries:
        await directory.add_issuer(harness.pool, entry, by=ADMIN)
    try:
        async with serving(harness, own, Ed25519PrivateKey.generate(), pages=pages, port=idp.pages_port,
                           CONCORDAT_API_ISSUER_BODIES="", **variables) as api:
            yield api
    finally:
        for entry in entries:
            await directory.remove_issuer(harness.pool, entry.body, entry.issuer, by=ADMIN)


async def sign_in(page: Any, idp: OpenIdProvider, body: str, name: str, next_path: str = "/pages/") -> None:
    """In the Playwright ``page``: start signing in for ``body``, choose ``name``'s account on the provider's own
    page, and wait to be back on the pages at ``next_path`` (or on the page of the callback that refuses them)."""
    await page.goto(f"{idp.pages_url}/pages/sign-in/{body}?next={next_path}")
    await page.get_by_role("button", name=re.compile(re.escape(name))).click()
    await page.wait_for_url(lambda url: url == f"{idp.pages_url}{next_path}" or "/pages/signed-in/" in url)
