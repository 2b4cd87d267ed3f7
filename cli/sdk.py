"""The Temporal SDK's runtime as the command line uses it: its core's log lines kept off an officer's terminal."""

from __future__ import annotations

import functools
import logging

from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig

CLI_CORE_LOGGER = "concordat.cli.sdk_core"
"""Where the command line's SDK core sends its log lines: a logger of its own that writes nothing."""


@functools.cache
def cli_runtime() -> Runtime:
    """The SDK runtime of the command line, one per process: the SDK core's own log lines (its retry warnings,
    in terminal colours) are forwarded to ``CLI_CORE_LOGGER``, which keeps them, never to an officer's terminal;
    what went wrong is said in the command's one line."""
    core = logging.getLogger(CLI_CORE_LOGGER)
    core.addHandler(logging.NullHandler())
    core.propagate = False
    forwarding = LogForwardingConfig(logger=core, prepend_target_on_message=False, append_log_fields_to_message=False)
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=LoggingConfig.default.filter,
                                                                   forwarding=forwarding)))
