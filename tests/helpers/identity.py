"""Identity providers for the API's tests: one council's tenant each, as Microsoft Entra ID is one.

Each provider serves its RSA keys as a JWKS over HTTP on localhost (counting the fetches) under its own tenant
path, and issues real RS256 tokens signed with them (PyJWT, keys from ``cryptography``): ``iss`` its issuer,
``sub`` the person's subject there, with their display claims (``name``, ``preferred_username``, ``email``)
beside it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

AUDIENCE = "api://concordat"
"""The audience the test API's tokens carry."""


class IdentityProvider:
    """An OpenID provider for ``tenant``: RSA keys by key id, published as a JWKS over HTTP, and its tokens."""

    def __init__(self, tenant: str = "tenant") -> None:
        self.keys = {"idp-1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.fetches = 0
        provider = self

        class Jwks(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.fetches += 1
                body = json.dumps({"keys": [
                    {**jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "use": "sig",
                     "alg": "RS256"} for kid, key in provider.keys.items()]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = f"{base}/{tenant}/v2.0"
        self.jwks_url = f"{base}/{tenant}/discovery/v2.0/keys"
        self.tenant = tenant

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def rotate(self, kid: str) -> None:
        """Publish a new signing key ``kid`` in place of the old ones, as a provider rotates its keys."""
        self.keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)}

    def subject(self, username: str) -> str:
        """The subject this provider gives the account ``username`` (stable, as an object id is)."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.issuer}/{username}"))

    def identity(self, username: str) -> dict[str, str]:
        """The bound identity of the account ``username`` here, as a signatory's ``identity`` holds it."""
        return {"issuer": self.issuer, "subject": self.subject(username)}

    def token(self, username: str, *, name: str | None = None, subject: str | None = None, kid: str | None = None,
              key: Any = None, audience: str = AUDIENCE, issuer: str | None = None, lifetime: int = 600,
              not_before: int | None = None, **claims: Any) -> str:
        """A token for the account ``username`` (its ``preferred_username``; subject ``subject(username)``
        unless given), display ``name``, and any other ``claims`` (``email``, ``email_verified`` ...)."""
        kid = kid or next(iter(self.keys))
        now = int(time.time())
        body = {"iss": issuer or self.issuer, "aud": audience, "sub": subject or self.subject(username),
                "preferred_username": username, "iat": now, "exp": now + lifetime, **claims}
        if name is not None:
            body["name"] = name
        if not_before is not None:
            body["nbf"] = not_before
        return jwt.encode(body, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})

    def bearer(self, username: str, **token: Any) -> dict[str, str]:
        """The ``Authorization`` header of ``token(username, **token)``."""
        return {"Authorization": f"Bearer {self.token(username, **token)}"}
