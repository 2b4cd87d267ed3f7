"""Attestations: the API's signed word that an authenticated person sent one action.

An attestation is a compact JWS (RFC 7515) signed with the API's Ed25519 key (algorithm ``EdDSA``), whose
header names the key (``kid``) and whose claims are:

- ``sub``: the person's subject, as their identity provider's token named them; ``idp``: the issuer of that token
  (their council's OpenID provider): together, who the person is (``domain.model.BoundIdentity``);
- ``name``: the person's display name, for people reading the record (never compared as an identity);
- ``claim`` (only when the API vouches for it): the token's display claim that signatories recorded before
  identities were bound are registered by (``Signatory.identity`` as a plain string); attestations from before
  ``name`` existed carry that claim as ``sub`` (see ``attested_person``);
- ``agreement``: the agreement id; ``action``: the update's name (``record_sign_off``);
- ``content``: the SHA-256 (hex) of the action's canonical JSON without its attestation (``content_hash``);
- ``seq``: how many decisions the agreement had recorded when the API read it, before signing; the workflow
  accepts the attestation only within ``WINDOW`` decisions of that, so an attestation cannot be replayed once
  the agreement has forgotten the action's id (it remembers the last 500 actions, each at least one decision);
- ``iat``: when the API signed it (seconds since the epoch, UTC), for people: the workflow does not read clocks.

Verification is pure: given the public keys by key id, it checks the signature (PyJWT, no hand-written
crypto) and that the claims match the agreement and the action. The workflow runs it in its update
validators when the agreement requires attestation; ``starter.py verify`` runs it on the ledger offline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
from pydantic import BaseModel

from domain.errors import ActionRejected
from domain.ledger import digest

ALGORITHM = "EdDSA"
"""The attestation's JWS algorithm: Ed25519 signatures."""
WINDOW = 50
"""How many decisions may be recorded between the API reading an agreement and the attested action arriving."""


def content_hash(action: BaseModel) -> str:
    """The SHA-256 (hex) of ``action``'s canonical JSON, its model's name included, without its attestation or the
    reply it asks for (which the ledger does not record, so an attestation can be checked against the ledger)."""
    return digest({"type": type(action).__name__,
                   "action": action.model_dump(mode="json", exclude={"attestation", "reply"})})


def attestation_claims(
    *, issuer: str, subject: str, name: str, claim: str | None, agreement_id: str, update: str, action: BaseModel,
    seq: int, at: datetime
) -> dict[str, Any]:
    """The claims the API signs for ``action`` sent as ``update`` by the person ``issuer`` authenticated as
    ``subject`` (display ``name``; ``claim`` the display claim the API vouches for, or None), having read the
    agreement when it had recorded ``seq`` decisions."""
    return {
        "sub": subject,
        "idp": issuer,
        "name": name,
        **({"claim": claim} if claim is not None else {}),
        "agreement": agreement_id,
        "action": update,
        "content": content_hash(action),
        "seq": seq,
        "iat": int(at.astimezone(UTC).timestamp()),
    }


def attested_person(claims: dict[str, Any]) -> tuple[str, str, str | None]:
    """Who verified attestation ``claims`` say acted: (issuer, subject, display claim or None). An attestation
    from before identities were bound (no ``name`` claim) named the person by the display claim in ``sub``."""
    if "name" not in claims:
        return str(claims["idp"]), str(claims["sub"]), str(claims["sub"])
    claim = claims.get("claim")
    return str(claims["idp"]), str(claims["sub"]), claim if isinstance(claim, str) else None


def describe(claims: dict[str, Any]) -> str:
    """Who verified attestation ``claims`` say acted, for people: "Name (subject at issuer)", or the display claim
    alone for an attestation from before identities were bound."""
    if "name" not in claims:
        return str(claims["sub"])
    return f"{claims['name']} ({claims['sub']} at {claims['idp']})"


def sign(claims: dict[str, Any], private_key: Any, kid: str) -> str:
    """The compact JWS of ``claims`` signed with the Ed25519 ``private_key`` (a ``cryptography`` key or PEM)."""
    return jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid})


