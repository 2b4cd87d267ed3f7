"""The command line's portfolio commands, read from the ledger's read model:

    python starter.py lessons [--tag TAG] [--lead-body CODE] [--limit N] [--json]
    python starter.py report [--lead-body CODE] [--out DIR] [--no-pdf]
"""

from __future__ import annotations

import argparse
from typing import Any

import asyncpg
from rich.console import Console

from activities.database import create_pool
from cli.output import print_json, print_table, when
from report import __main__ as report_main

EXIT_BAD_INPUT, EXIT_UNREACHABLE = 2, 3

_LESSONS = """
    SELECT l.recorded_at, l.agreement_id, a.title, a.lead_body, a.lead_body_name, l.review_number, l.body,
           l.signatory, l.what_worked, l.what_did_not, l.tags
    FROM rm_lessons l JOIN rm_agreements a USING (agreement_id)
    WHERE ($1::text IS NULL OR $1 = ANY(l.tags)) AND ($2::text IS NULL OR a.lead_body = $2)
    ORDER BY l.recorded_at DESC, l.agreement_id, l.seq DESC
    LIMIT $3"""


async def lessons(client: Any, settings: Any, args: argparse.Namespace, console: Console) -> int:
    """The lessons learned across the portfolio, newest first."""
    errors = Console(stderr=True)
    if not settings.database_url:
        errors.print("error: DATABASE_URL is not set: lessons are kept in the ledger in PostgreSQL", markup=False)
        return EXIT_BAD_INPUT
    try:
        pool = await create_pool(settings.database_url, max_size=2)
    except (OSError, asyncpg.PostgresError) as error:
        errors.print(f"error: cannot reach the ledger database: {error}", markup=False)
        return EXIT_UNREACHABLE
    try:
        rows = [dict(row) for row in await pool.fetch(_LESSONS, args.tag, args.lead_body, args.limit)]
    finally:
        await pool.close()
    if args.json:
        print_json(console, rows)
        return 0
    title = "Lessons learned" + (f" tagged {args.tag}" if args.tag else "") + (
        f", agreements led by {args.lead_body}" if args.lead_body else "")
    print_table(console, title, ["Recorded", "Agreement", "Review", "By", "What worked", "What did not", "Tags"],
                [_lesson_cells(row) for row in rows])
    if not rows:
        console.print("No lessons recorded" + (" with that tag" if args.tag else "") + " yet.")
    return 0


def _lesson_cells(row: dict[str, Any]) -> list[str]:
    return [when(row["recorded_at"]), f"{row['title']} ({row['agreement_id']})", str(row["review_number"]),
            row["signatory"] or "-", row["what_worked"] or "-", row["what_did_not"] or "-",
            ", ".join(row["tags"]) or "-"]


async def report(client: Any, settings: Any, args: argparse.Namespace, console: Console) -> int:
    """The programme board's report (as ``python -m report``)."""
    return await report_main.run(args, settings)


def register(commands: Any) -> None:
    """Add the ``lessons`` and ``report`` commands to the command line's subcommands."""
    command = commands.add_parser("lessons", help="lessons learned at reviews, across the portfolio (newest first)")
    command.add_argument("--tag", help="only lessons with this tag")
    command.add_argument("--lead-body", metavar="CODE", help="only agreements this body leads")
    command.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    command.add_argument("--json", action="store_true", help="print JSON for scripts")
    command.set_defaults(handler=lessons, needs_temporal=False)

    command = commands.add_parser("report", help="the programme board's report: HTML and PDF, with charts")
    report_main.add_arguments(command)
    command.set_defaults(handler=report, needs_temporal=False)
