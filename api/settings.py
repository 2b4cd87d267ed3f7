"""The API's settings, each read from the environment variable named in its alias (see ``runtime.settings``)."""

from __future__ import annotations

from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from domain.model import Code
from runtime.settings import EnvironmentSettings


class ApiSettings(EnvironmentSettings):
    """Who issues the tokens the API accepts, for whom, and the key it signs attestations with."""

    model_config = SettingsConfigDict(title="API configuration")

    issuer: str = Field(alias="CONCORDAT_API_ISSUER", min_length=1, description=(
        "The API's own OpenID issuer, exactly as its tokens' iss claim says (Entra ID: "
        "https://login.microsoftonline.com/{tenant}/v2.0); the directory adds each body's own issuers."))
    issuer_bodies: str = Field(
        default="*", alias="CONCORDAT_API_ISSUER_BODIES", pattern=r"^(\*|[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*)?$",
        description=(
        "The bodies the API's own issuer speaks for: body codes separated by commas, * for every body with no "
        "issuer of its own in the directory, or empty for none (its people then only read what they are "
        "granted)."))
    directory_seconds: float = Field(default=30, alias="CONCORDAT_API_DIRECTORY_SECONDS", ge=0, le=3600, description=(
        "How long the API uses the directory (issuers and read grants) it read from the database before reading "
        "it again."))
    audience: str = Field(alias="CONCORDAT_API_AUDIENCE", min_length=1,
                          description="The aud claim tokens must carry: the API's application id or URI.")
    jwks_url: str = Field(alias="CONCORDAT_API_JWKS_URL", pattern=r"^https?://", description=(
        "Where the issuer publishes its signing keys (Entra ID: "
        "https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys); https in production."))
    subject_claim: Literal["sub", "oid"] = Field(
        default="sub", alias="CONCORDAT_API_SUBJECT_CLAIM", description=(
            "The claim of the API's own issuer's tokens that names a person for good, with the issuer their bound "
            "identity: sub, or Entra ID's object id (oid)."))
    identity_claim: Literal["email", "preferred_username", "upn", "sub", "oid"] = Field(
        default="preferred_username", alias="CONCORDAT_API_IDENTITY_CLAIM",
        description="The token claim that signatories registered before identities were bound are named by (an "
        "email only when the token says it is verified); bound identities are the issuer and subject.")
    signing_key: str = Field(alias="CONCORDAT_API_SIGNING_KEY", min_length=1, repr=False, description=(
        "The API's Ed25519 private key (PEM, PKCS#8) for attestations: from a secret, never committed."))
    signing_key_id: Code = Field(alias="CONCORDAT_API_SIGNING_KEY_ID",
                                 description="The id of the signing key, as agreements' attestor_keys name it.")
    jwks_refetch_seconds: float = Field(default=60, alias="CONCORDAT_API_JWKS_REFETCH_SECONDS", ge=0, description=(
        "At most one refetch of the JWKS in this many seconds for a token naming an unknown key."))
    jwks_cache_seconds: float = Field(default=3600, alias="CONCORDAT_API_JWKS_CACHE_SECONDS", gt=0,
                                      description="How long fetched keys are used before they are fetched again.")
    clock_skew_seconds: float = Field(default=30, alias="CONCORDAT_API_CLOCK_SKEW_SECONDS", ge=0, le=300,
                                      description="Leeway for exp and nbf.")
    host: str = Field(default="127.0.0.1", alias="CONCORDAT_API_HOST")
    port: int = Field(default=8088, alias="CONCORDAT_API_PORT", ge=0, le=65535)

    @field_validator("signing_key")
    @classmethod
    def _an_ed25519_private_key(cls, value: str) -> str:
        try:
            key = serialization.load_pem_private_key(value.encode(), password=None)
        except (ValueError, TypeError):
            raise ValueError("must be a private key in PEM form (-----BEGIN PRIVATE KEY-----)") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("must be an Ed25519 private key (openssl genpkey -algorithm ed25519)")
        return value

    def own_issuer_bodies(self) -> frozenset[str] | None:
        """The bodies the API's own issuer speaks for; None for every body with no issuer in the directory."""
        if self.issuer_bodies == "*":
            return None
        return frozenset(code for code in self.issuer_bodies.split(",") if code)

    def private_key(self) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(self.signing_key.encode(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return key

    def public_key_pem(self) -> str:
        """The public half of the signing key, PEM: what agreements list in ``attestor_keys``."""
        return self.private_key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def schema_settings(**overrides: Any) -> ApiSettings:
    """Settings good enough to build the app for its OpenAPI document alone (no key is used)."""
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return ApiSettings.model_validate({
        "CONCORDAT_API_ISSUER": "https://issuer.invalid", "CONCORDAT_API_AUDIENCE": "concordat",
        "CONCORDAT_API_JWKS_URL": "https://issuer.invalid/keys", "CONCORDAT_API_SIGNING_KEY": key,
        "CONCORDAT_API_SIGNING_KEY_ID": "schema", **overrides})
