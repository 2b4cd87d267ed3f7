"""A real OpenID provider for the pages' tests: ``idp/server.mjs`` (npm ``oidc-provider``) run by Node, one issuer
per council, and a real browser signing in through it (authorization code with PKCE, as a person does).

``OpenIdProvider.start`` writes the councils and their people to a JSON file, starts the server on a free port
and waits for its ready line; the pages' client is registered at every issuer with the redirect URIs of the API
the test serves on ``pages_port``. ``seed_councils`` are the seed's councils (Lichfield, Tamworth,
Staffordshire) with their signatories as people. ``pages_serving`` serves the API with the pages, the directory
listing each given body's issuer (entries removed afterwards), and ``sign_in`` drives the flow in Playwright.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store import directory
from tests.helpers import factories
from tests.helpers.harness import Harness
from tests.helpers.identity import IdentityProvider
from web.settings import PagesSettings

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
CLIENT_ID = "concordat-pages"
ADMIN = "deployment-admin@test"


@dataclass(frozen=True)
class Person:
    """A person of a council at its issuer: ``sub`` (stable, from their email), name and email (verified)."""

    body: str
    name: str
    email: str

    @property
    def sub(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{self.email}"))


@dataclass(frozen=True)
class Council:
    code: str
    name: str
    people: tuple[Person, ...]


def seed_councils() -> list[Council]:
    """The seed proposal's councils, each with its signatories (emails as ``factories.IDENTITIES`` gives them,
    else name@council) and one officer who signs nothing."""
    councils = []
    for partner in factories.proposal_data()["partners"]:
        domain = partner["name"].split()[0].lower() + ".gov.uk"
        people = [Person(partner["code"], s["name"], factories.IDENTITIES.get(
                      s["name"], f"{s['name'].lower().replace(' ', '.')}@{domain}"))
                  for s in partner["signatories"]]
        people.append(Person(partner["code"], "Sam Officer", f"sam.officer@{domain}"))
        councils.append(Council(partner["code"], partner["name"], tuple(people)))
    return councils


class OpenIdProvider:
    """``node idp/server.mjs``: one issuer per council of ``councils``, the pages' client registered at each with
    the redirect URIs of the pages served at ``http://127.0.0.1:{pages_port}``."""

    def __init__(self, councils: Iterable[Council], pages_port: int) -> None:
        self.councils = {council.code: council for council in councils}
        self.pages_port = pages_port
        self.client_secret = secrets.token_urlsafe(24)
        self.issuers: dict[str, str] = {}
        self.output: list[str] = []
        self._folder = tempfile.TemporaryDirectory(prefix="concordat-idp-")
        self._process: subprocess.Popen[str] | None = None

    @property
    def pages_url(self) -> str:
        return f"http://127.0.0.1:{self.pages_port}"

    def person(self, name: str) -> Person:
        """The person called ``name`` (in any council)."""
        return next(p for c in self.councils.values() for p in c.people if p.name == name)

    def start(self, timeout: float = 60) -> OpenIdProvider:
        """Start the server and wait for its ready line (raises ``RuntimeError`` with its output otherwise)."""
        if NODE is None:
            raise RuntimeError("Node.js is not installed (apt-get install nodejs npm)")
        if not (ROOT / "idp" / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("the OpenID provider's packages are missing: run scripts/install.sh "
                               "(npm ci --prefix idp)")
        config = Path(self._folder.name) / "councils.json"
        config.write_text(json.dumps({
            "client": {"client_id": CLIENT_ID, "client_secret": self.client_secret,
                       "redirect_uris": [f"{self.pages_url}/pages/signed-in/{code}" for code in self.councils]},
            "councils": {code: {"name": council.name, "people": [
                {"sub": p.sub, "name": p.name, "email": p.email, "email_verified": True} for p in council.people]}
                for code, council in self.councils.items()},
        }))
        self._process = subprocess.Popen([NODE, str(ROOT / "idp" / "server.mjs"), "--config", str(config),
                                          "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True, start_new_session=True)
        ready = threading.Event()
        threading.Thread(target=self._read, args=(ready,), daemon=True).start()
        if not ready.wait(timeout) or not self.issuers:
            self.stop()
            raise RuntimeError("the OpenID provider did not start:\n" + "".join(self.output))
        return self

    def _read(self, ready: threading.Event) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line)
            found = re.match(r"concordat-idp ready (\{.*\})$", line.strip())
            if found:
                self.issuers = json.loads(found.group(1))["issuers"]
                ready.set()
        ready.set()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=20)
        self._folder.cleanup()

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
                        own: IdentityProvider, **variables: str) -> AsyncIterator[Any]:
    """The API with ``pages`` on ``idp.pages_port``, the directory listing the issuer of each body of ``listed``
    for it (removed afterwards), its own issuer ``own`` for no body; yields the ``tests.test_api.Api``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.test_api import serving

    entries = [directory.IssuerEntry(body=body, issuer=idp.issuers[body], jwks_url=f"{idp.issuers[body]}/jwks",
                                     audience=CLIENT_ID) for body in listed]
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
    page, and wait to be back on the pages (or on the page that refuses them)."""
    await page.goto(f"{idp.pages_url}/pages/sign-in/{body}?next={next_path}")
    await page.get_by_role("button", name=re.compile(re.escape(name))).click()
    await page.wait_for_url(re.compile(re.escape(f"{idp.pages_url}/pages/")))
