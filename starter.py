"""The Concordat command line: start agreements, act on them, and inspect them.

    python starter.py start agreement.yaml
    python starter.py record-sign-off waste-2027 --body E07000199 --signatory "Owen Hughes" --decision approve \
        --version VERSION   # the version `status` shows
    python starter.py status waste-2027 [--json]
    python starter.py list --stage sign_off --rag red
    python starter.py ledger waste-2027
    python starter.py story waste-2027
    python starter.py verify --all
    python starter.py lessons --tag procurement
    python starter.py report --lead-body E07000194
    python starter.py alerts subscribe --label "Tamworth waste lead" --email waste@tamworth.gov.uk --body E07000199

Every command has --help; every read command takes --json. In a terminal tables fit its width; in a pipe
they are plain tab-separated columns, never cut. Exit codes: 0 done, 1 refused or failed, 2 bad input,
3 cannot connect.
Connection settings: TEMPORAL_ADDRESS (and the SDK's other TEMPORAL_* variables), DATABASE_URL. With --api URL
(or CONCORDAT_API_URL) start, the actions and status go through the Concordat API with the bearer token in
CONCORDAT_TOKEN (or --token-file): the only way to act on an agreement that requires attestation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import typing
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from dispatcher import cli as alerts_cli
from domain.errors import explain
from domain.ledger import ChainHead
from domain.model import AgreementRequest, Rag, Stage
from domain.status import (
    AgreementStatus,
    money_summary,
    rejection_summary,
    schedule_summary,
    variation_markdown,
    waiting_summary,
)
from domain.story import story
from report import cli as portfolio_cli
from runtime.settings import ConfigurationError, Settings
from runtime.temporal import connect_temporal
from workflows.agreement import workflow_id
from workflows.client import (
    OPENING_TIMEOUT,
    AgreementClient,
    AgreementError,
    AgreementRecordGone,
    candidate_ids,
    visibility_query,
)
from workflows.contract import UPDATES

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 1, 2, 3


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code


def _load_file(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", EXIT_BAD_INPUT) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CliError(f"{path} is not valid YAML or JSON: {error}", EXIT_BAD_INPUT) from None


def _validated(model: type[BaseModel], data: Any) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise CliError(explain(error), EXIT_BAD_INPUT) from None


# --- output -----------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


_RAG_STYLE = {Rag.GREEN: "green", Rag.AMBER: "yellow", Rag.RED: "bold red"}


def print_table(console: Console, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table that fits the terminal (long cells wrap, none is cut); in a pipe, plain tab-separated columns
    under a header line, every value whole, for ``cut``, ``awk -F'\\t'`` or a spreadsheet."""
    if console.is_terminal:
        table = Table(*columns, title=title, expand=False)
        for column in table.columns:
            column.overflow = "fold"
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))  # values as written, never read as markup
        console.print(table)
        return
    for line in (columns, *rows):
        console.file.write("\t".join(cell.replace("\t", " ").replace("\n", " ") for cell in line) + "\n")


def _named(status: AgreementStatus, code: str) -> str:
    """A body's name beside its code: 'Tamworth Borough Council (E07000199)'."""
    name = status.body_names.get(code)
    return f"{name} ({code})" if name else code


