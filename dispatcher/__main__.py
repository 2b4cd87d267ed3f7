"""``concordat-dispatcher`` or ``python -m dispatcher``: the long-running process that sends alert deliveries.

It waits (with backoff) for PostgreSQL, applies the migrations, then dispatches until
SIGTERM or SIGINT; it lets the batch in flight finish within the grace period and exits 0.
Exit 2: bad configuration; exit 3: PostgreSQL stayed unreachable. Logs are JSON lines.
Settings: ``dispatcher/settings.py`` and the README's "Alerts that reach people".
"""

from __future__ import annotations

import asyncio
import signal

import structlog

from dispatcher.service import Dispatcher
from dispatcher.settings import DispatcherSettings
from runtime.service import exit_now, run_service, with_retry
from runtime.settings import ConfigurationError
from store.database import create_pool, migrate

log = structlog.get_logger("concordat.dispatcher")


async def serve(settings: DispatcherSettings) -> None:
    if not settings.database_url:
        raise ConfigurationError("DATABASE_URL is not set: the dispatcher reads its outbox from PostgreSQL")
    pool = await with_retry(
        "PostgreSQL",
        lambda: create_pool(settings.database_url or "", max_size=4),
        timeout=settings.connect_timeout_seconds,
        log=log,
    )
    try:
        await migrate(pool)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        running = asyncio.create_task(Dispatcher(pool, settings).run(stop))
        log.info("dispatcher_started", smtp=f"{settings.smtp_host}:{settings.smtp_port}",
                 poll_seconds=settings.poll_seconds)
        await asyncio.wait([running, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            log.info("dispatcher_stopping", grace_seconds=settings.shutdown_grace_seconds)
            try:
                await asyncio.wait_for(running, timeout=settings.shutdown_grace_seconds)
            except TimeoutError:
                log.warning("dispatcher_stopped_mid_send", note="unfinished deliveries are resent after their lease")
        else:
            await running
        log.info("dispatcher_stopped")
    finally:
        await pool.close()


def main() -> int:
    """Dispatch until stopped; the exit code as ``runtime.service.run_service`` gives it."""
    return run_service("dispatcher", DispatcherSettings.from_environment, serve)


def run() -> None:
    """The ``concordat-dispatcher`` command: ``main``, then exit at once (``runtime.service.exit_now``)."""
    exit_now(main())


if __name__ == "__main__":
    run()
