"""The command line's portfolio commands, read from the ledger's read model:

    python starter.py lessons [--tag TAG] [--lead-body CODE] [--limit N] [--json]
    python starter.py report [--lead-body CODE] [--out DIR] [--no-pdf]
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from cli.output import print_json, print_table, when
from report import __main__ as report_main
from store import read_model
from store.database import CONNECT_ERRORS, create_pool

EXIT_BAD_INPUT, EXIT_UNREACHABLE = 2, 3


async def lessons(client: Any, settings: Any, args: argparse.Namespace, console: Console) -> int:
    """The lessons learned across the portfolio, newest first."""
    errors = Console(stderr=True)
    if not settings.database_url:
        errors.print("error: DATABASE_URL is not set: lessons are kept in the ledger in PostgreSQL", markup=False)
        return EXIT_BAD_INPUT
    try:
        pool = await create_pool(settings.database_url, max_size=2)
    except CONNECT_ERRORS as error:
        errors.print(f"error: cannot reach the ledger database: {error}", markup=False)
        return EXIT_UNREACHABLE
    try:
        rows = await read_model.lessons(pool, args.lead_body, args.limit, tag=args.tag)
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


def _lesson_cells(row: read_model.LessonLine) -> list[str]:
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
