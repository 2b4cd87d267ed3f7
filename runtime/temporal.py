"""The connection to Temporal and the SDK runtime: how clients connect, and where the SDK core's logs and
metrics go.

Connection settings come from the SDK's environment configuration: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
TEMPORAL_API_KEY, TEMPORAL_TLS*, or a profile (TEMPORAL_PROFILE) in a TOML file (TEMPORAL_CONFIG_FILE).
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio.client import Client
from temporalio.envconfig import ClientConfig
from temporalio.runtime import LogForwardingConfig, LoggingConfig, PrometheusConfig, Runtime, TelemetryConfig

from runtime.encryption import encrypting
from runtime.settings import Settings
from workflows.converter import data_converter


async def connect_temporal(*, runtime: Runtime | None = None, settings: Settings | None = None) -> Client:
    """Connect with the SDK's environment configuration (address, default localhost:7233; namespace, TLS,
    API key, profile) and Concordat's data converter.

    With ``CONCORDAT_ENCRYPTION_KEYS`` in ``settings``, payloads are encrypted (see ``runtime.encryption``).
    Raises the SDK's error when the server cannot be reached; ``runtime.service.with_retry`` retries it.
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
