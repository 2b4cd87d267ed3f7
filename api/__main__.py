"""Run the HTTP API: ``concordat-api`` or ``python -m api`` (settings from the environment: see ``api.settings``
and README).

It waits (with backoff) for Temporal and, with DATABASE_URL, for PostgreSQL (applying the migrations as the
worker does), then serves until SIGTERM or SIGINT. With ``CONCORDAT_PAGES_URL`` set it also serves the pages for
people (``web.settings``). Exit 2: bad configuration;
exit 3: Temporal stayed unreachable. Logs are JSON lines.
"""

import os

import structlog
import uvicorn

from api.app import create_app
from api.settings import ApiSettings
from api.tokens import TokenVerifier
from runtime.service import exit_now, run_service, with_retry
from runtime.settings import Settings
from runtime.temporal import connect_temporal
from store.database import create_pool, migrate
from web.settings import PagesSettings
from workflows.client import AgreementClient

log = structlog.get_logger("concordat.api")


async def serve(settings: Settings) -> None:
    api = ApiSettings.from_environment()
    client = await with_retry("Temporal", lambda: connect_temporal(settings=settings),
                              timeout=settings.connect_timeout_seconds, log=log)
    pool = await with_retry("PostgreSQL", lambda: create_pool(settings.database_url or "", max_size=4),
                            timeout=settings.connect_timeout_seconds, log=log) if settings.database_url else None
    if pool is not None:
        await migrate(pool)  # as the worker and the dispatcher do: whichever starts first brings the schema
    pages = PagesSettings.from_environment() if os.environ.get("CONCORDAT_PAGES_URL") else None
    app = create_app(api, AgreementClient(client, settings.task_queue), TokenVerifier(api), pool, pages)
    server = uvicorn.Server(uvicorn.Config(app, host=api.host, port=api.port, log_config=None))
    try:
        await server.serve()
    finally:
        if pool is not None:
            await pool.close()


def main() -> int:
    """Serve until stopped; the exit code as ``runtime.service.run_service`` gives it."""
    return run_service("api", Settings.from_environment, serve)


def run() -> None:
    """The ``concordat-api`` command: ``main``, then exit at once (``runtime.service.exit_now``)."""
    exit_now(main())


if __name__ == "__main__":
    run()
