"""``starter.py start``, ``status`` and ``list``: open an agreement, read one, list them."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from rich.console import Console
from temporalio.client import Client

from cli.errors import EXIT_BAD_INPUT, CliError
from cli.inputs import load_file, validated
from cli.output import print_json, print_table, when
from cli.seams import agreements_for
from cli.status import print_status
from domain.model import AgreementRequest, Stage
from runtime.settings import Settings
from store.ledger import read_ledger
from workflows.agreement import workflow_id
from workflows.client import (
    AgreementClient,
    AgreementNotFound,
    AgreementRecordGone,
    AgreementRow,
    candidate_ids,
    visibility_query,
)


async def start(client: Client | None, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    """Start the agreement the request file describes and wait (``--wait`` seconds) until it has opened."""
    request = validated(AgreementRequest, load_file(args.file))
    status = await agreements_for(client, settings, args).start(request, timeout=timedelta(seconds=args.wait))
    console.print(f"started agreement {request.agreement_id} (workflow {workflow_id(request.agreement_id)}): "
                  f"opened in {status.stage.label}")
    return 0


async def show_status(client: Client | None, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    """The agreement's status; for one Temporal no longer holds, where its decisions are."""
    try:
        status = await agreements_for(client, settings, args).status(args.agreement_id)
    except AgreementRecordGone as gone:
        if args.json:
            print_json(console, {"agreement_id": gone.agreement_id, "temporal_record": "deleted",
                                 "message": str(gone)})
        else:
            console.print(str(gone), markup=False)
        return 0
    except AgreementNotFound:
        gone_from = await _from_the_ledger(settings, args.agreement_id)
        if gone_from is None:
            raise
        if args.json:
            print_json(console, gone_from)
        else:
            console.print(gone_from["message"], markup=False)
        return 0
    if args.json:
        print_json(console, status.model_dump(mode="json"))
    else:
        print_status(console, status)
    return 0


async def _from_the_ledger(settings: Settings, name: str) -> dict[str, Any] | None:
    """What the ledger says of an agreement Temporal no longer holds (its history deleted, or past retention),
    as JSON with a ``message`` for officers; None when the ledger holds nothing of it either (or is not set)."""
    if not settings.database_url:
        return None
    from cli.ledger import ledger_pool

    pool = await ledger_pool(settings)
    try:
        for agreement_id in candidate_ids(name):
            if entries := await read_ledger(pool, agreement_id):
                break
        else:
            return None
    finally:
        await pool.close()
    last = entries[-1]
    moves = [e for e in entries if e.kind == "stage_changed"]
    stage = Stage(moves[-1].payload["to"]) if moves else last.stage
    message = (f"agreement {agreement_id}: Temporal no longer holds its history (deleted, or past its retention "
               f"period); the ledger holds its {len(entries)} decisions, the last #{last.seq} "
               f"({last.kind.replace('_', ' ')}) at {when(last.decided_at)}, stage {stage.label}; "
               f"`starter.py story {agreement_id}` tells them")
    return {"agreement_id": agreement_id, "temporal_record": "deleted", "stage": stage.value,
            "decisions_recorded": len(entries), "last_decided_at": last.decided_at.isoformat(), "message": message}


LIST_COLUMNS = ["Agreement", "Title", "Stage", "RAG", "Lead", "Next deadline", "Alerts", "Workflow"]


def _listed(row: AgreementRow) -> dict[str, Any]:
    return {"agreement_id": row.agreement_id, "title": row.title, "stage": row.stage, "rag": row.rag,
            "lead_body": row.lead_body, "next_deadline": row.next_deadline, "open_alerts": row.open_alerts,
            "status": row.execution_status}


def _cells(row: AgreementRow) -> list[str]:
    return [row.agreement_id, row.title or "-", (row.stage or "-").replace("_", " "), row.rag or "-",
            row.lead_body or "-", when(row.next_deadline), str(row.open_alerts or 0), row.execution_status or "-"]


async def list_agreements(client: Client | None, settings: Settings, args: argparse.Namespace,
                          console: Console) -> int:
    """One row per agreement matching the filters (Temporal visibility); says on stderr how many closed ones
    also match when they are left out."""
    if client is None:
        raise CliError("not connected to Temporal", EXIT_BAD_INPUT)
    rows = [row async for row in AgreementClient(client, settings.task_queue).list(
        stage=args.stage, rag=args.rag, lead=args.lead, include_closed=args.all, limit=args.limit)]
    if args.json:
        print_json(console, [_listed(row) for row in rows])
    else:
        print_table(console, visibility_query(args.stage, args.rag, args.lead, args.all), LIST_COLUMNS,
                    [_cells(row) for row in rows])
    if not args.all:
        await _hint_at_closed(client, args)
    return 0


async def _hint_at_closed(client: Client, args: argparse.Namespace) -> None:
    closed_query = visibility_query(args.stage, args.rag, args.lead, True) + " AND ExecutionStatus != 'Running'"
    if closed := (await client.count_workflows(closed_query)).count:
        Console(stderr=True).print(
            f"{closed} closed agreement{'s' * (closed != 1)} also match{'es' * (closed == 1)}; "
            "add --all to include closed agreements", markup=False, highlight=False)
