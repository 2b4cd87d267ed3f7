"""The programme board's report: ``python -m report [--lead-body CODE] [--out DIR] [--no-pdf]``.

Reads the ledger's read model (``DATABASE_URL``) and writes ``board-report.html`` and ``board-report.pdf``
(printed by headless Chromium) into ``--out`` (default ``reports/``). Exits 2 if ``DATABASE_URL`` is not set
or the lead body leads no agreement, 3 if the database cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from report import data, render
from runtime.settings import Settings
from store.database import CONNECT_ERRORS, Pool, create_pool


async def build(pool: Pool, out: Path, *, lead_body: str | None = None, with_pdf: bool = True,
                now: datetime | None = None) -> list[Path]:
    """Write the report (HTML, and PDF unless ``with_pdf`` is false) into ``out``; returns the files written."""
    content = await data.read(pool, now or datetime.now(UTC), lead_body)
    out.mkdir(parents=True, exist_ok=True)
    stem = "board-report" + (f"-{lead_body}" if lead_body else "")
    page = out / f"{stem}.html"
    page.write_text(render.html(content), encoding="utf-8")
    written = [page]
    if with_pdf:
        render.pdf(page, out / f"{stem}.pdf")
        written.append(out / f"{stem}.pdf")
    return written


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(prog="python -m report", description=__doc__.split("\n\n")[0])
    add_arguments(command)
    return command


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--lead-body", help="only the agreements this body leads (its code, e.g. E07000194)")
    command.add_argument("--out", type=Path, default=Path("reports"), help="folder to write into (default reports/)")
    command.add_argument("--no-pdf", action="store_true", help="write the HTML only")


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.database_url:
        print("DATABASE_URL is not set: the report is read from the ledger in PostgreSQL", file=sys.stderr)
        return 2
    try:
        pool = await create_pool(settings.database_url, max_size=2)
    except CONNECT_ERRORS as error:
        print(f"cannot reach the ledger database: {error}", file=sys.stderr)
        return 3
    try:
        written = await build(pool, args.out, lead_body=args.lead_body, with_pdf=not args.no_pdf)
    except LookupError as error:
        print(error.args[0], file=sys.stderr)
        return 2
    finally:
        await pool.close()
    for path in written:
        print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(parser().parse_args(argv), Settings.from_environment()))


if __name__ == "__main__":
    sys.exit(main())
