"""The pages' settings, each read from the environment variable named in its alias (see ``runtime.settings``).

The pages are served only when these are configured (``CONCORDAT_PAGES_URL`` set): the session secret has no
default, and each body whose people sign in has its OpenID client registered at its own issuer.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from domain.model import Code
from runtime.settings import EnvironmentSettings


class BodyClient(BaseModel):
    """The pages' OpenID client at one body's issuer: the issuer (its discovery document is
    ``{issuer}/.well-known/openid-configuration``), and the client id and secret registered there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(pattern=r"^https?://[^\s]+$", description="The issuer, exactly as its ID tokens' iss says.")
    client_id: str = Field(min_length=1, max_length=500)
    client_secret: str = Field(min_length=1, max_length=500, repr=False)
    name: str | None = Field(default=None, min_length=1, max_length=200,
                             description="The body's name on the sign-in page (default: its code).")

    @property
    def discovery_url(self) -> str:
        """Where the issuer publishes its OpenID configuration."""
        return f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"


class PagesSettings(EnvironmentSettings):
    """Where the pages are served, the secret their session cookie is signed with, how long a session lasts,
    and each body's OpenID client."""

    model_config = SettingsConfigDict(title="pages configuration")

    url: str = Field(alias="CONCORDAT_PAGES_URL", pattern=r"^https?://[^/\s]+(/[^\s]*)?$", description=(
        "The public address of the process serving the pages (the API's), without /pages: links are "
        "{url}/pages/..., and each body's redirect URI is {url}/pages/signed-in/{body}."))
    session_secret: str = Field(alias="CONCORDAT_PAGES_SESSION_SECRET", min_length=32, repr=False, description=(
        "The key the session cookie is signed with (at least 32 characters, from a secret store; e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(48))'). Changing it signs everyone out."))
    session_seconds: int = Field(default=8 * 3600, alias="CONCORDAT_PAGES_SESSION_SECONDS", ge=1, le=7 * 24 * 3600,
                                 description="How long a sign-in lasts, from signing in (the cookie's expiry too).")
    clients: Annotated[dict[Code, BodyClient], NoDecode] = Field(
        alias="CONCORDAT_PAGES_CLIENTS", min_length=1, repr=False, description=(
        'Each body\'s OpenID client, as JSON: {"body code": {"issuer": ..., "client_id": ..., '
        '"client_secret": ..., "name": ...}, ...} (name optional); the issuer must be one the directory lists '
        "for the body."))
    cookie_secure: bool = Field(default=True, alias="CONCORDAT_PAGES_COOKIE_SECURE", description=(
        "Send the session cookie over HTTPS only; false only for a http://127.0.0.1 test or demo."))

    @field_validator("clients", mode="before")
    @classmethod
    def _from_json(cls, value: Any) -> Any:
        """The variable's JSON, read here so that a blank or malformed value is reported against it."""
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f'must be JSON, {{"body code": {{"issuer": ..., "client_id": ..., "client_secret": '
                             f'...}}}} ({error.msg} at character {error.pos})') from None

    @field_validator("url")
    @classmethod
    def _without_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def redirect_uri(self, body: str) -> str:
        """Where ``body``'s issuer sends the person back to: ``{url}/pages/signed-in/{body}``."""
        return f"{self.url}/pages/signed-in/{body}"
