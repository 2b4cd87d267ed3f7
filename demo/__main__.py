"""Run Concordat on the embedded stack with a demo portfolio: ``python -m demo``.

Starts the Temporal dev server (Web UI included) and PostgreSQL from their wheels,
runs the worker, starts the demo agreements (once: a second run resumes them) and
plays their officers in compressed time, showing progress live. A local SMTP sink
receives the alert emails the dispatcher sends to the demo's subscriptions; each is
shown as it arrives and all are listed at the end. Where Node.js is installed it also starts a local OpenID
provider, one issuer per council holding the councils' signatories, and serves the pages for people
(``demo.pages``): it prints their address and who can sign in. Ctrl-C stops all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from temporalio.client import Client
from temporalio.runtime import Runtime

from cli.output import print_table
from demo import live
from demo.idp import ProviderProcess
from demo.mailbox import Received, SmtpSink
from demo.pages import DemoPages
from demo.portfolio import PORTFOLIO, Persona, compressed_settings, next_step, time_scale
from demo.stack import EmbeddedStack
from demo.waiting import open_for_people
from demo.webui import agreements_url
from dispatcher.service import Dispatcher
from dispatcher.settings import DispatcherSettings
from domain.delivery import Subscription
from domain.errors import AGREEMENT_EXISTS
from domain.model import AgreementRequest, Stage
from domain.status import AgreementStatus, waiting_summary
from domain.timestamps import utc_clock
from report import __main__ as report_main
from runtime.logging import configure_logging
from runtime.service import exit_now
from runtime.settings import Settings
from runtime.temporal import connect_temporal, core_telemetry
from store import outbox
from store.alerts import ALERT_CHANNEL
from store.database import create_pool, migrate
from worker import build_worker
from workflows import search_attributes
from workflows.client import ActionRefused, AgreementClient, AgreementClosed, StartRefused
from workflows.contract import UPDATES


class Demo:
    def __init__(self, client: Client, settings: Settings, speed: float, console: Console) -> None:
        self.agreements = AgreementClient(client, settings.task_queue)
        self.settings = settings
        self.speed = speed
        self.pace = 3.0 / speed
        self.console = console
        self.statuses: dict[str, AgreementStatus] = {}
        self.last_step: dict[str, datetime] = {}
        self.events: deque[str] = deque(maxlen=50)
        """The latest steps and alerts; the live view shows as many as the terminal has room for."""

    def note(self, text: str) -> None:
        line = f"{utc_clock(datetime.now(UTC))} {text}"
        self.events.append(line)
        if not self.console.is_terminal:
            self.console.print(line, markup=False, highlight=False)

    async def start_portfolio(self) -> None:
        for persona in PORTFOLIO:
            try:
                await self.agreements.start(AgreementRequest.model_validate(persona.request(self.speed)))
                self.note(f"started {persona.agreement_id}")
            except StartRefused as refused:
                if refused.type != AGREEMENT_EXISTS:
                    raise
                self.note(f"resuming {persona.agreement_id}")

    async def play(self, persona: Persona) -> None:
        """Query one agreement and, when its officers are due to act, take their next step."""
        status = await self.agreements.status(persona.agreement_id)
        self.statuses[persona.agreement_id] = status
        now = datetime.now(UTC)
        if status.stage is Stage.CLOSED:
            return
        last = max(self.last_step.get(persona.agreement_id, status.stage_started_at), status.stage_started_at)
        if (now - last).total_seconds() < self.pace:
            return
        step = next_step(persona, status, now)
        if step is None:
            return
        update, payload = step
        self.last_step[persona.agreement_id] = now
        try:
            status = await self.agreements.act(persona.agreement_id, update, UPDATES[update].model_validate(payload))
        except (ActionRefused, AgreementClosed) as refusal:
            self.note(f"{persona.agreement_id}: {update}: {refusal}")
            return
        self.statuses[persona.agreement_id] = status
        self.note(step_line(persona.agreement_id, update, payload, status))

    async def run(self, stop: asyncio.Event) -> None:
        await self.start_portfolio()
        while not stop.is_set():
            await asyncio.gather(*(self.play(persona) for persona in PORTFOLIO))
            if self.done:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)

    @property
    def done(self) -> bool:
        return len(self.statuses) == len(PORTFOLIO) and all(s.stage is Stage.CLOSED for s in self.statuses.values())

    def rows(self) -> list[list[str]]:
        """One row of the live table per agreement, in the portfolio's order."""
        return [live.row(persona.label, self.statuses.get(persona.agreement_id)) for persona in PORTFOLIO]

    def table(self) -> Table:
        """The portfolio's table at the console's width (printed at the end when not in a terminal)."""
        return live.table(self.rows(), self.console.width)

    def view(self) -> Group:
        """What the live display shows: the table, and the latest steps and alerts that fit below it."""
        return live.view(self.console, self.rows(), self.events)


