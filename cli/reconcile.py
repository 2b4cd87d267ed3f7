"""``starter.py reconcile``: record in the ledger the agreements an operator terminated, now or on a schedule."""

from __future__ import annotations

import argparse
from datetime import timedelta

from rich.console import Console
from temporalio.client import Client, ScheduleAlreadyRunningError, ScheduleUpdate

from activities.reconcile import record_terminations
from cli.errors import EXIT_BAD_INPUT, CliError
from cli.ledger import ledger_pool
from runtime.settings import Settings
from workflows.reconciler import SCHEDULE_ID, reconcile_schedule


async def reconcile(client: Client | None, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    """Close the ledger of every terminated agreement whose ledger is still open; with ``--every MINUTES``,
    create (or update) the Temporal Schedule that does it every so often on the workers instead."""
    if client is None:
        raise CliError("not connected to Temporal", EXIT_BAD_INPUT)
    if args.every is not None:
        if args.every <= 0:
            raise CliError("--every takes a positive number of minutes", EXIT_BAD_INPUT)
        schedule = reconcile_schedule(timedelta(minutes=args.every), settings.task_queue)
        try:
            await client.create_schedule(SCHEDULE_ID, schedule)
            done = "created"
        except ScheduleAlreadyRunningError:
            await client.get_schedule_handle(SCHEDULE_ID).update(lambda _: ScheduleUpdate(schedule=schedule))
            done = "updated"
        console.print(f"schedule {SCHEDULE_ID} {done}: terminated agreements are recorded every "
                      f"{args.every:g} minutes", markup=False)
        return 0
    pool = await ledger_pool(settings)
    try:
        closed = await record_terminations(client, pool)
    finally:
        await pool.close()
    console.print(f"{closed} terminated agreement{'s' * (closed != 1)} recorded as closed in the ledger",
                  markup=False)
    return 0


def add_reconcile_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``reconcile`` to the command line's subcommands."""
    command = commands.add_parser("reconcile", help="record in the ledger the agreements an operator terminated")
    command.add_argument("--every", type=float, metavar="MINUTES",
                         help="instead of once now, schedule it (a Temporal Schedule run by the workers)")
    command.set_defaults(handler=reconcile, needs_temporal=True)
