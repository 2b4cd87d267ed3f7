"""Concordat's settings: one base that reads environment variables, and the worker's (and CLI's) settings.

Every setting is a field whose alias is the variable it is read from. ``EnvironmentSettings`` is the base of
the worker's ``Settings`` (here), the dispatcher's (``dispatcher/settings.py``) and the API's
(``api/settings.py``); ``from_environment`` reads the variables with pydantic-settings and raises
``ConfigurationError`` naming each bad one, which a process reports with exit code 2 (``runtime.service``).

Temporal connection settings are not here: they come from the SDK's environment configuration
(TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, or a profile, TEMPORAL_PROFILE, in a
TOML file, TEMPORAL_CONFIG_FILE), read by ``runtime.temporal.connect_temporal``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from domain.errors import explain
from domain.model import Code, PublicKeyPem
from runtime.encryption import EncryptionCodec, parse_keys
from workflows.agreement import TASK_QUEUE


class ConfigurationError(Exception):
    """The configuration is unusable; the message says which variable and why."""


class EnvironmentSettings(BaseSettings):
    """Settings each read from the environment variable named in its field's alias (names are case-sensitive).

    Constructing one directly (``Settings()``, ``ApiSettings.model_validate({...})``) uses only the values given
    and the defaults, never the process environment: ``from_environment`` says which environment to read.
    """

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the constructor's values: the environment is read by ``from_environment``, .env files never."""
        return (init_settings,)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Read the settings from ``environ`` (default: the process environment), variables unknown to these
        settings ignored; raises ``ConfigurationError`` naming each bad or missing variable."""
        variables = EnvSettingsSource(cls)
        if environ is not None:
            variables.env_vars = dict(environ)
        try:
            return cls(**variables())
        except ValidationError as error:
            raise ConfigurationError(explain(error)) from None

    @classmethod
    def variables(cls) -> list[str]:
        """The names of the environment variables these settings read, sorted."""
        return sorted(field.alias for field in cls.model_fields.values() if field.alias)


class ProcessSettings(EnvironmentSettings):
    """What every long-running process (worker, dispatcher, API) reads: its database, its log level, and how long
    it waits for its dependencies and for work in flight when stopped."""

    database_url: str | None = Field(default=None, alias="DATABASE_URL", min_length=1)
    shutdown_grace_seconds: float = Field(default=30, alias="CONCORDAT_SHUTDOWN_GRACE_SECONDS", ge=0, le=3600)
    connect_timeout_seconds: float = Field(default=300, alias="CONCORDAT_CONNECT_TIMEOUT_SECONDS", gt=0)
    log_level: str = Field(
        default="INFO", alias="CONCORDAT_LOG_LEVEL", pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$"
    )


class Settings(ProcessSettings):
    """The settings of the worker, the command line and the API's Temporal client (README, "Operating the worker")."""

    model_config = SettingsConfigDict(title="worker configuration")

    task_queue: str = Field(default=TASK_QUEUE, alias="CONCORDAT_TASK_QUEUE", min_length=1)
    metrics_port: int = Field(default=9464, alias="CONCORDAT_METRICS_PORT", ge=0, le=65535)
    register_search_attributes: bool = Field(default=True, alias="CONCORDAT_REGISTER_SEARCH_ATTRIBUTES")
    max_cached_workflows: int = Field(default=1000, alias="CONCORDAT_MAX_CACHED_WORKFLOWS", ge=0)
    max_concurrent_activities: int = Field(default=100, alias="CONCORDAT_MAX_CONCURRENT_ACTIVITIES", ge=1)
    database_pool_size: int = Field(default=10, alias="CONCORDAT_DATABASE_POOL_SIZE", ge=1, le=1000)
    deployment_name: str | None = Field(default=None, alias="CONCORDAT_DEPLOYMENT_NAME", min_length=1)
    build_id: str | None = Field(default=None, alias="CONCORDAT_BUILD_ID", min_length=1)
    encryption_keys: str | None = Field(
        default=None,
        alias="CONCORDAT_ENCRYPTION_KEYS",
        repr=False,  # key material stays out of logs and tracebacks
        description="keyid:base64key,... (AES-256); the first encrypts payloads, all decrypt",
    )
    attestor_keys: str | None = Field(
        default=None,
        alias="CONCORDAT_ATTESTOR_KEYS",
        description='The attestor public keys that `starter.py verify` trusts, as JSON: {"key id": "PEM", ...} '
        "(the API's GET /attestor-keys gives its own). Unset, verify uses the keys the ledger records.",
    )

    @field_validator("attestor_keys")
    @classmethod
    def _parse_attestor_keys(cls, value: str | None) -> str | None:
        if value is not None:
            trusted_keys(value)  # raises ValueError naming what is wrong, reported against the variable
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _parse_encryption_keys(cls, value: str | None) -> str | None:
        if value is not None:
            parse_keys(value)  # raises ValueError naming the bad entry, reported against the variable
        return value

    @model_validator(mode="after")
    def _versioned_together(self) -> Self:
        if (self.deployment_name is None) != (self.build_id is None):
            raise ValueError(
                "CONCORDAT_DEPLOYMENT_NAME and CONCORDAT_BUILD_ID are set together (worker versioning) or not at all"
            )
        return self

    def trusted_attestor_keys(self) -> dict[str, str] | None:
        """The attestor keys configured (key id to Ed25519 public key PEM), or None when none are."""
        return trusted_keys(self.attestor_keys) if self.attestor_keys else None

    def payload_codec(self) -> EncryptionCodec | None:
        """The encryption codec when keys are configured; None leaves payloads in clear text."""
        return EncryptionCodec.from_setting(self.encryption_keys) if self.encryption_keys else None


def trusted_keys(text: str) -> dict[str, str]:
    """``{"key id": "Ed25519 public key PEM", ...}`` from JSON; raises ValueError saying what is wrong."""
    try:
        keys = TypeAdapter(dict[Code, PublicKeyPem]).validate_json(text)
    except ValidationError as error:
        raise ValueError('must be JSON of the form {"key id": "-----BEGIN PUBLIC KEY-----...", ...}: '
                         + "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}"
                                     for e in error.errors(include_url=False))) from None
    return keys
