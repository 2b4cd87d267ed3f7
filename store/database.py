"""Connecting to PostgreSQL and keeping its schema current with the versioned migrations in ``store/migrations``."""

from importlib import resources
from typing import TypeAlias

import asyncpg
import structlog

log = structlog.get_logger(__name__)

Pool: TypeAlias = asyncpg.Pool
"""A pool of connections to Concordat's database; every function of ``store`` takes one."""

CONNECT_ERRORS: tuple[type[BaseException], ...] = (OSError, asyncpg.PostgresError)
"""What ``create_pool`` raises when the database cannot be reached or refuses the connection."""

OUTAGE_ERRORS: tuple[type[BaseException], ...] = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError,
                                                  TimeoutError)
"""What any call of ``store`` may raise while the database is down, restarting or unreachable."""

# Any constant works; it only has to be the same for every worker of this database.
_MIGRATION_LOCK = 0x436F6E63


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> Pool:
    """A pool of ``min_size`` to ``max_size`` connections to ``dsn`` (a ``postgresql://`` URL).

    Raises one of ``CONNECT_ERRORS`` if the database cannot be reached."""
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)


def _migrations() -> list[tuple[int, str, str]]:
    files = resources.files("store") / "migrations"
    found = []
    for entry in files.iterdir():
        if entry.name.endswith(".sql"):
            version, _, name = entry.name.removesuffix(".sql").partition("_")
            found.append((int(version), name, entry.read_text()))
    return sorted(found)


async def migrate(pool: Pool) -> list[int]:
    """Apply the migrations this database lacks, in order, each in its own transaction; returns their versions.

    An advisory lock makes workers that start together take turns, so each
    migration runs exactly once.
    """
    applied_now = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer     PRIMARY KEY,
                       name       text        NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            applied = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, name, sql in _migrations():
                if version in applied:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
                log.info("migration_applied", version=version, name=name)
                applied_now.append(version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now
