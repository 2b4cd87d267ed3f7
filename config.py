"""Configuration and wiring shared by the worker and the command line.

Temporal connection settings come from the SDK's environment configuration:
TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*, or a
profile (TEMPORAL_PROFILE) in a TOML file (TEMPORAL_CONFIG_FILE). Concordat's
own settings are the CONCORDAT_* variables and DATABASE_URL, read by ``Settings``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, TextIO, TypeVar

import structlog
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.runtime import LogForwardingConfig, LoggingConfig, PrometheusConfig, Runtime, TelemetryConfig

from domain.errors import explain
from domain.model import Code, PublicKeyPem
from encryption import EncryptionCodec, encrypting, parse_keys
from workflows.agreement import TASK_QUEUE
from workflows.converter import data_converter

T = TypeVar("T")


class Settings(BaseModel):
    """Concordat's settings, each read from the environment variable named in its alias."""

    model_config = ConfigDict(extra="ignore", frozen=True, title="worker configuration")

    database_url: str | None = Field(default=None, alias="DATABASE_URL", min_length=1)
    task_queue: str = Field(default=TASK_QUEUE, alias="CONCORDAT_TASK_QUEUE", min_length=1)
    metrics_port: int = Field(default=9464, alias="CONCORDAT_METRICS_PORT", ge=0, le=65535)
    shutdown_grace_seconds: float = Field(default=30, alias="CONCORDAT_SHUTDOWN_GRACE_SECONDS", ge=0, le=3600)
    connect_timeout_seconds: float = Field(default=300, alias="CONCORDAT_CONNECT_TIMEOUT_SECONDS", gt=0)
    log_level: str = Field(
        default="INFO", alias="CONCORDAT_LOG_LEVEL", pattern="^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$"
    )
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

    def trusted_attestor_keys(self) -> dict[str, str] | None:
        """The attestor keys configured (key id to Ed25519 public key PEM), or None when none are."""
        return trusted_keys(self.attestor_keys) if self.attestor_keys else None

    @field_validator("encryption_keys")
    @classmethod
    def _parse_encryption_keys(cls, value: str | None) -> str | None:
        if value is not None:
            parse_keys(value)  # raises ValueError naming the bad entry, reported against the variable
        return value

    def payload_codec(self) -> EncryptionCodec | None:
        """The encryption codec when keys are configured; None leaves payloads in clear text."""
        return EncryptionCodec.from_setting(self.encryption_keys) if self.encryption_keys else None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings, or raise ``ConfigurationError`` naming each bad variable."""
        environ = os.environ if environ is None else environ
        try:
            settings = cls.model_validate({k: v for k, v in environ.items() if k in _VARIABLES})
        except ValidationError as error:
            raise ConfigurationError(explain(error)) from None
        if (settings.deployment_name is None) != (settings.build_id is None):
            raise ConfigurationError(
                "CONCORDAT_DEPLOYMENT_NAME and CONCORDAT_BUILD_ID are set together (worker versioning) or not at all"
            )
        return settings

    @classmethod
    def variables(cls) -> list[str]:
        return sorted(_VARIABLES)


_VARIABLES = {field.alias for field in Settings.model_fields.values() if field.alias}


def trusted_keys(text: str) -> dict[str, str]:
    """``{"key id": "Ed25519 public key PEM", ...}`` from JSON; raises ValueError saying what is wrong."""
    try:
        keys = TypeAdapter(dict[Code, PublicKeyPem]).validate_json(text)
    except ValidationError as error:
        raise ValueError('must be JSON of the form {"key id": "-----BEGIN PUBLIC KEY-----...", ...}: '
                         + "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}"
                                     for e in error.errors(include_url=False))) from None
    return keys


class ConfigurationError(Exception):
    """The configuration is unusable; the message says which variable and why."""


async def connect_temporal(*, runtime: Runtime | None = None, settings: Settings | None = None) -> Client:
    """Connect with the SDK's environment configuration (address, namespace, TLS, API key, profile).

    With ``CONCORDAT_ENCRYPTION_KEYS`` in ``settings``, payloads are encrypted (see ``encryption.py``).
    """
    connect_config: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    connect_config.setdefault("target_host", "localhost:7233")
    if runtime is not None:
        connect_config["runtime"] = runtime
    codec = settings.payload_codec() if settings is not None else None
    converter = encrypting(data_converter, codec) if codec else data_converter
    return await Client.connect(**connect_config, data_converter=converter)


CORE_LOGGER = "temporalio.core"
"""The Python logger that receives the SDK core's (Rust) log lines, so they are written as JSON too."""


