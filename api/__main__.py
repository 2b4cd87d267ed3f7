"""Run the HTTP API: ``python -m api`` (settings from the environment: see ``api.settings`` and README)."""

import asyncio
import sys

import uvicorn

from activities.database import create_pool
from api.app import create_app
from api.settings import ApiSettings
from api.tokens import TokenVerifier
from config import ConfigurationError, Settings, configure_logging, connect_temporal
from workflows.client import AgreementClient


async def serve() -> None:
    settings, api = Settings.from_environment(), ApiSettings.from_environment()
    configure_logging(settings.log_level)
    client = await connect_temporal(settings=settings)
    pool = await create_pool(settings.database_url, max_size=4) if settings.database_url else None
    app = create_app(api, AgreementClient(client, settings.task_queue), TokenVerifier(api), pool)
    server = uvicorn.Server(uvicorn.Config(app, host=api.host, port=api.port, log_config=None))
    try:
        await server.serve()
    finally:
        if pool is not None:
            await pool.close()


def main() -> int:
    try:
        asyncio.run(serve())
    except ConfigurationError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
