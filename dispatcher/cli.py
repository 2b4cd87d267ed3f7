"""``starter.py alerts ...``: manage who is told of alerts, and watch and retry deliveries.

    starter.py alerts subscribe --label "Tamworth waste lead" --email waste@tamworth.gov.uk \\
        --body E07000199 --relation awaited
    starter.py alerts subscribe --label "Chief executives" --email ceos@example.gov.uk --level escalation \\
        --escalation-from 2
    starter.py alerts subscribe --label "Programme office" --teams https://... --secret-env TEAMS_SECRET
    starter.py alerts subscriptions [--all] [--json]
    starter.py alerts unsubscribe 7
    starter.py alerts deliveries [--status failed] [--json]
    starter.py alerts retry 3f0c...-...
    starter.py alerts digest-schedule --cadence weekly --day monday --at 07:30 [--time-zone Europe/London]

Each handler prints its own errors and returns the exit code: 0 done, 1 refused, 2 bad input,
3 the database could not be reached.
"""

from __future__ import annotations

import argparse
import os
import secrets
import uuid
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from rich.console import Console
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
)

from cli.output import print_json, print_table, when
from domain.delivery import Cadence, Channel, LevelName, Relation, Subscription, masked_address
from domain.drift import AlertKind
from domain.errors import explain
from store import outbox
from store.database import CONNECT_ERRORS, Pool, create_pool
from workflows.digest import AlertDigestWorkflow, schedule_id

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 1, 2, 3


