"""Running one of Concordat's long-lived processes (the worker, the dispatcher, the API): waiting for its
dependencies, its exit codes, and exiting without the SDK's teardown."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import structlog
from tenacity import AsyncRetrying, RetryCallState, stop_before_delay, wait_exponential

from runtime.logging import configure_logging
from runtime.settings import ConfigurationError, ProcessSettings

T = TypeVar("T")
SettingsT = TypeVar("SettingsT", bound=ProcessSettings)


async def with_retry(
    what: str, attempt: Callable[[], Awaitable[T]], *, timeout: float, log: Any, first_delay: float = 0.5
) -> T:
    """Await ``attempt()`` until it succeeds, ``first_delay`` s between the first tries, doubling up to 10 s.

    Each failure (any ``Exception``) is logged as ``waiting_for_dependency`` on ``log``, naming ``what``. When
    the next try would start more than ``timeout`` s after the first, raises ``ConnectionError`` saying what
    could not be reached and the last error.
    """

    def log_wait(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("waiting_for_dependency", dependency=what, error=str(error), retry_in_seconds=state.upcoming_sleep)

    def give_up(state: RetryCallState) -> NoReturn:
        error = state.outcome.exception() if state.outcome else None
        raise ConnectionError(f"could not connect to {what} within {timeout:.0f} s: {error}") from error

    async def once() -> T:  # a coroutine function, which tenacity awaits (``attempt`` is often a lambda)
        return await attempt()

    retrying = AsyncRetrying(
        stop=stop_before_delay(timeout),
        wait=wait_exponential(multiplier=first_delay, max=10),
        before_sleep=log_wait,
        retry_error_callback=give_up,
    )
    result: T = await retrying(once)
    return result


def run_service(
    name: str, load: Callable[[], SettingsT], serve: Callable[[SettingsT], Coroutine[Any, Any, None]]
) -> int:
    """Run one of Concordat's long-running processes (the worker, the dispatcher, the API) and give its exit code.

    ``load`` reads its settings (a bad one, or a ``ConfigurationError`` raised by ``serve``, prints the reason
    to stderr: exit 2), JSON logs are set to their level, and ``serve`` runs until it returns (exit 0) or a
    dependency stays unreachable (``ConnectionError``, logged as ``<name>_gave_up``: exit 3).
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


def exit_now(code: int) -> NoReturn:
    """Exit with ``code`` without interpreter teardown, which the SDK's runtime threads can abort (sdk-python #300)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
