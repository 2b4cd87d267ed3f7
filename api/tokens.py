"""Who is calling: OpenID Connect bearer tokens, as Microsoft Entra ID (or any OpenID provider) issues them.

The token's signature is checked with PyJWT against the issuer's published keys (its JWKS, fetched over
HTTP(S) by ``PyJWKClient`` and cached); a token naming a key the cache does not hold makes one refetch, so
keys the issuer rotates in are picked up, at most once every ``jwks_refetch_seconds`` (a stream of tokens with
made-up key ids cannot make the API hammer the issuer). Issuer, audience, expiry and not-before are checked.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt

from api.settings import ApiSettings


class Unauthenticated(Exception):
    """No token, or a token that does not prove who sent it; the message says why (HTTP 401)."""


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched (HTTP 503)."""


@dataclass(frozen=True)
class Caller:
    """An authenticated person: their identity (the configured claim), the token's issuer and subject."""

    identity: str
    issuer: str
    subject: str


class TokenVerifier:
    """Checks bearer tokens against ``settings``: the issuer's JWKS, issuer, audience, exp and nbf."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=False, cache_jwk_set=True,
                                     lifespan=int(settings.jwks_cache_seconds), timeout=10)
        self._refetched_at = -float("inf")
        self._lock = threading.Lock()

    def _key(self, kid: str | None) -> jwt.PyJWK:
        """The issuer's key ``kid``: from the cache, else from one refetch if none was made lately."""
        try:
            with self._lock:
                found = _match(self._jwks.get_signing_keys(), kid)
                if found is None and time.monotonic() - self._refetched_at >= self.settings.jwks_refetch_seconds:
                    self._refetched_at = time.monotonic()
                    found = _match(self._jwks.get_signing_keys(refresh=True), kid)
        except jwt.PyJWKClientConnectionError as error:
            raise KeysUnavailable(f"the identity provider's keys could not be fetched: {error}") from None
        except jwt.PyJWKClientError as error:
            raise KeysUnavailable(f"the identity provider's keys could not be read: {error}") from None
        if found is None:
            raise Unauthenticated(f"the token is signed with key {kid!r}, which the identity provider does not publish")
        return found

    async def caller(self, authorization: str | None) -> Caller:
        """The person an ``Authorization: Bearer ...`` header proves; raises ``Unauthenticated`` or
        ``KeysUnavailable``."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send an OpenID access token from your council's identity provider "
                                  "(Authorization: Bearer ...)")
        token = token.strip()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"the token is not a signed token ({error})") from None
        key = await asyncio.to_thread(self._key, kid)
        claim = self.settings.identity_claim
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[key.algorithm_name], audience=self.settings.audience,
                issuer=self.settings.issuer, leeway=self.settings.clock_skew_seconds,
                options={"require": ["exp", "iss", "aud", "sub", claim]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired: sign in again") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("the token is not valid yet (nbf is in the future)") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(f"the token is not for this API (its audience is not {self.settings.audience})"
                                  ) from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(f"the token was not issued by {self.settings.issuer}") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("the token's signature does not verify (it was altered or forged)") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"the token is not acceptable: {error}") from None
        identity = claims[claim]
        if not isinstance(identity, str) or not identity.strip():
            raise Unauthenticated(f"the token's {claim} claim does not name anyone")
        return Caller(identity=identity.strip(), issuer=claims["iss"], subject=claims["sub"])


def _match(keys: list[jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
    return next((key for key in keys if key.key_id == kid), None)
