"""The dispatcher's settings, read from the environment like the worker's (see ``runtime.settings``)."""

from __future__ import annotations

from email.utils import parseaddr

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from runtime.settings import ProcessSettings


class DispatcherSettings(ProcessSettings):
    """Settings of ``python -m dispatcher``, each read from the environment variable named in its alias."""

    model_config = SettingsConfigDict(title="dispatcher configuration")

    smtp_host: str = Field(default="localhost", alias="CONCORDAT_SMTP_HOST", min_length=1)
    smtp_port: int = Field(default=25, alias="CONCORDAT_SMTP_PORT", ge=1, le=65535)
    smtp_starttls: bool = Field(default=False, alias="CONCORDAT_SMTP_STARTTLS")
    smtp_username: str | None = Field(default=None, alias="CONCORDAT_SMTP_USERNAME", min_length=1)
    smtp_password: str | None = Field(default=None, alias="CONCORDAT_SMTP_PASSWORD", min_length=1, repr=False)
    smtp_sender: str = Field(default="Concordat <concordat@localhost>", alias="CONCORDAT_SMTP_SENDER")
    web_ui_url: str = Field(default="http://localhost:8233", alias="CONCORDAT_WEB_UI_URL", pattern=r"^https?://")
    pages_url: str | None = Field(
        default=None, alias="CONCORDAT_PAGES_URL", pattern=r"^https?://[^\s]+$",
        description="The public address of Concordat's pages for people (the API's, where /pages is served): each "
        "alert then links to its agreement's page there. Unset: alerts link to the Web UI alone.")
    namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE", min_length=1)
    poll_seconds: float = Field(default=30, alias="CONCORDAT_DELIVERY_POLL_SECONDS", gt=0, le=3600)
    first_retry_seconds: float = Field(default=30, alias="CONCORDAT_DELIVERY_FIRST_RETRY_SECONDS", gt=0)
    max_retry_seconds: float = Field(default=3600, alias="CONCORDAT_DELIVERY_MAX_RETRY_SECONDS", gt=0)
    give_up_seconds: float = Field(default=172800, alias="CONCORDAT_DELIVERY_GIVE_UP_SECONDS", gt=0)
    lease_seconds: float = Field(default=120, alias="CONCORDAT_DELIVERY_LEASE_SECONDS", gt=0)
    send_timeout_seconds: float = Field(default=30, alias="CONCORDAT_DELIVERY_SEND_TIMEOUT_SECONDS", gt=0)
    batch_size: int = Field(default=20, alias="CONCORDAT_DELIVERY_BATCH_SIZE", ge=1, le=1000)

    @field_validator("smtp_username", "smtp_password", "pages_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """Compose passes an unset ``${VARIABLE:-}`` as an empty string: no credentials, no page link."""
        return None if value == "" else value

    @field_validator("smtp_sender")
    @classmethod
    def _an_address(cls, value: str) -> str:
        if "@" not in parseaddr(value)[1]:
            raise ValueError(f"{value!r} is not an email address (e.g. 'Concordat <alerts@council.gov.uk>')")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DispatcherSettings:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("CONCORDAT_SMTP_USERNAME and CONCORDAT_SMTP_PASSWORD are set together or not at all")
        if self.lease_seconds <= self.send_timeout_seconds:
            raise ValueError(
                "CONCORDAT_DELIVERY_LEASE_SECONDS must exceed CONCORDAT_DELIVERY_SEND_TIMEOUT_SECONDS, "
                "or a slow send could be taken again by another dispatcher while it is still running"
            )
        return self

    def backoff_seconds(self, attempt: int) -> float:
        """Wait after failed attempt ``attempt`` (1, 2, ...): the first retry delay doubling up to the maximum."""
        return min(self.first_retry_seconds * 2 ** (attempt - 1), self.max_retry_seconds)
