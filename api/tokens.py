"""Who is calling: OpenID Connect bearer tokens, as Microsoft Entra ID (or any OpenID provider) issues them, from
any of the issuers the deployment trusts.

A token is accepted only from a configured issuer: the API's own (``CONCORDAT_API_ISSUER``) or one the directory
lists (``store.directory``: for Entra ID each council's tenant). The token's unverified ``iss`` picks the issuer;
its signature is then checked with PyJWT against that issuer's published keys (its JWKS, fetched over HTTP(S) by
one ``PyJWKClient`` per issuer and cached), with that issuer's audience. A token naming a key the cache does not
hold makes one refetch, so keys an issuer rotates in are picked up, at most once every ``jwks_refetch_seconds``
per issuer (a stream of tokens with made-up key ids cannot make the API hammer an issuer). Issuer, audience,
expiry and not-before are checked.

The person is the token's issuer and subject (``Caller``: the ``sub`` claim, or for an issuer configured so,
Entra ID's object id ``oid``); the display name is kept beside them, for people. The
display claim agreements recorded before identities were bound name signatories by (``CONCORDAT_API_IDENTITY_
CLAIM``) is read too, an email only when the token says ``email_verified`` is true.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt

from api.settings import ApiSettings
from domain.model import IDENTITY_PATTERN
from store.directory import Directory


class Unauthenticated(Exception):
    """No token, or a token that does not prove who sent it; the message says why (HTTP 401)."""


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched (HTTP 503)."""


@dataclass(frozen=True)
class Caller:
    """An authenticated person: the token's issuer and subject (who they are), their display name (for people),
    and the display claim recorded identities are compared with (None when absent or, for an email, unverified)."""

    issuer: str
    subject: str
    name: str
    claim: str | None = None

    @property
    def identity(self) -> str:
        """Who they are, for logs and messages: "subject at issuer"."""
        return f"{self.subject} at {self.issuer}"


class _IssuerKeys:
    """One issuer's published keys, fetched and cached, refetched at most once per ``refetch_seconds`` for an
    unknown key id."""

    def __init__(self, jwks_url: str, settings: ApiSettings) -> None:
        self.client = jwt.PyJWKClient(jwks_url, cache_keys=False, cache_jwk_set=True,
                                      lifespan=int(settings.jwks_cache_seconds), timeout=10)
        self.refetch_seconds = settings.jwks_refetch_seconds
        self.refetched_at = -float("inf")
        self.lock = threading.Lock()

    def key(self, kid: str | None) -> jwt.PyJWK:
        """The issuer's key ``kid``: from the cache, else from one refetch if none was made lately."""
        try:
            with self.lock:
                found = _match(self.client.get_signing_keys(), kid)
                if found is None and time.monotonic() - self.refetched_at >= self.refetch_seconds:
                    self.refetched_at = time.monotonic()
                    found = _match(self.client.get_signing_keys(refresh=True), kid)
        except jwt.PyJWKClientConnectionError as error:
            raise KeysUnavailable(f"the identity provider's keys could not be fetched: {error}") from None
        except jwt.PyJWKClientError as error:
            raise KeysUnavailable(f"the identity provider's keys could not be read: {error}") from None
        if found is None:
            raise Unauthenticated(f"the token is signed with key {kid!r}, which the identity provider does not publish")
        return found


class TokenVerifier:
    """Checks bearer tokens against the issuers of ``settings`` and the directory: JWKS, issuer, audience, exp
    and nbf."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self._keys: dict[str, _IssuerKeys] = {}
        self._lock = threading.Lock()

    def _issuer_keys(self, jwks_url: str) -> _IssuerKeys:
        with self._lock:
            if jwks_url not in self._keys:
                self._keys[jwks_url] = _IssuerKeys(jwks_url, self.settings)
            return self._keys[jwks_url]

    def trusted(self, issuer: str, directory: Directory) -> tuple[str, str, str] | None:
        """The JWKS URL, audience and subject claim of ``issuer`` when the API trusts it (its own, or the
        directory's), else None."""
        return trusted_issuer(self.settings, issuer, directory)

    async def caller(self, authorization: str | None, directory: Directory | None = None) -> Caller:
        """The person an ``Authorization: Bearer ...`` header proves, by a token of an issuer the API trusts
        (its own or ``directory``'s); raises ``Unauthenticated`` or ``KeysUnavailable``."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send an OpenID access token from your council's identity provider "
                                  "(Authorization: Bearer ...)")
        token = token.strip()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            claimed_issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"the token is not a signed token ({error})") from None
        trusted = self.trusted(claimed_issuer, directory or Directory()) if isinstance(claimed_issuer, str) else None
        if trusted is None:
            raise Unauthenticated(f"the token was issued by {claimed_issuer!r}, which is not an identity provider this "
                                  "deployment trusts (its own issuer or one in the directory)")
        jwks_url, audience, subject_claim = trusted
        key = await asyncio.to_thread(self._issuer_keys(jwks_url).key, kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[key.algorithm_name], audience=audience, issuer=claimed_issuer,
                leeway=self.settings.clock_skew_seconds, options={"require": ["exp", "iss", "aud", subject_claim]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired: sign in again") from None
        except jwt.ImmatureSignatureError:
            raise Unauthenticated("the token is not valid yet (nbf is in the future)") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(f"the token is not for this API (its audience is not {audience})") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(f"the token was not issued by {claimed_issuer}") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("the token's signature does not verify (it was altered or forged)") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"the token is not acceptable: {error}") from None
        return caller_of(claims, subject_claim, self.settings.identity_claim)


def trusted_issuer(settings: ApiSettings, issuer: str, directory: Directory) -> tuple[str, str, str] | None:
    """The JWKS URL, audience and subject claim (``sub`` or ``oid``) of ``issuer`` when the deployment trusts it
    (the API's own issuer in ``settings``, or one ``directory`` lists), else None."""
    if issuer == settings.issuer:
        return settings.jwks_url, settings.audience, settings.subject_claim
    entry = directory.issuer(issuer)
    return (entry.jwks_url, entry.audience, entry.subject_claim) if entry else None


def caller_of(claims: dict[str, Any], subject_claim: str, identity_claim: str) -> Caller:
    """The person verified ``claims`` (an access or ID token's, ``iss`` among them) name: their ``subject_claim``
    as subject, their display name, and their ``identity_claim`` (an email only when ``email_verified`` is true);
    raises ``Unauthenticated`` when the subject claim does not name anyone."""
    subject = claims.get(subject_claim)
    if not isinstance(subject, str) or not re.fullmatch(IDENTITY_PATTERN, subject):
        raise Unauthenticated(f"the token's {subject_claim} claim does not name anyone")
    return Caller(issuer=claims["iss"], subject=subject, name=_display_name(claims, subject),
                  claim=_display_claim(claims, identity_claim))


def _display_claim(claims: dict[str, Any], name: str) -> str | None:
    """The token's value of the claim ``name`` recorded identities name people by, or None (absent, blank, or an
    email the issuer does not say it verified)."""
    value = claims.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    if name == "email" and claims.get("email_verified") is not True:
        return None
    return value.strip()


def _display_name(claims: dict[str, Any], subject: str) -> str:
    """The person's name as the token shows it (``name``, else ``preferred_username``), else the subject."""
    for claim in ("name", "preferred_username"):
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return subject


def _match(keys: list[jwt.PyJWK], kid: str | None) -> jwt.PyJWK | None:
    return next((key for key in keys if key.key_id == kid), None)
