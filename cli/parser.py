"""The command line's arguments: every subcommand, its flags and its handler."""

from __future__ import annotations

import argparse
import re

import cli
from cli import directory as directory_cli
from cli.actions import add_action_commands
from cli.commands import list_agreements, show_status, start
from cli.ledger import show_ledger, show_story, verify
from cli.reconcile import add_reconcile_command
from cli.seams import add_api_options
from dispatcher import cli as alerts_cli
from domain.model import Rag, Stage
from report import cli as portfolio_cli
from workflows.client import CODE_PATTERN
from workflows.seam import OPENING_TIMEOUT


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``starter.py``; each subcommand sets ``handler`` (called as ``handler(client, settings, args,
    console)``, returning the exit code) and ``needs_temporal``."""
    usage = cli.__doc__ or ""
    parser = argparse.ArgumentParser(
        prog="starter.py", description=usage.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=usage.split("\n\n", 1)[1],
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    _add_start(commands)
    add_action_commands(commands)
    _add_status_and_list(commands)
    _add_ledger_commands(commands)
    add_reconcile_command(commands)
    alerts_cli.register(commands)
    portfolio_cli.register(commands)
    directory_cli.register(commands)
    return parser


def _add_start(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("start", help="start an agreement from a YAML or JSON request file")
    command.add_argument("file", help="the agreement request (see contract/start.AgreementRequest.json); '-' for stdin")
    command.add_argument("--wait", type=float, default=OPENING_TIMEOUT.total_seconds(), metavar="SECONDS",
                         help="how long to wait for the agreement to open (default %(default).0f)")
    command.set_defaults(handler=start, needs_temporal=True)
    add_api_options(command)


def _add_status_and_list(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("status", help="show an agreement's stage, deadline, waits, milestones, KPIs, alerts")
    command.add_argument("agreement_id")
    command.add_argument("--json", action="store_true", help="print JSON for scripts")
    command.set_defaults(handler=show_status, needs_temporal=True)
    add_api_options(command)

    command = commands.add_parser("list", help="list agreements by stage, RAG or lead body (Temporal visibility)")
    command.add_argument("--stage", choices=[s.value for s in Stage])
    command.add_argument("--rag", choices=[r.value for r in Rag])
    command.add_argument("--lead", metavar="BODY", type=_body_code, help="code of the lead body")
    command.add_argument("--all", action="store_true", help="include closed agreements (left out by default)")
    command.add_argument("--limit", type=int, default=200)
    command.add_argument("--json", action="store_true", help="print JSON for scripts")
    command.set_defaults(handler=list_agreements, needs_temporal=True)


def _add_ledger_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("ledger", help="show an agreement's decisions and verify their hash chain")
    command.add_argument("agreement_id")
    command.add_argument("--json", action="store_true", help="print JSON for scripts")
    command.set_defaults(handler=show_ledger, needs_temporal=False)

    command = commands.add_parser("story", help="tell an agreement's decisions in order: who did what, when, why")
    command.add_argument("agreement_id")
    command.add_argument("--json", action="store_true", help="print JSON for scripts")
    command.set_defaults(handler=show_story, needs_temporal=False)

    command = commands.add_parser(
        "verify", help="verify the hash chain and the attestations of some agreements, or of all (attestations "
        "with the keys in CONCORDAT_ATTESTOR_KEYS, else those the ledger records)")
    command.add_argument("agreement_ids", nargs="*", metavar="AGREEMENT_ID")
    command.add_argument("--all", action="store_true", help="every agreement in the ledger")
    command.add_argument("--json", action="store_true", help="print JSON for scripts")
    command.set_defaults(handler=verify, needs_temporal=False)


def _body_code(value: str) -> str:
    """``--lead``: a body's code, as list filters take it (``workflows.client.visibility_query``)."""
    if not re.fullmatch(CODE_PATTERN, value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a body's code (letters, digits, '.', '-', '_')")
    return value