def core_telemetry(metrics: PrometheusConfig | None = None) -> TelemetryConfig:
    """The SDK core's warnings and errors forwarded to ``CORE_LOGGER`` instead of written to stderr as
    coloured text, so they reach the same handler as Concordat's structured log (JSON in a file)."""
    forwarding = LogForwardingConfig(
        logger=logging.getLogger(CORE_LOGGER), prepend_target_on_message=False, append_log_fields_to_message=False
    )
    return TelemetryConfig(logging=LoggingConfig(filter=LoggingConfig.default.filter, forwarding=forwarding),
                           metrics=metrics)


def worker_runtime(metrics_port: int) -> Runtime:
    """The SDK runtime of the worker: the core's logs as ``core_telemetry`` says, and its Prometheus
    metrics on ``metrics_port`` (none when 0)."""
    metrics = PrometheusConfig(bind_address=f"0.0.0.0:{metrics_port}") if metrics_port else None
    return Runtime(telemetry=core_telemetry(metrics))


async def with_retry(
    what: str, attempt: Callable[[], Awaitable[T]], *, timeout: float, log: Any, first_delay: float = 0.5
) -> T:
    """Call ``attempt`` until it succeeds, backing off up to 10 s between tries, for at most ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = first_delay
    while True:
        try:
            return await attempt()
        except Exception as error:  # noqa: BLE001 - any failure to connect is retried until the deadline
            if loop.time() + delay > deadline:
                raise ConnectionError(f"could not connect to {what} within {timeout:.0f} s: {error}") from error
            log.warning("waiting_for_dependency", dependency=what, error=str(error), retry_in_seconds=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


class _HasLogLevel(Protocol):
    log_level: str


SettingsT = TypeVar("SettingsT", bound=_HasLogLevel)


def run_service(
    name: str, load: Callable[[], SettingsT], serve: Callable[[SettingsT], Awaitable[None]]
) -> int:
    """Run one of Concordat's long-running processes (the worker, the dispatcher, the API) and give its exit code.

    ``load`` reads its settings (a bad one prints the reason to stderr: exit 2), JSON logs are set to their
    level, and ``serve`` runs until it returns (exit 0) or a dependency stays unreachable (``ConnectionError``,
    logged as ``<name>_gave_up``: exit 3).
    """
    try:
        settings = load()
        configure_logging(settings.log_level)
        asyncio.run(serve(settings))
    except ConfigurationError as error:
        print(f"concordat {name}: bad configuration: {error}", file=sys.stderr)
        return 2
    except ConnectionError as error:
        structlog.get_logger(f"concordat.{name}").error(f"{name}_gave_up", error=str(error))
        return 3
    return 0


def exit_now(code: int) -> None:
    """Exit without interpreter teardown, which the SDK's runtime threads can abort (sdk-python #300)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _activity_context(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Add the running activity's workflow and attempt to every log line written inside it."""
    if activity.in_activity():
        info = activity.info()
        event.setdefault("workflow_id", info.workflow_id)
        event.setdefault("workflow_run_id", info.workflow_run_id)
        event.setdefault("activity_type", info.activity_type)
        event.setdefault("attempt", info.attempt)
    return event


def _core_context(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Turn a forwarded SDK core line's ``temporal_log`` record into plain fields: its target and fields."""
    core = event.pop("temporal_log", None)
    if core is not None:
        event["core_target"] = core.target
        event["core_fields"] = core.fields
    return event


class _NamedLineLoggerFactory:
    """Structlog's line writer on ``stream``, named as the standard library names a logger (``logger`` field)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, name: str = "concordat", *_: Any) -> structlog.WriteLogger:
        logger = structlog.WriteLogger(self._stream)
        logger.name = name  # read by structlog.stdlib.add_logger_name
        return logger


def configure_logging(level: str = "INFO", *, stream: TextIO = sys.stdout, json: bool = True) -> None:
    """Structured logs for Concordat and the SDK alike; JSON for machines, or console for people.

    Every line goes to ``stream``, one JSON object a line: Concordat's structlog lines are rendered by
    structlog itself (a filtering logger: a line below ``level`` costs nothing, one above about 10 µs,
    against 25 µs through the standard library's handlers), and the SDK's Python loggers (workflow and
    activity context as fields, not appended to the message), the SDK core's lines forwarded by
    ``worker_runtime`` and Python warnings through one standard-library handler rendering the same fields.
    """
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _activity_context,
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=_NamedLineLoggerFactory(stream),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), _core_context, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
