"""The demo's pages for people: its OpenID provider (one issuer per council, the portfolio's signatories as its
people) and the HTTP API serving the pages, signed in through those issuers.

``DemoPages.start`` writes the provider's councils to the data folder, starts it (``demo.idp``), lists each
council's issuer in the directory for that council (while the demo runs: ``stop`` takes them out again), and
serves the API with the pages on the loopback. The API's attestation key is kept in the data folder, so a second
run signs with the same key. The session secret and the client secret are made afresh on each run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api.app import create_app
from api.settings import ApiSettings
from api.tokens import TokenVerifier
from demo.idp import CLIENT_ID, Council, ProviderProcess, demo_councils, provider_config
from store import directory
from store.database import Pool
from web.settings import PagesSettings
from workflows.client import AgreementClient

ADMINISTRATOR = "python -m demo"
"""Who the directory records as adding (and removing) the demo's issuers."""


def signing_key(path: Path) -> str:
    """The API's Ed25519 attestation key (PEM) kept at ``path``, made there (readable by its owner only) when
    absent."""
    if not path.exists():
        key = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        path.touch(mode=0o600)
        path.write_bytes(key)
    return path.read_text()


@dataclass
class DemoPages:
    """The provider and the API for the pages, on ``pages_port`` and ``idp_port`` of 127.0.0.1."""

    data_dir: Path
    pool: Pool
    agreements: AgreementClient
    pages_port: int = 8088
    idp_port: int = 9090
    councils: list[Council] = field(default_factory=demo_councils)
    idp: ProviderProcess | None = None
    listed: list[directory.IssuerEntry] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _serving: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The pages' address."""
        return f"http://127.0.0.1:{self.pages_port}/pages/"

    async def start(self) -> DemoPages:
        """Start the provider, list its issuers, and serve the pages; raises ``RuntimeError`` when the provider
        cannot start (``ProviderProcess.missing`` says why beforehand)."""
        client_secret = secrets.token_urlsafe(32)
        pages_url = f"http://127.0.0.1:{self.pages_port}"
        config = self.data_dir / "idp-councils.json"
        config.touch(mode=0o600)
        config.write_text(json.dumps(provider_config(self.councils, client_secret, pages_url), indent=2))
        self.idp = ProviderProcess(config, port=self.idp_port, log=self.data_dir / "idp.log").start()
        issuers = self.idp.issuers
        known = await directory.load(self.pool)
        for council in self.councils:
            if issuers[council.code] not in known.issuers_of_body(council.code):
                entry = directory.IssuerEntry(body=council.code, issuer=issuers[council.code],
                                              jwks_url=f"{issuers[council.code]}/jwks", audience=CLIENT_ID)
                await directory.add_issuer(self.pool, entry, by=ADMINISTRATOR)
                self.listed.append(entry)
        first = issuers[self.councils[0].code]
        api = ApiSettings.model_validate({
            "CONCORDAT_API_ISSUER": first, "CONCORDAT_API_AUDIENCE": CLIENT_ID, "CONCORDAT_API_JWKS_URL":
            f"{first}/jwks", "CONCORDAT_API_ISSUER_BODIES": "", "CONCORDAT_API_DIRECTORY_SECONDS": "5",
            "CONCORDAT_API_SIGNING_KEY": signing_key(self.data_dir / "api-signing-key.pem"),
            "CONCORDAT_API_SIGNING_KEY_ID": "demo-api", "CONCORDAT_API_IDENTITY_CLAIM": "email"})
        pages = PagesSettings.model_validate({
            "CONCORDAT_PAGES_URL": pages_url, "CONCORDAT_PAGES_SESSION_SECRET": secrets.token_urlsafe(48),
            "CONCORDAT_PAGES_COOKIE_SECURE": False, "CONCORDAT_PAGES_CLIENTS": {
                c.code: {"issuer": issuers[c.code], "client_id": CLIENT_ID, "client_secret": client_secret,
                         "name": c.name} for c in self.councils}})
        app = create_app(api, self.agreements, TokenVerifier(api), self.pool, pages)
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.pages_port, log_config=None,
                                                     lifespan="off"))
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot listen
                    await self._serving
                raise RuntimeError(f"the pages could not be served on port {self.pages_port} (in use?)")
            await asyncio.sleep(0.05)
        return self

    def sign_ins(self) -> list[list[str]]:
        """How to sign in as each person: council, name, role and their account at the council's provider."""
        return [[c.name, p.name, p.role, p.email] for c in self.councils for p in c.people]

    async def stop(self) -> None:
        """Stop serving, take the issuers this run listed out of the directory, and stop the provider."""
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
        for entry in self.listed:
            await directory.remove_issuer(self.pool, entry.body, entry.issuer, by=ADMINISTRATOR)
        self.listed.clear()
        if self.idp is not None:
            self.idp.stop()