def print_status(console: Console, status: AgreementStatus) -> None:
    console.print(f"[bold]{escape(status.title)}[/bold] ({status.agreement_id})")
    console.print(f"Lead: {escape(_named(status, status.lead_body))}", highlight=False)
    rag = f"[{_RAG_STYLE[status.rag]}]{status.rag.value.upper()}[/]"
    console.print(f"Stage: {status.stage.label}   RAG: {rag}   Deadline: {_when(status.deadline)}")
    console.print(escape(waiting_summary(status)), highlight=False)
    if status.stage is Stage.SIGN_OFF and status.version:
        console.print(f"Version to sign (--version): {status.version}", highlight=False)
    if rejection := rejection_summary(status):
        console.print(f"[bold red]Rejected:[/] {escape(rejection)}", highlight=False)
    if case := money_summary(status):
        console.print(f"Case: {case}", highlight=False)
    if schedule := schedule_summary(status):
        console.print(f"Reviews: {schedule}", highlight=False)
    if status.sign_offs:
        print_table(console, f"Sign-off round {status.sign_off_round}", ["Body", "Signatory", "Decision", "Reason", "At"],
                    [[_named(status, s.body), s.signatory, s.decision.value, s.reason or "-", _when(s.at)]
                     for s in status.sign_offs])
    if status.milestones:
        print_table(console, "Milestones", ["Milestone", "Owner", "Due", "Status", "Done"],
                    [[m.title, _named(status, m.owner_body), str(m.due), m.status.value.replace("_", " "),
                      f"{m.percent_complete}%"] for m in status.milestones])
    if status.kpis:
        print_table(console, f"KPIs (review {status.review_number})", ["KPI", "Target", "Reading", "RAG"],
                    [[k.name, f"{k.target} {k.unit}", "-" if k.reading is None else f"{k.reading} {k.unit}",
                      k.rag.value if k.rag else "-"] for k in status.kpis])
    if status.variation:
        console.print(variation_markdown(status, status.variation), markup=False)
        if status.variation.version:
            console.print(f"Variation version to sign (--version): {status.variation.version}", highlight=False)
    print_table(console, "Signatory register", ["Body", "Signatories", "Retired"],
                [[status.body_names.get(code, code), ", ".join(s.name for s in signatories) or "none",
                  ", ".join(f"{r.name} ({r.retired_on})" for r in status.retired_signatories if r.body == code)
                  or "-"] for code, signatories in status.signatories.items()])
    for alert in status.open_alerts:
        console.print(f"[bold red]alert[/] {alert.level}: {escape(alert.subject)} {escape(alert.off_by)}", highlight=False)
    if status.closure:
        console.print(f"Closed: {status.closure.outcome.value} ({escape(status.closure.reason)}) "
                      f"at {_when(status.closure.at)}", highlight=False)


def _print_json(console: Console, data: Any) -> None:
    """Indented and coloured in a terminal; in a pipe, one unbroken line of JSON."""
    if console.is_terminal:
        console.print_json(json.dumps(data, default=str))
    else:
        console.file.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")


# --- commands ----------------------------------------------------------------------------------


def _agreements(client: Client, settings: Settings) -> AgreementClient:
    return AgreementClient(client, settings.task_queue)


def _through(client: Client | None, settings: Settings, args: argparse.Namespace) -> Any:
    """The seam a command acts through: the HTTP API as the token's holder with ``--api``, else Temporal."""
    if not getattr(args, "api", None):
        assert client is not None
        return _agreements(client, settings)
    from api.client import ApiClient

    if args.token_file:
        token = Path(args.token_file).read_text().strip()
    else:
        token = os.environ.get("CONCORDAT_TOKEN", "").strip()
    if not token:
        raise CliError("--api needs a token: set CONCORDAT_TOKEN or pass --token-file", EXIT_BAD_INPUT)
    return ApiClient(args.api, token)


def _add_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", metavar="URL", default=os.environ.get("CONCORDAT_API_URL") or None,
                        help="act through the Concordat API at URL as the holder of a token (CONCORDAT_TOKEN or "
                        "--token-file), instead of directly on Temporal; default CONCORDAT_API_URL")
    parser.add_argument("--token-file", metavar="FILE", help="a file holding the bearer token for --api")


