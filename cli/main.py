"""Running one command: parse, connect, call its handler, and turn every failure into a line and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import asyncpg
from rich.console import Console
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from cli.errors import EXIT_BAD_INPUT, EXIT_OUTCOME_UNKNOWN, EXIT_REFUSED, EXIT_UNREACHABLE, CliError
from cli.parser import build_parser
from cli.sdk import cli_runtime
from runtime.settings import ConfigurationError, Settings
from runtime.temporal import connect_temporal
from store.database import OUTAGE_ERRORS
from workflows.client import AgreementError, OutcomeUnknown


async def run_cli(argv: Sequence[str], console: Console | None = None) -> int:
    """Run one command, printing to ``console`` (default stdout); returns its exit code. Errors go to stderr
    as one readable line. Bad arguments exit (``SystemExit`` 2) as argparse does."""
    args = build_parser().parse_args(argv)
    try:
        return await _run(args, console or Console(soft_wrap=True))
    except (ConfigurationError, CliError, AgreementError, RPCError) as error:
        message, code = _explained(error)
    except OUTAGE_ERRORS as error:  # the database down, or a statement timed out: one line, never a traceback
        message, code = _explained(error)
    Console(stderr=True, soft_wrap=True).print(f"error: {message}", markup=False)
    return code


async def _run(args: argparse.Namespace, console: Console) -> int:
    settings = Settings.from_environment()
    client: Client | None = None
    if args.needs_temporal and not getattr(args, "api", None):
        try:
            client = await connect_temporal(runtime=cli_runtime(), settings=settings)
        except RuntimeError as error:
            raise CliError(f"cannot connect to Temporal: {error}", EXIT_UNREACHABLE) from None
    code: int = await args.handler(client, settings, args, console)
    return code


def _explained(error: BaseException) -> tuple[str, int]:
    """The line and exit code for a failure."""
    if isinstance(error, ConfigurationError):
        return f"bad configuration: {error}", EXIT_BAD_INPUT
    if isinstance(error, CliError):
        return str(error), error.code
    if isinstance(error, OutcomeUnknown):
        return str(error), EXIT_OUTCOME_UNKNOWN
    if isinstance(error, RPCError):
        if error.status == RPCStatusCode.NOT_FOUND:
            return f"no such agreement ({error.message})", EXIT_REFUSED
        return (f"Temporal refused the request: {error.message}",
                EXIT_UNREACHABLE if error.status == RPCStatusCode.UNAVAILABLE else EXIT_REFUSED)
    if isinstance(error, OUTAGE_ERRORS):  # never a tampering verdict (1): the ledger could not be read
        what = " ".join(str(error).split()) or type(error).__name__
        source = ("the ledger database" if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError)
                  else "Temporal or the ledger database")
        return f"{source} could not be read ({type(error).__name__}: {what}); nothing was decided", EXIT_UNREACHABLE
    return str(error), EXIT_REFUSED


def main(argv: Sequence[str] | None = None) -> int:
    """``python starter.py ...``: run the command in ``argv`` (default the process's arguments)."""
    return asyncio.run(run_cli(sys.argv[1:] if argv is None else argv))