def step_line(agreement_id: str, update: str, payload: dict, status: AgreementStatus) -> str:
    """One line for an accepted step: who did what and the stage it led to; a rejection is named, with its reason."""
    who = payload["actor"]["signatory"]
    if update == "record_sign_off" and payload.get("decision") == "reject":
        body = status.body_names.get(payload["actor"]["body"], payload["actor"]["body"])
        return (f"{agreement_id}: sign-off REJECTED by {who} ({body}): {payload['reason']} "
                f"-> back to {status.stage.label}")
    return f"{agreement_id}: {update.replace('_', ' ')} by {who} -> {status.stage.label}"


def _shown(path: Path) -> Path:
    """A path as short as it reads: relative to the current folder when inside it."""
    return path.resolve().relative_to(Path.cwd()) if path.resolve().is_relative_to(Path.cwd()) else path


def print_where_things_are(console: Console, stack: EmbeddedStack, data_dir: Path, worker_log: Path) -> None:
    """The Web UI's address, where every log is, and the one line that points the CLI at this stack."""
    settings = stack.write_client_settings(data_dir / "concordat.env")
    if stack.ui_url:
        console.print(f"Temporal Web UI, one row per agreement: {agreements_url(stack.ui_url)}", markup=False,
                      highlight=False, soft_wrap=True)
    else:
        console.print(f"Using Temporal at {stack.temporal_address}")
    logs = {"worker": worker_log, **stack.log_files()}
    console.print("Logs: " + ", ".join(f"{_shown(path)} ({name})" for name, path in logs.items()), highlight=False)
    console.print(f"Command line: [bold]source {settings}[/bold], then .venv/bin/python starter.py list --all",
                  highlight=False)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path(".data"),
                        help="where the embedded servers keep state (default .data)")
    parser.add_argument("--speed", type=float, default=1.0, help="time compression of new agreements (default 1)")
    parser.add_argument("--temporal-port", type=int, default=7233,
                        help="port of the embedded Temporal server (default 7233)")
    parser.add_argument("--ui-port", type=int, default=8233, help="port of the Temporal Web UI (default 8233)")
    parser.add_argument("--smtp-port", type=int, default=8025, help="port of the local SMTP sink (default 8025)")
    parser.add_argument("--pages-port", type=int, default=8088, help="port of the pages for people (default 8088)")
    parser.add_argument("--idp-port", type=int, default=9090,
                        help="port of the demo's OpenID provider, one issuer per council (default 9090)")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="stop once every agreement the demo's officers play has closed (the pages stop too, "
                        "even while demo-signed-on-the-pages still waits)")
    return parser.parse_args(argv)


async def listen_for_alerts(database_url: str, demo: Demo) -> asyncpg.Connection:
    connection = await asyncpg.connect(database_url)

    def on_alert(*args: object) -> None:
        alert = json.loads(str(args[3]))
        demo.note(f"ALERT {alert['level']}: {alert['message']}")

    await connection.add_listener(ALERT_CHANNEL, on_alert)
    return connection


DEMO_MAIL_DOMAIN = "demo.concordat.test"