async def start(client: Client, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    request = _validated(AgreementRequest, _load_file(args.file))
    assert isinstance(request, AgreementRequest)
    seam = _through(client, settings, args)
    status = await (seam.start(request) if args.api else seam.start(request, timeout=timedelta(seconds=args.wait)))
    console.print(f"started agreement {request.agreement_id} (workflow {workflow_id(request.agreement_id)}): "
                  f"opened in {status.stage.label}")
    return 0


async def act(client: Client, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    model = UPDATES[args.update]
    payload: dict[str, Any] = {"actor": {"body": args.body, "signatory": args.signatory}}
    for name, field in model.model_fields.items():
        if name == "actor":
            continue
        value = getattr(args, name, None)
        if value is not None:
            payload[name] = _load_file(value) if _is_structured(field.annotation) else value
    if getattr(args, "reading", None):
        payload.setdefault("readings", []).extend(_parse_reading(r) for r in args.reading)
    action = _validated(model, payload)
    status = await _through(client, settings, args).act(args.agreement_id, args.update, action)
    if args.json:
        _print_json(console, status.model_dump(mode="json"))
    else:
        console.print(f"accepted: {args.update.replace('_', ' ')}")
        print_status(console, status)
    return 0


async def show_status(client: Client, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    try:
        status = await _through(client, settings, args).status(args.agreement_id)
    except AgreementRecordGone as gone:
        if args.json:
            _print_json(console, {"agreement_id": gone.agreement_id, "temporal_record": "deleted",
                                  "message": str(gone)})
        else:
            console.print(str(gone), markup=False)
        return 0
    if args.json:
        _print_json(console, status.model_dump(mode="json"))
    else:
        print_status(console, status)
    return 0


async def list_agreements(client: Client, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    query = visibility_query(args.stage, args.rag, args.lead, args.all)
    rows = [
        {"agreement_id": row.agreement_id, "title": row.title, "stage": row.stage, "rag": row.rag,
         "lead_body": row.lead_body, "next_deadline": row.next_deadline, "open_alerts": row.open_alerts,
         "status": row.execution_status}
        async for row in _agreements(client, settings).list(
            stage=args.stage, rag=args.rag, lead=args.lead, include_closed=args.all, limit=args.limit)
    ]
    if args.json:
        _print_json(console, rows)
    else:
        print_table(console, query, ["Agreement", "Title", "Stage", "RAG", "Lead", "Next deadline", "Alerts", "Workflow"],
                    [[r["agreement_id"], r["title"] or "-", (r["stage"] or "-").replace("_", " "), r["rag"] or "-",
                      r["lead_body"] or "-", _when(r["next_deadline"]), str(r["open_alerts"] or 0), r["status"] or "-"]
                     for r in rows])
    if not args.all:
        closed_query = visibility_query(args.stage, args.rag, args.lead, True) + " AND ExecutionStatus != 'Running'"
        if closed := (await client.count_workflows(closed_query)).count:
            Console(stderr=True).print(
                f"{closed} closed agreement{'s' * (closed != 1)} also match{'es' * (closed == 1)}; "
                "add --all to include closed agreements", markup=False, highlight=False)
    return 0


async def _ledger_pool(settings: Settings) -> Any:
    from store.database import create_pool

    if not settings.database_url:
        raise CliError("DATABASE_URL is not set: the ledger lives in PostgreSQL", EXIT_BAD_INPUT)
    try:
        return await create_pool(settings.database_url, max_size=2)
    except (OSError, Exception) as error:  # asyncpg raises several unrelated types here
        raise CliError(f"cannot reach the ledger database: {error}", EXIT_UNREACHABLE) from None


async def _ledger_ids(pool: Any, names: list[str]) -> list[str]:
    """The agreement ids named, each given as an agreement id or as the Web UI's workflow id."""
    from store.ledger import has_decisions

    ids = []
    for name in names:
        found = [candidate for candidate in candidate_ids(name) if await has_decisions(pool, candidate)]
        ids.append(found[0] if found else name)
    return ids


async def _verified_entries(
    settings: Settings, name: str
) -> tuple[list[Any], Any, dict[str, ChainHead | str]]:
    """The agreement's ledger entries (none if its chain is broken), the chain's verification, and where the
    agreement's workflow says the chain ends (or why it cannot say). ``name`` is an agreement or workflow id."""
    from store.ledger import read_ledger, verify_ledger

    pool = await _ledger_pool(settings)
    try:
        [agreement_id] = await _ledger_ids(pool, [name])
        anchors = await _anchors(settings, [agreement_id])
        verification = await verify_ledger(pool, agreement_id, _head(anchors, agreement_id))
        entries = await read_ledger(pool, agreement_id) if verification.valid else []
    finally:
        await pool.close()
    if verification.entries == 0:
        raise CliError(f"the ledger holds no decisions for agreement {agreement_id}")
    return entries, verification, anchors


async def show_ledger(client: Client | None, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    entries, verification, anchors = await _verified_entries(settings, args.agreement_id)
    if args.json:
        _print_json(console, {"entries": [e.model_dump(mode="json") for e in entries],
                              "verification": verification.model_dump(mode="json")})
    else:
        print_table(console, verification.agreement_id, ["#", "Decided", "Stage", "Decision", "By", "What", "Hash"],
                    [[str(line.seq), _when(line.at), line.stage.label, e.kind, line.who or "-",
                      line.what + (f": {line.why}" if line.why else ""), e.hash[:12]]
                     for e, line in zip(entries, story(entries), strict=True)])
        _print_verification(console, verification, anchors)
    return 0 if verification.valid else EXIT_REFUSED


async def show_story(client: Client | None, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    entries, verification, anchors = await _verified_entries(settings, args.agreement_id)
    lines = story(entries)
    if args.json:
        _print_json(console, {"story": [line.model_dump(mode="json") for line in lines],
                              "verification": verification.model_dump(mode="json")})
    elif console.is_terminal:
        for line in lines:
            who = f"{line.who} " if line.who else ""
            why = f" ({line.why})" if line.why else ""
            console.print(f"{_when(line.at)}  [bold]{escape(who)}[/bold]{escape(line.what)}{escape(why)}", highlight=False)
        _print_verification(console, verification, anchors)
    else:
        print_table(console, verification.agreement_id, ["When", "Stage", "Who", "What", "Why"],
                    [[_when(line.at), line.stage.label, line.who or "-", line.what, line.why or "-"] for line in lines])
        _print_verification(console, verification, anchors)
    return 0 if verification.valid else EXIT_REFUSED


async def _anchors(settings: Settings, agreement_ids: list[str]) -> dict[str, ChainHead | str]:
    """Where each agreement's workflow says its chain ends or, where Temporal cannot say, why not.

    The database alone cannot show rows cut off the end of a chain; the workflow's own record can.
    """
    try:
        client = await asyncio.wait_for(connect_temporal(settings=settings), timeout=10)
    except (RuntimeError, TimeoutError):
        return dict.fromkeys(agreement_ids, "Temporal could not be reached")
    agreements = _agreements(client, settings)
    anchors: dict[str, ChainHead | str] = {}
    for agreement_id in agreement_ids:
        try:
            anchors[agreement_id] = await agreements.ledger_head(agreement_id)
        except AgreementRecordGone:
            anchors[agreement_id] = "Temporal no longer holds the agreement's record (past its retention period)"
        except AgreementError as error:
            anchors[agreement_id] = str(error)
        except RPCError as error:
            anchors[agreement_id] = f"Temporal did not answer: {error.message}"
    return anchors


def _head(anchors: dict[str, ChainHead | str], agreement_id: str) -> ChainHead | None:
    anchor = anchors.get(agreement_id)
    return anchor if isinstance(anchor, ChainHead) else None


def _print_verification(console: Console, verification: Any, anchors: dict[str, ChainHead | str]) -> None:
    if verification.valid:
        anchor = anchors.get(verification.agreement_id)
        note = (" and matches the agreement's workflow" if isinstance(anchor, ChainHead)
                else f"; the ledger alone was checked, it could not be anchored to the workflow: {anchor}")
        console.print(f"[green]hash chain verified[/]: {verification.agreement_id}, "
                      f"{verification.entries} decisions{note}")
    else:
        console.print(f"[bold red]hash chain BROKEN[/]: {verification.agreement_id} at decision "
                      f"#{verification.first_bad_seq}: {verification.problem}")


async def verify(client: Client | None, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    """Verify each agreement's hash chain, and every attestation its ledger keeps (naming the first row that
    fails) with the attestor keys configured, or else those the ledger records."""
    from domain.proof import recorded_keys, verify_attestations
    from store.ledger import agreement_ids, read_ledger, verify_ledger

    if not args.agreement_ids and not args.all:
        raise CliError("name one or more agreements, or pass --all", EXIT_BAD_INPUT)
    pool = await _ledger_pool(settings)
    try:
        ids = await _ledger_ids(pool, args.agreement_ids) if args.agreement_ids else await agreement_ids(pool)
        anchors = await _anchors(settings, ids)
        results = [await verify_ledger(pool, agreement_id, _head(anchors, agreement_id)) for agreement_id in ids]
        ledgers = [await read_ledger(pool, agreement_id) for agreement_id in ids]
    finally:
        await pool.close()
    for result in results:
        if result.entries == 0:
            raise CliError(f"the ledger holds no decisions for agreement {result.agreement_id}")
    keys = settings.trusted_attestor_keys()
    proofs = [verify_attestations(result.agreement_id, entries, keys if keys is not None else recorded_keys(entries))
              for result, entries in zip(results, ledgers, strict=True)]
    if args.json:
        _print_json(console, [{**result.model_dump(mode="json"), "attestations": proof.model_dump(mode="json")}
                              for result, proof in zip(results, proofs, strict=True)])
    else:
        for result, proof in zip(results, proofs, strict=True):
            _print_verification(console, result, anchors)
            _print_attestations(console, proof, trusted=keys is not None)
    return 0 if all(r.valid for r in results) and all(p.valid for p in proofs) else EXIT_REFUSED


def _print_attestations(console: Console, proof: Any, *, trusted: bool) -> None:
    if not proof.attested:
        return
    if not proof.valid:
        console.print(f"[bold red]attestation FAILS[/]: {proof.agreement_id} at decision #{proof.first_bad_seq}: "
                      f"{proof.problem}")
        return
    source = ("the attestor keys configured (CONCORDAT_ATTESTOR_KEYS)" if trusted else
              "the keys the ledger itself records (set CONCORDAT_ATTESTOR_KEYS to check without trusting the database)")
    console.print(f"[green]attestations verified[/]: {proof.agreement_id}, {proof.attested} attested actions, "
                  f"with {source}")


# --- argument parsing -----------------------------------------------------------------------------


def _is_structured(annotation: Any) -> bool:
    """Models and lists come from a file; plain values from a flag."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _is_structured(typing.get_args(annotation)[0])
    return origin is list or (isinstance(annotation, type) and issubclass(annotation, BaseModel))


def _parse_reading(text: str) -> dict[str, str]:
    kpi_id, sep, value = text.partition("=")
    if not sep:
        raise CliError(f"--reading takes KPI=VALUE, not {text!r}", EXIT_BAD_INPUT)
    return {"kpi_id": kpi_id.strip(), "value": value.strip()}


def _add_action_command(commands: Any, name: str, model: type[BaseModel]) -> None:
    parser = commands.add_parser(
        name.replace("_", "-"), help=(model.__doc__ or name).strip().splitlines()[0], description=model.__doc__
    )
    parser.set_defaults(handler=act, update=name, needs_temporal=True)
    parser.add_argument("agreement_id", help="the agreement's id")
    parser.add_argument("--body", required=True, help="code of the body acting (e.g. its GSS code)")
    parser.add_argument("--signatory", required=True, help="the named signatory acting for that body")
    for field_name, field in model.model_fields.items():
        if field_name in ("actor", "attestation"):  # the actor has its own flags; the API sets an attestation
            continue
        flag = "--" + field_name.replace("_", "-")
        if _is_structured(field.annotation):
            parser.add_argument(flag, dest=field_name, required=field.is_required() and name != "record_kpi_readings",
                                metavar="FILE", help=f"YAML or JSON file holding the {field_name} ('-' for stdin)")
        else:
            choices = [m.value for m in field.annotation] if isinstance(field.annotation, type) and issubclass(
                field.annotation, Enum) else None
            parser.add_argument(flag, dest=field_name, required=field.is_required(), choices=choices,
                                help=field.description or field_name.replace("_", " "))
    if name == "record_kpi_readings":
        parser.add_argument("--reading", action="append", metavar="KPI=VALUE", help="one reading; repeatable")
    parser.add_argument("--json", action="store_true", help="print the new status as JSON")
    _add_api_options(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="starter.py", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    command = commands.add_parser("start", help="start an agreement from a YAML or JSON request file")
    command.add_argument("file", help="the agreement request (see contract/start.AgreementRequest.json); '-' for stdin")
    command.add_argument("--wait", type=float, default=OPENING_TIMEOUT.total_seconds(), metavar="SECONDS",
                         help="how long to wait for the agreement to open (default %(default).0f)")
    command.set_defaults(handler=start, needs_temporal=True)
    _add_api_options(command)

    for name, model in UPDATES.items():
        _add_action_command(commands, name, model)

    command = commands.add_parser("status", help="show an agreement's stage, deadline, waits, milestones, KPIs, alerts")
    command.add_argument("agreement_id")
    command.add_argument("--json", action="store_true", help="print JSON for scripts")
    command.set_defaults(handler=show_status, needs_temporal=True)
    _add_api_options(command)

    command = commands.add_parser("list", help="list agreements by stage, RAG or lead body (Temporal visibility)")
    command.add_argument("--stage", choices=[s.value for s in Stage])
    command.add_argument("--rag", choices=[r.value for r in Rag])
    command.add_argument("--lead", metavar="BODY", help="code of the lead body")
    command.add_argument("--all", action="store_true", help="include closed agreements (left out by default)")
    command.add_argument("--limit", type=int, default=200)
    command.add_argument("--json", action="store_true", help="print JSON for scripts")
    command.set_defaults(handler=list_agreements, needs_temporal=True)

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

    alerts_cli.register(commands)
    portfolio_cli.register(commands)
    return parser


async def run_cli(argv: Sequence[str], console: Console | None = None) -> int:
    """Run one command; returns its exit code. Errors go to stderr as one readable line."""
    console = console or Console(soft_wrap=True)
    errors = Console(stderr=True, soft_wrap=True)
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_environment()
        client = None
        if args.needs_temporal and not getattr(args, "api", None):
            try:
                client = await connect_temporal(settings=settings)
            except RuntimeError as error:
                raise CliError(f"cannot connect to Temporal: {error}", EXIT_UNREACHABLE) from None
        return await args.handler(client, settings, args, console)
    except ConfigurationError as error:
        errors.print(f"error: bad configuration: {error}", markup=False)
        return EXIT_BAD_INPUT
    except CliError as error:
        errors.print(f"error: {error}", markup=False)
        return error.code
    except AgreementError as error:
        errors.print(f"error: {error}", markup=False)
        return EXIT_REFUSED
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            errors.print(f"error: no such agreement ({error.message})", markup=False)
            return EXIT_REFUSED
        errors.print(f"error: Temporal refused the request: {error.message}", markup=False)
        return EXIT_UNREACHABLE if error.status == RPCStatusCode.UNAVAILABLE else EXIT_REFUSED


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run_cli(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    from runtime.service import exit_now

    exit_now(main())
