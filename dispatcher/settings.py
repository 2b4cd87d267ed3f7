"""The dispatcher's settings, read from the environment like the worker's (see config.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from email.utils import parseaddr

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from config import ConfigurationError
from domain.errors import explain


class DispatcherSettings(BaseModel):
    """Settings of ``python -m dispatcher``, each read from the environment variable named in its alias."""

    model_config = ConfigDict(extra="ignore", frozen=True, title="dispatcher configuration")

    database_url: str | None = Field(default=None, alias="DATABASE_URL", min_length=1)
    smtp_host: str = Field(default="localhost", alias="CONCORDAT_SMTP_HOST", min_length=1)
    smtp_port: int = Field(default=25, alias="CONCORDAT_SMTP_PORT", ge=1, le=65535)
    smtp_starttls: bool = Field(default=False, alias="CONCORDAT_SMTP_STARTTLS")
    smtp_username: str | None = Field(default=None, alias="CONCORDAT_SMTP_USERNAME", min_length=1)
    smtp_password: str | None = Field(default=None, alias="CONCORDAT_SMTP_PASSWORD", min_length=1, repr=False)
    smtp_sender: str = Field(default="Concordat <concordat@localhost>", alias="CONCORDAT_SMTP_SENDER")
    web_ui_url: str = Field(default="http://localhost:8233", alias="CONCORDAT_WEB_UI_URL", pattern=r"^https?://")
    namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE", min_length=1)
    poll_seconds: float = Field(default=30, alias="CONCORDAT_DELIVERY_POLL_SECONDS", gt=0, le=3600)
    first_retry_seconds: float = Field(default=30, alias="CONCORDAT_DELIVERY_FIRST_RETRY_SECONDS", gt=0)
    max_retry_seconds: float = Field(default=3600, alias="CONCORDAT_DELIVERY_MAX_RETRY_SECONDS", gt=0)
    give_up_seconds: float = Field(default=172800, alias="CONCORDAT_DELIVERY_GIVE_UP_SECONDS", gt=0)
    lease_seconds: float = Field(default=120, alias="CONCORDAT_DELIVERY_LEASE_SECONDS", gt=0)
    send_timeout_seconds: float = Field(default=30, alias="CONCORDAT_DELIVERY_SEND_TIMEOUT_SECONDS", gt=0)
    batch_size: int = Field(default=20, alias="CONCORDAT_DELIVERY_BATCH_SIZE", ge=1, le=1000)
    shutdown_grace_seconds: float = Field(default=30, alias="CONCORDAT_SHUTDOWN_GRACE_SECONDS", ge=0, le=3600)
    connect_timeout_seconds: float = Field(default=300, alias="CONCORDAT_CONNECT_TIMEOUT_SECONDS", gt=0)
    log_level: str = Field(
        default="INFO", alias="CONCORDAT_LOG_LEVEL", pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$"
    )

    @field_validator("smtp_username", "smtp_password", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """Compose passes an unset ``${VARIABLE:-}`` as an empty string: no credentials."""
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

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> DispatcherSettings:
        """Read the settings, or raise ``ConfigurationError`` naming each bad variable."""
        environ = os.environ if environ is None else environ
        try:
            return cls.model_validate({k: v for k, v in environ.items() if k in _VARIABLES})
        except ValidationError as error:
            raise ConfigurationError(explain(error)) from None

    @classmethod
    def variables(cls) -> list[str]:
        return sorted(_VARIABLES)


_VARIABLES = {field.alias for field in DispatcherSettings.model_fields.values() if field.alias}