class AttestationInvalid(ValueError):
    """An attestation that does not prove what it must; the message says why, for an officer."""


def read(token: str, keys: dict[str, str]) -> dict[str, Any]:
    """The claims of ``token`` once its signature is checked against ``keys`` (key id to public key PEM).

    Raises ``AttestationInvalid`` for a token that is malformed (not a string, not three base64url parts, a
    header or payload that is not a JSON object), names a key not in ``keys``, whose key is not an Ed25519
    public key, whose algorithm is not ``EdDSA`` (``none``, ``HS256``), or whose signature does not verify;
    never anything else, whatever the token and keys hold. Times are not checked: an attestation proves a past
    act.
    """
    try:
        return _read(token, keys)
    except AttestationInvalid:
        raise
    except Exception as error:  # any other failure of the JWS library on hostile input is a refusal, not a crash
        raise AttestationInvalid(f"the attestation cannot be read ({type(error).__name__}: {error})") from None


def _read(token: str, keys: dict[str, str]) -> dict[str, Any]:
    """``read`` without its last line of defence."""
    if not isinstance(token, str):
        raise AttestationInvalid("the attestation is not a signed token (not a string)")
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError as error:
        raise AttestationInvalid(f"the attestation is not a signed token ({error})") from None
    if not isinstance(kid, str) or kid not in keys:
        known = ", ".join(sorted(keys)) or "none"
        raise AttestationInvalid(f"the attestation is signed with key {kid!r}, not a configured attestor key "
                                 f"(configured: {known})")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, keys[kid], algorithms=[ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                     "require": ["sub", "idp", "agreement", "action", "content", "seq", "iat"]})
    except jwt.PyJWTError as error:
        raise AttestationInvalid(f"the attestation does not verify with key {kid!r} ({error})") from None
    wrong = sorted(name for name, kind in _CLAIM_TYPES.items() if name in claims and not isinstance(claims[name], kind)
                   or isinstance(claims.get(name), bool))
    if wrong:
        raise AttestationInvalid(f"the attestation's claims {', '.join(wrong)} are not of the types the API signs")
    return claims


_CLAIM_TYPES: dict[str, type] = {"sub": str, "idp": str, "name": str, "claim": str, "agreement": str, "action": str,
                                 "content": str, "seq": int, "iat": int}
"""The type of each claim the API signs: a signed token whose claims have other types was not made by the API."""


def check(token: str | None, keys: dict[str, str], agreement_id: str, action: BaseModel,
          recorded: int | None = None) -> dict[str, Any]:
    """The verified claims of the attestation ``token`` carried by ``action`` on ``agreement_id``, which has
    ``recorded`` decisions (None offline, where the attestation is already in the ledger).

    Raises ``ActionRejected`` (code ``attestation_required`` when there is none, ``attestation_invalid``
    when it does not verify with ``keys``, attests another agreement or other content, or was issued more than
    ``WINDOW`` decisions ago).
    """
    if token is None:
        raise ActionRejected(
            f"agreement {agreement_id} requires every action to be attested: send it through the Concordat API, "
            "which signs who sent it", code="attestation_required", field="attestation",
        )
    try:
        claims = read(token, keys)
    except AttestationInvalid as error:
        raise ActionRejected(str(error), code="attestation_invalid", field="attestation") from None
    if claims["agreement"] != agreement_id:
        raise ActionRejected(f"the attestation is for agreement {claims['agreement']}, not {agreement_id}",
                             code="attestation_invalid", field="attestation")
    if claims["content"] != content_hash(action):
        raise ActionRejected("the attestation is for other content than this action (was the action changed "
                             "after the API signed it?)", code="attestation_invalid", field="attestation")
    seen = claims["seq"]
    if recorded is not None and (not isinstance(seen, int) or not 0 <= recorded - seen <= WINDOW):
        raise ActionRejected(
            f"the attestation was issued when agreement {agreement_id} had {seen} decisions; it has {recorded}, and "
            f"an attestation is accepted for {WINDOW} decisions at most: send the action through the API again",
            code="attestation_invalid", field="attestation")
    return claims