def demo_subscriptions() -> list[Subscription]:
    """Each demo body's contact, told when the agreement waits on it; each lead's programme office;
    and the chief executives, from escalation 2. Addresses go to the local sink only."""
    subscriptions = {}
    for persona in PORTFOLIO:
        for partner in persona.proposal["partners"]:
            code = partner["code"]
            subscriptions[code] = Subscription(
                label=f"demo: {partner['name']} (when awaited)", channel="email",
                address=f"{code.lower()}@{DEMO_MAIL_DOMAIN}", bodies=[code], relation="awaited")
        lead = persona.proposal["lead_body"]
        subscriptions[f"lead {lead}"] = Subscription(
            label=f"demo: programme office of {persona.proposal['title']}", channel="email",
            address=f"pmo.{lead.lower()}@{DEMO_MAIL_DOMAIN}", bodies=[lead], relation="lead")
    subscriptions["ceos"] = Subscription(
        label="demo: chief executives", channel="email", address=f"chief-executives@{DEMO_MAIL_DOMAIN}",
        levels=["escalation"], escalation_from=2)
    return list(subscriptions.values())


async def subscribe_demo_bodies(pool: asyncpg.Pool) -> None:
    """Add the demo's subscriptions once; a second run finds them."""
    existing = {s.address for s in await outbox.active_subscriptions(pool)}
    for subscription in demo_subscriptions():
        if subscription.address not in existing:
            await outbox.add_subscription(pool, subscription)


async def write_board_report(pool: asyncpg.Pool, out: Path, console: Console) -> None:
    """The programme board's report on the finished portfolio: HTML, and PDF where Chromium is installed."""
    with_pdf = shutil.which("chromium") is not None or shutil.which("chromium-browser") is not None
    written = await report_main.build(pool, out, with_pdf=with_pdf)
    note = "" if with_pdf else " (no PDF: Chromium is not installed; apt-get install chromium)"
    console.print(f"The board's report: {', '.join(str(path) for path in written)}{note}", markup=False)


def print_mailbox(console: Console, sink: SmtpSink) -> None:
    """Every alert email the local SMTP sink received: to whom, its subject and its delivery id."""
    print_table(console, f"Alert emails received by the local SMTP sink ({sink.port})",
                ["To", "Subject", "Delivery id"],
                [[", ".join(r.recipients), str(r.message["Subject"]), r.delivery_id] for r in sink.received])


async def serve_pages(console: Console, args: argparse.Namespace, pool: asyncpg.Pool,
                      agreements: AgreementClient) -> DemoPages | None:
    """Start the demo's OpenID provider and the pages, and print their address and who signs in; None (and why,
    printed) where they cannot run."""
    missing = ProviderProcess.missing()
    if missing is not None:
        console.print(f"No pages for people: {missing}.", highlight=False)
        return None
    pages = DemoPages(args.data_dir, pool, agreements, pages_port=args.pages_port, idp_port=args.idp_port)
    try:
        await pages.start()
    except RuntimeError as error:
        await pages.stop()
        console.print(f"No pages for people: {error}", highlight=False, markup=False)
        return None
    console.print(f"Pages for people: {pages.url} (sign in: choose your council, then your name on its "
                  f"provider's page, no password; provider log {_shown(args.data_dir / 'idp.log')})",
                  markup=False, highlight=False, soft_wrap=True)
    print_table(console, "Who can sign in", ["Council", "Signs in as", "Role", "Account"], pages.sign_ins())
    return pages


def compressed_time(speed: float) -> str:
    """What the demo's compressed time means for what it shows, at ``speed``."""
    review = compressed_settings(speed)["review_period"].removeprefix("PT").removesuffix("S")
    return (f"Time is compressed: stages last seconds, not months, and a review period {review} seconds rather than "
            f"a quarter (--speed changes it). Each of those seconds stands for {time_scale(speed):,} (time_scale), so "
            "a review period's saving is a quarter's, in pounds at real scale, and the board's report says so.")


def dispatcher_settings(stack: EmbeddedStack, smtp_port: int,
                        pages_url: str | None = None) -> DispatcherSettings:
    """The alert dispatcher's settings for the demo: mail to the local sink, retries within seconds; with
    ``pages_url`` (the pages' address without ``/pages``, when the demo serves them) each alert links to its
    agreement's page as well as the Web UI."""
    return DispatcherSettings.from_environment({
        "DATABASE_URL": stack.database_url, "CONCORDAT_SMTP_HOST": "127.0.0.1",
        "CONCORDAT_SMTP_PORT": str(smtp_port),
        "CONCORDAT_SMTP_SENDER": f"Concordat <alerts@{DEMO_MAIL_DOMAIN}>",
        "CONCORDAT_WEB_UI_URL": stack.ui_url or "http://localhost:8233", "CONCORDAT_DELIVERY_POLL_SECONDS": "2",
        "CONCORDAT_DELIVERY_FIRST_RETRY_SECONDS": "1", "CONCORDAT_DELIVERY_MAX_RETRY_SECONDS": "10",
    } | ({"CONCORDAT_PAGES_URL": pages_url} if pages_url else {}))