class _Failed(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


async def _pool(settings: Any) -> Pool:
    if not settings.database_url:
        raise _Failed("DATABASE_URL is not set: subscriptions and deliveries live in PostgreSQL", EXIT_BAD_INPUT)
    try:
        return await create_pool(settings.database_url, max_size=2)
    except CONNECT_ERRORS as error:
        raise _Failed(f"cannot reach the database: {error}", EXIT_UNREACHABLE) from None


def _handler(work: Any) -> Any:
    """Wrap a command: open the database, run it, and turn its failures into a message and exit code."""

    async def handle(client: Any, settings: Any, args: argparse.Namespace, console: Console) -> int:
        try:
            pool = await _pool(settings)
            try:
                return await work(pool, args, console)
            finally:
                await pool.close()
        except _Failed as failure:
            Console(stderr=True, soft_wrap=True).print(f"error: {failure}", markup=False)  # one line in a pipe
            return failure.code

    return handle


def _secret(args: argparse.Namespace) -> tuple[str | None, bool]:
    """The webhook's signing secret, and whether it was generated here (to be shown once, if it is kept)."""
    if args.email:
        if args.secret_env:
            raise _Failed("--secret-env is for webhooks; an email subscription takes no secret", EXIT_BAD_INPUT)
        return None, False
    if args.secret_env:
        value = os.environ.get(args.secret_env)
        if not value:
            raise _Failed(f"--secret-env {args.secret_env}: that environment variable is not set", EXIT_BAD_INPUT)
        return value, False
    return secrets.token_urlsafe(32), True


async def _subscribe(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    channel, address = next((c, getattr(args, c.value)) for c in Channel if getattr(args, c.value))
    secret, generated = _secret(args)
    try:
        subscription = Subscription(
            label=args.label, channel=channel, address=address, secret=secret,
            bodies=args.body or [], relation=args.relation, kinds=args.kind or [],
            levels=args.level or list(LevelName), escalation_from=args.escalation_from, cadence=args.cadence,
        )
    except ValidationError as error:
        raise _Failed(_name_options(explain(error), channel), EXIT_BAD_INPUT) from None
    if generated:  # only once the subscription is valid: a refused one has no secret to give out
        console.print(f"signing secret (shown once; give it to the receiver): {secret}", markup=False)
    stored = await outbox.add_subscription(pool, subscription)
    console.print(f"subscription #{stored.id} added: {_describe(stored)}", markup=False)
    return 0


_OPTIONS = {"label": "--label", "bodies": "--body", "kinds": "--kind", "levels": "--level",
            "escalation_from": "--escalation-from", "relation": "--relation", "cadence": "--cadence"}


def _name_options(explained: str, channel: Channel) -> str:
    """A refusal of ``Subscription`` in the words of the command line: each field named by its option
    (``address`` by ``--email``, ``--webhook``, ``--teams`` or ``--slack``; ``input`` by the address's option)."""
    options = {**_OPTIONS, "address": f"--{channel.value}", "input": f"--{channel.value}"}
    problems = explained.removeprefix("Invalid Subscription: ").split("; ")
    named = []
    for problem in problems:
        field, sep, message = problem.partition(": ")
        head = field.split(".")[0]
        named.append(f"{options[head]}: {message}" if sep and head in options else problem)
    return "; ".join(named)


def _describe(s: Subscription) -> str:
    bodies = ", ".join(s.bodies) or "every body"
    levels = ", ".join(level.value + (f" from {s.escalation_from}" if level is LevelName.ESCALATION else "")
                       for level in s.levels)
    address = masked_address(s.channel, s.address)
    return (f"{s.label} <{s.channel.value}: {address}> told of {', '.join(s.kinds) or 'every kind'} "
            f"({levels}) where {bodies} is {'the ' if s.relation is not Relation.PARTNER else 'a '}"
            f"{s.relation.value}{'' if s.relation is not Relation.AWAITED else ' body'}, {s.cadence.value}")


async def _subscriptions(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    rows = await outbox.list_subscriptions(pool, include_removed=args.all)
    if args.json:
        print_json(console, [{**row, "address": masked_address(Channel(row["channel"]), row["address"])}
                             for row in rows])
        return 0
    print_table(console, "Alert subscriptions",
                ["#", "Label", "Channel", "Address", "Bodies", "Relation", "Kinds", "Levels", "Cadence", "Removed"],
                [_subscription_cells(row) for row in rows])
    return 0


def _subscription_cells(row: Any) -> list[str]:
    levels = ", ".join(level + (f" {row['escalation_from']}+" if level == "escalation" else "")
                       for level in row["levels"])
    address = masked_address(Channel(row["channel"]), row["address"])
    return [str(row["id"]), row["label"], row["channel"], address, ", ".join(row["bodies"]) or "all",
            row["relation"], ", ".join(row["kinds"]) or "all", levels, row["cadence"], when(row["removed_at"])]


async def _unsubscribe(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    cancelled = await outbox.remove_subscription(pool, args.subscription_id)
    if cancelled is None:
        raise _Failed(f"there is no active subscription #{args.subscription_id}", EXIT_REFUSED)
    console.print(f"subscription #{args.subscription_id} removed; {cancelled} pending deliveries cancelled")
    return 0


async def _deliveries(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    rows = await outbox.list_deliveries(pool, args.status, args.limit)
    if args.json:
        print_json(console, [dict(row) for row in rows])
        return 0
    print_table(console, "Alert deliveries" + (f" ({args.status})" if args.status else ""),
                ["Delivery", "Status", "Tries", "To", "Carries", "Created", "Next try / sent", "Last error"],
                [_delivery_cells(row) for row in rows])
    return 0


def _delivery_cells(row: Any) -> list[str]:
    next_or_sent = row["sent_at"] if row["status"] == "sent" else row["next_attempt_at"]
    return [str(row["id"]), row["status"], str(row["attempts"]),
            f"#{row['subscription_id']} {row['label']} ({row['channel']})", row["carries"], when(row["created_at"]),
            when(next_or_sent) if row["status"] in ("sent", "pending") else "-", row["last_error"] or ""]


async def _retry(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    try:
        delivery_id = uuid.UUID(args.delivery_id)
    except ValueError:
        raise _Failed(f"{args.delivery_id!r} is not a delivery id (a UUID, as `alerts deliveries` shows)",
                      EXIT_BAD_INPUT) from None
    status = await outbox.retry_delivery(pool, delivery_id)
    if status is None:
        raise _Failed(f"there is no delivery {delivery_id}; nothing to retry", EXIT_REFUSED)
    if status == "cancelled":
        raise _Failed(f"delivery {delivery_id} was cancelled when its subscription was removed; it is not sent "
                      "again (subscribe again to reach that recipient)", EXIT_REFUSED)
    if status != "failed":
        raise _Failed(f"delivery {delivery_id} is {status}, not failed; nothing to retry", EXIT_REFUSED)
    console.print(f"delivery {delivery_id} will be sent again now, with the same delivery id")
    return 0


DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
"""Temporal numbers the days of the week from Sunday, 0."""


def _time_of_day(text: str) -> tuple[int, int]:
    hour, sep, minute = text.partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise argparse.ArgumentTypeError(f"--at takes a time of day as HH:MM (e.g. 07:30), not {text!r}")
    return int(hour), int(minute)


def _time_zone(text: str) -> str:
    """An IANA time zone name, for ``--time-zone``; argparse names the option in its refusal."""
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IANA time zone, such as Europe/London") from None
    return text


def digest_schedule(cadence: Cadence, at: tuple[int, int], day: str, time_zone: str, task_queue: str) -> Schedule:
    """The Temporal Schedule that runs a cadence's digest at ``at`` (hour, minute) in ``time_zone``,
    every day or every ``day`` of the week. A run missed while Temporal was down is caught up
    within 12 hours; runs never overlap."""
    calendar = ScheduleCalendarSpec(
        hour=[ScheduleRange(at[0])], minute=[ScheduleRange(at[1])],
        day_of_week=[ScheduleRange(DAYS.index(day))] if cadence is Cadence.WEEKLY else [ScheduleRange(0, 6)],
        comment=f"{cadence.value} alert digest",
    )
    return Schedule(
        action=ScheduleActionStartWorkflow(
            AlertDigestWorkflow.run, args=[cadence, time_zone], id=f"alert-digest-{cadence.value}",
            task_queue=task_queue
        ),
        spec=ScheduleSpec(calendars=[calendar], time_zone_name=time_zone),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=12)),
    )


async def _digest_schedule(client: Client, settings: Any, args: argparse.Namespace, console: Console) -> int:
    cadence = Cadence(args.cadence)
    schedule = digest_schedule(cadence, args.at, args.day, args.time_zone, settings.task_queue)
    try:
        handle = await client.create_schedule(schedule_id(cadence), schedule)
        done = "created"
    except ScheduleAlreadyRunningError:
        handle = client.get_schedule_handle(schedule_id(cadence))
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))
        done = "updated"
    when = f"{args.at[0]:02d}:{args.at[1]:02d} {args.time_zone}" + (
        f" every {args.day.title()}" if cadence is Cadence.WEEKLY else " every day")
    console.print(f"schedule {handle.id} {done}: the {cadence.value} digest at {when}", markup=False)
    if args.trigger:
        await handle.trigger()
        console.print("and triggered once now")
    return 0


def register(commands: Any) -> None:
    """Add the ``alerts`` command group to the command line's subcommands."""
    group = commands.add_parser("alerts", help="who is told of alerts (subscriptions), and their deliveries",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = group.add_subparsers(title="alert commands", required=True, metavar="ALERT_COMMAND")

    command = actions.add_parser("subscribe", help="add a recipient of alerts")
    command.set_defaults(handler=_handler(_subscribe), needs_temporal=False)
    command.add_argument("--label", required=True, help="who this is, e.g. 'Tamworth waste lead'")
    where = command.add_mutually_exclusive_group(required=True)
    where.add_argument("--email", metavar="ADDRESS", help="send emails to this address")
    where.add_argument("--webhook", metavar="URL", help="POST Concordat's signed JSON to this URL")
    where.add_argument("--teams", metavar="URL", help="a Microsoft Teams incoming webhook URL")
    where.add_argument("--slack", metavar="URL", help="a Slack incoming webhook URL")
    command.add_argument("--secret-env", metavar="VARIABLE",
                         help="webhooks: read the signing secret from this environment variable (default: generate)")
    command.add_argument("--body", action="append", metavar="CODE", help="a body to follow (repeatable); none: all")
    command.add_argument("--relation", choices=[r.value for r in Relation], default=Relation.PARTNER.value,
                         help="the body is the one awaited, the lead, or any partner (default)")
    command.add_argument("--kind", action="append", choices=[k.value for k in AlertKind],
                         help="an alert kind (repeatable); none: every kind, new kinds included")
    command.add_argument("--level", action="append", choices=[level.value for level in LevelName],
                         help="a level (repeatable); none: all three")
    command.add_argument("--escalation-from", type=int, default=1, metavar="N",
                         help="escalations from number N on (default 1)")
    command.add_argument("--cadence", choices=[c.value for c in Cadence], default=Cadence.IMMEDIATE.value,
                         help="each alert as raised (default), or a daily or weekly digest")

    command = actions.add_parser("subscriptions", help="list subscriptions")
    command.set_defaults(handler=_handler(_subscriptions), needs_temporal=False)
    command.add_argument("--all", action="store_true", help="include removed subscriptions")
    command.add_argument("--json", action="store_true", help="print JSON for scripts")

    command = actions.add_parser("unsubscribe", help="remove a subscription and cancel its pending deliveries")
    command.set_defaults(handler=_handler(_unsubscribe), needs_temporal=False)
    command.add_argument("subscription_id", type=int)

    command = actions.add_parser("deliveries", help="list deliveries, newest first, with their last error")
    command.set_defaults(handler=_handler(_deliveries), needs_temporal=False)
    command.add_argument("--status", choices=["pending", "sent", "failed", "cancelled"])
    command.add_argument("--limit", type=int, default=100)
    command.add_argument("--json", action="store_true", help="print JSON for scripts")

    command = actions.add_parser("retry", help="send a failed delivery again, with the same delivery id")
    command.set_defaults(handler=_handler(_retry), needs_temporal=False)
    command.add_argument("delivery_id")

    command = actions.add_parser("digest-schedule", help="create or update the Temporal Schedule of a digest")
    command.set_defaults(handler=_digest_schedule, needs_temporal=True)
    command.add_argument("--cadence", required=True, choices=[Cadence.DAILY.value, Cadence.WEEKLY.value])
    command.add_argument("--at", type=_time_of_day, default=(7, 30), metavar="HH:MM", help="time of day (07:30)")
    command.add_argument("--day", choices=DAYS, default="monday", help="weekly digests: the day (monday)")
    command.add_argument("--time-zone", type=_time_zone, default="Europe/London",
                         help="IANA time zone of --at (Europe/London); digest periods are its days and weeks")
    command.add_argument("--trigger", action="store_true", help="also run the digest once now")