async def play(console: Console, demo: Demo, stop: asyncio.Event) -> None:
    """Play the portfolio until it is done or ``stop`` is set: live in a terminal, else a line a step and the
    table at the end."""
    player = asyncio.create_task(demo.run(stop))
    if console.is_terminal:
        with Live(demo.view(), console=console, refresh_per_second=2) as display:
            while not player.done():
                display.update(demo.view())
                await asyncio.wait([player], timeout=0.5)
            display.update(demo.view())
    await player
    if not console.is_terminal:
        console.print(demo.table())


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=160)
    stack = EmbeddedStack(args.data_dir.resolve(), temporal_port=args.temporal_port, ui_port=args.ui_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    worker_log = args.data_dir / "worker.log"
    configure_logging("INFO", stream=open(worker_log, "a"))  # noqa: SIM115 - open until exit
    Runtime.set_default(Runtime(telemetry=core_telemetry()))
    console.print("Starting the embedded stack ...")
    stack.start()
    try:
        await stack.wait_until_temporal_serves()
        os.environ["TEMPORAL_ADDRESS"] = stack.temporal_address
        os.environ["DATABASE_URL"] = stack.database_url
        settings = Settings.from_environment()
        client = await connect_temporal()
        pool = await create_pool(stack.database_url)
        await migrate(pool)
        await search_attributes.register(client, client.namespace)
        print_where_things_are(console, stack, args.data_dir, worker_log)
        demo = Demo(client, settings, args.speed, console)
        pages = await serve_pages(console, args, pool, demo.agreements)
        listener = await listen_for_alerts(stack.database_url, demo)

        mail = args.data_dir / "mail"
        mail.mkdir(exist_ok=True)

        def mailed(received: Received) -> None:
            (mail / f"{received.delivery_id}.eml").write_bytes(received.message.as_bytes())
            to = ", ".join(received.recipients)
            loop.call_soon_threadsafe(demo.note, f"MAIL to {to}: {received.message['Subject']}")

        sink = SmtpSink(args.smtp_port, on_message=mailed).start()
        await subscribe_demo_bodies(pool)
        pages_url = pages.url.removesuffix("/pages/") if pages is not None else None
        dispatch = dispatcher_settings(stack, args.smtp_port, pages_url)
        console.print(f"Alert emails go to a local SMTP sink on port {args.smtp_port}, each kept whole in "
                      f"{_shown(mail)}/ (a mail reader or text editor opens it); "
                      f"`starter.py alerts deliveries` lists them.", markup=False, highlight=False)
        console.print(compressed_time(args.speed), highlight=False)
        stop_dispatching = asyncio.Event()
        dispatcher = asyncio.create_task(Dispatcher(pool, dispatch).run(stop_dispatching))
        async with build_worker(client, pool, settings):
            if pages is not None:
                waiting = await open_for_people(demo.agreements)
                console.print(f"Waiting on people: {waiting.title} ({waiting.agreement_id}), "
                              f"{waiting_summary(waiting)}. Sign in to the pages as one of its partners' "
                              "signatories to accept your identity and sign it.", highlight=False, markup=False)
            await play(console, demo, stop)
            print_mailbox(console, sink)
            if demo.done:
                await write_board_report(pool, args.data_dir / "reports", console)
            if demo.done and not args.exit_when_done and not stop.is_set():
                console.print("Every agreement has closed. The Web UI and the pages stay up until Ctrl-C.")
                await stop.wait()
        stop_dispatching.set()
        await dispatcher
        if pages is not None:
            await pages.stop()
        sink.stop()
        await listener.close()
        await pool.close()
        console.print("Stopped." if not demo.done else "Portfolio complete.")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    exit_now(asyncio.run(main(sys.argv[1:])))
